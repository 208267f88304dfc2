//! # Blocking I/O, one thread — Stevens Fig. 6.1
//!
//! The tutorial's first server, exactly:
//!
//! ```text
//! while True:
//!     conn, addr = server.accept()      # sleeps until a client has connected
//!     while True:
//!         data = conn.recv(1024)        # sleeps until data arrives, then copies it
//!         conn.send(data.upper())
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

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use kettle_shared::{CloseReason, EventKind, RecvOutcome, SendOutcome};
use nix::errno::Errno;
use nix::sys::socket::{
    accept, getpeername, recvmsg, send, setsockopt, sockopt, ControlMessageOwned, MsgFlags,
    SockaddrStorage, TimestampingFlag, Timestamps,
};

use super::{preview, sys_error, upper, ModelContext, StopSignal, RECV_BYTES};
use crate::clock::clock;
use crate::recorder::Tracer;

/// How long to wait before calling `accept` again when the process is out of descriptors.
/// Without the pause `accept` would fail at once, forever: a busy loop.
const EMFILE_BACKOFF: Duration = Duration::from_millis(100);

/// Serves clients one after another until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let tracer = ctx.tracer("blocking");
    tracer.emit(None, EventKind::ThreadSpawned);
    let mut next_conn = 1;
    while !ctx.stop.is_stopped() {
        if let Some(fd) = accept_one(ctx.listener.as_raw_fd(), &tracer, next_conn, &ctx.stop) {
            tracer.set_conns(1);
            serve_connection(fd, next_conn, &tracer, &ctx.stop);
            tracer.set_conns(0);
            next_conn += 1;
        }
    }
    tracer.emit(None, EventKind::ThreadExited);
    Ok(())
}

/// One `accept(2)`, recorded. Returns the new connection, or `None` after a failure (already
/// recorded, with a pause where retrying at once would spin).
fn accept_one(listener: RawFd, t: &Tracer, conn: u64, stop: &StopSignal) -> Option<OwnedFd> {
    t.emit(None, EventKind::AcceptEnter);
    match accept(listener) {
        Ok(raw) => {
            // SAFETY: accept just returned this descriptor and nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let peer = getpeername::<SockaddrStorage>(raw).ok().map(|a| a.to_string());
            t.emit(Some(conn), EventKind::AcceptExit { fd: Some(raw), peer, error: None });
            Some(fd)
        }
        Err(e) => {
            // After a stop, accept fails because the listener was shut down: not an error worth
            // showing as one.
            if !stop.is_stopped() {
                t.emit(
                    None,
                    EventKind::AcceptExit { fd: None, peer: None, error: Some(sys_error(e)) },
                );
            }
            if matches!(e, Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM) {
                t.emit(
                    None,
                    EventKind::Refused {
                        reason: format!("out of descriptors ({e}); retrying in 100 ms"),
                    },
                );
                std::thread::sleep(EMFILE_BACKOFF);
            }
            None
        }
    }
}

