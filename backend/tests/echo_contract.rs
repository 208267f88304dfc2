//! What every echo server keeps, whatever its model: random payloads echoed byte for byte to
//! many clients at once; a client that resets, one that half-closes and one that never reads
//! disturb no one else; a stop closes every connection, wakes every call and frees the port.
//!
//! Each scenario is written once and run against every model it applies to ([`for_models!`]):
//! a test is named `<scenario>::<Model>`. What only one model does is in its own
//! `model_<id>.rs` (or `blocking.rs`); what differs between models here is one row per model
//! in [`differs`].

#[macro_use]
mod common;
mod echo_checks;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use echo_checks::{connect, echo_concurrently, names, port_is_free};
use kettle_shared::{BuiltIn, CloseReason, EpollOp, Event, EventKind};

/// What differs between the models in these scenarios; one row per model in [`differs`].
struct Differs {
    /// How long one client may wait for its echo while a hundred are served.
    echo_patience: Duration,
    /// How long a connection's events may take to reach a viewer.
    patience: Duration,
    /// Clients connected when the model is stopped.
    clients_at_stop: usize,
    /// The event by which the model says it stopped reading a client whose replies it cannot
    /// send, where it records one (the others show it only by what the client sees: its
    /// writes stop being taken).
    stops_reading: Option<fn(&Event) -> bool>,
    /// What a stop must also have done, from its events and the number of clients.
    also_at_stop: fn(&[Event], usize),
}

/// The row of a model that differs in nothing.
const USUAL: Differs = Differs {
    echo_patience: Duration::from_secs(60),
    patience: Duration::from_secs(10),
    clients_at_stop: 3,
    stops_reading: None,
    also_at_stop: |_, _| {},
};

/// One row per model: what differs from [`USUAL`], and why. An exhaustive match: a new model
/// does not compile until it says.
fn differs(model: BuiltIn) -> Differs {
    let minutes = |n: u64| Duration::from_secs(60 * n);
    match model {
        // One client at a time.
        BuiltIn::Blocking => Differs { clients_at_stop: 1, ..USUAL },
        // A thread per client, each ended by a stop.
        BuiltIn::ThreadPerConn => Differs { also_at_stop: every_thread_ended, ..USUAL },
        // A child started per client, its calls forwarded to the parent through a pipe.
        BuiltIn::ProcessPerConn => {
            Differs { echo_patience: minutes(2), patience: Duration::from_secs(20), ..USUAL }
        }
        // Four workers serve a hundred clients four at a time.
        BuiltIn::ThreadPool => Differs { echo_patience: minutes(2), ..USUAL },
        BuiltIn::Nonblocking | BuiltIn::Select | BuiltIn::Poll => USUAL,
        // epoll asks for EPOLLOUT instead of EPOLLIN.
        BuiltIn::Epoll => Differs {
            stops_reading: Some(|e| {
                matches!(&e.kind, EventKind::EpollCtl { op: EpollOp::Mod, events, .. }
                    if events == "EPOLLOUT")
            }),
            ..USUAL
        },
        BuiltIn::EpollEt => Differs {
            stops_reading: Some(|e| {
                matches!(&e.kind, EventKind::EpollCtl { op: EpollOp::Mod, events, .. }
                    if events == "EPOLLOUT|EPOLLET")
            }),
            ..USUAL
        },
        // The connection switches to the write callback (and back once the reply is sent).
        BuiltIn::Reactor => Differs {
            stops_reading: Some(|e| {
                matches!(&e.kind, EventKind::Register { interest, callback, .. }
                    if interest == "write" && callback == "write")
            }),
            ..USUAL
        },
        BuiltIn::Sigio | BuiltIn::IoUring => USUAL,
        // A read outstanding per client, completed by a stop.
        BuiltIn::PosixAio => Differs { also_at_stop: a_completion_per_read, ..USUAL },
    }
}

