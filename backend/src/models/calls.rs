//! Recorded system calls shared by the models.
//!
//! Each wrapper makes exactly one system call (or, for [`send_all`], one per call the kernel
//! needs) and records its entry and exit through the thread's [`Tracer`], so every model tells
//! its story with the same words. A model that must *not* record each call — the busy loop,
//! whose `EAGAIN`s are counted in bulk — calls nix directly and uses [`recv_stamped`].
//!
//! The kernel's receive timestamp (the end of phase 1) comes in a control message of
//! `recvmsg(2)`. [`StampedMsg`] is the one place that asks for it and reads it: the models that
//! call `recvmsg` themselves use it through [`recv_stamped`], and io_uring hands the same
//! message header to the kernel in its `IORING_OP_RECVMSG` requests.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use kettle_shared::{CloseReason, EventKind, RecvOutcome, SendOutcome};
use nix::errno::Errno;
use nix::sys::socket::{
    accept4, getpeername, send, setsockopt, sockopt, MsgFlags, SockFlag, SockaddrStorage,
    TimestampingFlag,
};

use super::{preview, sys_error, StopSignal};
use crate::clock::{clock, ClockPair};
use crate::recorder::Tracer;

/// One `accept4(2)` with `flags` (e.g. `SOCK_NONBLOCK`), recorded. On success [`Event::conn`]
/// of the exit event is `conn`. A failure goes to the caller's
/// [`AcceptPause::after_failure`](super::accept_pause::AcceptPause::after_failure), which says
/// so and pauses when it is for want of descriptors. After a stop the failure is expected (the
/// listener was shut down) and not recorded.
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
            let peer = peer_name(raw);
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
            let peer = peer_name(raw);
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

/// The peer address of an accepted connection (`getpeername(2)`), written as every model
/// reports it (`127.0.0.1:50412`), so a viewer can match it with its echo client's local
/// address. `None` if the peer is already gone.
pub fn peer_name(fd: RawFd) -> Option<String> {
    getpeername::<SockaddrStorage>(fd).ok().map(|a| a.to_string())
}

/// Records a failed `accept`.
fn record_accept_failure(e: Errno, t: &Tracer) {
    let error = Some(sys_error(e));
    t.emit(None, EventKind::AcceptExit { fd: None, peer: None, error });
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

/// Keeps the kernel's software receive timestamps switched on for as long as Kettle runs.
///
/// The kernel stamps incoming packets only while some socket on the machine has asked for
/// receive timestamps, and it switches the stamping on *a moment after* the first socket asks
/// (a deferred static key, `net_enable_timestamp`), and off again after the last one closes.
/// Without this, the first line a fresh Kettle receives — or any line on a machine where no
/// other socket wants stamps — arrives unstamped and its phases cannot be measured. One UDP
/// socket with `SO_TIMESTAMPING`, held until the process exits, keeps stamping on; it also
/// stamps data that reaches a connection before the server set the option on it. Returns once
/// the kernel stamps (see [`wait_until_stamped`]). Idempotent.
pub fn keep_receive_timestamps_on() {
    static KEEPER: std::sync::OnceLock<Option<OwnedFd>> = std::sync::OnceLock::new();
    KEEPER.get_or_init(|| {
        use nix::sys::socket::{socket, AddressFamily, SockType};
        let fd =
            socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).ok()?;
        let flags = TimestampingFlag::SOF_TIMESTAMPING_RX_SOFTWARE
            | TimestampingFlag::SOF_TIMESTAMPING_SOFTWARE;
        setsockopt(&fd, sockopt::Timestamping, &flags).ok()?;
        wait_until_stamped(&fd);
        Some(fd)
    });
}

