//! # Non-blocking I/O, a busy loop — Stevens Fig. 6.2
//!
//! The tutorial's non-blocking server, as the system calls it makes:
//!
//! ```text
//! fcntl(listener, F_SETFL, O_NONBLOCK)
//! loop:                                     never sleeps
//!     match accept(listener):
//!         a new fd → make it O_NONBLOCK, add it to the clients
//!         EAGAIN   → nobody is connecting
//!     for fd in clients:
//!         match recv(fd, buf, 1024):
//!             n bytes    → send(fd, upper(buf[..n]))
//!             EAGAIN     → nothing has arrived: ask the next one
//!             ECONNRESET → close(fd), forget it
//! ```
//!
//! Every socket is non-blocking: a call that cannot be satisfied now returns `EAGAIN`
//! (Python's `BlockingIOError`) instead of sleeping. One thread asks every socket, again and
//! again, whether there is something to do.
//!
//! ## What a student should notice
//!
//! - Phase 1 (waiting for data) is no longer spent asleep in the kernel: the thread keeps
//!   calling `recv`, and most calls return `EAGAIN` at once — the `would_block_burst` events
//!   count them, thousands in every 100 ms. The one call that finds data still blocks while the
//!   kernel copies it (phase 2): this is synchronous I/O.
//! - One thread serves many clients, but it **never sleeps**: with no client at all its
//!   `thread_sample` CPU time grows by about 100 ms every 100 ms — a whole core spent asking.
//!
//! ## How the phases are measured
//!
//! As in the blocking model (kernel receive timestamps). A `recv` that found data has
//! `wait_ns` 0: the waiting happened in the loop, spread over the `EAGAIN`s before it.
//!
//! ## Differences from the tutorial, and why
//!
//! - `EAGAIN`s are counted, not recorded one by one (one `would_block_burst` per call per
//!   100 ms): recording each would flood every viewer. Successful calls are recorded as usual.
//! - Each turn tries `accept`, then every connection; the tutorial serves connections only in
//!   turns where no client was connecting.
//! - A reply the kernel cannot take at once is kept and retried in later turns; reading from
//!   that client pauses while 64 KiB are queued (see [`super::nonblocking_conn`]), so a client
//!   that never reads costs bounded memory. A closed client is echoed in full, then closed
//!   (the tutorial would spin on empty reads); a reset one is closed.
//! - Out of descriptors, `accept` is not tried again for 100 ms, while the connections are
//!   still served.

use std::os::fd::AsRawFd;

use kettle_shared::{CloseReason, EventKind};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::SockFlag;

use super::accept_pause::AcceptPause;
use super::calls::accept_unless_would_block;
use super::multiplex::{admit, close_all, echo_once, step_each};
use super::nonblocking_conn::{NonBlockingConn, WouldBlockTally};
use super::ModelContext;

// kettle:code-begin busy-loop
/// Serves every client from one thread that never sleeps. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let t = ctx.server_tracer();
    t.emit(None, EventKind::ThreadSpawned);
    // The tutorial's server.setblocking(False).
    fcntl(&ctx.listener, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    let mut conns: Vec<NonBlockingConn> = Vec::new();
    let mut tally = WouldBlockTally::default();
    let mut next_conn = 1;
    let mut pause = AcceptPause::default();
    while !ctx.stop.is_stopped() {
        if !pause.holds() {
            match accept_unless_would_block(
                ctx.listener.as_raw_fd(),
                SockFlag::SOCK_NONBLOCK,
                next_conn,
                &t,
                &ctx.stop,
            ) {
                Ok(fd) => {
                    if let Some(conn) = admit(fd, next_conn, &t, &ctx.stop) {
                        conns.push(conn);
                    }
                    next_conn += 1;
                }
                Err(Errno::EAGAIN) => tally.accept(),
                Err(e) => {
                    pause.after_failure(e, &t);
                }
            }
        }
        step_each(&mut conns, &t, &ctx.stop, |c| serve_turn(c, &t, &mut tally));
        tally.report_if_due(&t);
    }
    close_all(conns, &t, &ctx.stop);
    t.emit(None, EventKind::ThreadExited);
    Ok(())
}

/// One turn on one connection: retry queued output, then one `recv` (and its echo).
fn serve_turn(
    c: &mut NonBlockingConn,
    t: &crate::recorder::Tracer,
    tally: &mut WouldBlockTally,
) -> Result<(), CloseReason> {
    if c.wants_write() {
        c.flush(t, Some(tally))?;
    }
    if c.wants_read() {
        echo_once(c, t, Some(tally))?;
    }
    Ok(())
}
// kettle:code-end busy-loop
