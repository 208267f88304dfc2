//! Phase 1 of a traced program's `recv`, measured from the other end.
//!
//! A built-in model asks its own sockets for receive timestamps and knows to the nanosecond
//! when a line reached the socket. A traced program's sockets are not Kettle's to switch
//! stamping on. What Kettle owns is its echo client: the relay asks the kernel to stamp each
//! send on the client's socket (`SO_TIMESTAMPING` with `SOF_TIMESTAMPING_TX_SOFTWARE`: the
//! stamp is taken when the packet leaves for the device, and read back from the socket's error
//! queue). On loopback that device is the same kernel, and the bytes are in the server's
//! receive queue microseconds later, so the client's transmit stamp is the arrival, give or
//! take those microseconds — and the page says it was measured this way.
//!
//! [`Arrivals`] carries the stamps from the relay to the tracer thread, by the client's
//! address (the peer the program's `accept` reported). A line from any other client has no
//! stamp, and its phase 1 stays "not measured": never guessed.

use std::collections::{HashMap, VecDeque};
use std::os::fd::RawFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use kettle_shared::ArrivalStamp;

use crate::clock::clock;

/// How long the tracer waits, at a `recv`'s return, for the stamp of a line from Kettle's own
/// client that the relay has not handed over yet (it reads the stamp right after its `send`
/// returns; the program may have read the line already). The program is stopped meanwhile.
pub const STAMP_LATE_BY: Duration = Duration::from_millis(5);

/// Stamps kept per client at most: a client whose lines nobody reads cannot grow the map.
const KEPT_PER_CLIENT: usize = 64;

/// The arrivals known for the traced program's connections, by peer address
/// (`"127.0.0.1:40222"`, as the program's `accept` reported it), from two sources: the kernel's
/// own data-ready of the program's socket ([`super::ready`], as root) and the transmit stamps
/// of Kettle's echo clients. The kernel's word is taken when there is one.
#[derive(Debug, Default)]
pub struct Arrivals {
    stamps: Mutex<Stamps>,
    stamped: Condvar,
}

#[derive(Debug, Default)]
struct Stamps {
    /// Kettle's clients' sends not yet matched to a `recv`, oldest first, in ns on the events'
    /// axis.
    sent: HashMap<String, VecDeque<u64>>,
    /// The kernel's data-ready instants of the program's connections, likewise.
    ready: HashMap<String, VecDeque<u64>>,
    /// Whether the kernel's word is being read, and up to when it has been read: a `recv` that
    /// returned before that and found no data-ready will find none by waiting.
    kernel_read_to: Option<u64>,
    /// The ports the program listens on in this run: the kernel's data-ready of other sockets
    /// is not the program's.
    ports: Vec<u16>,
}

/// Pushes `t` onto `q`, dropping the oldest beyond [`KEPT_PER_CLIENT`].
fn keep(q: &mut VecDeque<u64>, t: u64) {
    if q.len() == KEPT_PER_CLIENT {
        q.pop_front();
    }
    q.push_back(t);
}

/// The earliest of `q`'s instants by `t_exit`, all of them used up.
fn take_by(q: &mut VecDeque<u64>, t_exit: u64) -> Option<u64> {
    let first = *q.front().filter(|&&t| t <= t_exit)?;
    while q.front().is_some_and(|&t| t <= t_exit) {
        q.pop_front();
    }
    Some(first)
}

/// Connections of the program whose kernel stamps are kept at most: a program with thousands
/// of connections keeps the newest.
const KEPT_CONNECTIONS: usize = 4096;

impl Arrivals {
    fn lock(&self) -> std::sync::MutexGuard<'_, Stamps> {
        self.stamps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kettle's echo client at `client` connects: its lines will be stamped. The client is
    /// forgotten when the returned guard is dropped.
    pub fn stamped_client(self: &Arc<Self>, client: &str) -> StampedClient {
        self.client_connected(client);
        StampedClient { arrivals: self.clone(), client: client.to_owned() }
    }

    fn client_connected(&self, client: &str) {
        self.lock().sent.entry(client.to_owned()).or_default();
    }

    /// The client is gone; its stamps with it.
    fn client_closed(&self, client: &str) {
        self.lock().sent.remove(client);
    }

    /// The client's line left at `t_ns`.
    pub fn sent(&self, client: &str, t_ns: u64) {
        if let Some(q) = self.lock().sent.get_mut(client) {
            keep(q, t_ns);
            self.stamped.notify_all();
        }
    }

    /// The kernel's word is read from now on ([`super::ready`]), or no longer (`false`).
    /// Also the start of a run: its ports are not known yet.
    pub fn kernel_reading(&self, on: bool) {
        let mut s = self.lock();
        s.kernel_read_to = on.then_some(0);
        s.ready.clear();
        s.ports.clear();
    }

    /// The program listens on `port` (in this run).
    pub fn listening(&self, port: u16) {
        let mut s = self.lock();
        if !s.ports.contains(&port) {
            s.ports.push(port);
        }
    }

