//! Out of descriptors: `accept` fails with EMFILE (the process model cannot make the pipe for a
//! child's events instead). Every model must record it, retry at a pace — about every 100 ms,
//! not in a busy loop —, keep serving the clients it has, and serve the waiting client once
//! descriptors are free again. Also: select refuses a connection numbered beyond FD_SETSIZE,
//! and the web front pauses its own accept loop the same way.
//!
//! Its own test binary (so its own process): these tests lower the process's descriptor limit
//! and fill its descriptor table, so each runs [`alone`]. A scenario shared by several models
//! is written once and run against each ([`for_models!`]): `<scenario>::<Model>`.

#[macro_use]
mod common;
mod echo_checks;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use kettle_shared::{AsyncOp, BuiltIn, CloseReason, EpollOp, Event, EventKind, Reason, WaitApi};
use nix::errno::Errno;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType, SockaddrIn};

/// One test at a time: each one owns the process's descriptor table while it runs. Taken
/// before the test builds its tokio runtime, because building one opens descriptors too (a
/// runtime built while another test holds the table at its limit would take its last one).
static TABLE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `body` alone: holding [`TABLE`], on a runtime of its own.
fn alone(body: impl std::future::Future<Output = ()>) {
    let _table = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(body);
}

/// The descriptor table full: every free number below the soft limit taken. Dropping it frees
/// them and restores the limit, also when the test fails.
struct TableFull {
    held: Vec<OwnedFd>,
    soft: u64,
    hard: u64,
}

impl TableFull {
    /// At the present limit. (Lowering it would not do for io_uring: an accept request takes
    /// the limit in force when it was submitted.)
    fn now() -> TableFull {
        let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        TableFull::below(soft)
    }

    /// With the soft limit lowered to `limit` first: a descriptor numbered `limit` or more that
    /// is closed meanwhile cannot be taken again.
    fn below(limit: u64) -> TableFull {
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, limit, hard).unwrap();
        TableFull { held: fill_descriptor_table(), soft, hard }
    }
}

impl Drop for TableFull {
    fn drop(&mut self) {
        self.held.clear();
        setrlimit(Resource::RLIMIT_NOFILE, self.soft, self.hard).unwrap();
    }
}

/// Duplicates stdin until no descriptor below the limit is free; returns the duplicates.
///
/// Kettle's monitors open `/proc/self/task/<tid>/…` files for a few microseconds every 100 ms
/// while a viewer watches: a slot one of them held when the table filled is free again a moment
/// later, and a model's `accept` would take it instead of meeting `EMFILE`. So the table is
/// filled again after more than one sampling period, taking any slot freed meanwhile.
fn fill_descriptor_table() -> Vec<OwnedFd> {
    let mut held = Vec::new();
    for _ in 0..3 {
        held.extend(dup_stdin_until(|_| false));
        std::thread::sleep(Duration::from_millis(120));
    }
    held
}

/// Duplicates stdin until `done(fd)` holds for the last duplicate or the limit is reached;
/// returns the duplicates.
fn dup_stdin_until(done: impl Fn(i32) -> bool) -> Vec<OwnedFd> {
    let mut held = Vec::new();
    loop {
        match nix::unistd::dup(std::io::stdin()) {
            Ok(fd) => {
                let last = done(fd.as_raw_fd());
                held.push(fd);
                if last {
                    return held;
                }
            }
            Err(Errno::EMFILE) => return held,
            Err(e) => panic!("dup: {e}"),
        }
    }
}

/// A TCP socket, made while descriptors can still be made; [`connected`] connects it later.
fn tcp_socket() -> OwnedFd {
    socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).unwrap()
}

/// Connects a socket from [`tcp_socket`] (connecting takes no new descriptor; the server's
/// accept would): a client with a 20 s read timeout.
fn connected(fd: OwnedFd, addr: SocketAddr) -> TcpStream {
    let SocketAddr::V4(v4) = addr else { panic!("IPv4 expected") };
    nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrIn::from(v4)).unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// True for an `accept` that failed with EMFILE.
