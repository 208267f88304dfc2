//! # Blocking I/O, one thread — Stevens Fig. 6.1
//!
//! The tutorial's first server, as the system calls it makes:
//!
//! ```text
//! loop:
//!     fd = accept(listener)                 sleeps until a client has finished its handshake
//!     loop:
//!         n = recv(fd, buf, 1024)           sleeps through phase 1 (no data) and 2 (copy)
//!         if n == 0: break                  the client closed its end
//!         send(fd, upper(buf[..n]))
//!     close(fd)                             only now is the next client accepted
//! ```
//!
//! One thread does everything, and every call it makes can put it to sleep in the kernel.
//!
//! ## What a student should notice
//!
//! - Inside `recv` the thread is blocked through **both phases**: phase 1, waiting for data to
//!   reach the socket, and phase 2, the kernel copying it into the application's buffer.
//! - While it serves one client, a second client can connect — the kernel completes the TCP
//!   handshake and parks the connection in the listen backlog — but nobody calls `accept` for
//!   it. Its line sits unanswered in the kernel until the first client leaves. The
//!   [`EventKind::Backlog`] events (read from the kernel, see the registry) show it waiting.
//!
//! ## How the two phases are measured
//!
//! Each accepted socket gets `SO_TIMESTAMPING` with `SOF_TIMESTAMPING_RX_SOFTWARE |
//! SOF_TIMESTAMPING_SOFTWARE`, and data is read with `recvmsg` and a control buffer. The kernel
//! attaches an `SCM_TIMESTAMPING` message whose first timespec is when the data reached the
//! socket (stamped as the packet came up the stack). It is `CLOCK_REALTIME`; [`crate::clock`]
//! converts it to the monotonic axis every event uses. Then, for one call:
//!
//! - phase 1 (wait for data) = arrival − `recv` entry, or 0 when the data was already queued;
//! - phase 2 (wake-up + copy to user) = `recv` exit − max(arrival, entry).
//!
//! Phase 2 therefore includes the scheduler waking the thread, which is part of what a blocked
//! reader pays. The call is `recvmsg(2)` rather than `recv(2)` only to receive the timestamp;
//! it blocks in exactly the same way.
//!
//! ## Differences from the tutorial, and why
//!
//! - `send` may take fewer bytes than offered; the server loops until all are sent (each call
//!   is its own event), so the echo is byte-exact.
//! - `TCP_NODELAY` is set on connections: a reply split across several `send`s would otherwise
//!   wait ~40 ms for a delayed ACK (Nagle's algorithm), a real effect but not this lesson.
//! - An empty `recv` (the peer closed) ends the connection, where the tutorial would spin.

use std::os::fd::{AsRawFd, OwnedFd};

use kettle_shared::{CloseReason, EventKind};
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, SockFlag};

use super::accept_pause::AcceptPause;
use super::calls::{accept_recorded, close_reason, close_recorded, prepare_connection};
use super::calls::{recv_recorded, send_all};
use super::{upper, ModelContext, StopSignal, RECV_BYTES};
use crate::recorder::Tracer;

// kettle:code-begin blocking-accept
/// Serves clients one after another until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let tracer = ctx.server_tracer();
    tracer.emit(None, EventKind::ThreadSpawned);
    let mut next_conn = 1;
    let mut pause = AcceptPause::default();
    while !ctx.stop.is_stopped() {
        match accept_recorded(
            ctx.listener.as_raw_fd(),
            SockFlag::empty(),
            next_conn,
            &tracer,
            &ctx.stop,
        ) {
            Ok(fd) => {
                tracer.set_conns(1);
                serve_connection(fd, next_conn, &tracer, &ctx.stop);
                tracer.set_conns(0);
                next_conn += 1;
            }
            Err(e) => {
                if pause.after_failure(e, &tracer) {
                    pause.sleep_out();
                }
            }
        }
    }
    tracer.emit(None, EventKind::ThreadExited);
    Ok(())
}
// kettle:code-end blocking-accept

// kettle:code-begin echo-connection
/// Echoes one connection until the peer closes it, it fails, or the model stops: the blocking
/// recv/send loop, shared by every model that gives a connection its own thread or process.
pub(crate) fn serve_connection(fd: OwnedFd, conn: u64, t: &Tracer, stop: &StopSignal) {
    if !stop.track(&fd) {
        close_recorded(fd, conn, CloseReason::Stopped, t, stop);
        return;
    }
    prepare_connection(&fd);
    let raw = fd.as_raw_fd();
    let mut buf = [0u8; RECV_BYTES];
    let reason = loop {
        match recv_recorded(raw, &mut buf, MsgFlags::empty(), conn, t) {
            Ok(0) => break CloseReason::PeerClosed,
            Ok(n) => {
                upper(&mut buf[..n]);
                if let Err(reason) = send_all(raw, &buf[..n], conn, t) {
                    break reason;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => break close_reason(e),
        }
    };
    close_recorded(fd, conn, reason, t, stop);
}
// kettle:code-end echo-connection
