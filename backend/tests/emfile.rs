//! Out of descriptors: `accept` fails with EMFILE. The blocking model must record it, back off
//! instead of spinning, and serve the waiting client once descriptors are free again.
//!
//! Its own test binary (so its own process): it lowers the process's descriptor limit.

mod common;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::*;
use kettle_shared::{EventKind, Reason};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

#[tokio::test(flavor = "multi_thread")]
async fn emfile_on_accept_backs_off_and_recovers() {
    let server = kettle(&["blocking"]).await;
    let addr = model_addr(&server, "blocking");
    let (mut ws, _) = viewer(&server).await;

    // First client served; the second waits in the backlog with its line.
    let mut first = client(addr);
    first.write_all(b"one").unwrap();
    assert_eq!(read_n(&mut first, 3), b"ONE");
    let mut second = client(addr);
    second.write_all(b"two").unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::AcceptExit { fd: Some(_), .. }))
    })
    .await;
    let served_fd = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::AcceptExit { fd: Some(fd), .. } => Some(fd),
            _ => None,
        })
        .unwrap();

    // From now on no new descriptor can be made: the limit is the served connection's number,
    // and every free number below it is taken.
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, served_fd as u64, hard).unwrap();
    let held = fill_descriptor_table();

    // The first client leaves; the server closes its connection and calls accept for the
    // second, which fails: no descriptor for it.
    first.shutdown(Shutdown::Write).unwrap();
    events_until(&mut ws, &mut events, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| matches!(&e.kind, EventKind::AcceptExit { error: Some(err), .. } if err.errno == "EMFILE"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Descriptors free again: the waiting client is accepted and served.
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    drop(held);
    assert_eq!(read_n(&mut second, 3), b"TWO");
    events_until(&mut ws, &mut events, Duration::from_secs(5), |ev| {
        ev.iter().filter(|e| matches!(&e.kind, EventKind::AcceptExit { error: None, .. })).count()
            == 2
    })
    .await;
    assert_paced_emfile_retries(&events, "blocking", 30);
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Refused { reason: Reason::OutOfDescriptors { .. } }
    )));
    server.shutdown().await.unwrap();
}
