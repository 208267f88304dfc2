//! What the one-thread, many-connection models share: a non-blocking echo connection with a
//! bounded output queue ([`EchoConn`]), the `EAGAIN` tally of the busy loop
//! ([`WouldBlockTally`]), and the readiness loop of `select`/`poll` ([`serve_ready`]), which
//! takes the readiness call as a [`Readiness`] so that each model file is about its call only.
//!
//! ## Output that the kernel will not take yet
//!
//! Every connection is non-blocking, so one client that never reads cannot stop the thread in
//! `send`: when its socket's send buffer is full `send` returns `EAGAIN` and the rest of the
//! reply stays in the connection's queue. The loop then watches that socket for writability and
//! stops reading from it while the queue holds [`PENDING_LIMIT`] bytes or more, so memory stays
//! bounded (one connection holds at most `PENDING_LIMIT + RECV_BYTES`); the kernel's receive
//! buffer then fills and TCP flow control slows the client down. Other clients are not
//! affected.
//!
//! ## How a stop wakes the readiness call
//!
//! The registry's stop shuts the listener and every tracked connection down (`shutdown(2)`).
//! A shut-down listener is in `TCP_CLOSE`, which `poll`/`select` report as readable (`POLLHUP`
//! is in select's read set), and a shut-down connection reads end of file: the call returns at
//! once, and the loop sees the stop. While `accept` is paused (out of descriptors: see
//! [`AcceptPause`]) the listener is not watched, but the call then waits at most until the
//! pause is over. No extra wake-up descriptor is needed.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use kettle_shared::{CloseReason, EventKind, ReadyFd, Reason, WaitApi};
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, SockFlag};

use super::accept_pause::AcceptPause;
use super::calls::{accept_recorded, close_reason, close_recorded};
use super::calls::{prepare_connection, recv_recorded, recv_unless_would_block};
use super::calls::{send_recorded, send_unless_would_block};
use super::{upper, ModelContext, StopSignal, RECV_BYTES};
use crate::recorder::Tracer;

/// Bytes of reply a connection may hold for a client that does not read, before the server
/// stops reading from that client.
pub const PENDING_LIMIT: usize = 64 * 1024;

/// How often the busy loop reports its `EAGAIN`s.
pub const BURST_WINDOW: Duration = Duration::from_millis(100);

/// `EAGAIN`s counted, not recorded one by one, per call, over one [`BURST_WINDOW`].
#[derive(Debug)]
pub struct WouldBlockTally {
    accept: u64,
    recv: u64,
    send: u64,
    since: Instant,
}

impl Default for WouldBlockTally {
    fn default() -> Self {
        WouldBlockTally { accept: 0, recv: 0, send: 0, since: Instant::now() }
    }
}

impl WouldBlockTally {
    /// One more `EAGAIN` from `accept`.
    pub fn accept(&mut self) {
        self.accept += 1;
    }

    /// Once per window: one [`EventKind::WouldBlockBurst`] per call that returned `EAGAIN`.
    pub fn report_if_due(&mut self, t: &Tracer) {
        if self.since.elapsed() < BURST_WINDOW {
            return;
        }
        for (call, count) in [("accept", self.accept), ("recv", self.recv), ("send", self.send)] {
            if count > 0 {
                t.emit(None, EventKind::WouldBlockBurst { call: call.into(), count });
            }
        }
        *self = WouldBlockTally::default();
    }
}

/// One client connection of a one-thread model: non-blocking, with the reply bytes the kernel
/// has not taken yet.
#[derive(Debug)]
pub struct EchoConn {
    fd: OwnedFd,
    id: u64,
    pending: Vec<u8>,
    /// The client shut down its sending side (`recv` returned 0): finish the echo, then close.
    read_closed: bool,
}

impl EchoConn {
    /// A connection numbered `id`; `fd` must be non-blocking.
    pub fn new(fd: OwnedFd, id: u64) -> EchoConn {
        EchoConn { fd, id, pending: Vec::new(), read_closed: false }
    }

    /// Its descriptor number.
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Its descriptor, borrowed for a readiness call.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Whether to read from it: the client may still send, and its replies are not piling up.
    pub fn wants_read(&self) -> bool {
        !self.read_closed && self.pending.len() < PENDING_LIMIT
    }

    /// Whether reply bytes wait for room in the socket's send buffer.
    pub fn wants_write(&self) -> bool {
        !self.pending.is_empty()
    }