    /// The kernel reported data ready at `t_ns` on a connection from `peer` to local `port`:
    /// kept if the port is one the program listens on.
    pub fn kernel_ready(&self, port: u16, peer: &str, t_ns: u64) {
        let mut s = self.lock();
        if !s.ports.contains(&port) {
            return;
        }
        if !s.ready.contains_key(peer) && s.ready.len() >= KEPT_CONNECTIONS {
            return;
        }
        keep(s.ready.entry(peer.to_owned()).or_default(), t_ns);
        self.stamped.notify_all();
    }

    /// The kernel's word has been read up to `t_ns` (the reader found its buffer empty then).
    pub fn kernel_read_to(&self, t_ns: u64) {
        let mut s = self.lock();
        if let Some(to) = s.kernel_read_to.as_mut() {
            *to = (*to).max(t_ns);
            self.stamped.notify_all();
        }
    }

    /// The program closed its connection from `peer`: its kernel stamps go.
    pub fn connection_closed(&self, peer: &str) {
        self.lock().ready.remove(peer);
    }

    /// When the bytes a `recv` on the connection from `peer` returned at `t_exit` arrived, and
    /// who says so: the earliest data-ready by then (a `recv` may return several lines; its
    /// first byte ended phase 1), else the earliest of Kettle's client's sends; all of those by
    /// then used up. `None` when neither knows — within [`STAMP_LATE_BY`] of waiting for a
    /// stamp that may still come.
    /// Without `patient`, no waiting: only what is there already.
    pub fn arrival(&self, peer: &str, t_exit: u64, patient: bool) -> Option<(u64, ArrivalStamp)> {
        let wait = if patient { STAMP_LATE_BY } else { Duration::ZERO };
        self.arrival_within(peer, t_exit, wait)
    }

    fn arrival_within(
        &self,
        peer: &str,
        t_exit: u64,
        wait: Duration,
    ) -> Option<(u64, ArrivalStamp)> {
        let stamps = self.lock();
        let has =
            |q: Option<&VecDeque<u64>>| q.and_then(|q| q.front()).is_some_and(|&t| t <= t_exit);
        let (mut s, _) = self
            .stamped
            .wait_timeout_while(stamps, wait, |s| {
                // Wait while no data-ready is there and a source that could still speak has
                // not: the kernel's reader not yet past the call's return, or Kettle's client
                // (the relay reads its stamp right after its send).
                let kernel_may_come = s.kernel_read_to.is_some_and(|to| to < t_exit);
                let client_may_come = s.sent.contains_key(peer) && !has(s.sent.get(peer));
                !has(s.ready.get(peer)) && (kernel_may_come || client_may_come)
            })
            .unwrap_or_else(|p| p.into_inner());
        let client = s.sent.get_mut(peer).and_then(|q| take_by(q, t_exit));
        let kernel = s.ready.get_mut(peer).and_then(|q| take_by(q, t_exit));
        match (kernel, client) {
            (Some(t), _) => Some((t, ArrivalStamp::KernelReady)),
            (None, Some(t)) => Some((t, ArrivalStamp::ClientSend)),
            (None, None) => None,
        }
    }
}

/// One of Kettle's echo clients whose sends are stamped ([`Arrivals::stamped_client`]).
#[derive(Debug)]
pub struct StampedClient {
    arrivals: Arc<Arrivals>,
    client: String,
}

impl StampedClient {
    /// The client's line left at `t_ns` (its transmit stamp).
    pub fn sent(&self, t_ns: u64) {
        self.arrivals.sent(&self.client, t_ns);
    }
}

impl Drop for StampedClient {
    fn drop(&mut self) {
        self.arrivals.client_closed(&self.client);
    }
}