fn emfile(e: &Event) -> bool {
    matches!(&e.kind, EventKind::AcceptExit { error: Some(err), .. } if err.errno == "EMFILE")
}

/// Out of descriptors, `accept` must be retried at a pace (every ~100 ms), not in a busy loop:
/// `model`'s EMFILE failures are at least one, at most `most`, and never closer together than
/// 80 ms. (How many there are depends on how long the test held the limit and on the load;
/// the spacing does not.)
fn assert_paced_emfile_retries(events: &[Event], model: &str, most: usize) {
    let times: Vec<u64> = events
        .iter()
        .filter(|e| e.model == model)
        .filter(|e| match &e.kind {
            EventKind::AcceptExit { error: Some(err), .. } => err.errno == "EMFILE",
            // io_uring reports a failed accept as its completion's result.
            EventKind::Complete { op, result, .. } => {
                matches!(op, AsyncOp::Accept) && *result == -libc::EMFILE as i64
            }
            _ => false,
        })
        .map(|e| e.t_ns)
        .collect();
    assert!(
        (1..=most).contains(&times.len()),
        "{model}: {} EMFILE failures, expected 1..={most}",
        times.len()
    );
    for pair in times.windows(2) {
        let gap_ms = (pair[1] - pair[0]) / 1_000_000;
        assert!(gap_ms >= 80, "{model}: accept retried after {gap_ms} ms: not paced");
    }
}

/// True once a refusal for want of descriptors was recorded.
fn refused_out_of_descriptors(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Refused { reason: Reason::OutOfDescriptors { .. } }))
}

/// Once the table is free again, the waiting client was accepted (two accepts in all): waits
/// for it, then checks the failures were paced (at most 30) and the refusal recorded.
async fn recovered(ws: &mut Ws, events: &mut Vec<Event>, model: &str) {
    events_until(ws, events, Duration::from_secs(10), |ev| {
        ev.iter().filter(|e| matches!(&e.kind, EventKind::AcceptExit { error: None, .. })).count()
            == 2
    })
    .await;
    assert_paced_emfile_retries(events, model, 30);
    assert!(refused_out_of_descriptors(events), "{model}: {:?}", kinds(events));
}

/// The blocking model serves one client while a second waits in the backlog with its line;
/// the first leaves, and the accept for the second fails. The model backs off instead of
/// spinning and serves the second once descriptors are free.
#[test]
fn blocking_backs_off_and_serves_the_client_waiting_in_the_backlog() {
    alone(async {
        let model = BuiltIn::Blocking.id();
        let (server, addr, mut ws) = watched(model).await;
        let first = served(addr, b"one");
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
        // Below the served connection's number: closing it frees no descriptor for the next.
        let full = TableFull::below(served_fd as u64);
        // The server closes the first connection and calls accept for the second: no
        // descriptor for it.
        first.shutdown(std::net::Shutdown::Write).unwrap();
        events_until(&mut ws, &mut events, Duration::from_secs(5), |ev| ev.iter().any(emfile))
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(full);
        assert_eq!(read_n(&mut second, 3), b"TWO");
        recovered(&mut ws, &mut events, model).await;
        server.shutdown().await.unwrap();
    });
}

/// A one-thread model serves a client; a second connects once no descriptor is left. Accept
/// fails with EMFILE and is retried at a pace — the models that wait in epoll pause the
/// listener instead (its interest emptied, then restored), or `epoll_wait` would return at
/// once forever —, the first client is served meanwhile, for a second, and the second once
/// descriptors are free.
async fn keeps_serving_its_clients_while_accept_meets_emfile(model: BuiltIn) {
    let id = model.id();
    let (server, addr, mut ws) = watched(id).await;
    let mut first = served(addr, b"one");
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::AcceptExit { fd: Some(_), .. }))
    })
    .await;
    let second = tcp_socket();
    let full = TableFull::now();
    let mut second = connected(second, addr);
    second.write_all(b"two").unwrap();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| ev.iter().any(emfile)).await;
    for _ in 0..4 {
        echoed(&mut first, b"during");
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(full);
    assert_eq!(read_n(&mut second, 3), b"TWO", "{id}");
    recovered(&mut ws, &mut events, id).await;
    if matches!(wait_api(model), Some(WaitApi::Epoll | WaitApi::EpollEt)) {
        let emptied = events.iter().any(|e| {
            matches!(&e.kind, EventKind::EpollCtl { op: EpollOp::Mod, events, .. }
                if events.is_empty())
        });
        assert!(emptied, "{id}: {:?}", kinds(&events));
    }
    server.shutdown().await.unwrap();
}

