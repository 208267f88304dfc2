//! The one-thread models at the process's descriptor limits: EMFILE on accept (all three) and
//! a connection numbered beyond FD_SETSIZE (select).
//!
//! Its own test binary (so its own process): these tests change the process's descriptor
//! limit and fill its descriptor table, so they also run one at a time.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use common::*;
use kettle_shared::{CloseReason, Event, EventKind, Reason};
use nix::errno::Errno;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// One test at a time: each one owns the process's descriptor table while it runs. Taken
/// before the test builds its tokio runtime, because building one opens descriptors too (a
/// runtime built while another test holds the table at its limit would take its last one).
static TABLE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `body` alone: holding [`TABLE`], on a runtime of its own.
fn alone(body: impl std::future::Future<Output = ()>) {
    let _table = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(body);
}

/// Duplicates stdin until `done(fd)` holds for the last duplicate or the limit is reached;
/// returns the duplicates.
fn dup_stdin_until(done: impl Fn(i32) -> bool) -> Vec<OwnedFd> {
    use std::os::fd::AsRawFd;
    let mut held = Vec::new();
    let stdin = std::io::stdin();
    loop {
        match nix::unistd::dup(&stdin) {
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

/// Lowers the soft descriptor limit; restores it when dropped, even if the test fails.
struct LimitGuard(u64, u64);

impl LimitGuard {
    fn lower_to(soft: u64) -> LimitGuard {
        let (old, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
        LimitGuard(old, hard)
    }
}

impl Drop for LimitGuard {
    fn drop(&mut self) {
        setrlimit(Resource::RLIMIT_NOFILE, self.0, self.1).unwrap();
    }
}

fn emfile_failures(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::AcceptExit { error: Some(err), .. } if err.errno == "EMFILE"))
        .count()
}

/// Out of descriptors, accept is retried about every 100 ms (not in a busy loop), the
/// connected client keeps being served meanwhile, and the waiting one is served afterwards.
async fn emfile_pauses_accept_and_keeps_serving(id: &str) {
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    let (mut ws, _) = viewer(&server).await;
    let mut first = client(addr);
    first.write_all(b"one").unwrap();
    assert_eq!(read_n(&mut first, 3), b"ONE");
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::AcceptExit { fd: Some(_), .. }))
    })
    .await;
    // One descriptor left for the second client's own socket, then none: the limit is set
    // just above the lowest free number, and every free number below it is taken.
    let lowest_free = {
        use std::os::fd::AsRawFd;
        nix::unistd::dup(std::io::stdin()).unwrap().as_raw_fd()
    };
    let limit = LimitGuard::lower_to(lowest_free as u64 + 1);
    let mut held = dup_stdin_until(|_| false);
    held.pop();
    let mut second = client(addr);
    second.write_all(b"two").unwrap();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| emfile_failures(ev) > 0).await;

    // While accept is paused, the connected client is still served.
    for _ in 0..4 {
        first.write_all(b"during").unwrap();
        assert_eq!(read_n(&mut first, 6), b"DURING");
        std::thread::sleep(Duration::from_millis(250));
    }

    drop(limit);
    drop(held);
    assert_eq!(read_n(&mut second, 3), b"TWO");
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().filter(|e| matches!(&e.kind, EventKind::AcceptExit { error: None, .. })).count()
            == 2
    })
    .await;
    // About one try per 100 ms over ~1 s; a busy loop would fail thousands of times.
    assert_paced_emfile_retries(&events, id, 30);
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Refused { reason: Reason::OutOfDescriptors { .. } }
    )));
    server.shutdown().await.unwrap();
}

#[test]
fn nonblocking_emfile_on_accept_is_retried_every_100ms_while_clients_are_served() {
    alone(emfile_pauses_accept_and_keeps_serving("nonblocking"));
}

#[test]
fn select_emfile_on_accept_is_retried_every_100ms_while_clients_are_served() {
    alone(emfile_pauses_accept_and_keeps_serving("select"));
}

#[test]
fn poll_emfile_on_accept_is_retried_every_100ms_while_clients_are_served() {
    alone(emfile_pauses_accept_and_keeps_serving("poll"));
}

#[test]
fn select_refuses_a_connection_beyond_fd_setsize_and_serves_the_rest() {
    alone(refuse_beyond_fd_setsize());
}

async fn refuse_beyond_fd_setsize() {
    let server = kettle(&["select"]).await;
    let addr = model_addr(&server, "select");
    let (mut ws, _) = viewer(&server).await;
    let mut served = client(addr);
    served.write_all(b"a").unwrap();
    assert_eq!(read_n(&mut served, 1), b"A");

    // Every descriptor below 1024 taken: the next connection's number is 1024 or more.
    let held = dup_stdin_until(|fd| fd >= 1023);
    let mut big = client(addr);
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::Refused, .. }))
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
    assert!(!events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::WaitEnter { watched, .. } if watched.contains(&fd))));
    let mut buf = [0u8; 1];
    assert_eq!(big.read(&mut buf).unwrap(), 0, "the refused client reads end of file");

    // The others are still served, before and after the descriptors are released.
    served.write_all(b"still").unwrap();
    assert_eq!(read_n(&mut served, 5), b"STILL");
    drop(held);
    let mut next = client(addr);
    next.write_all(b"next").unwrap();
    assert_eq!(read_n(&mut next, 4), b"NEXT");
    server.shutdown().await.unwrap();
}
