//! # A fixed pool of threads — Stevens Fig. 6.1, N at a time
//!
//! The tutorial's thread version, with the threads made once instead of per client:
//!
//! ```text
//! queue = a bounded queue of 128 connections
//! start 4 workers, once; each:
//!     loop:
//!         fd = queue.pop()                          sleeps (a futex) until a connection is queued
//!         while (n = recv(fd, buf, 1024)) > 0:      serves it until it closes
//!             send(fd, upper(buf[..n]))
//!         close(fd)
//! acceptor thread:
//!     loop:
//!         fd = accept(listener)                     sleeps until a client connects
//!         queue.push(fd), or refuse it: the queue is full
//! ```
//!
//! ## What a student should notice
//!
//! - No thread is created per client: the same four worker threads (`pool-worker-1..4`) serve
//!   everyone, so the memory and the scheduler's work are bounded.
//! - The ceiling: each worker serves one connection until it closes, blocking in `recv`
//!   through both phases. With four clients connected, a fifth is accepted (`accept_exit`) and
//!   queued (`conn_queued`) but nobody reads it: its line waits, now in user space rather than
//!   in the kernel's backlog. When a client leaves, a worker takes it (`conn_dequeued`, with
//!   how long it waited).
//! - An idle worker sleeps on the queue (`thread_blocked` on `"queue"`, then `thread_woken`):
//!   a futex wait in the kernel, no CPU.
//! - The queue is bounded (128): a client that finds it full is refused and closed.
//!
//! ## Differences from the tutorial, and why
//!
//! - The number of workers is `kettle serve --pool-workers N` (default 4).
//! - Stopping closes the queued connections and wakes every worker (their `recv` by
//!   `shutdown(2)`, their queue wait by a broadcast), and joins them.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use kettle_shared::{CloseReason, EventKind, Reason, ThreadRole};
use nix::sys::socket::SockFlag;

use super::accept_pause::AcceptPause;
use super::blocking::serve_connection;
use super::calls::{accept_recorded, close_recorded};
use super::thread_per_conn::refuse;
use super::{ModelContext, StopSignal};
use crate::clock::clock;
use crate::recorder::{Recorder, Tracer};

/// A connection waiting for a worker.
struct Queued {
    fd: OwnedFd,
    conn: u64,
    /// When it was queued, on the events' clock.
    at_ns: u64,
}

/// The bounded queue between the acceptor and the workers.
#[derive(Default)]
struct Queue {
    items: Mutex<VecDeque<Queued>>,
    /// Signalled when a connection is queued, and (to everyone) when the model stops.
    ready: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Queued>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

// kettle:code-begin pool-acceptor
/// Starts the workers, then accepts and queues clients until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let tracer = ctx.tracer(ThreadRole::Acceptor);
    tracer.emit(None, EventKind::ThreadSpawned);
    let queue = Arc::new(Queue::default());
    let workers = start_workers(&ctx, &queue, &tracer);
    if workers.is_empty() {
        tracer.emit(None, EventKind::ThreadExited);
        return Err(crate::failure::because(Reason::NoWorkers));
    }
    let capacity = ctx.options.pool_queue;
    let mut next_conn = 1;
    let mut pause = AcceptPause::default();
    while !ctx.stop.is_stopped() {
        let listener = ctx.listener.as_raw_fd();
        match accept_recorded(listener, SockFlag::empty(), next_conn, &tracer, &ctx.stop) {
            Ok(fd) => {
                enqueue(&queue, fd, next_conn, capacity, &tracer, &ctx.stop);
                next_conn += 1;
            }
            Err(e) => {
                if pause.after_failure(e, &tracer) {
                    pause.sleep_out();
                }
            }
        }
    }
    // Wake the workers sleeping on the queue; those in recv were woken by the stop itself.
    let left: Vec<Queued> = {
        let mut items = queue.lock();
        queue.ready.notify_all();
        items.drain(..).collect()
    };
    for q in left {
        close_recorded(q.fd, q.conn, CloseReason::Stopped, &tracer, &ctx.stop);
    }
    for w in workers {
        let _ = w.join();
    }
    tracer.emit(None, EventKind::ThreadExited);
    Ok(())
}
// kettle:code-end pool-acceptor