for_models!(alone keeps_serving_its_clients_while_accept_meets_emfile:
    Nonblocking, Select, Poll, Epoll, EpollEt, Reactor);

/// Waits until the model's own thread (`model-<id>`, as the kernel keeps its first 15 bytes) is
/// asleep in `accept`, as the kernel says in `/proc`. Only a thread already inside `accept` has
/// the new descriptor's number reserved; one that enters it after the table is full fails with
/// EMFILE even for the first client (a slow machine may start the model that late).
fn wait_until_in_accept(id: &str) {
    let name = format!("model-{id}");
    let name = &name[..name.len().min(15)];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let in_accept = std::fs::read_dir("/proc/self/task").unwrap().flatten().any(|t| {
            let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap_or_default();
            read("comm").trim() == name && read("wchan") == "inet_csk_accept"
        });
        if in_accept {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never slept in accept");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A thread model asleep in `accept` when the table fills still gets the first client (Linux
/// reserved the descriptor's number when `accept` was entered); its next `accept` fails at
/// once with EMFILE. A second client waits in the backlog while the model retries at a pace,
/// and is served once descriptors are free.
async fn backs_off_after_the_reserved_accept_and_serves_the_waiting_client(model: BuiltIn) {
    let id = model.id();
    let (server, addr, mut ws) = watched(id).await;
    let (first, second) = (tcp_socket(), tcp_socket());
    wait_until_in_accept(id);
    let full = TableFull::now();
    let first = connected(first, addr);
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| ev.iter().any(emfile)).await;
    let mut second = connected(second, addr);
    second.write_all(b"wait").unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(full);
    let echoed = tokio::task::spawn_blocking(move || read_n(&mut second, 4)).await.unwrap();
    assert_eq!(echoed, b"WAIT", "{id}");
    recovered(&mut ws, &mut events, id).await;
    drop(first);
    server.shutdown().await.unwrap();
}

for_models!(alone backs_off_after_the_reserved_accept_and_serves_the_waiting_client:
    ThreadPerConn, ThreadPool);

/// The process model's accept still gets the first client (its number was reserved), but the
/// pipe for the child's events cannot be made: the client is refused with EMFILE, the model
/// goes on, and serves the next client once descriptors are free.
#[test]
fn process_per_conn_refuses_the_client_it_cannot_make_a_pipe_for_and_serves_the_next() {
    alone(async {
        let id = BuiltIn::ProcessPerConn.id();
        let (server, addr, mut ws) = watched(id).await;
        let first = tcp_socket();
        wait_until_in_accept(id);
        let full = TableFull::now();
        let mut refused = connected(first, addr);
        let mut events = Vec::new();
        events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
            ev.iter().any(|e| {
                matches!(&e.kind, EventKind::Refused { reason: Reason::CannotCreateProcess { errno } }
                    if errno == "EMFILE")
            })
        })
        .await;
        drop(full);
        // A connection served instead of refused would never end: the read times out instead.
        let mut buf = Vec::new();
        match refused.read_to_end(&mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("the refused connection was not closed: {e}"),
        }
        assert!(buf.is_empty());
        tokio::task::spawn_blocking(move || {
            echo_checks::echo_one(addr, 5, Duration::from_secs(30));
        })
        .await
        .unwrap();
        server.shutdown().await.unwrap();
    });
}

