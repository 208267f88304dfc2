//! Recorded system calls shared by the models.
//!
//! Each wrapper makes exactly one system call (or, for [`send_all`], one per call the kernel
//! needs) and records its entry and exit through the thread's [`Tracer`], so every model tells
//! its story with the same words. A model that must *not* record each call — the busy loop,
//! whose `EAGAIN`s are counted in bulk — calls nix directly and uses [`recv_stamped`].

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use kettle_shared::{CloseReason, EventKind, RecvOutcome, SendOutcome};
use nix::errno::Errno;
use nix::sys::socket::{
    accept4, getpeername, recvmsg, send, setsockopt, sockopt, ControlMessageOwned, MsgFlags,
    SockFlag, SockaddrStorage, TimestampingFlag, Timestamps,
};

use super::{preview, sys_error, StopSignal};
use crate::clock::clock;
use crate::recorder::Tracer;

/// How long a model waits before calling `accept` again when the process is out of
/// descriptors. Without a pause `accept` would fail at once, forever: a busy loop.
pub const EMFILE_BACKOFF: Duration = Duration::from_millis(100);

/// True for the `accept` failures that mean "no descriptor or memory for a new connection".
pub fn out_of_descriptors(e: Errno) -> bool {
    matches!(e, Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)
}

/// One `accept4(2)` with `flags` (e.g. `SOCK_NONBLOCK`), recorded. On success [`Event::conn`]
/// of the exit event is `conn`. Out of descriptors, it also records a
/// [`EventKind::Refused`]; the caller must then pause (see [`EMFILE_BACKOFF`]). After a stop
/// the failure is expected (the listener was shut down) and not recorded.
///
/// [`Event::conn`]: kettle_shared::Event::conn
pub fn accept_recorded(
    listener: RawFd,
    flags: SockFlag,
    conn: u64,
    t: &Tracer,
    stop: &StopSignal,
) -> nix::Result<OwnedFd> {
    t.emit(None, EventKind::AcceptEnter);
    match accept4(listener, flags | SockFlag::SOCK_CLOEXEC) {
        Ok(raw) => {
            // SAFETY: accept4 just returned this descriptor and nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let peer = getpeername::<SockaddrStorage>(raw).ok().map(|a| a.to_string());
            t.emit(Some(conn), EventKind::AcceptExit { fd: Some(raw), peer, error: None });
            Ok(fd)
        }
        Err(e) => {
            if !stop.is_stopped() {
                record_accept_failure(e, t);
            }
            Err(e)
        }
    }
}

/// As [`accept_recorded`] on a non-blocking listener, except that `EAGAIN` (nobody is
/// connecting) is only counted as a system call, not recorded: the busy loop asks thousands of
/// times per second. A connection or a real failure is recorded as usual.
pub fn accept_unless_would_block(
    listener: RawFd,
    flags: SockFlag,
    conn: u64,
    t: &Tracer,
    stop: &StopSignal,
) -> nix::Result<OwnedFd> {
    let enter = clock().now_ns();
    match accept4(listener, flags | SockFlag::SOCK_CLOEXEC) {
        Err(Errno::EAGAIN) => {
            t.count_syscalls(1);
            Err(Errno::EAGAIN)
        }
        Ok(raw) => {
            // SAFETY: accept4 just returned this descriptor and nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            t.emit_at(enter, None, EventKind::AcceptEnter);
            let peer = getpeername::<SockaddrStorage>(raw).ok().map(|a| a.to_string());
            t.emit(Some(conn), EventKind::AcceptExit { fd: Some(raw), peer, error: None });
            Ok(fd)
        }
        Err(e) => {
            if !stop.is_stopped() {
                t.emit_at(enter, None, EventKind::AcceptEnter);
                record_accept_failure(e, t);
            } else {
                t.count_syscalls(1);
            }
            Err(e)
        }
    }
}

