//! # Asynchronous I/O with io_uring — Stevens Fig. 6.5, done by the kernel
//!
//! The tutorial's last model asks the kernel to do *both* phases and tell us when the data is
//! in our buffer. On Linux the kernel's own interface for that is io_uring: the application
//! writes requests (SQEs) into a submission queue shared with the kernel, and reads results
//! (CQEs) from a completion queue.
//!
//! ```text
//! submit accept(listener, multishot)           SQE → kernel, armed for every client
//! loop:
//!   io_uring_enter(submit queued SQEs, wait for ≥ 1 CQE)
//!   for each CQE:
//!     a client accepted → submit recvmsg(new fd, buf)   the kernel waits for data AND copies it
//!     recv done (n bytes already in buf) → upper-case, submit send(fd, buf[..n])
//!     send done → submit the next recv
//! ```
//!
//! ## What a student should notice
//!
//! - No call here waits for one socket or copies its data: `submit` only queues a request;
//!   `complete` says the request is *finished* — for a `recv`, the bytes are already in the
//!   buffer. Compare `sigio`, where the signal only says "you may recv now" and the thread
//!   still copies.
//! - **Both phases are measured, and both were the kernel's.** The recv is an
//!   `IORING_OP_RECVMSG` that also brings back the kernel's receive timestamp, recorded as
//!   `data_arrived` just before the recv's `complete`. Phase 1, waiting for data, runs from the
//!   recv's `submit` (handed to the kernel by the next `ring_enter`, a moment later) to that
//!   stamp. Phase 2 runs from the stamp until the thread reaped the completion: somewhere in
//!   that span the kernel copied the bytes into our buffer and posted the CQE — io_uring does
//!   not say exactly when. The thread took part in neither: it slept in `io_uring_enter` for
//!   every connection at once, or served others.
//! - One `io_uring_enter` both submits new requests and waits for completions: `ring_enter`
//!   says how many SQEs it handed to the kernel, `ring_exit` how many CQEs it found (each one a
//!   `complete` that follows). An echoed message typically costs two of them (one that submits
//!   the send, one that submits the next recv) — counted in the thread's samples. A
//!   `ring_exit` with `timed_out` is the 250 ms stop check, not I/O.
//! - Each accept's `complete` carries the client's address (`peer`), like `accept_exit` in the
//!   blocking models, so a viewer can tell which client was accepted. The accept is
//!   *multishot*: submitted once, it completes once per client and stays in the kernel (its
//!   completions say `more`, the kernel's `IORING_CQE_F_MORE`), so accepting never waits for
//!   the thread to come round and ask again — with thousands of clients connecting at once,
//!   the listen queue is emptied as fast as the kernel can.
//! - The kernel may refuse io_uring (`kernel.io_uring_disabled`, seccomp in containers): the
//!   model is then listed as unavailable with the kernel's answer, and everything else runs.
//!
//! ## Details, and why
//!
//! - Each connection has exactly one request in flight (a recv or a send), so its id is the
//!   request's `user_data`; the listener's accept is 0, an `EMFILE` back-off timer is 1. Its
//!   buffer and the recv's message header (with the iovec and the control buffer for the
//!   timestamp) share one heap box, which stays put while the kernel may use it. A
//!   client that never reads leaves its send pending in the kernel, and its connection is not
//!   read meanwhile: at most [`RECV_BYTES`] wait per connection.
//! - **Every connection gets its turn.** The thread takes every CQE there is after each
//!   `io_uring_enter` and handles them in the order the kernel posted them; each one queues
//!   that connection's next request. Requests go into the submission queue ([`RING_ENTRIES`]
//!   slots) oldest first; when it is full mid-way, one `io_uring_enter` that waits for nothing
//!   (`ring_enter` with `wait_for` 0) hands it to the kernel and writing goes on. The
//!   completion queue has [`CQ_ENTRIES`] slots, room for a completion of every connection of
//!   a C10K crowd; beyond that the kernel holds completions back in its overflow list and
//!   hands them over at the next call. Should the kernel ever drop one (`EBADR`), its request
//!   could never finish: the model stops with that error rather than leave a client hanging.
//! - A kernel before 5.19 does not know the multishot flag and fails the accept with `EINVAL`
//!   (recorded, like every completion): the model then keeps [`ACCEPTS_IN_FLIGHT`] single
//!   accepts in the kernel instead, each re-submitted when it completes.
//! - Out of descriptors, the accept completes with `-EMFILE` (which also ends a multishot
//!   accept): recorded, the pause is said ([`AcceptPause`]), and the next accept is submitted
//!   when a 100 ms `IORING_OP_TIMEOUT` completes (no busy loop, no sleeping thread).
//! - The wait in `io_uring_enter` has a 250 ms timeout so a stop is noticed even with nothing
//!   in flight. On a stop the sockets are shut down (every recv completes with 0), the back-off
//!   timer is cancelled (`async_cancel`), and the model waits for every request in flight to
//!   complete before the buffers and the ring are freed: the kernel may write into a buffer
//!   until its CQE is seen. Every CQE, the timer's and the cancel's too, is a `complete`.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use kettle_shared::{AsyncOp, CloseReason, EventKind, Reason};
use nix::errno::Errno;