/// Creates the pool. A worker the kernel will not create is recorded and the pool runs smaller.
fn start_workers(ctx: &ModelContext, queue: &Arc<Queue>, t: &Tracer) -> Vec<JoinHandle<()>> {
    let mut workers = Vec::new();
    for n in 1..=ctx.options.pool_workers.max(1) {
        let worker = Worker {
            recorder: ctx.recorder.clone(),
            model: ctx.descriptor.id,
            name: ThreadRole::PoolWorker(n).to_string(),
            stack: ctx.options.thread_stack_bytes,
            queue: queue.clone(),
            stop: ctx.stop.clone(),
        };
        let name = worker.name.clone();
        match std::thread::Builder::new()
            .name(name.clone())
            .stack_size(ctx.options.thread_stack_bytes)
            .spawn(move || worker.run())
        {
            Ok(h) => workers.push(h),
            Err(e) => {
                let errno = crate::failure::io_errno(&e);
                t.emit(
                    None,
                    EventKind::Refused {
                        reason: Reason::CannotCreateWorker { worker: n as u32, errno },
                    },
                )
            }
        }
    }
    workers
}

// kettle:code-begin pool-enqueue
/// Queues an accepted connection for the next free worker, or refuses it if the queue is full.
fn enqueue(queue: &Queue, fd: OwnedFd, conn: u64, capacity: usize, t: &Tracer, stop: &StopSignal) {
    let mut items = queue.lock();
    if items.len() >= capacity {
        drop(items);
        refuse(fd, conn, Reason::QueueFull { capacity: capacity as u32 }, t, stop);
        return;
    }
    let raw = fd.as_raw_fd();
    items.push_back(Queued { fd, conn, at_ns: clock().now_ns() });
    let depth = items.len() as u32;
    t.emit(Some(conn), EventKind::ConnQueued { fd: raw, depth, capacity: capacity as u32 });
    queue.ready.notify_one();
}
// kettle:code-end pool-enqueue

/// One worker of the pool.
struct Worker {
    recorder: Recorder,
    model: &'static str,
    name: String,
    stack: usize,
    queue: Arc<Queue>,
    stop: Arc<StopSignal>,
}

// kettle:code-begin pool-worker
impl Worker {
    fn run(self) {
        let t = self.recorder.tracer(self.model, self.name.clone()).sampled();
        t.emit(None, EventKind::ThreadSpawned);
        t.emit(None, EventKind::ThreadStack { stack_bytes: self.stack as u64 });
        while let Some(q) = self.take(&t) {
            t.set_conns(1);
            serve_connection(q.fd, q.conn, &t, &self.stop);
            t.set_conns(0);
        }
        t.emit(None, EventKind::ThreadExited);
    }

    /// The next queued connection, sleeping on the queue while it is empty; `None` once the
    /// model stops.
    fn take(&self, t: &Tracer) -> Option<Queued> {
        let mut items = self.queue.lock();
        loop {
            if self.stop.is_stopped() {
                return None;
            }
            if let Some(q) = items.pop_front() {
                let waited_ns = clock().now_ns().saturating_sub(q.at_ns);
                let depth = items.len() as u32;
                drop(items);
                let fd = q.fd.as_raw_fd();
                t.emit(Some(q.conn), EventKind::ConnDequeued { fd, waited_ns, depth });
                return Some(q);
            }
            t.emit(None, EventKind::ThreadBlocked { on: "queue".into() });
            items = self.queue.ready.wait(items).unwrap_or_else(|p| p.into_inner());
            let stopping = self.stop.is_stopped();
            let by = if stopping { Reason::StoppedOnRequest } else { Reason::ConnectionQueued };
            t.emit(None, EventKind::ThreadWoken { by });
        }
    }
}
// kettle:code-end pool-worker
