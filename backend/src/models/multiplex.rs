//! What `select` and `poll` share, and the busy loop with them: the readiness loop
//! ([`serve_ready`]), which takes the readiness call as a [`Readiness`] so that each model file
//! is about its call only, and how one connection takes its turn ([`echo_once`],
//! [`step_each`]) — over the one non-blocking connection of every one-thread model
//! ([`NonBlockingConn`], with its bounded output: see [`super::nonblocking_conn`]).
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
use std::time::Duration;

use kettle_shared::{CloseReason, EventKind, ReadyFd, Reason, WaitApi};
use nix::errno::Errno;
use nix::sys::socket::SockFlag;

use super::accept_pause::AcceptPause;
use super::calls::{accept_recorded, close_recorded, prepare_connection};
use super::nonblocking_conn::{NonBlockingConn, Received, WouldBlockTally};
use super::{ModelContext, StopSignal};
use crate::recorder::Tracer;

// kettle:code-begin step-each
/// One `recv` on a connection, and its echo sent at once — unless older reply bytes still
/// wait: then the socket was full a moment ago, and the echo waits until it is reported
/// writable rather than make a call that would fail. With a `tally` (the busy loop),
/// `EAGAIN`s are counted there instead of recorded.
pub fn echo_once(
    c: &mut NonBlockingConn,
    t: &Tracer,
    mut tally: Option<&mut WouldBlockTally>,
) -> Result<(), CloseReason> {
    let was_idle = !c.wants_write();
    if c.receive(t, tally.as_deref_mut())? != Received::WouldBlock && was_idle {
        c.flush(t, tally)?;
    }
    Ok(())
}

/// Runs `step` on each connection and closes those that are over: it failed, or the client
/// has finished sending and everything was echoed.
pub fn step_each(
    conns: &mut Vec<NonBlockingConn>,
    t: &Tracer,
    stop: &StopSignal,
    mut step: impl FnMut(&mut NonBlockingConn) -> Result<(), CloseReason>,
) {
    let mut i = 0;
    while i < conns.len() {
        let c = &mut conns[i];
        match step(c).err().or(c.finished().then_some(CloseReason::PeerClosed)) {
            None => i += 1,
            Some(reason) => conns.remove(i).close(reason, t, stop),
        }
    }
    t.set_conns(conns.len() as u32);
}
// kettle:code-end step-each

/// Prepares and tracks an accepted connection; `None` if the model is stopping (then it is
/// closed).
pub fn admit(fd: OwnedFd, id: u64, t: &Tracer, stop: &StopSignal) -> Option<NonBlockingConn> {
    if !stop.track(&fd) {
        close_recorded(fd, id, CloseReason::Stopped, t, stop);
        return None;
    }
    prepare_connection(&fd);
    Some(NonBlockingConn::new(fd, id))
}

/// Closes every connection (the model is stopping).
pub fn close_all(conns: Vec<NonBlockingConn>, t: &Tracer, stop: &StopSignal) {
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
pub fn serve_ready<R: Readiness>(ctx: ModelContext, mut call: R) -> anyhow::Result<()> {
    let t = ctx.server_tracer();
    t.emit(None, EventKind::ThreadSpawned);
    call.can_watch(ctx.listener.as_raw_fd()).map_err(crate::failure::because)?;
    let mut conns: Vec<NonBlockingConn> = Vec::new();
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
                c.flush(&t, None)?;
            }
            if r.readable && c.wants_read() {
                echo_once(c, &t, None)?;
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
    conns: &[NonBlockingConn],
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