/// Random payloads (up to 64 KiB, in random pieces) from 1, then 10, then 100 clients at once
/// are echoed upper-cased, byte for byte. (For epoll-et, a missed edge would leave a client
/// waiting forever.) The blocking model serves one client at a time: its own large payloads
/// are in `blocking.rs`.
async fn random_payloads_echo_byte_exact_for_1_10_and_100_concurrent_clients(model: BuiltIn) {
    let Some(server) = serving(model).await else { return };
    let addr = model_addr(&server, model.id());
    let timeout = differs(model).echo_patience;
    tokio::task::spawn_blocking(move || {
        for clients in [1, 10, 100] {
            echo_concurrently(addr, clients, timeout);
        }
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}

for_models!(random_payloads_echo_byte_exact_for_1_10_and_100_concurrent_clients:
    ThreadPerConn, ProcessPerConn, ThreadPool, Nonblocking, Select, Poll, Epoll, EpollEt, Reactor,
    Sigio, IoUring, PosixAio);

/// A client that resets its connection (unread echo in its receive queue and `SO_LINGER` 0:
/// its close sends RST) is closed as `reset`, and another client, connected meanwhile, is
/// served (the blocking model takes it from the backlog once the reset one is gone).
async fn a_reset_client_is_closed_and_the_others_are_served(model: BuiltIn) {
    let Some(server) = serving(model).await else { return };
    let addr = model_addr(&server, model.id());
    let (mut ws, _) = viewer(&server).await;
    tokio::task::spawn_blocking(move || {
        let mut doomed = connect(addr);
        echoed(&mut doomed, b"before");
        let mut other = connect(addr);
        doomed.write_all(&payload(4096, 9)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        linger_zero(&doomed);
        drop(doomed);
        echoed(&mut other, b"after reset");
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, differs(model).patience, |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::Reset, .. }))
    })
    .await;
    server.shutdown().await.unwrap();
}

for_models!(a_reset_client_is_closed_and_the_others_are_served:
    Blocking, ThreadPerConn, ProcessPerConn, ThreadPool, Nonblocking, Select, Poll, Epoll,
    EpollEt, Reactor, Sigio, IoUring, PosixAio);

/// A client that writes 200 KiB while it reads, then shuts down its sending side, gets its
/// whole echo, then end of file; the server records a normal close.
async fn a_half_closed_client_gets_its_whole_echo_then_end_of_file(model: BuiltIn) {
    let Some(server) = serving(model).await else { return };
    let addr = model_addr(&server, model.id());
    let (mut ws, _) = viewer(&server).await;
    // 200 KiB of echo can crowd the model: follow the client so its close is still sent.
    follow_next_connection(&mut ws, model.id()).await;
    tokio::task::spawn_blocking(move || {
        let mut c = connect(addr);
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
    events_until(&mut ws, &mut events, differs(model).patience, |ev| {
        ev.iter()
            .any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::PeerClosed, .. }))
    })
    .await;
    server.shutdown().await.unwrap();
}

for_models!(a_half_closed_client_gets_its_whole_echo_then_end_of_file:
    Blocking, ThreadPerConn, ProcessPerConn, ThreadPool, Nonblocking, Select, Poll, Epoll,
    EpollEt, Reactor, Sigio, IoUring, PosixAio);

/// A client that sends and never reads: the server stops reading it (bounded memory: the
/// client's writes end up blocked) and says so where the model records it
/// ([`Differs::stops_reading`]); six other clients are served meanwhile — whoever sleeps in `send` to
/// the first; and once it reads, it gets every byte back, in order.
async fn a_client_that_never_reads_is_not_read_past_a_bound_and_others_are_served(model: BuiltIn) {
    let Some(server) = serving(model).await else { return };
    let addr = model_addr(&server, model.id());
    let (mut ws, _) = viewer(&server).await;
    // Megabytes of echo crowd the model: follow the hog so its steps are still sent.
    follow_next_connection(&mut ws, model.id()).await;
    let (hog, written) = tokio::task::spawn_blocking(move || stall(addr)).await.unwrap();
    if let Some(stopped_reading) = differs(model).stops_reading {
        let mut events = Vec::new();
        events_until(&mut ws, &mut events, Duration::from_secs(20), |ev| {
            ev.iter().any(stopped_reading)
        })
        .await;
    }
    let timeout = differs(model).echo_patience;
    tokio::task::spawn_blocking(move || {
        echo_concurrently(addr, 6, timeout);
        read_back(hog, written);
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}

for_models!(a_client_that_never_reads_is_not_read_past_a_bound_and_others_are_served:
    ThreadPerConn, ProcessPerConn, ThreadPool, Nonblocking, Select, Poll, Epoll, EpollEt,
    Reactor, Sigio, IoUring, PosixAio);

/// A client that writes the alphabet over and over and never reads, through a small fixed
/// receive window (so the replies it leaves pile up at the server, not in this client's
/// kernel), until a write stays blocked for 2 s: every buffer on the way is full and the
/// server has stopped reading it. Returns it, still connected, and how many bytes it wrote;
/// fails once the server took 128 MiB from it.
fn stall(addr: SocketAddr) -> (TcpStream, usize) {
    const CAP: usize = 128 * 1024 * 1024;
    let mut hog = small_window_client(addr);
    hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    // Byte k of the stream is letter k % 26.
    let chunk: Vec<u8> = (0..26 * 2520).map(|i| b'a' + (i % 26) as u8).collect();
    let mut written = 0;
    while written < CAP {
        match hog.write(&chunk[written % 26..]) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (hog, written)
            }
            // A signal (the children's SIGCHLD, say) can cut a timed write short: try again.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("write: {e}"),
        }
    }
    panic!("the server kept reading {written} bytes from a client that never reads");
}

