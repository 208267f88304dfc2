//! Proof that the models are real: each model runs inside `kettle serve` under `strace -f`
//! while a client echoes a few lines, and the system calls its lesson is about must appear in
//! the trace — made by the model's own threads (the `model-<id>` thread and every thread or
//! process it started), not by the tokio runtime around it.
//!
//! Needs Debian's `strace`, so it is `#[ignore]`d in a plain `cargo test`; `cargo xtask test`
//! installs strace and runs it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kettle_shared::BuiltIn;

/// For each model, patterns that must each match at least one traced line of the model's
/// threads. A pattern is a list of alternatives (`|`), each a plain substring. An exhaustive
/// match: a new model does not compile until it says what its trace must show.
fn expected(model: BuiltIn) -> &'static [&'static str] {
    match model {
        BuiltIn::Blocking => &["accept4(", "recvmsg(", "sendto("],
        // A new thread per connection: clone3 (or clone) by the acceptor, then the blocking loop.
        BuiltIn::ThreadPerConn => &["accept4(", "clone3(|clone(", "recvmsg(", "sendto("],
        // Workers sleep on the queue (futex) between connections.
        BuiltIn::ThreadPool => &["accept4(", "futex(", "recvmsg(", "sendto("],
        // A child process runs the loop: fork/clone + execve of kettle, then recvmsg in the child.
        BuiltIn::ProcessPerConn => {
            &["accept4(", "clone3(|clone(|vfork(|fork(", "execve(", "recvmsg(", "sendto("]
        }
        // The busy loop: non-blocking calls failing with EAGAIN, over and over.
        BuiltIn::Nonblocking => &["accept4(", "recvmsg(", "= -1 EAGAIN"],
        // One thread asleep in select over every descriptor, then recv only copies.
        BuiltIn::Select => &["select(|pselect6(", "recvmsg(", "sendto("],
        BuiltIn::Poll => &["poll(|ppoll(", "recvmsg(", "sendto("],
        // One thread asleep in epoll_wait; the watched set is kept in the kernel by epoll_ctl.
        BuiltIn::Epoll => {
            &["epoll_create1(", "epoll_ctl(", "epoll_wait(|epoll_pwait(", "recvmsg(", "sendto("]
        }
        // Edge-triggered: EPOLLET, and the drain loop's last recv fails with EAGAIN.
        BuiltIn::EpollEt => &["EPOLLET", "epoll_wait(|epoll_pwait(", "recvmsg(", "= -1 EAGAIN"],
        // The selectors-style reactor is epoll underneath.
        BuiltIn::Reactor => &["epoll_ctl(", "epoll_wait(|epoll_pwait(", "recvmsg(", "sendto("],
        // A handler, signals aimed at one thread carrying the fd, and their delivery.
        BuiltIn::Sigio => &["rt_sigaction(", "F_SETOWN_EX", "F_SETSIG", "--- SIG", "recvmsg("],
        // Requests in a ring shared with the kernel: no recv/send system calls at all.
        BuiltIn::IoUring => &["io_uring_setup(", "io_uring_enter("],
        // glibc's aio: helper threads (clone) doing plain blocking reads — after a pread that a
        // socket refuses with ESPIPE, which only glibc's helper does (the model's own threads
        // also read(2), the /proc files where they look for the helper).
        BuiltIn::PosixAio => &["accept4(", "clone3(|clone(", "ESPIPE", "read("],
    }
}

/// Starts `kettle serve` with one model under strace; returns (strace child, model port,
/// trace file).
fn traced_kettle(model: &str) -> (std::process::Child, u16, std::path::PathBuf) {
    let trace =
        std::env::temp_dir().join(format!("kettle-strace-{}-{model}.txt", std::process::id()));
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-s", "64", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_kettle"))
        .args(["serve", "--port", "0", "--model-port-base", "0", "--start", model])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace (Debian package strace; `cargo xtask test` installs it)");
    // kettle prints "kettle: model <id> running port <n>" on stderr.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let port = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "kettle ended before its model started");
        let words: Vec<_> = line.split_whitespace().collect();
        if let ["kettle:", "model", id, "running", "port", port] = words[..] {
            if id == model {
                break port.parse().unwrap();
            }
        }
    };
    // Keep draining stderr so kettle never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    (child, port, trace)
}

