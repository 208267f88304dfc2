//! Checks every echo model must pass, shared by the thread and process models' tests: random
//! payloads in random splits from many clients, reset, half-close, a client that never reads,
//! and stop with clients connected. Plus a Kettle with non-default [`ModelOptions`] (limits
//! small enough to reach in a test), observed straight from its recorder.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{
    client, events_until, kettle, linger_zero, model_addr, payload, read_n, viewer,
};
use kettle_backend::models::ModelOptions;
use kettle_backend::recorder::{Batch, Recorder};
use kettle_backend::registry::Registry;
use kettle_shared::{CloseReason, Event, EventKind};
use tokio::sync::broadcast;

/// One client: a random payload of up to 64 KiB written in random splits while another thread
/// reads the echo; asserts it is the upper-cased payload, byte for byte.
pub fn echo_one(addr: SocketAddr, seed: u64, timeout: Duration) {
    let len = 1 + (payload(2, seed)[0] as usize * 256 + payload(2, seed)[1] as usize);
    let data = payload(len, seed + 1);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_nodelay(true).unwrap();
    let mut reader = s.try_clone().unwrap();
    let expected = data.to_ascii_uppercase();
    let read = std::thread::spawn(move || {
        let mut got = vec![0; expected.len()];
        reader.read_exact(&mut got).expect("the whole echo within the timeout");
        assert!(got == expected, "echo differs for a payload of {} bytes", expected.len());
    });
    let splits = payload(64, seed + 2);
    let mut rest = &data[..];
    let mut i = 0;
    while !rest.is_empty() {
        let n = (1 + splits[i % splits.len()] as usize * 37).min(rest.len());
        s.write_all(&rest[..n]).unwrap();
        rest = &rest[n..];
        i += 1;
    }
    read.join().unwrap();
}

/// `clients` clients at once, each [`echo_one`].
pub fn echo_concurrently(addr: SocketAddr, clients: u64, timeout: Duration) {
    let all: Vec<_> = (0..clients)
        .map(|i| std::thread::spawn(move || echo_one(addr, 1000 + i * 7, timeout)))
        .collect();
    for c in all {
        c.join().expect("client thread");
    }
}

/// A connected client with timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Half-close: the client sends, shuts its writing side, and must read the full echo, then EOF.
pub fn half_close_gets_full_echo(addr: SocketAddr) {
    let mut s = connect(addr);
    let data = payload(10_000, 42);
    s.write_all(&data).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(
        got == data.to_ascii_uppercase(),
        "half-closed echo: {} of {} bytes",
        got.len(),
        data.len()
    );
}

/// A client that writes a lot and never reads. Returns it (still connected) once the server
/// has stopped taking its bytes, i.e. every buffer on the way is full.
pub fn stalled_client(addr: SocketAddr) -> TcpStream {
    let mut s = connect(addr);
    s.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match s.write(&chunk) {
            Ok(_) => assert!(Instant::now() < deadline, "the server never stopped reading"),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return s,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return s,
            // A signal (the children's SIGCHLD, say) can cut a timed write short: try again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("stalled client: {e}"),
        }
    }
}

/// True once nothing listens on `addr` any more (it can be bound again).
pub fn port_is_free(addr: SocketAddr) -> bool {
    std::net::TcpListener::bind(addr).is_ok()
}

/// A registry with these options and its recorder's batches.
pub fn registry_with(
    options: ModelOptions,
) -> (Registry, broadcast::Receiver<std::sync::Arc<Batch>>) {
    let recorder = Recorder::start();
    let rx = recorder.subscribe();
    (Registry::with_options(recorder, 0, options), rx)
}

/// Collects recorded events until `done` holds, or panics after `limit`.
pub async fn recorded_until(
    rx: &mut broadcast::Receiver<std::sync::Arc<Batch>>,
    events: &mut Vec<Event>,
    limit: Duration,
    done: impl Fn(&[Event]) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(events) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out; events: {:#?}", names(events));
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Ok(batch)) => events.extend(batch.events.iter().cloned()),
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => panic!("lagged by {n} batches"),
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => {}
        }
    }
}

/// `(thread, conn, kind)` of each event, for readable failures.
pub fn names(events: &[Event]) -> Vec<(String, Option<u64>, &'static str)> {
    events.iter().map(|e| (e.thread.name.clone(), e.conn, e.kind.name())).collect()
}

pub fn echo_in_pieces(addr: SocketAddr, data: Vec<u8>, seed: u64) {
    let mut c = client(addr);
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = c.try_clone().unwrap();
    let expected = data.to_ascii_uppercase();
    let writer = std::thread::spawn(move || {
        let cuts = payload(64, seed);
        let mut rest = &data[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = (1 + (cuts[i % cuts.len()] as usize) * 32).min(rest.len());
            w.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
            i += 1;
        }
    });
    let got = read_n(&mut c, expected.len());
    writer.join().unwrap();
    assert!(got == expected, "echo of {} bytes differs", expected.len());
}