    // kettle:code-begin echo-read
    /// One `recv` of at most [`RECV_BYTES`], and the upper-cased bytes queued for sending; if
    /// nothing was queued before, they are sent at once. `Err` means the connection is over.
    /// With a `tally`, `EAGAIN`s are counted there instead of recorded.
    pub fn read(
        &mut self,
        t: &Tracer,
        mut tally: Option<&mut WouldBlockTally>,
    ) -> Result<(), CloseReason> {
        let mut buf = [0u8; RECV_BYTES];
        let fd = self.raw();
        let got = match tally.as_deref_mut() {
            None => recv_recorded(fd, &mut buf, MsgFlags::MSG_DONTWAIT, self.id, t),
            Some(_) => recv_unless_would_block(fd, &mut buf, self.id, t),
        };
        match got {
            Ok(0) => {
                self.read_closed = true;
                self.write(t, tally)
            }
            Ok(n) => {
                upper(&mut buf[..n]);
                let was_idle = self.pending.is_empty();
                self.pending.extend_from_slice(&buf[..n]);
                // With older bytes still queued, the socket was full a moment ago: wait until it
                // is reported writable rather than make a call that would fail.
                if was_idle {
                    self.write(t, tally)
                } else {
                    Ok(())
                }
            }
            Err(Errno::EAGAIN) => {
                if let Some(tally) = tally {
                    tally.recv += 1;
                }
                Ok(())
            }
            Err(Errno::EINTR) => Ok(()),
            Err(e) => Err(close_reason(e)),
        }
    }
    // kettle:code-end echo-read

    // kettle:code-begin echo-write
    /// Sends queued bytes until the kernel takes less than offered. `Err` means the connection
    /// is over: it failed, or the client had finished sending and everything was echoed.
    pub fn write(
        &mut self,
        t: &Tracer,
        tally: Option<&mut WouldBlockTally>,
    ) -> Result<(), CloseReason> {
        while !self.pending.is_empty() {
            let fd = self.raw();
            let sent = match tally {
                None => send_recorded(fd, &self.pending, self.id, t),
                Some(_) => send_unless_would_block(fd, &self.pending, self.id, t),
            };
            match sent {
                Ok(n) => {
                    let whole = n == self.pending.len();
                    self.pending.drain(..n);
                    // A short send means the send buffer is full: another call would only
                    // return EAGAIN.
                    if !whole {
                        return Ok(());
                    }
                }
                Err(Errno::EAGAIN) => {
                    if let Some(tally) = tally {
                        tally.send += 1;
                    }
                    return Ok(());
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(close_reason(e)),
            }
        }
        if self.read_closed {
            Err(CloseReason::PeerClosed)
        } else {
            Ok(())
        }
    }
    // kettle:code-end echo-write

    /// Stops tracking, closes and records it.
    pub fn close(self, reason: CloseReason, t: &Tracer, stop: &StopSignal) {
        close_recorded(self.fd, self.id, reason, t, stop);
    }
}

// kettle:code-begin step-each
/// Runs `step` on each connection and closes those for which it says the connection is over.
pub fn step_each(
    conns: &mut Vec<EchoConn>,
    t: &Tracer,
    stop: &StopSignal,
    mut step: impl FnMut(&mut EchoConn) -> Result<(), CloseReason>,
) {
    let mut i = 0;
    while i < conns.len() {
        match step(&mut conns[i]) {
            Ok(()) => i += 1,
            Err(reason) => conns.remove(i).close(reason, t, stop),
        }
    }
    t.set_conns(conns.len() as u32);
}
// kettle:code-end step-each

/// Prepares and tracks an accepted connection; `None` if the model is stopping (then it is
/// closed).
pub fn admit(fd: OwnedFd, id: u64, t: &Tracer, stop: &StopSignal) -> Option<EchoConn> {
    if !stop.track(&fd) {
        close_recorded(fd, id, CloseReason::Stopped, t, stop);
        return None;
    }
    prepare_connection(&fd);
    Some(EchoConn::new(fd, id))
}

/// Closes every connection (the model is stopping).
pub fn close_all(conns: Vec<EchoConn>, t: &Tracer, stop: &StopSignal) {
    for c in conns {
        c.close(CloseReason::Stopped, t, stop);
    }
    t.set_conns(0);
}

/// One descriptor a readiness call should watch, and for what.
#[derive(Debug, Clone, Copy)]
pub struct Interest<'fd> {
    /// The descriptor.
    pub fd: BorrowedFd<'fd>,
    /// Report it when readable (data, a connection to accept, end of file).
    pub read: bool,
    /// Report it when writable (room in the send buffer).
    pub write: bool,
}

/// A readiness system call (`select`, `poll`) as the loop of [`serve_ready`] uses it.
pub trait Readiness {
    /// Which call, for the events.
    const API: WaitApi;