/// Records a failed `accept`, and a [`EventKind::Refused`] when it is for want of descriptors.
fn record_accept_failure(e: Errno, t: &Tracer) {
    let error = Some(sys_error(e));
    t.emit(None, EventKind::AcceptExit { fd: None, peer: None, error });
    if out_of_descriptors(e) {
        let reason = format!("out of descriptors ({e}); retrying in 100 ms");
        t.emit(None, EventKind::Refused { reason });
    }
}

/// Prepares an accepted connection: kernel receive timestamps (to split each `recv` into its two
/// phases) and `TCP_NODELAY` (replies split over several `send`s must not wait ~40 ms for a
/// delayed ACK — Nagle's algorithm, a real effect but not these lessons). Best effort: without
/// timestamps the phases are reported as unknown.
pub fn prepare_connection(fd: &OwnedFd) {
    let flags = TimestampingFlag::SOF_TIMESTAMPING_RX_SOFTWARE
        | TimestampingFlag::SOF_TIMESTAMPING_SOFTWARE;
    let _ = setsockopt(fd, sockopt::Timestamping, &flags);
    let _ = setsockopt(fd, sockopt::TcpNoDelay, &true);
}

/// One `recvmsg(2)` without recording: bytes read and, when the kernel stamped them, when the
/// data reached the socket (ns on the events' axis).
pub fn recv_stamped(
    fd: RawFd,
    buf: &mut [u8],
    flags: MsgFlags,
) -> nix::Result<(usize, Option<u64>)> {
    let mut cmsg = nix::cmsg_space!(Timestamps);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), flags)?;
    let arrival = msg.cmsgs().ok().and_then(|mut c| {
        c.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampsns(ts) if ts.system.tv_sec() != 0 => {
                Some(clock().from_realtime(ts.system.tv_sec(), ts.system.tv_nsec()))
            }
            _ => None,
        })
    });
    Ok((msg.bytes, arrival))
}

/// One `recvmsg(2)`, recorded with its two phases: `recv_enter`, `data_arrived` (at the
/// kernel's stamp), `recv_exit` with `wait_ns` (phase 1) and `copy_ns` (phase 2).
/// `EAGAIN` is recorded as [`RecvOutcome::WouldBlock`].
pub fn recv_recorded(
    fd: RawFd,
    buf: &mut [u8],
    flags: MsgFlags,
    conn: u64,
    t: &Tracer,
) -> nix::Result<usize> {
    recv_traced(fd, buf, flags, conn, t, true)
}

/// As [`recv_recorded`], except that an `EAGAIN` is not recorded, only counted as a system call:
/// the busy loop makes thousands per second and reports them in bulk
/// ([`EventKind::WouldBlockBurst`]).
pub fn recv_unless_would_block(
    fd: RawFd,
    buf: &mut [u8],
    conn: u64,
    t: &Tracer,
) -> nix::Result<usize> {
    recv_traced(fd, buf, MsgFlags::MSG_DONTWAIT, conn, t, false)
}

fn recv_traced(
    fd: RawFd,
    buf: &mut [u8],
    flags: MsgFlags,
    conn: u64,
    t: &Tracer,
    record_would_block: bool,
) -> nix::Result<usize> {
    let enter = clock().now_ns();
    let entered = EventKind::RecvEnter { fd, len: buf.len() as u32 };
    if record_would_block {
        // Recorded before the call, so a viewer sees the thread inside a call that blocks.
        t.emit_at(enter, Some(conn), entered.clone());
    }
    let result = recv_stamped(fd, buf, flags);
    let exit = clock().now_ns();
    if !record_would_block {
        if matches!(result, Err(Errno::EAGAIN)) {
            t.count_syscalls(1);
            return Err(Errno::EAGAIN);
        }
        // A call that cannot block is recorded once it returned, at the instant it was entered.
        t.emit_at(enter, Some(conn), entered);
    }
    let (outcome, split) = match &result {
        Ok((0, _)) => (RecvOutcome::Eof, None),
        Ok((n, arrival)) => {
            if let Some(at) = arrival {
                t.emit_at(*at, Some(conn), EventKind::DataArrived { fd });
            }
            let data = RecvOutcome::Data { bytes: *n as u32, preview: preview(&buf[..*n]) };
            (data, arrival.map(|at| phases(enter, at, exit)))
        }
        Err(Errno::EAGAIN) => (RecvOutcome::WouldBlock, None),
        Err(e) => (RecvOutcome::Error(sys_error(*e)), None),
    };
    let (wait_ns, copy_ns) = split.unzip();
    t.emit_at(exit, Some(conn), EventKind::RecvExit { fd, outcome, wait_ns, copy_ns });
    result.map(|(n, _)| n)
}