/// Echoes a few lines through the model.
fn echo_lines(port: u16) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for line in ["one\n", "two\n", "three\n"] {
        c.write_all(line.as_bytes()).unwrap();
        let mut buf = vec![0; line.len()];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(buf, line.to_uppercase().as_bytes());
    }
}

/// Ctrl-C to kettle (strace's only child), then waits for strace to finish.
fn stop(mut child: std::process::Child, trace: &std::path::Path) -> String {
    // strace writes its trace buffered, so the file is not a reliable place to learn the
    // pid from while it runs; the kernel's list of strace's children is.
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let pid: i32 = std::fs::read_to_string(&children)
        .unwrap()
        .split_whitespace()
        .next()
        .expect("strace has started kettle")
        .parse()
        .unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kettle ({}) did not stop within 60 s of Ctrl-C", trace.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(trace).unwrap();
    let _ = std::fs::remove_file(trace);
    text
}

/// The lines of the model's thread (named `model-<id>` with prctl) and of every thread and
/// process it started, directly or not.
fn model_lines<'a>(trace: &'a str, model: &str) -> Vec<&'a str> {
    // The kernel keeps 15 bytes of a thread's name; the closing quote keeps `model-epoll` from
    // matching `model-epoll-et`.
    let full = format!("model-{model}");
    let name = format!("prctl(PR_SET_NAME, \"{}\"", &full[..full.len().min(15)]);
    let mut ours: HashSet<&str> = HashSet::new();
    for line in trace.lines() {
        // strace pads the id column ("5344  prctl(…"), so trim before reading the call.
        let Some((tid, call)) = line.split_once(char::is_whitespace) else { continue };
        let call = call.trim_start();
        if call.starts_with(&name) {
            ours.insert(tid);
        }
        // A clone/fork by one of ours: the returned id is ours too.
        // (The return value may come on a later "<... clone3 resumed>" line.)
        let forks = ["clone", "clone3", "fork", "vfork"].iter().any(|f| {
            call.starts_with(&format!("{f}(")) || call.starts_with(&format!("<... {f} resumed>"))
        });
        if ours.contains(tid) && forks {
            if let Some(child) = call.rsplit("= ").next().map(str::trim) {
                if let Some(child) = trace_child_id(child) {
                    ours.insert(child);
                }
            }
        }
    }
    trace
        .lines()
        .filter(|l| l.split_whitespace().next().is_some_and(|t| ours.contains(t)))
        .collect()
}

fn trace_child_id(ret: &str) -> Option<&str> {
    let id = ret.split_whitespace().next()?;
    id.bytes().all(|b| b.is_ascii_digit()).then_some(id)
}

#[test]
fn every_model_has_strace_expectations() {
    for &model in BuiltIn::ALL {
        assert!(!expected(model).is_empty(), "{model}: nothing to look for");
    }
}

#[test]
#[ignore = "needs strace: run `cargo xtask test`"]
fn each_model_makes_the_system_calls_of_its_lesson() {
    for &built_in in BuiltIn::ALL {
        let (model, patterns) = (built_in.id(), expected(built_in));
        let (child, port, trace) = traced_kettle(model);
        echo_lines(port);
        let text = stop(child, &trace);
        let lines = model_lines(&text, model);
        let named: Vec<_> = text.lines().filter(|l| l.contains("PR_SET_NAME")).collect();
        assert!(
            !lines.is_empty(),
            "{model}: no thread named model-{model} in the trace ({} lines); named threads:\n{}",
            text.lines().count(),
            named.join("\n")
        );
        for pattern in patterns {
            let found = lines.iter().any(|l| pattern.split('|').any(|alt| l.contains(alt)));
            assert!(
                found,
                "{model}: no `{pattern}` by the model's threads; they made:\n{}",
                lines.join("\n")
            );
        }
    }
}
