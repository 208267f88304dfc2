//! # epoll, level-triggered, one thread — Stevens Fig. 6.3
//!
//! The select server again, with Linux's `epoll` instead of `select`:
//!
//! ```text
//! ep = epoll_create1()
//! epoll_ctl(ep, ADD, listener, EPOLLIN)           # once: the kernel keeps the interest list
//! while True:
//!     for fd, events in epoll_wait(ep):           # sleeps until some descriptor is ready
//!         if fd is listener:
//!             until accept(listener) says EAGAIN:  # non-blocking; at most 64 a report
//!                 epoll_ctl(ep, ADD, conn, EPOLLIN)
//!         else:
//!             data = recv(fd, 1024)               # ready: only phase 2 is left
//!             send(fd, data.upper())
//! ```
//!
//! ## What a student should notice
//!
//! - Like select, one thread sleeps in one call (`epoll_wait`) for all sockets: phase 1 is
//!   spent there, and `recv` only copies (its `wait_ns` is 0). Two system calls per message.
//! - Unlike select, the list of watched descriptors lives **in the kernel**: it is given once
//!   per descriptor with `epoll_ctl(ADD)` instead of being copied in on every call, and
//!   `epoll_wait` returns only the ready ones. `wait_returned`'s `scanned` is the number of
//!   ready entries, not the number watched: epoll's cost follows the ready set.
//! - **Level-triggered**: a descriptor is reported on every `epoll_wait` for as long as it is
//!   ready. The server reads one 1024-byte piece per report; if more is waiting, the next
//!   `epoll_wait` returns at once with the same descriptor.
//!
//! ## Differences from the tutorial, and why
//!
//! - Sockets are non-blocking, so a `send` can take only part of a reply (the client does
//!   not read). The rest waits in its output buffer ([`super::nonblocking_conn`]) and the
//!   connection asks for `EPOLLOUT` (`epoll_ctl(MOD)`); at
//!   [`OUTPUT_BOUND`](super::nonblocking_conn::OUTPUT_BOUND) bytes it stops asking for
//!   `EPOLLIN`, so memory stays bounded and other clients keep being served.
//! - One report of the listener accepts every waiting connection (up to 64), not one: with
//!   thousands connecting at once, one accept per `epoll_wait` round leaves most of them in
//!   the backlog until they give up.
//! - Out of descriptors (`EMFILE`), the listener's interest is emptied for 100 ms; a readable
//!   listener would otherwise wake `epoll_wait` at once, forever.
//! - A closed connection is not removed with `epoll_ctl(DEL)`: closing its only descriptor
//!   removes it from the interest list.

use kettle_shared::{CloseReason, EventKind, WaitApi};
use nix::sys::epoll::EpollFlags;

use super::event_loop::{interest, Accepted, EventLoop, Ready};
use super::ModelContext;
use crate::recorder::Tracer;

/// Serves every client from one thread until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let t = ctx.server_tracer();
    t.emit(None, EventKind::ThreadSpawned);
    let mut lp = EventLoop::new(&ctx, WaitApi::Epoll)?;
    let result = run(&mut lp, &t);
    lp.close_all(&t);
    t.emit(None, EventKind::ThreadExited);
    Ok(result?)
}

/// Connections accepted for one report of the listener. One per report starves a crowd
/// arriving at once: each accept would cost a whole `epoll_wait` round over every ready
/// client, and at 10 000 connecting clients most of them would time out in the backlog.
/// Without a bound, a flood of connections would starve the clients already served.
const ACCEPTS_PER_REPORT: usize = 64;

// kettle:code-begin epoll-loop
fn run(lp: &mut EventLoop<'_>, t: &Tracer) -> nix::Result<()> {
    lp.watch_listener(EpollFlags::EPOLLIN, t)?;
    while !lp.stopped() {
        for ready in lp.wait(t)? {
            if lp.stopped() {
                break;
            }
            if ready.fd == lp.listener() {
                accept_waiting(lp, t);
            } else {
                serve_ready(lp, ready, t);
            }
        }
    }
    Ok(())
}

/// Accepts the waiting connections, until `accept` says `EAGAIN` or [`ACCEPTS_PER_REPORT`]
/// were taken: if more wait, the listener is still readable and the next `epoll_wait`
/// reports it again (level-triggered), after the ready clients had their turn.
fn accept_waiting(lp: &mut EventLoop<'_>, t: &Tracer) {
    for _ in 0..ACCEPTS_PER_REPORT {
        let Accepted::Conn(conn) = lp.accept(t) else { return };
        let flags = interest(&conn, false);
        lp.insert(conn, flags, t);
    }
}

/// A ready connection: send what is owed if it is writable, read one piece if it is readable,
/// then ask epoll for what the connection needs next.
fn serve_ready(lp: &mut EventLoop<'_>, ready: Ready, t: &Tracer) {
    let Some(conn) = lp.conns.get_mut(&ready.fd) else { return };
    let mut step = || {
        if ready.writable() {
            conn.flush(t, None)?;
        }
        if ready.readable() && conn.wants_read() {
            conn.receive(t, None)?;
            conn.flush(t, None)?;
        }
        Ok(())
    };
    match step() {
        Err(reason) => lp.close(ready.fd, reason, t),
        Ok(()) if conn.finished() => lp.close(ready.fd, CloseReason::PeerClosed, t),
        Ok(()) => lp.update_interest(ready.fd, false, t),
    }
}
// kettle:code-end epoll-loop