/// The stalled client reads at last: it shuts down its sending side and gets every byte it
/// wrote back, upper-cased and in order, then end of file.
fn read_back(mut hog: TcpStream, written: usize) {
    hog.shutdown(Shutdown::Write).unwrap();
    hog.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut back = Vec::with_capacity(written);
    hog.read_to_end(&mut back).unwrap();
    assert_eq!(back.len(), written);
    assert!(back.iter().enumerate().all(|(k, b)| *b == b'A' + (k % 26) as u8), "echo differs");
}

/// A client whose receive buffer is small and fixed (no autotuning), so replies it does not
/// read pile up at the server instead of in this client's kernel.
fn small_window_client(addr: SocketAddr) -> TcpStream {
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

/// Stopping while a client never reads — whatever the model has asleep in `send` to it, or
/// waiting to send — wakes it: the stop returns, and the port is free.
async fn stopping_while_a_client_never_reads_wakes_the_model_and_frees_the_port(model: BuiltIn) {
    let Some(server) = serving(model).await else { return };
    let addr = model_addr(&server, model.id());
    let (hog, _) = tokio::task::spawn_blocking(move || stall(addr)).await.unwrap();
    stop_within(&server, model.id(), Duration::from_secs(20)).await;
    drop(hog);
    assert!(port_is_free(addr), "port still in use");
    server.shutdown().await.unwrap();
}

for_models!(stopping_while_a_client_never_reads_wakes_the_model_and_frees_the_port:
    Blocking, ThreadPerConn, ProcessPerConn, ThreadPool, Nonblocking, Select, Poll, Epoll,
    EpollEt, Reactor, Sigio, IoUring, PosixAio);

/// The acceptor and a thread per client: each spawned, each ended.
fn every_thread_ended(events: &[Event], clients: usize) {
    let count = |kind: &str| events.iter().filter(|e| e.kind.name() == kind).count();
    let threads = clients + 1;
    assert_eq!(
        (count("thread_spawned"), count("thread_exited")),
        (threads, threads),
        "the acceptor and {clients} workers: {:?}",
        names(events)
    );
}

/// Each outstanding read ended with a completion (the shut-down socket's read returned 0).
fn a_completion_per_read(events: &[Event], clients: usize) {
    let completions =
        events.iter().filter(|e| matches!(&e.kind, EventKind::Complete { result: 0, .. })).count();
    assert_eq!(completions, clients, "{:?}", kinds(events));
}

/// Stopping with clients connected (each served once) closes every connection (as `stopped`,
/// before the model's `stopped` event), ends the model's thread, frees the port; each client
/// reads end of file. The pool (with busy workers and queued clients) and the process model
/// (whose children must be reaped) are stopped in their own files.
async fn stopping_with_clients_connected_closes_them_and_frees_the_port(model: BuiltIn) {
    let Some(server) = serving(model).await else { return };
    let addr = model_addr(&server, model.id());
    let differs = differs(model);
    let n = differs.clients_at_stop;
    let mut clients: Vec<_> = (0..n).map(|_| served(addr, b"x")).collect();
    let (mut ws, _) = viewer(&server).await;
    stop_within(&server, model.id(), Duration::from_secs(20)).await;
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Stopped { .. }))
    })
    .await;
    let stopped = events.iter().position(|e| matches!(e.kind, EventKind::Stopped { .. })).unwrap();
    let closed = |ev: &[Event]| {
        ev.iter()
            .filter(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::Stopped, .. }))
            .count()
    };
    let (before, after) = events.split_at(stopped);
    assert_eq!((closed(before), closed(after)), (n, 0), "{:?}", kinds(&events));
    assert!(
        before.iter().any(|e| e.model == model.id() && e.kind == EventKind::ThreadExited),
        "{:?}",
        kinds(&events)
    );
    for c in &mut clients {
        assert_eq!(c.read(&mut [0; 1]).unwrap(), 0, "the server side is closed");
    }
    assert!(port_is_free(addr), "port still in use");
    (differs.also_at_stop)(&events, n);
    server.shutdown().await.unwrap();
}

for_models!(stopping_with_clients_connected_closes_them_and_frees_the_port:
    Blocking, ThreadPerConn, Nonblocking, Select, Poll, Epoll, EpollEt, Reactor, Sigio, IoUring,
    PosixAio);
