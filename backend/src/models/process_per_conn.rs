//! # One process per connection — Stevens Fig. 6.1, in a child process
//!
//! The tutorial's "or process": the classic Unix server that forks a child for every client.
//!
//! ```text
//! loop:
//!     fd = accept(listener)                     the parent sleeps here
//!     if fork() is the child:                   the child serves this one client, then exits
//!         while (n = recv(fd, buf, 1024)) > 0:
//!             send(fd, upper(buf[..n]))
//!         exit(0)
//!     close(fd)                                 the parent drops its copy and accepts again
//!     waitpid(any child)                        collects an exited child: no zombie left
//! ```
//!
//! ## What a student should notice
//!
//! - Each client gets its own **process** (`child_spawned`, with its pid), with its own memory
//!   and descriptor table; a crash in one child cannot touch another client. The child's
//!   thread shows as `child-<pid>`, and its `recv`/`send` calls are the blocking model's,
//!   through both phases.
//! - The connection's socket is handed to the child as its standard input: one socket, two
//!   descriptors (the parent's and the child's), like after `fork`.
//! - A child that has exited stays a **zombie** until its parent collects its status
//!   (`waitpid`); `child_reaped` shows the parent doing it. A server that forgot would fill the
//!   process table.
//! - Creating a process costs far more than a thread (a new address space, `exec`), and the
//!   number of children is capped (256): past it a client is refused.
//!
//! ## Differences from the tutorial, and why
//!
//! - No `fork()` inside this server: it is multi-threaded (tokio, other models), and a forked
//!   copy of a multi-threaded process may deadlock on a lock another thread held. The parent
//!   spawns the kettle binary itself (`kettle child-echo --conn N`, a hidden subcommand), which
//!   is `fork` + `exec` done safely by the standard library.
//! - The child writes each event it records as a JSON line on its standard output, stamped
//!   with `CLOCK_MONOTONIC` (one clock for all processes); a parent thread per child
//!   (`waiter-<pid>`) forwards them, then reaps the child and closes the parent's descriptor.
//! - The parent keeps its descriptor of the connection until the child ends, so that stopping
//!   the model can `shutdown(2)` it: the child's `recv` returns 0 and it exits on its own. A
//!   child that does not exit within [`KILL_AFTER`] is killed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kettle_shared::{BuiltIn, ChildExit, CloseReason, EventKind, Reason, ThreadRole};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::SockFlag;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::accept_pause::AcceptPause;
use super::blocking::serve_connection;
use super::calls::{accept_recorded, close_recorded, prepare_connection};
use super::thread_per_conn::refuse;
use super::{ModelContext, StopSignal};
use crate::clock::clock;
use crate::recorder::{Recorder, Tracer};

/// This model's id, which the child also records under.
const ID: &str = BuiltIn::ProcessPerConn.id();
/// How long after a stop a child may take to exit by itself before it is killed.
pub const KILL_AFTER: Duration = Duration::from_secs(3);

/// One event as a child reports it to its parent: one JSON object per line.
#[derive(Debug, Serialize, Deserialize)]
struct ChildLine {
    /// `CLOCK_MONOTONIC` ns when it happened.
    mono_ns: u64,
    conn: Option<u64>,
    kind: EventKind,
}

/// The children alive now, by connection number: their pids, present until they are reaped.
type Children = Arc<Mutex<HashMap<u64, i32>>>;

// kettle:code-begin ppc-parent
/// Accepts clients and starts one child process for each until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let tracer = ctx.tracer(ThreadRole::Parent);
    tracer.emit(None, EventKind::ThreadSpawned);
    let exe = match &ctx.options.child_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe()?,
    };
    let children: Children = Arc::default();
    let mut waiters: Vec<JoinHandle<()>> = Vec::new();
    let mut next_conn = 1;
    let mut pause = AcceptPause::default();
    while !ctx.stop.is_stopped() {
        let listener = ctx.listener.as_raw_fd();
        match accept_recorded(listener, SockFlag::empty(), next_conn, &tracer, &ctx.stop) {
            Ok(fd) => {
                if let Some(w) = start_child(&ctx, &exe, fd, next_conn, &children, &tracer) {
                    waiters.push(w);
                }
                next_conn += 1;
                waiters.retain(|w| !w.is_finished());
            }
            Err(e) => {
                if pause.after_failure(e, &tracer) {
                    pause.sleep_out();
                }
            }
        }
    }
    kill_stragglers(&children, &waiters);
    for w in waiters {
        let _ = w.join();
    }
    tracer.emit(None, EventKind::ThreadExited);
    Ok(())
}
// kettle:code-end ppc-parent