    /// Whether the call can watch `fd` at all; `Err` says why not (select: `FD_SETSIZE`).
    fn can_watch(&self, _fd: RawFd) -> Result<(), Reason> {
        Ok(())
    }

    /// One call: blocks until a watched descriptor is ready or `timeout` passed. Returns the
    /// ready descriptors and how many entries user space had to look at to find them.
    fn wait(
        &mut self,
        interests: &[Interest<'_>],
        timeout: Option<Duration>,
    ) -> nix::Result<(Vec<ReadyFd>, u32)>;
}

// kettle:code-begin ready-loop
/// The tutorial's select server, for any readiness call: one thread waits until the listener
/// or a connection is ready, then accepts once or makes one `recv`/`send` on each ready
/// connection, and waits again.
pub fn serve_ready<R: Readiness>(
    ctx: ModelContext,
    mut call: R,
    thread: &str,
) -> anyhow::Result<()> {
    let t = ctx.tracer(thread);
    t.emit(None, EventKind::ThreadSpawned);
    call.can_watch(ctx.listener.as_raw_fd()).map_err(crate::failure::because)?;
    let mut conns: Vec<EchoConn> = Vec::new();
    let mut next_conn = 1;
    // While out of descriptors, the listener is left out of the watched set.
    let mut pause = AcceptPause::default();
    while !ctx.stop.is_stopped() {
        let paused = pause.holds();
        let ready = match wait_recorded(&mut call, &ctx.listener, &conns, &pause, &t) {
            Ok(ready) => ready,
            Err(e) => {
                // Untracked and closed before returning, so the registry's stop never shuts
                // down a descriptor number the kernel has already given to someone else.
                close_all(conns, &t, &ctx.stop);
                return Err(e);
            }
        };
        if ctx.stop.is_stopped() {
            break;
        }
        let by_fd: HashMap<RawFd, ReadyFd> = ready.into_iter().map(|r| (r.fd, r)).collect();
        if !paused && by_fd.contains_key(&ctx.listener.as_raw_fd()) {
            match accept_recorded(
                ctx.listener.as_raw_fd(),
                SockFlag::SOCK_NONBLOCK,
                next_conn,
                &t,
                &ctx.stop,
            ) {
                Ok(fd) => {
                    let id = next_conn;
                    next_conn += 1;
                    if let Err(reason) = call.can_watch(fd.as_raw_fd()) {
                        t.emit(Some(id), EventKind::Refused { reason });
                        close_recorded(fd, id, CloseReason::Refused, &t, &ctx.stop);
                    } else if let Some(conn) = admit(fd, id, &t, &ctx.stop) {
                        conns.push(conn);
                    }
                }
                Err(e) => {
                    pause.after_failure(e, &t);
                }
            }
        }
        step_each(&mut conns, &t, &ctx.stop, |c| {
            let Some(r) = by_fd.get(&c.raw()) else { return Ok(()) };
            if r.writable && c.wants_write() {
                c.write(&t, None)?;
            }
            if r.readable && c.wants_read() {
                c.read(&t, None)?;
            }
            Ok(())
        });
    }
    close_all(conns, &t, &ctx.stop);
    t.emit(None, EventKind::ThreadExited);
    Ok(())
}
// kettle:code-end ready-loop

/// Builds the watched set, makes the call, records `wait_enter` and `wait_returned`.
fn wait_recorded<R: Readiness>(
    call: &mut R,
    listener: &OwnedFd,
    conns: &[EchoConn],
    pause: &AcceptPause,
    t: &Tracer,
) -> anyhow::Result<Vec<ReadyFd>> {
    let mut interests = Vec::with_capacity(conns.len() + 1);
    // Out of descriptors, the listener is not watched, and the call waits at most until the
    // pause is over.
    let timeout = pause.left();
    if timeout.is_none() {
        interests.push(Interest { fd: listener.as_fd(), read: true, write: false });
    }
    for c in conns {
        interests.push(Interest { fd: c.fd(), read: c.wants_read(), write: c.wants_write() });
    }
    let watched = interests.iter().map(|i| i.fd.as_raw_fd()).collect();
    t.emit(None, EventKind::WaitEnter { api: R::API, watched });
    loop {
        match call.wait(&interests, timeout) {
            Ok((ready, scanned)) => {
                t.emit(
                    None,
                    EventKind::WaitReturned { api: R::API, ready: ready.clone(), scanned },
                );
                return Ok(ready);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => {
                let call = crate::failure::Syscall(crate::failure::wait_call(R::API));
                return Err(anyhow::Error::new(e).context(call));
            }
        }
    }
}