/// Echoes one connection until the peer closes it, it fails, or the model stops.
fn serve_connection(fd: OwnedFd, conn: u64, t: &Tracer, stop: &StopSignal) {
    let raw = fd.as_raw_fd();
    if !stop.track(&fd) {
        t.emit(Some(conn), EventKind::Close { fd: raw, reason: CloseReason::Stopped });
        return;
    }
    // Best effort: without timestamps the phases are reported as unknown, the echo still works.
    let flags = TimestampingFlag::SOF_TIMESTAMPING_RX_SOFTWARE
        | TimestampingFlag::SOF_TIMESTAMPING_SOFTWARE;
    let _ = setsockopt(&fd, sockopt::Timestamping, &flags);
    let _ = setsockopt(&fd, sockopt::TcpNoDelay, &true);

    let mut buf = [0u8; RECV_BYTES];
    let reason = loop {
        match recv_timed(raw, &mut buf, conn, t) {
            Ok(0) => break CloseReason::PeerClosed,
            Ok(n) => {
                upper(&mut buf[..n]);
                if let Err(reason) = send_all(raw, &buf[..n], conn, t) {
                    break reason;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::ECONNRESET) => break CloseReason::Reset,
            Err(_) => break CloseReason::Error,
        }
    };
    let reason = if stop.is_stopped() { CloseReason::Stopped } else { reason };
    stop.untrack(&fd);
    drop(fd);
    t.emit(Some(conn), EventKind::Close { fd: raw, reason });
}

/// One blocking `recvmsg(2)`, recorded with its two phases.
fn recv_timed(fd: RawFd, buf: &mut [u8], conn: u64, t: &Tracer) -> nix::Result<usize> {
    let enter = clock().now_ns();
    t.emit_at(enter, Some(conn), EventKind::RecvEnter { fd, len: buf.len() as u32 });
    let mut cmsg = nix::cmsg_space!(Timestamps);
    let result = {
        let mut iov = [IoSliceMut::new(buf)];
        recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())
            .map(|msg| (msg.bytes, arrival_ns(&msg)))
    };
    let exit = clock().now_ns();
    let (outcome, phases) = match &result {
        Ok((0, _)) => (RecvOutcome::Eof, None),
        Ok((n, arrival)) => {
            if let Some(at) = arrival {
                t.emit_at(*at, Some(conn), EventKind::DataArrived { fd });
            }
            let data = RecvOutcome::Data { bytes: *n as u32, preview: preview(&buf[..*n]) };
            (data, arrival.map(|at| phases(enter, at, exit)))
        }
        Err(e) => (RecvOutcome::Error(sys_error(*e)), None),
    };
    let (wait_ns, copy_ns) = phases.unzip();
    t.emit_at(exit, Some(conn), EventKind::RecvExit { fd, outcome, wait_ns, copy_ns });
    result.map(|(n, _)| n)
}

/// When the data reached the socket, from the kernel's `SCM_TIMESTAMPING` message.
fn arrival_ns<S>(msg: &nix::sys::socket::RecvMsg<'_, '_, S>) -> Option<u64> {
    msg.cmsgs().ok()?.find_map(|c| match c {
        ControlMessageOwned::ScmTimestampsns(ts) if ts.system.tv_sec() != 0 => {
            Some(clock().from_realtime(ts.system.tv_sec(), ts.system.tv_nsec()))
        }
        _ => None,
    })
}

/// Splits one `recv` into (phase 1, phase 2) given its entry, the data's arrival and its exit.
/// The kernel's stamp and our clock reads are converted between clocks, so the arrival is
/// clamped into the call's window rather than trusted to the nanosecond at the edges.
pub fn phases(enter: u64, arrival: u64, exit: u64) -> (u64, u64) {
    let arrival = arrival.clamp(enter, exit.max(enter));
    (arrival - enter, exit.saturating_sub(arrival))
}

/// Sends all of `data`, one recorded `send(2)` per call the kernel needs.
fn send_all(fd: RawFd, mut data: &[u8], conn: u64, t: &Tracer) -> Result<(), CloseReason> {
    while !data.is_empty() {
        t.emit(Some(conn), EventKind::SendEnter { fd, bytes: data.len() as u32 });
        // MSG_NOSIGNAL: a peer that went away must give EPIPE here, not kill the process.
        let result = send(fd, data, MsgFlags::MSG_NOSIGNAL);
        let outcome = match result {
            Ok(n) => SendOutcome::Sent { bytes: n as u32 },
            Err(e) => SendOutcome::Error(sys_error(e)),
        };
        t.emit(Some(conn), EventKind::SendExit { fd, outcome });
        match result {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::ECONNRESET | Errno::EPIPE) => return Err(CloseReason::Reset),
            Err(_) => return Err(CloseReason::Error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::phases;

    #[test]
    fn data_arriving_during_the_call_splits_it_in_two() {
        assert_eq!(phases(100, 300, 350), (200, 50));
    }

    #[test]
    fn data_already_queued_means_no_wait() {
        assert_eq!(phases(100, 40, 130), (0, 30));
    }

    #[test]
    fn an_arrival_stamp_after_exit_is_clamped() {
        assert_eq!(phases(100, 400, 350), (250, 0));
    }
}