/// Spawns `kettle child-echo` with the connection as its standard input, and the thread that
/// forwards its events and reaps it. Refuses the connection (recorded, closed) past the cap or
/// when the process or its waiter cannot be created.
fn start_child(
    ctx: &ModelContext,
    exe: &std::path::Path,
    fd: OwnedFd,
    conn: u64,
    children: &Children,
    t: &Tracer,
) -> Option<JoinHandle<()>> {
    let cap = ctx.options.max_threads;
    if children.lock().unwrap_or_else(|p| p.into_inner()).len() >= cap {
        refuse(fd, conn, Reason::ProcessCapReached { limit: cap as u32 }, t, &ctx.stop);
        return None;
    }
    if !ctx.stop.track(&fd) {
        close_recorded(fd, conn, CloseReason::Stopped, t, &ctx.stop);
        return None;
    }
    // kettle:code-begin ppc-fork
    let spawned = fd.try_clone().and_then(|for_child| {
        Command::new(exe)
            .arg("child-echo")
            .arg("--conn")
            .arg(conn.to_string())
            .stdin(Stdio::from(for_child))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
    });
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let reason = Reason::CannotCreateProcess { errno: crate::failure::io_errno(&e) };
            refuse(fd, conn, reason, t, &ctx.stop);
            return None;
        }
    };
    let pid = child.id() as i32;
    t.emit(Some(conn), EventKind::ChildSpawned { pid, fd: fd.as_raw_fd() });
    // kettle:code-end ppc-fork
    children.lock().unwrap_or_else(|p| p.into_inner()).insert(conn, pid);
    let stdout = child.stdout.take().expect("stdout is piped");
    let waiter = Waiter {
        recorder: ctx.recorder.clone(),
        stop: ctx.stop.clone(),
        children: children.clone(),
        fd: Some(fd),
        conn,
        pid,
    };
    let spawned = std::thread::Builder::new()
        .name(ThreadRole::Waiter(pid).to_string())
        .stack_size(ctx.options.thread_stack_bytes.max(64 * 1024))
        .spawn(move || waiter.run(child, stdout));
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            // The waiter (and with it the child handle and the descriptor) was dropped with the
            // closure: end the child here so it is not left behind.
            let reason = Reason::CannotCreateThread { errno: crate::failure::io_errno(&e) };
            t.emit(Some(conn), EventKind::Refused { reason });
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
            children.lock().unwrap_or_else(|p| p.into_inner()).remove(&conn);
            None
        }
    }
}

/// The parent's thread for one child: forwards its events, reaps it, closes the parent's
/// descriptor of the connection.
struct Waiter {
    recorder: Recorder,
    stop: Arc<StopSignal>,
    children: Children,
    fd: Option<OwnedFd>,
    conn: u64,
    pid: i32,
}

// kettle:code-begin ppc-waiter
impl Waiter {
    fn run(mut self, mut child: Child, stdout: ChildStdout) {
        let t = self.recorder.tracer(ID, ThreadRole::Waiter(self.pid)).sampled();
        let forwarded = self.recorder.tracer(ID, ThreadRole::Child(self.pid));
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // A line we cannot read is the child's bug, not the parent's: skip it.
            if let Ok(ev) = serde_json::from_str::<ChildLine>(&line) {
                forwarded.emit_at(clock().from_monotonic(ev.mono_ns), ev.conn, ev.kind);
            }
        }
        // End of file: the child has exited (or closed its output). Forget its pid before
        // reaping, so nobody signals a pid the kernel may give to another process.
        self.children.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.conn);
        let status = match child.wait() {
            Ok(s) => exit_of(s),
            Err(e) => ChildExit::WaitFailed { errno: crate::failure::io_errno(&e) },
        };
        t.emit(Some(self.conn), EventKind::ChildReaped { pid: self.pid, status });
        if let Some(fd) = self.fd.take() {
            close_recorded(fd, self.conn, CloseReason::PeerClosed, &t, &self.stop);
        }
    }
}
// kettle:code-end ppc-waiter

