//! Out of descriptors: `accept` fails with EMFILE. The thread and process models must record
//! it, back off instead of spinning, and serve the waiting client once descriptors are free.
//!
//! Its own test binary (so its own process): it lowers the process's descriptor limit. The
//! three models are checked one after another in one test, never at once.

mod common;
mod echo_checks;

use std::io::Write;
use std::os::fd::OwnedFd;
use std::time::Duration;

use common::*;
use kettle_shared::{EventKind, Reason};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Waits until the model's own thread (`model-<id>`, as the kernel keeps its first 15 bytes) is
/// asleep in `accept`, as the kernel says in `/proc`. Only a thread already inside `accept` has
/// the new descriptor's number reserved; one that enters it after the table is full fails with
/// EMFILE even for the first client (a slow machine may start the model that late).
fn wait_until_in_accept(id: &str) {
    let name = format!("model-{id}");
    let name = &name[..name.len().min(15)];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let in_accept = std::fs::read_dir("/proc/self/task").unwrap().flatten().any(|t| {
            let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap_or_default();
            read("comm").trim() == name && read("wchan") == "inet_csk_accept"
        });
        if in_accept {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{name} never slept in accept");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn emfile(e: &kettle_shared::Event) -> bool {
    matches!(&e.kind, EventKind::AcceptExit { error: Some(err), .. } if err.errno == "EMFILE")
}

async fn backs_off_and_recovers(id: &str) {
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    let (mut ws, _) = viewer(&server).await;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    // The clients' sockets are made first: once the table is full nobody can make one.
    let first = tcp_socket();
    let second = tcp_socket();
    wait_until_in_accept(id);
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    setrlimit(Resource::RLIMIT_NOFILE, open + 64, hard).unwrap();
    let held = fill_descriptor_table();
    // Linux reserves the new descriptor's number when accept is entered, so the model, blocked
    // in accept, still gets the first client; its next accept fails at once with EMFILE.
    connect(&first, addr);
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| ev.iter().any(emfile)).await;
    // The second client waits in the backlog while the model retries, paced.
    connect(&second, addr);
    let mut c = std::net::TcpStream::from(second);
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"wait").unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    drop(held);
    let echoed = tokio::task::spawn_blocking(move || read_n(&mut c, 4)).await.unwrap();
    assert_eq!(echoed, b"WAIT", "{id}");
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().filter(|e| matches!(&e.kind, EventKind::AcceptExit { error: None, .. })).count()
            == 2
    })
    .await;
    assert_paced_emfile_retries(&events, id, 30);
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Refused { reason: Reason::OutOfDescriptors { .. } }
    )));
    drop(first);
    server.shutdown().await.unwrap();
}

fn tcp_socket() -> OwnedFd {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).unwrap()
}

fn connect(fd: &OwnedFd, addr: std::net::SocketAddr) {
    use std::os::fd::AsRawFd;
    let std::net::SocketAddr::V4(v4) = addr else { unreachable!() };
    nix::sys::socket::connect(fd.as_raw_fd(), &nix::sys::socket::SockaddrIn::from(v4)).unwrap();
}

/// The process model's accept still gets the first client (its number was reserved), but the
/// pipe for the child's events cannot be made: the client is refused with EMFILE, the model
/// goes on, and serves the next client once descriptors are free.
async fn process_refuses_then_recovers() {
    let id = "process-per-conn";
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    let (mut ws, _) = viewer(&server).await;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let first = tcp_socket();
    wait_until_in_accept(id);
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    setrlimit(Resource::RLIMIT_NOFILE, open + 64, hard).unwrap();
    let held = fill_descriptor_table();
    connect(&first, addr);
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| {
            matches!(&e.kind, EventKind::Refused { reason: Reason::CannotCreateProcess { errno } } if errno == "EMFILE")
        })
    })
    .await;
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    drop(held);
    let mut buf = Vec::new();
    let mut refused = std::net::TcpStream::from(first);
    // A connection served instead of refused would never end: fail rather than hang.
    refused.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    match std::io::Read::read_to_end(&mut refused, &mut buf) {
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
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_descriptors_backs_off_or_refuses_and_recovers_in_every_thread_and_process_model() {
    for id in ["thread-per-conn", "thread-pool"] {
        backs_off_and_recovers(id).await;
    }
    process_refuses_then_recovers().await;
}