/// How long [`wait_until_stamped`] waits at most. Without stamps Kettle still runs; only the
/// phases of the lines that arrive before stamping starts are unknown.
const STAMPING_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Sends the keeper datagrams over loopback until one arrives stamped. The kernel switches
/// stamping on from a work queue, after the first socket asked: on a quiet machine the first
/// datagram is stamped, on a busy one the work may wait its turn behind others, and a line a
/// client sends in that gap would arrive without its stamp.
fn wait_until_stamped(keeper: &OwnedFd) {
    use nix::sys::socket::{bind, getsockname, sendto, SockaddrIn};
    let fd = keeper.as_raw_fd();
    let Ok(addr) = bind(fd, &SockaddrIn::new(127, 0, 0, 1, 0)).and_then(|()| getsockname(fd))
    else {
        return;
    };
    let addr: SockaddrIn = addr;
    let deadline = std::time::Instant::now() + STAMPING_WAIT;
    let mut byte = [0u8; 1];
    while std::time::Instant::now() < deadline {
        let _ = sendto(fd, b"k", &addr, MsgFlags::empty());
        // Loopback delivers before `sendto` returns; an older, unstamped datagram may be read
        // first, and then the next round reads this one.
        if let Ok((_, Some(_))) = recv_stamped(fd, &mut byte, MsgFlags::MSG_DONTWAIT) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Bytes of control buffer for one `SCM_TIMESTAMPING` message (three timespecs: software,
/// and two hardware stamps that stay zero here).
const STAMP_CONTROL_BYTES: usize =
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    unsafe { libc::CMSG_SPACE((3 * std::mem::size_of::<libc::timespec>()) as u32) } as usize;

/// The message header of one `recvmsg(2)` into one buffer, with a control buffer for the
/// kernel's receive timestamp (`SCM_TIMESTAMPING`, asked for by [`prepare_connection`]).
///
/// The header points at the iovec and the control buffer inside this same value, and at the
/// caller's data buffer: [`StampedMsg::prepare`] sets those pointers, so from then until the
/// kernel is done with the header (the call returned, or io_uring's completion was reaped)
/// neither this value nor the data buffer may move or be freed. io_uring keeps it in the
/// connection's heap box for that reason.
#[derive(Debug)]
pub struct StampedMsg {
    hdr: libc::msghdr,
    iov: libc::iovec,
    /// `u64`s so the buffer is aligned for `cmsghdr`.
    control: [u64; STAMP_CONTROL_BYTES.div_ceil(8)],
}

impl Default for StampedMsg {
    fn default() -> StampedMsg {
        // SAFETY: msghdr and iovec are plain C structs; all zero (null pointers, zero lengths)
        // is a valid, empty value of each.
        unsafe { std::mem::zeroed() }
    }
}

impl StampedMsg {
    /// Points the header at `buf` (data) and at this value's own iovec and cleared control
    /// buffer, and returns it for `recvmsg(2)` or an `IORING_OP_RECVMSG` request. See the type's
    /// docs for how long both must then stay where they are.
    pub fn prepare(&mut self, buf: &mut [u8]) -> *mut libc::msghdr {
        self.control = Default::default();
        self.iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        self.hdr = StampedMsg::default().hdr;
        self.hdr.msg_iov = &raw mut self.iov;
        self.hdr.msg_iovlen = 1;
        self.hdr.msg_control = self.control.as_mut_ptr().cast();
        self.hdr.msg_controllen = std::mem::size_of_val(&self.control) as _;
        &raw mut self.hdr
    }

    /// After the kernel filled the header: when the data reached the socket, in ns on the
    /// events' axis, or `None` if the kernel sent no stamp. The kernel's stamp is
    /// `CLOCK_REALTIME`; `now` is both clocks read when the call returned
    /// ([`Clock::now_pair`](crate::clock::Clock::now_pair)), which converts it by its age, so a
    /// wall-clock step or a suspend since start changes nothing.
    pub fn arrival(&self, now: ClockPair) -> Option<u64> {
        // A header not prepared here, or moved since, points elsewhere: read nothing.
        let control = self.control.as_ptr().cast::<libc::c_void>();
        if self.hdr.msg_control.cast_const() != control
            || self.hdr.msg_flags & libc::MSG_CTRUNC != 0
        {
            return None;
        }
        // SAFETY: msg_control points at our own control buffer and msg_controllen is at most its
        // size (the kernel only lowers it), so the CMSG macros stay inside it; the data of an
        // SCM_TIMESTAMPING message is three timespecs, read unaligned as the kernel packs them.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&self.hdr);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPING {
                    let software =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                    // A zero software stamp means "not stamped" (only a hardware one was asked).
                    return (software.tv_sec != 0).then(|| {
                        clock().realtime_stamp_to_ns(software.tv_sec, software.tv_nsec, now)
                    });
                }
                c = libc::CMSG_NXTHDR(&self.hdr, c);
            }
        }
        None
    }
}

/// One `recvmsg(2)` without recording: bytes read and, when the kernel stamped them, when the
/// data reached the socket (ns on the events' axis).
pub fn recv_stamped(
    fd: RawFd,
    buf: &mut [u8],
    flags: MsgFlags,
) -> nix::Result<(usize, Option<u64>)> {
    recvmsg_stamped(fd, buf, flags).0
}

/// One `recvmsg(2)`: as [`recv_stamped`], and the instant it returned (ns on the events' axis),
/// the same instant the stamp was converted at.
fn recvmsg_stamped(
    fd: RawFd,
    buf: &mut [u8],
    flags: MsgFlags,
) -> (nix::Result<(usize, Option<u64>)>, u64) {
    let mut msg = StampedMsg::default();
    let hdr = msg.prepare(buf);
    // SAFETY: the header points into `msg` and `buf`, both alive and unmoved until it returns.
    let result = Errno::result(unsafe { libc::recvmsg(fd, hdr, flags.bits()) });
    let exit = clock().now_pair();
    (result.map(|n| (n as usize, msg.arrival(exit))), exit.mono_ns)
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
    let (result, exit) = recvmsg_stamped(fd, buf, flags);
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
                t.emit_at(*at, Some(conn), EventKind::DataArrived { fd, stamp: None });
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
    use super::*;

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

    #[test]
    fn a_stamped_recv_reads_when_the_kernel_received_the_data() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let server = OwnedFd::from(server);
        prepare_connection(&server);
        // When no socket on the machine wanted receive stamps, the kernel switches them on a
        // moment after the first one asks (a deferred static key), so the first bytes may come
        // unstamped. Try until one is stamped.
        for _ in 0..100 {
            let before = clock().now_ns();
            std::io::Write::write_all(&mut client, b"stamp").unwrap();
            let mut buf = [0u8; 16];
            let (n, arrival) =
                recv_stamped(server.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
            let after = clock().now_ns();
            assert_eq!(&buf[..n], b"stamp");
            if let Some(arrival) = arrival {
                // Clocks are converted, so allow a millisecond either side.
                let window = before.saturating_sub(1_000_000)..=after + 1_000_000;
                assert!(window.contains(&arrival), "{before} {arrival} {after}");
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("no receive stamp in a second with SO_TIMESTAMPING on");
    }

    #[test]
    fn an_unprepared_or_moved_message_reads_no_stamp() {
        let now = clock().now_pair();
        assert_eq!(StampedMsg::default().arrival(now), None);
        let mut buf = [0u8; 4];
        let mut msg = Box::new(StampedMsg::default());
        msg.prepare(&mut buf);
        let moved = StampedMsg { ..*msg };
        assert_eq!(moved.arrival(now), None);
    }
}
