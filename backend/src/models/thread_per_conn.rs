//! # One thread per connection — Stevens Fig. 6.1, once per client
//!
//! The tutorial's answer to "the blocking server serves one client at a time": give every
//! client its own thread.
//!
//! ```text
//! acceptor thread:
//!     loop:
//!         fd = accept(listener)                     sleeps until a client connects
//!         spawn a thread running serve(fd)          past the cap, or if spawning fails: refuse
//! serve(fd):                                        each thread sleeps in its own recv
//!     while (n = recv(fd, buf, 1024)) > 0:
//!         send(fd, upper(buf[..n]))
//!     close(fd); the thread ends
//! ```
//!
//! ## What a student should notice
//!
//! - Every thread still blocks through both phases of `recv` — the model is still Fig. 6.1 —
//!   but a blocked thread only holds up its own client. A second client is accepted at once.
//! - Threads appear (`thread_spawned`) when clients come and end (`thread_exited`) when they
//!   leave; `thread_stack` shows what each one costs: the stack reserved for it (64 KiB here,
//!   8 MiB by default for a Linux thread). A thousand clients are a thousand stacks and a
//!   thousand threads for the scheduler.
//! - The number of threads has to be capped somewhere. Past the cap (256) a new client is
//!   refused (`refused`, then `close`); if the kernel refuses to create the thread
//!   (`EAGAIN`), the same happens and the server keeps serving everyone else.
//! - Idle threads cost no CPU: each sleeps in the kernel (watch the thread samples).
//!
//! ## Differences from the tutorial, and why
//!
//! - Threads are made with `std::thread::Builder` and a small stack, and creating one can
//!   fail; Python would raise and the server would die.
//! - The acceptor joins every worker before it returns, so stopping the model leaves no thread
//!   and no descriptor behind.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use kettle_shared::{CloseReason, EventKind, Reason, ThreadRole};
use nix::sys::socket::SockFlag;

use super::accept_pause::AcceptPause;
use super::blocking::serve_connection;
use super::calls::{accept_recorded, close_recorded};
use super::{ModelContext, StopSignal};
use crate::recorder::{Recorder, Tracer};

// kettle:code-begin tpc-acceptor
/// Accepts clients and starts one thread for each until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let tracer = ctx.tracer(ThreadRole::Acceptor);
    tracer.emit(None, EventKind::ThreadSpawned);
    let live = Arc::new(AtomicUsize::new(0));
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_conn = 1;
    let mut pause = AcceptPause::default();
    while !ctx.stop.is_stopped() {
        let listener = ctx.listener.as_raw_fd();
        match accept_recorded(listener, SockFlag::empty(), next_conn, &tracer, &ctx.stop) {
            Ok(fd) => {
                if let Some(worker) = start_worker(&ctx, fd, next_conn, &live, &tracer) {
                    workers.push(worker);
                }
                next_conn += 1;
                join_finished(&mut workers);
            }
            Err(e) => {
                if pause.after_failure(e, &tracer) {
                    pause.sleep_out();
                }
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
    tracer.emit(None, EventKind::ThreadExited);
    Ok(())
}
// kettle:code-end tpc-acceptor

/// Starts the thread that serves `fd`, or refuses the connection (recorded, then closed) when
/// the cap is reached or the kernel will not create the thread.
fn start_worker(
    ctx: &ModelContext,
    fd: OwnedFd,
    conn: u64,
    live: &Arc<AtomicUsize>,
    t: &Tracer,
) -> Option<JoinHandle<()>> {
    let cap = ctx.options.max_threads;
    if live.load(Ordering::Acquire) >= cap {
        refuse(fd, conn, Reason::ThreadCapReached { limit: cap as u32 }, t, &ctx.stop);
        return None;
    }
    // Counted before the thread runs, so a burst of clients cannot overshoot the cap.
    live.fetch_add(1, Ordering::AcqRel);
    let stack = ctx.options.thread_stack_bytes;
    // The descriptor travels to the thread through a slot the acceptor can take back if the
    // thread cannot be created (the closure, and so the descriptor, would be dropped unseen).
    let handoff = Arc::new(std::sync::Mutex::new(Some(fd)));
    let job = Worker {
        recorder: ctx.recorder.clone(),
        model: ctx.descriptor.id,
        stop: ctx.stop.clone(),
        live: live.clone(),
        handoff: handoff.clone(),
        stack,
        conn,
    };
    // kettle:code-begin tpc-spawn
    match std::thread::Builder::new()
        .name(ThreadRole::Conn(conn).to_string())
        .stack_size(stack)
        .spawn(move || job.run())
    {
        Ok(handle) => Some(handle),
        Err(e) => {
            live.fetch_sub(1, Ordering::AcqRel);
            let fd = handoff.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(fd) = fd {
                let reason = Reason::CannotCreateThread { errno: crate::failure::io_errno(&e) };
                refuse(fd, conn, reason, t, &ctx.stop);
            }
            None
        }
    }
    // kettle:code-end tpc-spawn
}

/// What a connection thread needs.
struct Worker {
    recorder: Recorder,
    model: &'static str,
    stop: Arc<StopSignal>,
    live: Arc<AtomicUsize>,
    handoff: Arc<std::sync::Mutex<Option<OwnedFd>>>,
    stack: usize,
    conn: u64,
}

// kettle:code-begin tpc-worker
impl Worker {
    fn run(self) {
        let t = self.recorder.tracer(self.model, ThreadRole::Conn(self.conn)).sampled();
        t.emit(Some(self.conn), EventKind::ThreadSpawned);
        t.emit(Some(self.conn), EventKind::ThreadStack { stack_bytes: self.stack as u64 });
        let fd = self.handoff.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(fd) = fd {
            t.set_conns(1);
            serve_connection(fd, self.conn, &t, &self.stop);
            t.set_conns(0);
        }
        t.emit(Some(self.conn), EventKind::ThreadExited);
        self.live.fetch_sub(1, Ordering::AcqRel);
    }
}
// kettle:code-end tpc-worker

/// Records why a connection is not served, and closes it.
pub(crate) fn refuse(fd: OwnedFd, conn: u64, reason: Reason, t: &Tracer, stop: &StopSignal) {
    t.emit(Some(conn), EventKind::Refused { reason });
    close_recorded(fd, conn, CloseReason::Refused, t, stop);
}

/// Joins the threads that have ended, so a long-running server keeps no dead handles.
fn join_finished(workers: &mut Vec<JoinHandle<()>>) {
    let (done, running): (Vec<_>, Vec<_>) = workers.drain(..).partition(|w| w.is_finished());
    *workers = running;
    for w in done {
        let _ = w.join();
    }
}