/// The asynchronous models (signal-driven, io_uring, POSIX aio) meet EMFILE on the accept for a
/// client that connects while the table is full, retry at a pace (io_uring's failed accept is
/// a completion's result), and serve that client once descriptors are free.
async fn retries_accept_at_a_pace_and_serves_the_waiting_client(model: BuiltIn) {
    let Some(server) = serving(model).await else { return };
    let id = model.id();
    let addr = model_addr(&server, id);
    let (mut ws, _) = viewer(&server).await;
    let sock = tcp_socket();
    let full = TableFull::now();
    let mut c = connected(sock, addr);
    let mut events = Vec::new();
    let failures = |ev: &[Event]| {
        ev.iter().any(|e| {
            e.model == id
                && match &e.kind {
                    EventKind::Complete { op: AsyncOp::Accept, result, .. } => {
                        *result == -libc::EMFILE as i64
                    }
                    _ => emfile(e),
                }
        })
    };
    events_until(&mut ws, &mut events, Duration::from_secs(10), failures).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(full);
    c.write_all(b"after emfile").unwrap();
    assert_eq!(read_n(&mut c, 12), b"AFTER EMFILE", "{id}");
    events_until(&mut ws, &mut events, Duration::from_secs(5), refused_out_of_descriptors).await;
    assert_paced_emfile_retries(&events, id, 40);
    drop(c);
    server.shutdown().await.unwrap();
}

for_models!(alone retries_accept_at_a_pace_and_serves_the_waiting_client: Sigio, IoUring, PosixAio);

/// Select watches descriptors below FD_SETSIZE (1024) only: a connection numbered 1024 or more
/// is refused (never watched), and the others are served, before and after.
#[test]
fn select_refuses_a_connection_beyond_fd_setsize_and_serves_the_rest() {
    alone(async {
        let model = BuiltIn::Select.id();
        let (server, addr, mut ws) = watched(model).await;
        let mut before = served(addr, b"a");

        // Every descriptor below 1024 taken: the next connection's number is 1024 or more.
        let held = dup_stdin_until(|fd| fd >= 1023);
        let mut big = client(addr);
        let mut events = Vec::new();
        events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
            ev.iter()
                .any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::Refused, .. }))
        })
        .await;
        let fd = events
            .iter()
            .find_map(|e| match e.kind {
                EventKind::AcceptExit { fd: Some(fd), .. } if fd >= 1024 => Some(fd),
                _ => None,
            })
            .expect("a connection numbered 1024 or more");
        assert!(events.iter().any(|e| matches!(
            &e.kind,
            EventKind::Refused { reason: Reason::AboveFdSetSize { limit: 1024, .. } }
        )));
        // No select ever watched it.
        assert!(!events.iter().any(
            |e| matches!(&e.kind, EventKind::WaitEnter { watched, .. } if watched.contains(&fd))
        ));
        let mut buf = [0u8; 1];
        assert_eq!(big.read(&mut buf).unwrap(), 0, "the refused client reads end of file");

        echoed(&mut before, b"still");
        drop(held);
        served(addr, b"next");
        server.shutdown().await.unwrap();
    });
}

/// The web front's accept loop, out of descriptors, pauses between tries instead of spinning,
/// and serves the waiting client once descriptors are free again.
#[test]
fn out_of_descriptors_the_web_front_pauses_then_serves_the_waiting_client() {
    alone(async {
        let server = kettle(&[]).await;
        let stats = server.accepts.clone();
        let fd = tcp_socket();
        let full = TableFull::now();
        let mut client = connected(fd, server.addr);
        let host = host(&server);
        write!(client, "GET /api/models HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            .unwrap();

        let deadline = Instant::now() + Duration::from_secs(10);
        while stats.out_of_descriptors.load(Ordering::Relaxed) == 0 {
            assert!(Instant::now() < deadline, "accept never met EMFILE");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let before = stats.out_of_descriptors.load(Ordering::Relaxed);
        let window = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let tries = stats.out_of_descriptors.load(Ordering::Relaxed) - before;
        let per_second = tries as f64 / window.elapsed().as_secs_f64();
        // Paused 100 ms between tries: about 10 a second. A loop that spun would make millions.
        assert!((1..=20).contains(&tries), "{tries} accept tries in a second");

        drop(full);
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        eprintln!("measured: {per_second:.1} accept tries per second while out of descriptors");
        server.shutdown().await.unwrap();
    });
}