use super::accept_pause::{AcceptPause, EMFILE_BACKOFF};
use super::calls::{close_reason, close_recorded, peer_name};
use super::calls::{prepare_connection, StampedMsg};
use super::{upper, ModelContext, StopSignal, RECV_BYTES};
use crate::clock::clock;
use crate::{failure::refused_by_kernel, failure::Syscall, recorder::Tracer};

/// Submission queue slots.
pub const RING_ENTRIES: u32 = 256;
/// Completion queue slots: room for a completion from every connection of a C10K crowd at
/// once, so the kernel seldom has to hold completions back in its overflow list.
pub const CQ_ENTRIES: u32 = 16 * 1024;
/// Accept requests kept in flight when the kernel has no multishot accept (before 5.19).
pub const ACCEPTS_IN_FLIGHT: usize = 16;
/// `user_data` of the listener's accept requests.
const ACCEPT: u64 = 0;
/// `user_data` of the out-of-descriptors back-off timer.
const BACKOFF: u64 = 1;
/// `user_data` of the request that cancels the back-off timer when the model stops.
const CANCEL: u64 = u64::MAX;
/// The first connection's `user_data`.
const FIRST_CONN: u64 = 2;
/// How long one `io_uring_enter` waits before the stop flag is looked at again.
const ENTER_TIMEOUT: Duration = Duration::from_millis(250);
/// How long a stop waits for requests in flight.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// Whether this kernel lets us use io_uring with the operations this model needs.
pub fn probe() -> Result<(), Reason> {
    let ring = IoUring::new(2).map_err(refused_by_kernel("io_uring_setup"))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe) // IORING_REGISTER_PROBE
        .map_err(refused_by_kernel("io_uring_register"))?;
    for (name, code) in [
        ("accept", opcode::Accept::CODE),
        ("recvmsg", opcode::RecvMsg::CODE),
        ("send", opcode::Send::CODE),
        ("timeout", opcode::Timeout::CODE),
    ] {
        if !probe.is_supported(code) {
            return Err(Reason::IoUringOpMissing { op: name.into() });
        }
    }
    Ok(())
}

/// A connection and its one request in flight.
struct Conn {
    fd: OwnedFd,
    /// What the kernel reads from and writes into while a request is in flight. Boxed so it
    /// stays put when the connection map grows and moves its entries.
    io: Box<ConnIo>,
    /// `Some((sent, len))` while a send is in flight, `None` while a recv is.
    sending: Option<(usize, usize)>,
}

/// A connection's buffer, and the `recvmsg` header of its recv: the header points at the
/// buffer and at its own iovec and control buffer (where the kernel puts the receive
/// timestamp), so all of them live in this one heap box, never moved or freed while the
/// request is in flight.
struct ConnIo {
    buf: [u8; RECV_BYTES],
    msg: StampedMsg,
}

/// A request written for the submission queue, with what its `submit` event says.
struct Request {
    entry: squeue::Entry,
    op: AsyncOp,
    fd: RawFd,
    conn: Option<u64>,
}

/// How the listener is accepted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepting {
    /// One multishot accept: a completion per connection, armed until it fails.
    Multishot,
    /// This kernel refused the multishot flag: [`ACCEPTS_IN_FLIGHT`] single accepts.
    Single,
}

struct Server<'a> {
    t: &'a Tracer,
    stop: &'a StopSignal,
    listener: RawFd,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    /// Requests submitted and not yet finished.
    in_flight: usize,
    /// Requests the kernel could not take even after a submit (it was busy flushing its
    /// completion overflow), oldest first: handed over before anything newer.
    backlog: VecDeque<Request>,
    accepting: Accepting,
    /// Accept requests in the kernel.
    accepts_armed: usize,
    /// A multishot accept has brought a connection: the kernel knows the flag.
    multishot_seen: bool,
    /// Out of descriptors: no accept until the back-off timer completes.
    pause: AcceptPause,
    /// The back-off timer is in the kernel.
    timer_armed: bool,
    backoff: types::Timespec,
}