pub fn concurrent_echo(addr: SocketAddr, clients: usize) {
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let seed = 7 + i as u64;
            let len = 1
                + (u32::from_le_bytes(payload(4, seed)[..4].try_into().unwrap()) as usize
                    % (64 * 1024));
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || echo_in_pieces(addr, payload(len, seed), seed))
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

pub fn reset_then_next_is_served(addr: SocketAddr) {
    let mut c = client(addr);
    c.write_all(b"before").unwrap();
    assert_eq!(read_n(&mut c, 6), b"BEFORE");
    linger_zero(&c);
    drop(c);
    let mut next = client(addr);
    next.write_all(b"after reset").unwrap();
    assert_eq!(read_n(&mut next, 11), b"AFTER RESET");
}

pub fn never_reader_does_not_block_others(addr: SocketAddr) -> TcpStream {
    let hog = client(addr);
    let mut w = hog.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_millis(100))).unwrap();
    // Fill every buffer on the way: the server's output bound, both sockets' buffers.
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 64 * 1024 * 1024 {
        match w.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break, // the write timed out: everything is full
        }
    }
    assert!(sent < 64 * 1024 * 1024, "the server kept reading a client that never reads");
    let mut other = client(addr);
    for i in 0..5 {
        let line = format!("line {i}\n");
        other.write_all(line.as_bytes()).unwrap();
        assert_eq!(read_n(&mut other, line.len()), line.to_ascii_uppercase().as_bytes());
    }
    hog
}

/// How long [`reset_half_close_and_never_reader`] gives each step.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Pause between the doomed client's first byte and its reset (a child process may need
    /// it to be running before the reset arrives).
    pub before_reset: Duration,
    /// Clients echoed concurrently while one client never reads.
    pub others: u64,
    /// How long those clients may take.
    pub echo: Duration,
    /// How long the reset's `close` event may take to arrive.
    pub events: Duration,
}

/// A client resets its connection, another half-closes (and gets its full echo), a third never
/// reads while others are served; the reset is recorded as such, and a stop still ends the
/// model with the stalled client connected and frees its port.
pub async fn reset_half_close_and_never_reader(id: &str, p: Patience) {
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    let (mut ws, _) = viewer(&server).await;
    let stalled = tokio::task::spawn_blocking(move || {
        let c = connect(addr);
        c.try_clone().unwrap().write_all(b"x").unwrap();
        std::thread::sleep(p.before_reset);
        linger_zero(&c);
        drop(c);
        half_close_gets_full_echo(addr);
        let stalled = stalled_client(addr);
        // Whoever sleeps in send to the stalled client, everyone else is still served.
        echo_concurrently(addr, p.others, p.echo);
        stalled
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, p.events, |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::Reset, .. }))
    })
    .await;
    // Stopping wakes whatever is blocked in send to the client that never reads.
    let registry = server.registry.clone();
    let model = id.to_owned();
    tokio::task::spawn_blocking(move || registry.stop(&model).unwrap()).await.unwrap();
    drop(stalled);
    assert!(port_is_free(addr));
    server.shutdown().await.unwrap();
}

/// Byte-exact echo in random pieces for 1, then 10, then 100 concurrent clients.
pub async fn echo_1_10_100_concurrent_clients(id: &str) {
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    tokio::task::spawn_blocking(move || {
        for n in [1, 10, 100] {
            concurrent_echo(addr, n);
        }
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}

/// A reset client is recorded as reset and the next one served; a half-closed client gets its
/// full echo and a normal close; a client that never reads does not stop the others; then a
/// stop, with that client still connected and its reply stuck, ends the model cleanly.
pub async fn reset_half_close_never_reader_then_stop(id: &str) {
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    let (mut ws, _) = viewer(&server).await;
    let hog = tokio::task::spawn_blocking(move || {
        reset_then_next_is_served(addr);
        half_close_gets_full_echo(addr);
        never_reader_does_not_block_others(addr)
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        let closed = |r: CloseReason| {
            ev.iter().any(|e| matches!(e.kind, EventKind::Close { reason, .. } if reason == r))
        };
        closed(CloseReason::Reset) && closed(CloseReason::PeerClosed)
    })
    .await;
    let registry = server.registry.clone();
    let model = id.to_owned();
    tokio::task::spawn_blocking(move || registry.stop(&model).unwrap()).await.unwrap();
    drop(hog);
    server.shutdown().await.unwrap();
}