/// How `waitpid` says the child ended: its exit status, or the signal that killed it.
fn exit_of(status: std::process::ExitStatus) -> ChildExit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ChildExit::Exited { code },
        (None, Some(signo)) => {
            let name = Signal::try_from(signo).map(|s| s.as_str().to_owned()).unwrap_or_default();
            ChildExit::Killed { signo, name }
        }
        // Stopped or continued: `wait` reports neither for a child it reaps.
        _ => ChildExit::Exited { code: -1 },
    }
}

/// After a stop, children exit by themselves (their `recv` returns 0). Any still running after
/// [`KILL_AFTER`] is killed, so the stop always ends.
fn kill_stragglers(children: &Children, waiters: &[JoinHandle<()>]) {
    let deadline = Instant::now() + KILL_AFTER;
    while waiters.iter().any(|w| !w.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for &pid in children.lock().unwrap_or_else(|p| p.into_inner()).values() {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// `kettle child-echo --conn N`: the child. Its standard input is the connection; it runs the
/// blocking echo loop, recording as usual, and writes every event to standard output as a
/// [`ChildLine`]. Returns when the connection is closed.
pub async fn child_main(conn: u64) -> anyhow::Result<()> {
    // Every event goes up to the parent, which decides what it sends on in detail.
    let recorder = Recorder::start_with(crate::recorder::Detail::Everything);
    let mut batches = recorder.subscribe();
    // Named by the parent when it forwards the events (`ThreadRole::Child`), not here.
    let tracer = recorder.tracer(ID, "child");
    // The child samples its own echo thread every SAMPLE_EVERY (its CPU clock and its
    // `/proc/self/task` are only readable from inside this process) and sends the samples up with the other events. The sampler keeps
    // a recorder handle only while the echo thread runs, so the stream still ends with it.
    let echoing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (recorder, echoing) = (recorder.clone(), echoing.clone());
        std::thread::spawn(move || {
            while echoing.load(std::sync::atomic::Ordering::Acquire) {
                std::thread::sleep(crate::recorder::sampling::SAMPLE_EVERY);
                crate::recorder::sampling::sample_threads(&recorder, ID);
            }
        })
    };
    drop(recorder);
    let echo = std::thread::spawn(move || {
        let tracer = tracer.sampled();
        tracer.emit(Some(conn), EventKind::ThreadSpawned);
        // SAFETY: the parent made descriptor 0 this connection; nothing else in this process
        // owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(0) };
        prepare_connection(&fd);
        tracer.set_conns(1);
        serve_connection(fd, conn, &tracer, &StopSignal::default());
        tracer.set_conns(0);
        tracer.emit(Some(conn), EventKind::ThreadExited);
        echoing.store(false, std::sync::atomic::Ordering::Release);
    });
    let mut out = std::io::stdout().lock();
    // The recorder closes the stream once the echo thread (the last tracer) has ended and
    // every event was shipped.
    loop {
        match batches.recv().await {
            Ok(batch) => {
                for e in &batch.events {
                    let mono_ns = clock().to_monotonic(e.t_ns);
                    let line = ChildLine { mono_ns, conn: e.conn, kind: e.kind.clone() };
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                }
                out.flush()?;
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
    }
    echo.join().map_err(|_| anyhow::anyhow!("the echo thread panicked"))?;
    sampler.join().map_err(|_| anyhow::anyhow!("the sampler thread panicked"))?;
    Ok(())
}
