//! A process-per-conn child costs a few threads, however many cores the machine has.
//!
//! Every client of the process-per-conn model gets a child (`kettle child-echo`). A tokio
//! runtime with a worker per core in each would make a 64-core machine start 64 idle threads
//! per client. The child runs its one task (the recorder's pump) on a current-thread runtime:
//! its threads are the main thread, the sampler and the echo thread, whatever the core count.
//!
//! The machine's cores cannot be changed in a test, but tokio reads its worker count from
//! `TOKIO_WORKER_THREADS` before it asks how many cores there are: a child started with 1 and
//! with 16 must show the same threads in `/proc/<pid>/task` while it serves.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The threads a serving child has: main (the runtime), the sampler, the echo thread.
const CHILD_THREADS: usize = 3;

/// Starts `kettle child-echo` on a fresh connection, as the model does (the accepted socket as
/// its standard input), with `workers` as tokio's worker count; returns it with the client's
/// end once a line has been echoed, so the child is serving.
fn serving_child(workers: &str) -> (Child, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kettle"))
        .args(["child-echo", "--conn", "1"])
        .env("TOKIO_WORKER_THREADS", workers)
        .stdin(Stdio::from(OwnedFd::from(accepted)))
        // Its events (JSON lines for the parent) are not what this test reads.
        .stdout(Stdio::null())
        .spawn()
        .expect("kettle child-echo starts");
    client.write_all(b"are you serving?").unwrap();
    let mut echo = [0u8; 16];
    client.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"ARE YOU SERVING?");
    (child, client)
}

/// The names (`comm`) of every thread of `pid`, from `/proc/<pid>/task`.
fn threads(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|task| {
            let comm = task.unwrap().path().join("comm");
            std::fs::read_to_string(comm).unwrap_or_default().trim().to_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn a_serving_child_has_the_same_three_threads_whatever_the_worker_count() {
    let mut seen = Vec::new();
    for workers in ["1", "16"] {
        let (mut child, client) = serving_child(workers);
        let names = threads(child.id());
        // Closing the client ends the child by itself (its recv returns 0).
        drop(client);
        let status = child.wait().unwrap();
        assert!(status.success(), "the child exited with {status}");
        assert!(
            !names.iter().any(|n| n.starts_with("tokio-")),
            "with TOKIO_WORKER_THREADS={workers} the child runs runtime workers: {names:?}"
        );
        assert_eq!(names.len(), CHILD_THREADS, "TOKIO_WORKER_THREADS={workers}: {names:?}");
        seen.push(names);
    }
    assert_eq!(seen[0], seen[1]);
}
