//! Out of descriptors on accept, for sigio, io-uring and posix-aio: each records the EMFILE,
//! retries at a pace (no busy loop), and serves the waiting client once descriptors are free.
//!
//! Its own test binary (so its own process): it lowers the process's descriptor limit. The
//! three models are checked one after another in one test, since the limit is process-wide.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::time::Duration;

use common::*;
use kettle_shared::{AsyncOp, EventKind, ModelState, Reason};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};

fn emfile_failures(events: &[kettle_shared::Event], model: &str) -> usize {
    events
        .iter()
        .filter(|e| e.model == model)
        .filter(|e| match &e.kind {
            EventKind::AcceptExit { error: Some(err), .. } => err.errno == "EMFILE",
            EventKind::Complete { op, result, .. } => {
                matches!(op, AsyncOp::Accept) && *result == -libc::EMFILE as i64
            }
            _ => false,
        })
        .count()
}

async fn check(server: &kettle_backend::Server, model: &str) {
    let registry = server.registry.clone();
    let m = model.to_owned();
    let info = tokio::task::spawn_blocking(move || registry.start(&m)).await.unwrap();
    if info.as_ref().is_ok_and(|i| i.state == ModelState::Unavailable) || info.is_err() {
        eprintln!("{model} unavailable here: {info:?}");
        return;
    }
    let addr = model_addr(server, model);
    let (mut ws, _) = viewer(server).await;
    // The client's socket exists before the table is full; its connection comes after.
    let sock = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).unwrap();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let held = fill_descriptor_table();
    let SocketAddr::V4(v4) = addr else { unreachable!() };
    connect(sock.as_raw_fd(), &SockaddrIn::from(v4)).unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        emfile_failures(ev, model) > 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(held);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    // SAFETY: a connected TCP socket we own.
    let mut c = unsafe { TcpStream::from_raw_fd(sock.into_raw_fd()) };
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"after emfile").unwrap();
    assert_eq!(read_n(&mut c, 12), b"AFTER EMFILE", "{model}");
    events_until(&mut ws, &mut events, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| {
            e.model == model
                && matches!(&e.kind, EventKind::Refused { reason: Reason::OutOfDescriptors { .. } })
        })
    })
    .await;
    assert_paced_emfile_retries(&events, model, 40);
    drop(c);
    let registry = server.registry.clone();
    let m = model.to_owned();
    tokio::task::spawn_blocking(move || registry.stop(&m).unwrap()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn emfile_on_accept_backs_off_and_recovers_in_every_async_model() {
    let server = kettle(&[]).await;
    for model in ["sigio", "io-uring", "posix-aio"] {
        check(&server, model).await;
    }
    server.shutdown().await.unwrap();
}
