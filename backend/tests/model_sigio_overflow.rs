//! Signal-driven I/O when the realtime signal queue is full: the kernel falls back to plain
//! SIGIO, which names no socket, and the model rescans every connection.
//!
//! Its own test binary (so its own process): it lowers the process's RLIMIT_SIGPENDING to 0,
//! so every realtime signal overflows.

mod common;
mod echo_checks;

use std::time::Duration;

use common::*;
use kettle_shared::EventKind;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

#[tokio::test(flavor = "multi_thread")]
async fn a_full_signal_queue_brings_plain_sigio_and_a_rescan_that_still_echoes_everything() {
    let (_, hard) = getrlimit(Resource::RLIMIT_SIGPENDING).unwrap();
    setrlimit(Resource::RLIMIT_SIGPENDING, 0, hard).unwrap();
    let (server, addr, mut ws) = watched("sigio").await;
    let echo = move || echo_checks::echo_concurrently(addr, 10, Duration::from_secs(60));
    tokio::task::spawn_blocking(echo).await.unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| {
            e.kind
                == EventKind::SignalDelivered { signo: libc::SIGIO, name: "SIGIO".into(), fd: None }
        })
    })
    .await;
    server.shutdown().await.unwrap();
}
