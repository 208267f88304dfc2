//! # epoll, edge-triggered, one thread — Stevens Fig. 6.3
//!
//! The epoll server with `EPOLLET`: the kernel reports a descriptor when it **becomes** ready
//! (an edge: new data arrived, a connection came, room appeared in the send buffer), not for
//! as long as it stays ready. So after each report the server must drain:
//!
//! ```text
//! epoll_ctl(ep, ADD, listener, EPOLLIN | EPOLLET)
//! while True:
//!     for fd, events in epoll_wait(ep):
//!         if fd is listener:
//!             while (conn = accept(listener)) != EAGAIN:     # every waiting connection
//!                 epoll_ctl(ep, ADD, conn, EPOLLIN | EPOLLET)
//!         else:
//!             while (data = recv(fd, 1024)) != EAGAIN:       # every waiting byte
//!                 send(fd, data.upper())
//! ```
//!
//! ## What a student should notice
//!
//! - One report, several `recv`s: the **drain loop** ends with a `recv` that returns `EAGAIN`
//!   (`would_block`). That last call is the price of edge triggering: it is the only way to
//!   know the socket is empty.
//! - Stopping early loses data: if the loop stopped before `EAGAIN`, no new edge would come
//!   for the bytes already waiting, and the client would hang until it sent more.
//! - Fewer wake-ups than level-triggered for a burst of data (one `epoll_wait` per edge
//!   instead of one per 1024 bytes); in exchange, a client that sends without pause keeps
//!   the loop on its socket while others wait.
//!
//! ## Differences from the tutorial, and why
//!
//! The tutorial has no edge-triggered server; this one follows `epoll(7)`'s advice
//! (non-blocking sockets, read until `EAGAIN`; write until the kernel takes less than offered,
//! which `epoll(7)` counts as the same sign for a stream socket). The backlog and `EMFILE`
//! handling are those of the level-triggered model ([`super::epoll`]). When a connection's
//! backlog reaches [`OUTPUT_BOUND`](super::nonblocking_conn::OUTPUT_BOUND) it stops reading mid-drain; that is safe because its last
//! `send` found the send buffer full (a short send or `EAGAIN`), so room in the send buffer
//! is a new `EPOLLOUT` edge, and the drain resumes from there.

use kettle_shared::{CloseReason, EventKind, WaitApi};
use nix::sys::epoll::EpollFlags;

use super::event_loop::{interest, Accepted, EventLoop};
use super::nonblocking_conn::{NonBlockingConn, Received};
use super::ModelContext;
use crate::recorder::Tracer;

/// Serves every client from one thread until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let t = ctx.server_tracer();
    t.emit(None, EventKind::ThreadSpawned);
    let mut lp = EventLoop::new(&ctx, WaitApi::EpollEt)?;
    let result = run(&mut lp, &t);
    lp.close_all(&t);
    t.emit(None, EventKind::ThreadExited);
    Ok(result?)
}

// kettle:code-begin epoll-et-loop
fn run(lp: &mut EventLoop<'_>, t: &Tracer) -> nix::Result<()> {
    lp.watch_listener(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, t)?;
    while !lp.stopped() {
        for ready in lp.wait(t)? {
            if lp.stopped() {
                break;
            }
            if ready.fd == lp.listener() {
                accept_all(lp, t);
            } else {
                drain_connection(lp, ready.fd, t);
            }
        }
    }
    Ok(())
}

/// Accepts until `EAGAIN`: one edge may stand for several waiting connections.
fn accept_all(lp: &mut EventLoop<'_>, t: &Tracer) {
    while !lp.stopped() {
        match lp.accept(t) {
            Accepted::Conn(conn) => {
                let flags = interest(&conn, true);
                lp.insert(conn, flags, t);
            }
            // Drained; or paused (out of descriptors) until the listener is re-armed, which
            // reports it again if connections still wait.
            Accepted::WouldBlock | Accepted::Paused => return,
            Accepted::Failed => {}
        }
    }
}

/// Whatever the edge was, sends what is owed and reads until `EAGAIN`, then asks epoll for
/// what the connection needs next.
fn drain_connection(lp: &mut EventLoop<'_>, fd: i32, t: &Tracer) {
    let Some(conn) = lp.conns.get_mut(&fd) else { return };
    match drain(conn, t) {
        Err(reason) => lp.close(fd, reason, t),
        Ok(()) if conn.finished() => lp.close(fd, CloseReason::PeerClosed, t),
        Ok(()) => lp.update_interest(fd, true, t),
    }
}

/// The drain loop. It ends only when the kernel says there is nothing more to do now:
/// `recv` returned `EAGAIN` or end of file, or the backlog reached the bound after a `send`
/// found the send buffer full (an `EPOLLOUT` edge will resume it).
fn drain(conn: &mut NonBlockingConn, t: &Tracer) -> Result<(), CloseReason> {
    loop {
        conn.flush(t, None)?;
        if !conn.wants_read() {
            return Ok(());
        }
        if conn.receive(t, None)? == Received::WouldBlock {
            return Ok(());
        }
    }
}
// kettle:code-end epoll-et-loop
