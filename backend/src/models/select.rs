//! # I/O multiplexing with `select(2)` — Stevens Fig. 6.3
//!
//! The tutorial's select server, as the system calls it makes:
//!
//! ```text
//! watched = {listener}
//! loop:
//!     ready = select(watched as a readable fd_set)    sleeps until one of them is readable
//!     for fd in ready:
//!         if fd == listener: watched += accept(listener)
//!         else:
//!             n = recv(fd, buf, 1024)                 the data is there: phase 2 only
//!             send(fd, upper(buf[..n]))
//! ```
//!
//! One thread serves every client. It sleeps in one call, `select`, "waiting for one of possibly
//! many sockets" to become readable, then makes the calls that can no longer block for long.
//!
//! ## What a student should notice
//!
//! - Phase 1 (waiting for data) is spent in `select`, not in `recv`: the `recv` that follows
//!   finds the data already there (its `wait_ns` is 0) and blocks only for phase 2, the copy.
//!   This is still synchronous I/O.
//! - **Two system calls per message** (`select`, then `recv`) where the blocking server needed
//!   one: for a single client select is no faster. It wins only with many clients, which one
//!   thread now serves at once.
//! - Every call passes the whole set again, and the kernel and then user space check every
//!   descriptor up to `nfds` (`wait_returned.scanned`): the cost grows with the number of
//!   descriptors watched, not with the number ready.
//! - An `fd_set` is a bitmap of `FD_SETSIZE` (1024) bits. A connection whose descriptor is
//!   1024 or more cannot be watched at all: it is refused (a `refused` event, then closed), and
//!   the others keep being served.
//!
//! ## How the phases are measured
//!
//! As in the blocking model (kernel receive timestamps, see `blocking.rs`); here the data
//! normally arrived while the thread was in `select`, so `data_arrived` comes before
//! `recv_enter`.
//!
//! ## Differences from the tutorial, and why
//!
//! - Connections are non-blocking and a reply the kernel cannot take at once is kept and sent
//!   when `select` reports the socket writable, so a client that never reads cannot stop the
//!   thread in `send`; its reading pauses while its queued reply reaches 64 KiB (see
//!   [`super::nonblocking_conn`]).
//! - A client that closed its side is echoed in full, then closed (the tutorial would spin on
//!   empty reads), and a reset connection is closed; the others are unaffected.
//! - Out of descriptors, the listener leaves the set for 100 ms instead of making `select`
//!   return at once forever.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use kettle_shared::{ReadyFd, Reason, WaitApi};
use nix::sys::select::{select, FdSet, FD_SETSIZE};
use nix::sys::time::TimeVal;

use super::multiplex::{serve_ready, Interest, Readiness};
use super::ModelContext;

/// Serves every client from one thread blocked in `select`. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    serve_ready(ctx, Select)
}

/// `select(2)` as the readiness call.
struct Select;

impl Readiness for Select {
    const API: WaitApi = WaitApi::Select;

    fn can_watch(&self, fd: RawFd) -> Result<(), Reason> {
        if fd < 0 || fd as usize >= FD_SETSIZE {
            return Err(Reason::AboveFdSetSize { fd, limit: FD_SETSIZE as u32 });
        }
        Ok(())
    }

    // kettle:code-begin select-wait
    fn wait(
        &mut self,
        interests: &[Interest<'_>],
        timeout: Option<Duration>,
    ) -> nix::Result<(Vec<ReadyFd>, u32)> {
        let mut readable = FdSet::new();
        let mut writable = FdSet::new();
        for i in interests {
            if i.read {
                readable.insert(i.fd);
            }
            if i.write {
                writable.insert(i.fd);
            }
        }
        let nfds = interests.iter().map(|i| i.fd.as_raw_fd() + 1).max().unwrap_or(0);
        let mut timeout = timeout.map(|d| TimeVal::new(d.as_secs() as _, d.subsec_micros() as _));
        select(nfds, &mut readable, &mut writable, None, timeout.as_mut())?;
        // The kernel rewrote both bitmaps; finding what is set means testing every bit below
        // nfds, as FD_ISSET loops do in C: the O(n) scan.
        let mut ready: Vec<ReadyFd> = Vec::new();
        if nfds == 0 {
            return Ok((ready, 0));
        }
        for fd in readable.fds(Some(nfds - 1)) {
            ready.push(ReadyFd { fd: fd.as_raw_fd(), readable: true, writable: false });
        }
        for fd in writable.fds(Some(nfds - 1)) {
            let fd = fd.as_raw_fd();
            match ready.iter_mut().find(|r| r.fd == fd) {
                Some(r) => r.writable = true,
                None => ready.push(ReadyFd { fd, readable: false, writable: true }),
            }
        }
        ready.sort_by_key(|r| r.fd);
        Ok((ready, nfds as u32))
    }
    // kettle:code-end select-wait
}
