//! The echo as every model's tests drive it: [`OneLine`], the one-line scenario each model's
//! figure test checks its steps against; random payloads in random pieces from many clients
//! at once; and a Kettle with non-default [`ModelOptions`] (limits small enough to reach in a
//! test), observed straight from its recorder.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{client, events_until, model_addr, payload, read_n, viewer};
use kettle_backend::models::ModelOptions;
use kettle_backend::recorder::{Batch, Recorder};
use kettle_backend::registry::Registry;
use kettle_backend::Server;
use kettle_shared::{Event, EventKind};
use tokio::sync::broadcast;

/// A condition on the events seen so far.
type Until<'a> = Box<dyn Fn(&[Event]) -> bool + 'a>;

/// One line echoed, the scenario every model's figure is drawn from: a client connects, waits
/// (so that the server is asleep waiting for the data: phase 1 is long), sends `hello`, reads
/// `HELLO`, shuts down its sending side and reads end of file. Each model's test then checks
/// the steps its figure shows; what differs between models is only when the client may go on,
/// given here as conditions on the events.
pub struct OneLine<'a> {
    model: &'a str,
    pause: Duration,
    patience: Duration,
    once_started: Option<Until<'a>>,
    once_connected: Option<Until<'a>>,
    once_echoed: Option<Until<'a>>,
    until: Until<'a>,
}

/// What [`OneLine::run`] saw: the events, and the client's own address (as the server's
/// `accept` reports its peer).
pub struct Told {
    pub events: Vec<Event>,
    pub client: String,
}

impl<'a> OneLine<'a> {
    /// The line on `model`: a 200 ms pause before it is sent, events collected until a
    /// connection is closed, at most 10 s for each wait.
    pub fn new(model: &'a str) -> OneLine<'a> {
        OneLine {
            model,
            pause: Duration::from_millis(200),
            patience: Duration::from_secs(10),
            once_started: None,
            once_connected: None,
            once_echoed: None,
            until: Box::new(|ev| ev.iter().any(|e| matches!(e.kind, EventKind::Close { .. }))),
        }
    }

    /// How long the client waits between connecting (or [`OneLine::once_connected`]) and
    /// sending.
    pub fn pause_ms(self, ms: u64) -> Self {
        OneLine { pause: Duration::from_millis(ms), ..self }
    }

    /// How long each wait for events may take.
    pub fn patience(self, limit: Duration) -> Self {
        OneLine { patience: limit, ..self }
    }

    /// Waited for before the client connects.
    pub fn once_started(self, done: impl Fn(&[Event]) -> bool + 'a) -> Self {
        OneLine { once_started: Some(Box::new(done)), ..self }
    }

    /// Waited for after the client connected, before its pause.
    pub fn once_connected(self, done: impl Fn(&[Event]) -> bool + 'a) -> Self {
        OneLine { once_connected: Some(Box::new(done)), ..self }
    }

    /// Waited for after the echo, before the client shuts down its sending side.
    pub fn once_echoed(self, done: impl Fn(&[Event]) -> bool + 'a) -> Self {
        OneLine { once_echoed: Some(Box::new(done)), ..self }
    }

    /// The events are collected until this holds (instead of until a close).
    pub fn until(self, done: impl Fn(&[Event]) -> bool + 'a) -> Self {
        OneLine { until: Box::new(done), ..self }
    }

    /// Runs the line against `model` on `server`, watched by a viewer of its own.
    pub async fn run(self, server: &Server) -> Told {
        let addr = model_addr(server, self.model);
        let (mut ws, _) = viewer(server).await;
        let mut events = Vec::new();
        if let Some(done) = &self.once_started {
            events_until(&mut ws, &mut events, self.patience, done).await;
        }
        let mut c = client(addr);
        let local = c.local_addr().unwrap().to_string();
        if let Some(done) = &self.once_connected {
            events_until(&mut ws, &mut events, self.patience, done).await;
        }
        let pause = self.pause;
        let mut c = tokio::task::spawn_blocking(move || {
            std::thread::sleep(pause);
            c.write_all(b"hello").unwrap();
            assert_eq!(read_n(&mut c, 5), b"HELLO");
            c
        })
        .await
        .unwrap();
        if let Some(done) = &self.once_echoed {
            events_until(&mut ws, &mut events, self.patience, done).await;
        }
        tokio::task::spawn_blocking(move || {
            c.shutdown(Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).unwrap();
            assert!(rest.is_empty(), "after the echo, only end of file: {rest:?}");
        })
        .await
        .unwrap();
        events_until(&mut ws, &mut events, self.patience, &self.until).await;
        Told { events, client: local }
    }
}

/// One client: a random payload of 1 byte to 64 KiB (`seed` chooses), as [`echo_payload`].
pub fn echo_one(addr: SocketAddr, seed: u64, timeout: Duration) {
    let len = 1 + (payload(2, seed)[0] as usize * 256 + payload(2, seed)[1] as usize);
    echo_payload(addr, payload(len, seed + 1), seed + 2, timeout);
}

/// One client writes `data` in pseudo-random pieces (1 byte to 9 KiB, `seed` chooses) while
/// another thread reads the echo; asserts it is the upper-cased data, byte for byte, within
/// `timeout`.
pub fn echo_payload(addr: SocketAddr, data: Vec<u8>, seed: u64, timeout: Duration) {
    let mut s = connect(addr);
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut reader = s.try_clone().unwrap();
    let expected = data.to_ascii_uppercase();
    let read = std::thread::spawn(move || {
        let mut got = vec![0; expected.len()];
        reader.read_exact(&mut got).expect("the whole echo within the timeout");
        assert!(got == expected, "echo differs for a payload of {} bytes", expected.len());
    });
    let splits = payload(64, seed);
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

/// `clients` clients at once, each [`echo_one`] — the first with a payload of exactly 64 KiB,
/// far more than one `recv` takes.
pub fn echo_concurrently(addr: SocketAddr, clients: u64, timeout: Duration) {
    let all: Vec<_> = (0..clients)
        .map(|i| {
            let seed = 1000 + i * 7;
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || match i {
                    0 => echo_payload(addr, payload(64 * 1024, seed), seed, timeout),
                    _ => echo_one(addr, seed, timeout),
                })
                .unwrap()
        })
        .collect();
    for c in all {
        c.join().expect("a client failed");
    }
}

/// A connected client with 20 s timeouts (a child process may be slow to start on a loaded
/// machine).
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    s
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
