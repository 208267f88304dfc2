//! Checks shared by the one-thread models' tests (nonblocking, select, poll): the same echo
//! server contract, proven the same way for each model id.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use crate::common::*;
use kettle_shared::{CloseReason, Event, EventKind, ReadyFd, RecvOutcome, WaitApi};

/// One client sends without ever reading. The server must stop reading from it (bounded
/// memory: the client's writes end up blocked), keep serving another client, and echo every
/// byte once the first client reads.
pub async fn a_client_that_never_reads_is_bounded_and_others_are_served(id: &str) {
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    tokio::task::spawn_blocking(move || {
        const CAP: usize = 128 * 1024 * 1024;
        let mut hog = client(addr);
        hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        // The alphabet over and over: byte k of the stream is letter k % 26.
        let chunk: Vec<u8> = (0..26 * 2520).map(|i| b'a' + (i % 26) as u8).collect();
        let mut written = 0;
        while written < CAP {
            match hog.write(&chunk[written % 26..]) {
                Ok(n) => written += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        assert!(
            written < CAP,
            "the server kept reading {written} bytes from a client that never reads"
        );

        // Meanwhile another client is served.
        let mut other = client(addr);
        other.write_all(b"served").unwrap();
        assert_eq!(read_n(&mut other, 6), b"SERVED");

        // The hog reads at last: every byte comes back, in order.
        hog.shutdown(Shutdown::Write).unwrap();
        hog.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut back = Vec::with_capacity(written);
        hog.read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), written);
        assert!(back.iter().enumerate().all(|(k, b)| *b == b'A' + (k % 26) as u8), "echo differs");
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}

/// Stopping with clients connected closes them (events before `stopped`), the clients read end
/// of file, and the port is free.
pub async fn stopping_with_clients_closes_them_and_frees_the_port(id: &'static str) {
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    let mut a = client(addr);
    let mut b = client(addr);
    a.write_all(b"a").unwrap();
    assert_eq!(read_n(&mut a, 1), b"A");
    b.write_all(b"b").unwrap();
    assert_eq!(read_n(&mut b, 1), b"B");
    let (mut ws, _) = viewer(&server).await;
    let registry = server.registry.clone();
    tokio::task::spawn_blocking(move || registry.stop(id).unwrap()).await.unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Stopped { .. }))
    })
    .await;
    let stopped = events.iter().position(|e| matches!(e.kind, EventKind::Stopped { .. })).unwrap();
    let closes = events[..stopped]
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::Stopped, .. }))
        .count();
    assert_eq!(closes, 2, "{:?}", kinds(&events));
    assert!(events[..stopped].iter().any(|e| e.kind == EventKind::ThreadExited));
    let mut buf = [0u8; 1];
    assert_eq!(a.read(&mut buf).unwrap(), 0);
    assert_eq!(b.read(&mut buf).unwrap(), 0);
    let again = std::net::TcpListener::bind(addr);
    assert!(again.is_ok(), "port still in use: {again:?}");
    server.shutdown().await.unwrap();
}

/// The model's own events (not the listen-queue thread's, no samples), in order.
pub fn steps<'a>(events: &'a [Event], thread: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.thread.name == thread && e.kind.name() != "thread_sample").collect()
}

/// For a readiness model: one line, sent well after the connection was accepted, is echoed
/// with the Fig. 6.3 sequence — the wait returns the connection readable, then `recv` (which
/// finds the data already there: no phase 1 inside it), then `send`. Returns the system calls
/// made for that message (wait + recv + send).
pub async fn one_line_is_wait_then_recv_then_send(id: &str, api: WaitApi) -> usize {
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    let (mut ws, _) = viewer(&server).await;
    tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        std::thread::sleep(Duration::from_millis(200));
        c.write_all(b"hello").unwrap();
        assert_eq!(read_n(&mut c, 5), b"HELLO");
        c.shutdown(Shutdown::Write).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(c.read(&mut buf).unwrap(), 0);
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Close { .. }))
    })
    .await;
    let steps = steps(&events, id);
    let names: Vec<_> = steps.iter().map(|e| e.kind.name()).collect();
    let fd = steps
        .iter()
        .find_map(|e| match e.kind {
            EventKind::AcceptExit { fd: Some(fd), .. } => Some(fd),
            _ => None,
        })
        .expect("an accept");
    // The message: from the wait that reported the connection readable with data.
    let start = steps
        .iter()
        .position(|e| {
            matches!(&e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. })
        })
        .expect("a recv with data")
        - 4;
    let message: Vec<_> = names[start..start + 8].to_vec();
    assert_eq!(
        message,
        [
            "wait_enter",
            "wait_returned",
            "recv_enter",
            "data_arrived",
            "recv_exit",
            "send_enter",
            "send_exit",
            "wait_enter"
        ],
        "{names:?}"
    );
    match &steps[start].kind {
        EventKind::WaitEnter { api: a, watched } => {
            assert_eq!(*a, api);
            assert!(watched.contains(&fd) && watched.len() == 2, "{watched:?}");
        }
        other => panic!("{other:?}"),
    }
    match &steps[start + 1].kind {
        EventKind::WaitReturned { api: a, ready, scanned } => {
            assert_eq!(*a, api);
            assert_eq!(ready, &[ReadyFd { fd, readable: true, writable: false }]);
            assert!(*scanned >= 2, "{scanned}");
        }
        other => panic!("{other:?}"),
    }
    // Phase 1 happened in the wait: the data was there when recv was called.
    assert!(
        steps[start + 3].t_ns <= steps[start + 2].t_ns + 1_000_000,
        "data arrived during the wait"
    );
    match &steps[start + 4].kind {
        EventKind::RecvExit { outcome: RecvOutcome::Data { bytes: 5, .. }, wait_ns, .. } => {
            assert!(wait_ns.is_none_or(|w| w < 5_000_000), "recv waited {wait_ns:?}")
        }
        other => panic!("{other:?}"),
    }
    // The end: a wait reports end of file, recv reads it, the connection is closed.
    let tail: Vec<_> = names[start + 7..].to_vec();
    assert_eq!(
        &tail[..5],
        ["wait_enter", "wait_returned", "recv_enter", "recv_exit", "close"],
        "{names:?}"
    );
    server.shutdown().await.unwrap();
    // Calls for one message: the wait, the recv and the send (not the next wait).
    message[..7].iter().filter(|n| n.ends_with("_enter")).count()
}
