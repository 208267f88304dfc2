//! Behaviour every single-threaded non-blocking model must have (nonblocking, select, poll,
//! epoll, epoll-et, reactor), written once and run against each model by its own
//! `model_<id>.rs`.

#![allow(dead_code)] // each test file uses its own subset

use crate::common::linger_zero;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use kettle_shared::{CloseReason, Command, Event, EventKind, RecvOutcome, ServerMsg};

use super::common::*;

/// The events of `model`'s server thread, without periodic samples.
pub fn steps<'a>(events: &'a [Event], model: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.model == model && e.thread.name == model && e.kind.name() != "thread_sample")
        .collect()
}

/// Writes `data` in pseudo-random pieces (1 byte to 8 KiB) from a second thread while this
/// one reads the echo; checks it is byte-exact and upper-cased.
pub fn echo_in_random_splits(addr: SocketAddr, data: Vec<u8>, seed: u64) {
    let mut c = client(addr);
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = c.try_clone().unwrap();
    let expected = data.to_ascii_uppercase();
    let writer = std::thread::spawn(move || {
        let sizes = payload(data.len() + 1, seed);
        let mut at = 0;
        let mut i = 0;
        while at < data.len() {
            let piece = 1 + (sizes[i] as usize * 37 + i * 13) % 8192;
            let end = (at + piece).min(data.len());
            w.write_all(&data[at..end]).unwrap();
            at = end;
            i += 1;
        }
    });
    let got = read_n(&mut c, expected.len());
    writer.join().unwrap();
    assert!(got == expected, "echo of {} bytes differs", expected.len());
}

/// `clients` concurrent clients, each echoing a random payload of up to 64 KiB.
pub async fn concurrent_random_echo(model: &str, clients: u64) {
    let server = kettle(&[model]).await;
    let addr = model_addr(&server, model);
    tokio::task::spawn_blocking(move || {
        let threads: Vec<_> = (0..clients)
            .map(|i| {
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        let seed = 1000 + i;
                        let len = 1 + payload(3, seed)[2] as usize * 257 % (64 * 1024);
                        let len = if i == 0 { 64 * 1024 } else { len };
                        echo_in_random_splits(addr, payload(len, seed), seed);
                    })
                    .unwrap()
            })
            .collect();
        for t in threads {
            t.join().expect("a client failed");
        }
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}

/// A client that resets its connection mid-stream is closed as `reset`; others are served.
pub async fn reset_client_is_closed_and_others_served(model: &str) {
    let server = kettle(&[model]).await;
    let addr = model_addr(&server, model);
    let (mut ws, _) = viewer(&server).await;
    tokio::task::spawn_blocking(move || {
        let mut other = client(addr);
        let mut c = client(addr);
        c.write_all(b"before").unwrap();
        assert_eq!(read_n(&mut c, 6), b"BEFORE");
        // Unread data in our receive queue plus SO_LINGER 0: close sends RST.
        c.write_all(&payload(4096, 9)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        linger_zero(&c);
        drop(c);
        other.write_all(b"after reset").unwrap();
        assert_eq!(read_n(&mut other, 11), b"AFTER RESET");
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::Reset, .. }))
    })
    .await;
    server.shutdown().await.unwrap();
}

/// A client that shuts down its sending side gets its whole echo, then end of file.
pub async fn half_close_gets_full_echo_then_eof(model: &str) {
    let server = kettle(&[model]).await;
    let addr = model_addr(&server, model);
    let (mut ws, _) = viewer(&server).await;
    tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        let data = payload(200 * 1024, 77);
        let mut w = c.try_clone().unwrap();
        let sent = data.clone();
        let writer = std::thread::spawn(move || {
            w.write_all(&sent).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        assert!(got == data.to_ascii_uppercase(), "{} of {} bytes", got.len(), data.len());
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter()
            .any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::PeerClosed, .. }))
    })
    .await;
    server.shutdown().await.unwrap();
}

/// A client that sends a lot and never reads: the server stops reading it (`stop_reading`
/// tells from the events when), keeps serving another client, and once the first client
/// reads, echoes everything byte-exact.
pub async fn never_reading_client_does_not_block_others(
    model: &str,
    stop_reading: impl Fn(&Event) -> bool,
) {
    let server = kettle(&[model]).await;
    let addr = model_addr(&server, model);
    let (mut ws, _) = viewer(&server).await;
    // Megabytes of echo crowd the model: follow the hog (the next connection to make a call)
    // so its steps are still sent in detail.
    let spotlight = Command::Spotlight { model: model.into(), sample: 1 };
    send_cmd(&mut ws, 1, spotlight).await;
    assert!(matches!(answer(&mut ws, 1, &mut Vec::new()).await, ServerMsg::Reply { .. }));
    let data = payload(HOG_BYTES, 5);
    let mut hog = small_window_client(addr);
    hog.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = hog.try_clone().unwrap();
    let sent = data.clone();
    let writer = std::thread::spawn(move || w.write_all(&sent).unwrap());

    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(20), |ev| ev.iter().any(&stop_reading))
        .await;
    tokio::task::spawn_blocking(move || {
        let mut other = client(addr);
        for i in 0..5 {
            let line = format!("line {i}\n");
            other.write_all(line.as_bytes()).unwrap();
            assert_eq!(read_n(&mut other, line.len()), line.to_ascii_uppercase().as_bytes());
        }
    })
    .await
    .unwrap();
    let got = tokio::task::spawn_blocking(move || read_n(&mut hog, data.len())).await.unwrap();
    writer.join().unwrap();
    assert!(got == payload(HOG_BYTES, 5).to_ascii_uppercase(), "hog's echo differs");
    server.shutdown().await.unwrap();
}