// kettle:code-begin uring-loop
/// Serves every client from one thread through one ring. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let t = ctx.server_tracer();
    t.emit(None, EventKind::ThreadSpawned);
    let mut ring = IoUring::builder()
        .setup_cqsize(CQ_ENTRIES)
        .build(RING_ENTRIES)
        .context(Syscall("io_uring_setup"))?;
    t.count_syscalls(1);
    let mut s = Server {
        t: &t,
        stop: &ctx.stop,
        listener: ctx.listener.as_raw_fd(),
        conns: HashMap::new(),
        next_conn: FIRST_CONN,
        in_flight: 0,
        backlog: VecDeque::new(),
        accepting: Accepting::Multishot,
        accepts_armed: 0,
        multishot_seen: false,
        pause: AcceptPause::default(),
        timer_armed: false,
        backoff: types::Timespec::new().nsec(EMFILE_BACKOFF.as_nanos() as u32),
    };
    s.arm_accepts(&mut ring);
    while !ctx.stop.is_stopped() {
        let done = s.enter(&mut ring)?;
        s.reap(&mut ring, done);
    }
    s.drain_after_stop(&mut ring)?;
    t.emit(None, EventKind::ThreadExited);
    Ok(())
}
// kettle:code-end uring-loop

impl Server<'_> {
    // kettle:code-begin uring-server
    /// Queues one request, recorded as `submit`. A full submission queue is handed to the
    /// kernel at once and the request written after it; requests older than it go first.
    fn push(
        &mut self,
        ring: &mut IoUring,
        entry: squeue::Entry,
        op: AsyncOp,
        fd: RawFd,
        conn: Option<u64>,
    ) {
        self.in_flight += 1;
        self.backlog.push_back(Request { entry, op, fd, conn });
        self.push_backlog(ring);
    }

    /// Writes waiting requests into the submission queue, oldest first, submitting whenever
    /// it is full; stops if the kernel takes none (it is busy: they go with the next call).
    fn push_backlog(&mut self, ring: &mut IoUring) {
        while let Some(r) = self.backlog.pop_front() {
            // SAFETY: everything an entry points to (a connection's boxed buffer and recvmsg
            // header, the back-off timespec) lives, unmoved, until its completion is reaped:
            // see `drain_after_stop`.
            if unsafe { ring.submission().push(&r.entry) }.is_ok() {
                self.t.emit(r.conn, EventKind::Submit { op: r.op, fd: r.fd });
                continue;
            }
            self.backlog.push_front(r);
            if !self.submit_full_queue(ring) {
                return;
            }
        }
    }

    /// One `io_uring_enter` that only submits (waits for no completion): the submission queue
    /// is full. Recorded as `ring_enter` … `ring_exit` with no completions: those are reaped
    /// after the next call that waits. True if the kernel took any.
    fn submit_full_queue(&mut self, ring: &mut IoUring) -> bool {
        let submitted = ring.submission().len() as u32;
        self.t.emit(None, EventKind::RingEnter { submitted, wait_for: 0 });
        let taken = ring.submit();
        self.t.count_syscalls(1);
        self.t.emit(None, EventKind::RingExit { completions: 0, timed_out: false });
        // Any failure (EBUSY: the kernel is flushing completions it held back) leaves the
        // queue full; the next waiting call submits it or reports the error.
        taken.is_ok_and(|n| n > 0)
    }

    /// Keeps the listener's accepts in the kernel: one multishot accept, or several single
    /// ones; none while paused for descriptors or stopping.
    fn arm_accepts(&mut self, ring: &mut IoUring) {
        let wanted = match self.accepting {
            Accepting::Multishot => 1,
            Accepting::Single => ACCEPTS_IN_FLIGHT,
        };
        while self.accepts_armed < wanted && !self.pause.holds() && !self.stop.is_stopped() {
            let fd = types::Fd(self.listener);
            let (null_addr, null_len) = (std::ptr::null_mut(), std::ptr::null_mut());
            let entry = match self.accepting {
                Accepting::Multishot => {
                    opcode::AcceptMulti::new(fd).flags(libc::SOCK_CLOEXEC).build()
                }
                Accepting::Single => {
                    opcode::Accept::new(fd, null_addr, null_len).flags(libc::SOCK_CLOEXEC).build()
                }
            }
            .user_data(ACCEPT);
            self.accepts_armed += 1;
            self.push(ring, entry, AsyncOp::Accept, self.listener, None);
        }
    }

    /// A recv, as `IORING_OP_RECVMSG` so the kernel also hands back its receive timestamp.
    /// Recorded as op `recv`, the same word as the other models' `recv`.
    fn submit_recv(&mut self, ring: &mut IoUring, id: u64) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        c.sending = None;
        let fd = c.fd.as_raw_fd();
        let io = &mut *c.io;
        let hdr = io.msg.prepare(&mut io.buf);
        let entry = opcode::RecvMsg::new(types::Fd(fd), hdr).build().user_data(id);
        self.push(ring, entry, AsyncOp::Recv, fd, Some(id));
    }

    fn submit_send(&mut self, ring: &mut IoUring, id: u64, sent: usize, len: usize) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        c.sending = Some((sent, len));
        let fd = c.fd.as_raw_fd();
        let rest = &c.io.buf[sent..len];
        let entry = opcode::Send::new(types::Fd(fd), rest.as_ptr(), rest.len() as u32)
            // A peer that went away must give EPIPE, not kill the process.
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(id);
        self.push(ring, entry, AsyncOp::Send, fd, Some(id));
    }

    /// One `io_uring_enter`, recorded as `ring_enter` … `ring_exit`: submits what is queued
    /// and sleeps until a completion (or the timeout). Returns the completions it found, taken
    /// off the completion queue at once, so `ring_exit`'s count is exactly the `complete`
    /// events that follow (a CQE posted a moment later waits for the next call, which then
    /// returns at once).
    fn enter(&mut self, ring: &mut IoUring) -> anyhow::Result<Vec<(u64, i32, u32)>> {
        let ts = types::Timespec::new().nsec(ENTER_TIMEOUT.as_nanos() as u32);
        let args = types::SubmitArgs::new().timespec(&ts);
        // The io-uring crate passes the queue's length as `to_submit`, and every SQE this model
        // writes is well formed, so the call submits exactly these. Recorded before the call,
        // so a viewer sees the thread inside it while it sleeps.
        let submitted = ring.submission().len() as u32;
        self.t.emit(None, EventKind::RingEnter { submitted, wait_for: 1 });
        let entered = Instant::now();
        let result = ring.submitter().submit_with_args(1, &args);
        self.t.count_syscalls(1);
        // Every completion there is, oldest first: each connection's turn comes in the order
        // the kernel finished its request, however many others are busy.
        let done: Vec<(u64, i32, u32)> =
            ring.completion().map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())).collect();
        let timed_out = match result {
            // A call that submitted something returns that count even when its wait then timed
            // out; only the clock tells.
            Ok(_) => done.is_empty() && entered.elapsed() >= ENTER_TIMEOUT,
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => true,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => false,
            // EBADR: the kernel dropped completions it could not hold; their requests would
            // never finish, so the model stops rather than leave connections hanging.
            Err(e) => return Err(e).context(Syscall("io_uring_enter")),
        };
        let completions = done.len() as u32;
        self.t.emit(None, EventKind::RingExit { completions, timed_out });
        Ok(done)
    }

    /// Handles the completions `enter` found, then hands waiting requests to the queue.
    fn reap(&mut self, ring: &mut IoUring, done: Vec<(u64, i32, u32)>) {
        for (user_data, result, flags) in done {
            // A multishot request stays in the kernel while its completions say "more".
            let more = cqueue::more(flags);
            if user_data != CANCEL && !more {
                self.in_flight -= 1;
            }
            match user_data {
                CANCEL => self.t.emit(None, complete(AsyncOp::AsyncCancel, -1, result)),
                ACCEPT => self.accepted(ring, result, more),
                BACKOFF => {
                    self.t.emit(None, complete(AsyncOp::Timeout, -1, result));
                    self.timer_armed = false;
                    self.pause = AcceptPause::default();
                    self.arm_accepts(ring);
                }
                id => self.conn_done(ring, id, result),
            }
        }
        self.push_backlog(ring);
    }

    fn accepted(&mut self, ring: &mut IoUring, result: i32, more: bool) {
        if !more {
            self.accepts_armed -= 1;
        }
        let id = self.next_conn;
        let conn = (result >= 0).then_some(id);
        // Which client this is: the blocking models' accept_exit says it the same way.
        let peer = (result >= 0).then(|| peer_name(result)).flatten();
        let fd = self.listener;
        let result = result as i64;
        self.t.emit(conn, EventKind::Complete { op: AsyncOp::Accept, fd, result, peer, more });
        if self.stop.is_stopped() {
            if result >= 0 {
                // SAFETY: the kernel just made this descriptor for us.
                let fd = unsafe { OwnedFd::from_raw_fd(result as RawFd) };
                close_recorded(fd, id, CloseReason::Stopped, self.t, self.stop);
            }
            return;
        }
        if result < 0 {
            let e = Errno::from_raw(-result as i32);
            if e == Errno::EINVAL && self.accepting == Accepting::Multishot && !self.multishot_seen
            {
                // A kernel before 5.19 does not know the multishot flag.
                self.accepting = Accepting::Single;
            } else if self.pause.after_failure(e, self.t) && !self.timer_armed {
                // Accepting resumes when this timer completes (no busy loop, no sleeping).
                let timer = opcode::Timeout::new(&self.backoff).build().user_data(BACKOFF);
                self.timer_armed = true;
                self.push(ring, timer, AsyncOp::Timeout, -1, None);
            }
            self.arm_accepts(ring);
            return;
        }
        self.multishot_seen |= more;
        // SAFETY: the kernel just made this descriptor for us.
        let fd = unsafe { OwnedFd::from_raw_fd(result as RawFd) };
        self.next_conn += 1;
        self.arm_accepts(ring);
        if !self.stop.track(&fd) {
            close_recorded(fd, id, CloseReason::Stopped, self.t, self.stop);
            return;
        }
        prepare_connection(&fd);
        let io = Box::new(ConnIo { buf: [0; RECV_BYTES], msg: StampedMsg::default() });
        self.conns.insert(id, Conn { fd, io, sending: None });
        self.t.set_conns(self.conns.len() as u32);
        self.submit_recv(ring, id);
    }

    fn conn_done(&mut self, ring: &mut IoUring, id: u64, result: i32) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        let fd = c.fd.as_raw_fd();
        let sending = c.sending;
        let op = if sending.is_some() { AsyncOp::Send } else { AsyncOp::Recv };
        if sending.is_none() && result > 0 {
            // The end of phase 1, from the kernel: when the data reached the socket. Phase 2
            // (the copy, then the CQE) happened after it, so it is recorded first.
            // Converted by its age now, as the completion is reaped (see `clock`).
            if let Some(at) = c.io.msg.arrival(clock().now_pair()) {
                self.t.emit_at(at, Some(id), EventKind::DataArrived { fd, stamp: None });
            }
        }
        self.t.emit(Some(id), complete(op, fd, result));
        let finished = match (sending, result) {
            _ if self.stop.is_stopped() => Some(CloseReason::Stopped),
            (_, r) if r < 0 => Some(close_reason(Errno::from_raw(-r))),
            (None, 0) => Some(CloseReason::PeerClosed),
            (None, n) => {
                let n = n as usize;
                upper(&mut c.io.buf[..n]);
                self.submit_send(ring, id, 0, n);
                None
            }
            (Some((sent, len)), n) => {
                let sent = sent + n as usize;
                if sent < len {
                    self.submit_send(ring, id, sent, len);
                } else {
                    self.submit_recv(ring, id);
                }
                None
            }
        };
        if let Some(reason) = finished {
            let c = self.conns.remove(&id).expect("present");
            close_recorded(c.fd, id, reason, self.t, self.stop);
            self.t.set_conns(self.conns.len() as u32);
        }
    }
    // kettle:code-end uring-server

    /// After a stop: the sockets are shut down, so every request completes soon; wait for all
    /// of them before the buffers they point to are freed.
    fn drain_after_stop(&mut self, ring: &mut IoUring) -> anyhow::Result<()> {
        let deadline = Instant::now() + STOP_WAIT;
        // The back-off timer would complete by itself; cancel it so the stop is prompt.
        let cancel = opcode::AsyncCancel::new(BACKOFF).build().user_data(CANCEL);
        // SAFETY: a cancel request points to no buffer.
        if unsafe { ring.submission().push(&cancel) }.is_ok() {
            self.t.emit(None, EventKind::Submit { op: AsyncOp::AsyncCancel, fd: -1 });
        }
        while self.in_flight > 0 || !self.conns.is_empty() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} io_uring requests still in flight after the stop",
                self.in_flight
            );
            let done = self.enter(ring)?;
            // The same handling as while running: after a stop, a completion closes its
            // connection (`conn_done`), an accept's new descriptor is closed (`accepted`) and
            // the back-off timer does not submit another accept.
            self.reap(ring, done);
        }
        Ok(())
    }
}

/// The `complete` event of one CQE.
fn complete(op: AsyncOp, fd: RawFd, result: i32) -> EventKind {
    EventKind::Complete { op, fd, result: result as i64, peer: None, more: false }
}