/// Asks the kernel to stamp every send on `fd` in software, stamp only (`OPT_TSONLY`: the
/// error queue gets the stamp, not a copy of the bytes).
pub fn stamp_sends(fd: RawFd) -> std::io::Result<()> {
    let flags: libc::c_uint = libc::SOF_TIMESTAMPING_TX_SOFTWARE
        | libc::SOF_TIMESTAMPING_SOFTWARE
        | libc::SOF_TIMESTAMPING_OPT_TSONLY;
    // SAFETY: setsockopt reads `size_of::<c_uint>()` bytes from a live local.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPING,
            (&raw const flags).cast(),
            std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The stamp of the latest send on `fd` the kernel has reported, on the events' axis; the
/// error queue is read empty. `None` if it holds none (yet).
pub fn last_send_stamp(fd: RawFd) -> Option<u64> {
    let mut latest = None;
    // A few reports at most: one per send since the last read.
    for _ in 0..64 {
        match read_error_queue(fd) {
            Ok(Some(t)) => latest = Some(t),
            Ok(None) => continue,
            Err(_) => break,
        }
    }
    latest
}

/// One report from `fd`'s error queue: `Ok(Some(stamp))` for a software transmit stamp,
/// `Ok(None)` for a report without one, `Err` when the queue is empty.
fn read_error_queue(fd: RawFd) -> Result<Option<u64>, nix::errno::Errno> {
    // Room for SCM_TIMESTAMPING (three timespecs) and IP_RECVERR (sock_extended_err and the
    // offender's address), in u64s for cmsghdr's alignment.
    let mut control = [0u64; 32];
    let mut data = [0u8; 1];
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
    // SAFETY: an all-zero msghdr is valid; its pointers are set to live locals below.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &raw mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = control.as_mut_ptr().cast();
    hdr.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: the header and everything it points at live until the call returns.
    let n = unsafe { libc::recvmsg(fd, &mut hdr, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    let now = clock().now_pair();
    if n < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: the kernel set msg_controllen within our buffer; the CMSG macros stay inside it
    // and the timestamps are read unaligned, as the kernel packs them.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&hdr);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPING {
                let software =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                if software.tv_sec != 0 {
                    let t = clock().realtime_stamp_to_ns(software.tv_sec, software.tv_nsec, now);
                    return Ok(Some(t));
                }
            }
            c = libc::CMSG_NXTHDR(&hdr, c);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn a_stamped_send_on_loopback_is_stamped_between_the_call_and_its_return() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        stamp_sends(client.as_raw_fd()).unwrap();
        let before = clock().now_ns();
        client.write_all(b"hello\n").unwrap();
        let after = clock().now_ns();
        let stamp = last_send_stamp(client.as_raw_fd()).expect("the kernel stamped the send");
        // The stamp is CLOCK_REALTIME converted by its age: allow the conversion's jitter.
        let slack = 200_000;
        assert!(stamp + slack >= before && stamp <= after + slack, "{before} {stamp} {after}");
        let mut got = [0u8; 6];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello\n", "the stamp did not take the bytes");
        assert_eq!(last_send_stamp(client.as_raw_fd()), None, "the queue was read empty");
    }

    #[test]
    fn a_recv_gets_the_first_send_it_returned_and_other_clients_get_none() {
        let a = Arc::new(Arrivals::default());
        let client = a.stamped_client("127.0.0.1:1");
        a.sent("127.0.0.1:1", 100);
        a.sent("127.0.0.1:1", 150);
        a.sent("127.0.0.1:1", 900);
        let sent = |t| Some((t, ArrivalStamp::ClientSend));
        assert_eq!(a.arrival("127.0.0.1:1", 200, true), sent(100), "two lines in one recv");
        assert_eq!(a.arrival("127.0.0.1:1", 1000, true), sent(900));
        assert_eq!(a.arrival("127.0.0.1:2", 1000, true), None, "not Kettle's client: not measured");
        // Kettle's client, but no stamp came: not measured either (after a short wait).
        assert_eq!(a.arrival("127.0.0.1:1", 2000, true), None);
        drop(client);
        a.sent("127.0.0.1:1", 3000);
        assert_eq!(a.arrival("127.0.0.1:1", 4000, true), None);
    }

    #[test]
    fn the_kernels_word_is_taken_over_the_clients_and_covers_every_client() {
        let a = Arc::new(Arrivals::default());
        a.kernel_reading(true);
        a.listening(9000);
        let _kettles = a.stamped_client("127.0.0.1:1");
        a.sent("127.0.0.1:1", 100);
        a.kernel_ready(9000, "127.0.0.1:1", 104);
        a.kernel_ready(9000, "127.0.0.1:2", 300);
        a.kernel_ready(7878, "127.0.0.1:4", 300);
        assert!(!a.lock().ready.contains_key("127.0.0.1:4"), "not the program's port");
        a.kernel_read_to(1000);
        assert_eq!(a.arrival("127.0.0.1:1", 500, true), Some((104, ArrivalStamp::KernelReady)));
        assert_eq!(
            a.arrival("127.0.0.1:2", 500, true),
            Some((300, ArrivalStamp::KernelReady)),
            "any client's line, with the kernel's word"
        );
        // Read past the call's return and nothing for this peer: no wait, not measured.
        assert_eq!(a.arrival_within("127.0.0.1:3", 900, Duration::from_secs(60)), None);
        a.connection_closed("127.0.0.1:2");
        a.kernel_reading(false);
        assert_eq!(a.arrival("127.0.0.1:2", 2000, true), None);
    }

    #[test]
    fn an_impatient_lookup_takes_what_is_there_without_waiting_for_the_kernel() {
        let a = Arc::new(Arrivals::default());
        // Read up to 0: the kernel's word on a recv at 500 could still come.
        a.kernel_reading(true);
        let _kettles = a.stamped_client("c");
        a.sent("c", 100);
        assert_eq!(a.arrival("c", 500, false), Some((100, ArrivalStamp::ClientSend)));
        assert_eq!(a.arrival("stranger", 500, false), None);
    }

    #[test]
    fn a_stamp_that_comes_a_moment_late_is_waited_for() {
        let a = Arc::new(Arrivals::default());
        let _c = a.stamped_client("c");
        let late = std::thread::spawn({
            let a = a.clone();
            move || {
                std::thread::sleep(Duration::from_millis(1));
                a.sent("c", 10);
            }
        });
        // However busy the machine, the sender runs within the minute.
        let found = a.arrival_within("c", 20, Duration::from_secs(60));
        assert_eq!(found, Some((10, ArrivalStamp::ClientSend)));
        late.join().unwrap();
    }
}