/// What the never-reading client sends: more than the server's send buffer can hold (up to
/// 4 MiB here), so the server's `send` must return `EAGAIN`.
const HOG_BYTES: usize = 8 * 1024 * 1024;

/// A client whose receive buffer is small and fixed (no autotuning), so replies it does not
/// read pile up at the server instead of in this client's kernel.
pub fn small_window_client(addr: SocketAddr) -> TcpStream {
    use nix::sys::socket::{connect, setsockopt, socket, sockopt, AddressFamily, SockFlag};
    use nix::sys::socket::{SockType, SockaddrIn};
    use std::os::fd::AsRawFd;
    let SocketAddr::V4(v4) = addr else { panic!("IPv4 expected") };
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).unwrap();
    setsockopt(&fd, sockopt::RcvBuf, &4096).unwrap();
    connect(fd.as_raw_fd(), &SockaddrIn::from(v4)).unwrap();
    let s = TcpStream::from(fd);
    s.set_nodelay(true).unwrap();
    s
}

/// Stopping the model while clients are connected closes them, ends the thread and frees
/// the port.
pub async fn stop_with_clients_frees_port(model: &str) {
    let server = kettle(&[model]).await;
    let addr = model_addr(&server, model);
    let mut a = client(addr);
    let mut b = client(addr);
    a.write_all(b"x").unwrap();
    assert_eq!(read_n(&mut a, 1), b"X");
    b.write_all(b"y").unwrap();
    assert_eq!(read_n(&mut b, 1), b"Y");
    let (mut ws, _) = viewer(&server).await;
    let registry = server.registry.clone();
    let id = model.to_owned();
    tokio::task::spawn_blocking(move || registry.stop(&id).unwrap()).await.unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Stopped { .. }))
    })
    .await;
    let stopped = events.iter().position(|e| matches!(e.kind, EventKind::Stopped { .. }));
    let closes: Vec<_> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.kind, EventKind::Close { reason: CloseReason::Stopped, .. }))
        .map(|(i, _)| Some(i))
        .collect();
    assert_eq!(closes.len(), 2, "{:?}", kinds(&events));
    assert!(closes.iter().all(|c| *c < stopped), "{:?}", kinds(&events));
    assert!(events.iter().any(|e| e.model == model && e.kind == EventKind::ThreadExited));
    for c in [&mut a, &mut b] {
        let mut buf = [0u8; 1];
        assert_eq!(c.read(&mut buf).unwrap(), 0, "the server side is closed");
    }
    let again = std::net::TcpListener::bind(addr);
    assert!(again.is_ok(), "port still in use: {again:?}");
    server.shutdown().await.unwrap();
}

/// Stopping an idle model — its thread asleep in `epoll_wait` with nothing but the listener
/// watched — wakes it: the listener's shutdown is reported as a hang-up.
pub async fn stop_wakes_an_idle_epoll_wait(model: &str) {
    let server = kettle(&[model]).await;
    let addr = model_addr(&server, model);
    let (mut ws, _) = viewer(&server).await;
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| e.model == model && e.kind.name() == "wait_enter")
    })
    .await;
    let registry = server.registry.clone();
    let id = model.to_owned();
    let stop = tokio::task::spawn_blocking(move || registry.stop(&id).unwrap());
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .expect("stop returns: epoll_wait was woken")
        .unwrap();
    assert!(std::net::TcpListener::bind(addr).is_ok());
    server.shutdown().await.unwrap();
}

/// Index of the first event at or after `from` matching `f`.
pub fn find(events: &[&Event], from: usize, f: impl Fn(&Event) -> bool) -> Option<usize> {
    events[from..].iter().position(|e| f(e)).map(|i| i + from)
}

/// A connection was closed and the thread went back to `epoll_wait` (the last step of the
/// one-line figures; events arrive in batches, so both are waited for).
pub fn closed_and_waiting_again(events: &[Event]) -> bool {
    let close = events.iter().position(|e| matches!(e.kind, EventKind::Close { .. }));
    close.is_some_and(|c| events[c..].iter().any(|e| e.kind.name() == "wait_enter"))
}

/// True for a `recv` that returned data.
pub fn recv_data(e: &Event) -> bool {
    matches!(e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. })
}

/// True for a `recv` that returned `EAGAIN`.
pub fn recv_would_block(e: &Event) -> bool {
    matches!(e.kind, EventKind::RecvExit { outcome: RecvOutcome::WouldBlock, .. })
}
