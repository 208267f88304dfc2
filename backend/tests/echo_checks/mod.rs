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
use kettle_shared::{CloseReason, Event, EventKind, ModelState, Reason, RecvOutcome};
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

/// The one line's steps in a thread that serves its connection with blocking calls (Fig. 6.1):
/// `recv` sleeps until the data arrives (the kernel's stamp falls inside the call), `send`
/// echoes it, the next `recv` reads end of file, and the connection is closed.
pub const ONE_LINE_BLOCKING: [&str; 8] = [
    "recv_enter",
    "data_arrived",
    "recv_exit",
    "send_enter",
    "send_exit",
    "recv_enter",
    "recv_exit",
    "close",
];

/// A thread's whole story around the one line: `before`, [`ONE_LINE_BLOCKING`], `after`.
pub fn around_one_line(before: &[&'static str], after: &[&'static str]) -> Vec<&'static str> {
    [before, &ONE_LINE_BLOCKING[..], after].concat()
}

/// Checks that `e` is the one line's `recv` in a blocking model: it returned the 5 bytes of
/// `hello` after sleeping through the client's 200 ms pause — phase 1, from the call to the
/// kernel's receive stamp, at least 150 ms. Returns phase 1 and phase 2 (the copy), in ns.
pub fn slept_through_the_pause(e: &Event) -> (u64, Option<u64>) {
    match &e.kind {
        EventKind::RecvExit {
            outcome: RecvOutcome::Data { bytes: 5, preview },
            wait_ns: Some(wait),
            copy_ns,
            ..
        } => {
            assert_eq!(preview, "hello");
            assert!(
                *wait >= 150_000_000,
                "phase 1 covers the client's 200 ms pause, was {wait} ns"
            );
            (*wait, *copy_ns)
        }
        other => panic!("the line's recv, not {other:?}"),
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

/// A model started on a registry of its own with non-default options (limits small enough to
/// reach in a test), its events read straight from the recorder.
pub struct Limited {
    id: &'static str,
    pub registry: Registry,
    rx: broadcast::Receiver<std::sync::Arc<Batch>>,
    /// Where the model listens.
    pub addr: SocketAddr,
    /// What it recorded so far (see [`Limited::until`]).
    pub events: Vec<Event>,
}

impl Limited {
    /// Starts `id` with `options`.
    pub fn start(id: &'static str, options: ModelOptions) -> Limited {
        let recorder = Recorder::start();
        let rx = recorder.subscribe();
        let registry = Registry::with_options(recorder, 0, options);
        registry.start(id).unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], registry.running_port(id).unwrap()));
        Limited { id, registry, rx, addr, events: Vec::new() }
    }

    /// Collects recorded events until `done` holds, or panics after `limit`.
    pub async fn until(&mut self, limit: Duration, done: impl Fn(&[Event]) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(&self.events) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out; events: {:#?}", names(&self.events));
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Ok(batch)) => self.events.extend(batch.events.iter().cloned()),
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => panic!("lagged by {n} batches"),
                Ok(Err(e)) => panic!("{e}"),
                Err(_) => {}
            }
        }
    }

    /// Stops the model (off the async workers: it joins its threads) and checks its port is
    /// free.
    pub async fn stop(self) {
        let (registry, id, addr) = (self.registry, self.id, self.addr);
        tokio::task::spawn_blocking(move || registry.stop(id).unwrap()).await.unwrap();
        assert!(port_is_free(addr), "port still in use");
    }
}

/// A client that connects and reads: a refused one is closed without an echo (what it wrote,
/// if the close came first, may make its read fail with a reset).
pub fn refused_client(addr: SocketAddr) {
    let mut c = connect(addr);
    let _ = c.write_all(b"no");
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    assert!(buf.is_empty(), "a refused client gets nothing back, got {buf:?}");
}

/// A model that cannot make a client's thread or child process (`options` see to it) refuses
/// it, recorded as `refused` says — twice, for two clients — and goes on running. Returns what
/// it recorded.
pub async fn cannot_create_refuses_the_client_and_goes_on(
    id: &'static str,
    options: ModelOptions,
    refused: fn(&Reason) -> bool,
) -> Vec<Event> {
    let mut model = Limited::start(id, options);
    let addr = model.addr;
    tokio::task::spawn_blocking(move || (0..2).for_each(|_| refused_client(addr))).await.unwrap();
    model
        .until(Duration::from_secs(10), |ev| {
            let refusals = ev
                .iter()
                .filter(|e| matches!(&e.kind, EventKind::Refused { reason } if refused(reason)));
            refusals.count() == 2
        })
        .await;
    assert_eq!(model.registry.get(id).unwrap().state, ModelState::Running);
    let events = std::mem::take(&mut model.events);
    model.stop().await;
    events
}

/// A model with a cap of `cap` connection threads or children (`options` set it): `cap`
/// clients are served, the next is refused without an echo (recorded as `refused` says), and
/// once a served client leaves and `gone` says its thread or child is gone, a later client is
/// served; a stop then frees the port.
pub async fn past_the_cap_a_client_is_refused_and_later_ones_are_served(
    id: &'static str,
    options: ModelOptions,
    cap: u64,
    refused: fn(&Reason) -> bool,
    gone: fn(&[Event]) -> bool,
) {
    let mut model = Limited::start(id, options);
    let addr = model.addr;
    let mut served = tokio::task::spawn_blocking(move || {
        let mut served: Vec<_> = (0..cap).map(|_| connect(addr)).collect();
        for c in &mut served {
            c.write_all(b"ok").unwrap();
            assert_eq!(read_n(c, 2), b"OK");
        }
        refused_client(addr);
        served
    })
    .await
    .unwrap();
    let over = Some(cap + 1);
    model
        .until(Duration::from_secs(20), |ev| {
            let closed =
                |e: &Event| matches!(e.kind, EventKind::Close { reason: CloseReason::Refused, .. });
            let recorded =
                |e: &Event| matches!(&e.kind, EventKind::Refused { reason } if refused(reason));
            ev.iter().any(|e| e.conn == over && closed(e))
                && ev.iter().any(|e| e.conn == over && recorded(e))
        })
        .await;
    drop(served.remove(0));
    model.until(Duration::from_secs(20), gone).await;
    tokio::task::spawn_blocking(move || echo_one(addr, 7, Duration::from_secs(30))).await.unwrap();
    drop(served);
    model.stop().await;
}

/// `(thread, conn, kind)` of each event, for readable failures.
pub fn names(events: &[Event]) -> Vec<(String, Option<u64>, &'static str)> {
    events.iter().map(|e| (e.thread.name.clone(), e.conn, e.kind.name())).collect()
}