/// Splits one `recv` into (phase 1, phase 2) given its entry, the data's arrival and its exit.
/// The kernel's stamp and our clock reads are converted between clocks, so the arrival is
/// clamped into the call's window rather than trusted to the nanosecond at the edges.
pub fn phases(enter: u64, arrival: u64, exit: u64) -> (u64, u64) {
    let arrival = arrival.clamp(enter, exit.max(enter));
    (arrival - enter, exit.saturating_sub(arrival))
}

/// One `send(2)`, recorded. `EAGAIN` (a full send buffer on a non-blocking socket) is recorded
/// as [`SendOutcome::WouldBlock`].
pub fn send_recorded(fd: RawFd, data: &[u8], conn: u64, t: &Tracer) -> nix::Result<usize> {
    send_traced(fd, data, conn, t, true)
}

/// As [`send_recorded`], except that an `EAGAIN` is only counted as a system call (see
/// [`recv_unless_would_block`]).
pub fn send_unless_would_block(
    fd: RawFd,
    data: &[u8],
    conn: u64,
    t: &Tracer,
) -> nix::Result<usize> {
    send_traced(fd, data, conn, t, false)
}

fn send_traced(
    fd: RawFd,
    data: &[u8],
    conn: u64,
    t: &Tracer,
    record_would_block: bool,
) -> nix::Result<usize> {
    let enter = clock().now_ns();
    let entered = EventKind::SendEnter { fd, bytes: data.len() as u32 };
    if record_would_block {
        t.emit_at(enter, Some(conn), entered.clone());
    }
    // MSG_NOSIGNAL: a peer that went away must give EPIPE here, not kill the process.
    let result = send(fd, data, MsgFlags::MSG_NOSIGNAL);
    if !record_would_block {
        if matches!(result, Err(Errno::EAGAIN)) {
            t.count_syscalls(1);
            return result;
        }
        t.emit_at(enter, Some(conn), entered);
    }
    let outcome = match result {
        Ok(n) => SendOutcome::Sent { bytes: n as u32 },
        Err(Errno::EAGAIN) => SendOutcome::WouldBlock,
        Err(e) => SendOutcome::Error(sys_error(e)),
    };
    t.emit(Some(conn), EventKind::SendExit { fd, outcome });
    result
}

/// Sends all of `data` on a blocking socket, one recorded `send(2)` per call the kernel needs.
pub fn send_all(fd: RawFd, mut data: &[u8], conn: u64, t: &Tracer) -> Result<(), CloseReason> {
    while !data.is_empty() {
        match send_recorded(fd, data, conn, t) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(close_reason(e)),
        }
    }
    Ok(())
}

/// How a failed call ends a connection.
pub fn close_reason(e: Errno) -> CloseReason {
    match e {
        Errno::ECONNRESET | Errno::EPIPE => CloseReason::Reset,
        _ => CloseReason::Error,
    }
}

/// Closes a connection: stops tracking it, closes it, records why (`Stopped` if the model is
/// stopping, whatever ended it).
pub fn close_recorded(fd: OwnedFd, conn: u64, reason: CloseReason, t: &Tracer, stop: &StopSignal) {
    let raw = fd.as_raw_fd();
    let reason = if stop.is_stopped() { CloseReason::Stopped } else { reason };
    stop.untrack(&fd);
    drop(fd);
    t.emit(Some(conn), EventKind::Close { fd: raw, reason });
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
