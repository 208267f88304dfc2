//! Out of descriptors in the event-loop models (epoll, epoll-et, reactor): `accept` fails with
//! EMFILE while the listener stays readable. Each model must record it, pause the listener
//! instead of letting `epoll_wait` return at once forever, and accept the waiting client once
//! descriptors are free again.
//!
//! Its own test binary (so its own process) with a single test: it lowers the process's
//! descriptor limit, which would break any test running beside it.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::*;
use kettle_shared::{EpollOp, EventKind, Reason};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};

#[tokio::test(flavor = "multi_thread")]
async fn emfile_on_accept_pauses_the_listener_and_recovers_in_every_event_loop_model() {
    for model in ["epoll", "epoll-et", "reactor"] {
        emfile_pauses_and_recovers(model).await;
    }
}

async fn emfile_pauses_and_recovers(model: &str) {
    let server = kettle(&[model]).await;
    let addr = model_addr(&server, model);
    let (mut ws, _) = viewer(&server).await;
    let mut first = client(addr);
    first.write_all(b"one").unwrap();
    assert_eq!(read_n(&mut first, 3), b"ONE");
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
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
    // The second client's socket is made now; it connects once no descriptor is left.
    let second =
        socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).unwrap();

    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, served_fd as u64, hard).unwrap();
    let held = fill_descriptor_table();
    let SocketAddr::V4(v4) = addr else { panic!("IPv4 expected") };
    connect(second.as_raw_fd(), &SockaddrIn::from(v4)).unwrap();
    let mut second = TcpStream::from(second);
    second.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    second.write_all(b"two").unwrap();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(&e.kind, EventKind::AcceptExit { error: Some(err), .. } if err.errno == "EMFILE"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Meanwhile the first client is still served: the loop is not stuck.
    first.write_all(b"still").unwrap();
    assert_eq!(read_n(&mut first, 5), b"STILL");

    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    drop(held);
    assert_eq!(read_n(&mut second, 3), b"TWO", "{model}");
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().filter(|e| matches!(&e.kind, EventKind::AcceptExit { error: None, .. })).count()
            == 2
    })
    .await;
    assert_paced_emfile_retries(&events, model, 30);
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Refused { reason: Reason::OutOfDescriptors { .. } }
    )));
    // The pause is visible: the listener's interest was emptied, then restored.
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::EpollCtl { op, events, .. } if matches!(op, EpollOp::Mod) && events.is_empty())), "{model}");
    server.shutdown().await.unwrap();
}
