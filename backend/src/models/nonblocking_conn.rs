//! One non-blocking echo connection, as every one-thread model holds it.
//!
//! The busy loop, `select`, `poll`, the three epoll models and `sigio` serve every client
//! from one thread. That thread must never sleep in one client's `recv` or `send`, or all the
//! others would wait: every connection is non-blocking (`O_NONBLOCK`), and its calls return at
//! once — with data, with what the kernel took, or with `EAGAIN`.
//!
//! ## What `EAGAIN` on `send` means
//!
//! A `send` does not put bytes on the wire; it copies them into the socket's *send buffer* in
//! the kernel, which TCP empties as the client acknowledges them. A client that does not read
//! stops acknowledging, the buffer fills, and a non-blocking `send` then takes only part of
//! the reply (a short send) or nothing at all (`EAGAIN`, "try again"). Either way the buffer is
//! full, and the kernel has marked the socket so that room brings news: `POLLOUT` to
//! `select`/`poll`, an `EPOLLOUT` edge to epoll, a signal to `sigio`. So [`NonBlockingConn::flush`]
//! stops at the first send the kernel does not take whole, and the bytes left wait in the
//! connection's output buffer until then.
//!
//! ## Why the output must be bounded
//!
//! The output buffer lives in the server's memory. If the server kept reading from a client
//! that never reads its replies, that buffer would grow without end: one client could take all
//! the server's memory. So a connection stops being read while [`OUTPUT_BOUND`] bytes or more
//! wait ([`NonBlockingConn::wants_read`]): the client's next bytes then stay in the kernel's
//! receive buffer, which fills, and TCP flow control tells the client to stop sending. A
//! connection holds at most `OUTPUT_BOUND - 1 + RECV_BYTES` bytes, and the other clients are
//! served as before.
//!
//! Each model keeps the calls that are its lesson — which readiness call says when to use this
//! connection, and how often (one `recv` per report, or until `EAGAIN`) — and uses the same
//! connection for the reading and writing.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use kettle_shared::{CloseReason, EventKind};
use nix::errno::Errno;
use nix::sys::socket::MsgFlags;

use super::calls::{close_reason, close_recorded, recv_recorded, recv_unless_would_block};
use super::calls::{send_recorded, send_unless_would_block};
use super::{upper, StopSignal, RECV_BYTES};
use crate::recorder::Tracer;

/// Reply bytes a connection may hold for a client that does not read: at this many or more,
/// the server stops reading from that client.
pub const OUTPUT_BOUND: usize = 64 * 1024;

/// The output buffer is compacted once this much of it has been sent, so a backlog that is
/// sent a piece at a time does not slide along a growing buffer forever.
const COMPACT_AFTER: usize = 16 * RECV_BYTES;

/// What one `recv` on a connection came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Bytes were read, upper-cased and queued for sending.
    Data(usize),
    /// Nothing to read now (`EAGAIN`).
    WouldBlock,
    /// The peer shut down its side.
    Eof,
}

/// An accepted, non-blocking connection and the reply bytes the kernel has not taken yet.
#[derive(Debug)]
pub struct NonBlockingConn {
    fd: OwnedFd,
    id: u64,
    /// Upper-cased bytes not sent yet: `out[sent..]`.
    out: Vec<u8>,
    sent: usize,
    /// The peer shut down its side (`recv` returned 0): finish the echo, then close.
    eof: bool,
}

impl NonBlockingConn {
    /// Connection number `id` on `fd`, which must be non-blocking.
    pub fn new(fd: OwnedFd, id: u64) -> NonBlockingConn {
        NonBlockingConn { fd, id, out: Vec::new(), sent: 0, eof: false }
    }

    /// Its number in the events.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Its descriptor number.
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Its descriptor, borrowed for a readiness call.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reply bytes waiting for room in the socket's send buffer.
    pub fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Whether to read from it: the client may still send, and fewer than [`OUTPUT_BOUND`]
    /// reply bytes wait.
    pub fn wants_read(&self) -> bool {
        !self.eof && self.pending() < OUTPUT_BOUND
    }

    /// Whether reply bytes wait for room in the socket's send buffer.
    pub fn wants_write(&self) -> bool {
        self.pending() > 0
    }

    /// The client has finished sending and everything was echoed: time to close.
    pub fn finished(&self) -> bool {
        self.eof && self.pending() == 0
    }

    // kettle:code-begin conn-receive
    /// One `recv` of at most [`RECV_BYTES`]; data is upper-cased into the output buffer. `Err`
    /// means the connection failed. With a `tally` (the busy loop), an `EAGAIN` is counted
    /// there instead of recorded.
    pub fn receive(
        &mut self,
        t: &Tracer,
        mut tally: Option<&mut WouldBlockTally>,
    ) -> Result<Received, CloseReason> {
        let mut buf = [0u8; RECV_BYTES];
        let fd = self.raw();
        loop {
            let got = match tally.as_deref_mut() {
                None => recv_recorded(fd, &mut buf, MsgFlags::MSG_DONTWAIT, self.id, t),
                Some(_) => recv_unless_would_block(fd, &mut buf, self.id, t),
            };
            return match got {
                Ok(0) => {
                    self.eof = true;
                    Ok(Received::Eof)
                }
                Ok(n) => {
                    upper(&mut buf[..n]);
                    self.out.extend_from_slice(&buf[..n]);
                    Ok(Received::Data(n))
                }
                Err(Errno::EAGAIN) => {
                    if let Some(tally) = tally {
                        tally.recv += 1;
                    }
                    Ok(Received::WouldBlock)
                }
                Err(Errno::EINTR) => continue,
                Err(e) => Err(close_reason(e)),
            };
        }
    }
    // kettle:code-end conn-receive

    // kettle:code-begin conn-flush
    /// Sends the output buffer until it is empty or the kernel takes less than offered (its
    /// send buffer is full: see the module docs). Makes no call when nothing waits. `Err`
    /// means the connection failed.
    pub fn flush(
        &mut self,
        t: &Tracer,
        mut tally: Option<&mut WouldBlockTally>,
    ) -> Result<(), CloseReason> {
        while self.pending() > 0 {
            let (fd, rest) = (self.raw(), &self.out[self.sent..]);
            let sent = match tally.as_deref_mut() {
                None => send_recorded(fd, rest, self.id, t),
                Some(_) => send_unless_would_block(fd, rest, self.id, t),
            };
            match sent {
                Ok(n) => {
                    let whole = n == rest.len();
                    self.sent += n;
                    if !whole {
                        break;
                    }
                }
                Err(Errno::EAGAIN) => {
                    if let Some(tally) = tally {
                        tally.send += 1;
                    }
                    break;
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(close_reason(e)),
            }
        }
        if self.pending() == 0 {
            self.out.clear();
            self.sent = 0;
        } else if self.sent > COMPACT_AFTER {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }
    // kettle:code-end conn-flush

    /// Stops tracking, closes and records it.
    pub fn close(self, reason: CloseReason, t: &Tracer, stop: &StopSignal) {
        close_recorded(self.fd, self.id, reason, t, stop);
    }
}

/// How often the busy loop reports its `EAGAIN`s.
pub const BURST_WINDOW: Duration = Duration::from_millis(100);

/// The busy loop's `EAGAIN`s, counted rather than recorded one by one (it makes thousands a
/// second), per call, over one [`BURST_WINDOW`].
#[derive(Debug)]
pub struct WouldBlockTally {
    accept: u64,
    recv: u64,
    send: u64,
    since: Instant,
}

impl Default for WouldBlockTally {
    fn default() -> Self {
        WouldBlockTally { accept: 0, recv: 0, send: 0, since: Instant::now() }
    }
}

impl WouldBlockTally {
    /// One more `EAGAIN` from `accept`.
    pub fn accept(&mut self) {
        self.accept += 1;
    }

    /// Once per window: one [`EventKind::WouldBlockBurst`] per call that returned `EAGAIN`.
    pub fn report_if_due(&mut self, t: &Tracer) {
        if self.since.elapsed() < BURST_WINDOW {
            return;
        }
        for (call, count) in [("accept", self.accept), ("recv", self.recv), ("send", self.send)] {
            if count > 0 {
                t.emit(None, EventKind::WouldBlockBurst { call: call.into(), count });
            }
        }
        *self = WouldBlockTally::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    /// A connection on one end of a non-blocking socket pair, and the client's end.
    fn pair() -> (NonBlockingConn, UnixStream) {
        let (server, client) = UnixStream::pair().unwrap();
        server.set_nonblocking(true).unwrap();
        (NonBlockingConn::new(OwnedFd::from(server), 1), client)
    }

    /// A tracer, and the runtime its recorder's pump runs on.
    fn tracer() -> (tokio::runtime::Runtime, Tracer) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let recorder = {
            let _inside = rt.enter();
            crate::recorder::Recorder::start()
        };
        (rt, recorder.tracer("test", "test"))
    }

    #[test]
    fn a_line_is_received_upper_cased_and_flushed_whole() {
        let (mut c, mut client) = pair();
        let (_rt, t) = tracer();
        client.write_all(b"hello").unwrap();
        assert_eq!(c.receive(&t, None), Ok(Received::Data(5)));
        assert!(c.wants_write());
        c.flush(&t, None).unwrap();
        assert!(!c.wants_write());
        let mut back = [0u8; 5];
        client.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"HELLO");
        assert_eq!(c.receive(&t, None), Ok(Received::WouldBlock));
    }

    #[test]
    fn a_client_that_never_reads_stops_being_read_at_the_bound() {
        let (mut c, mut client) = pair();
        client.set_nonblocking(true).unwrap();
        let (_rt, t) = tracer();
        let chunk = [b'x'; RECV_BYTES];
        // The client sends far more than both kernel buffers and the bound can hold.
        let mut offered = 0;
        while c.wants_read() {
            while client.write(&chunk).is_ok() {
                offered += chunk.len();
            }
            while c.wants_read() && matches!(c.receive(&t, None), Ok(Received::Data(_))) {
                c.flush(&t, None).unwrap();
            }
            assert!(offered < 64 * OUTPUT_BOUND, "never reached the bound");
        }
        assert!(c.pending() >= OUTPUT_BOUND, "{}", c.pending());
        assert!(c.pending() < OUTPUT_BOUND + RECV_BYTES, "{}", c.pending());
        // The kernel takes no more: a flush leaves the rest where it is.
        let before = c.pending();
        c.flush(&t, None).unwrap();
        assert_eq!(c.pending(), before);
    }

    #[test]
    fn end_of_file_finishes_the_connection_once_everything_is_echoed() {
        let (mut c, mut client) = pair();
        let (_rt, t) = tracer();
        client.write_all(b"bye").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(c.receive(&t, None), Ok(Received::Data(3)));
        assert_eq!(c.receive(&t, None), Ok(Received::Eof));
        assert!(!c.finished() && !c.wants_read(), "the echo is still owed");
        c.flush(&t, None).unwrap();
        assert!(c.finished());
    }

    #[test]
    fn the_busy_loop_counts_its_eagains_instead_of_recording_them() {
        let (mut c, _client) = pair();
        let (_rt, t) = tracer();
        let mut tally = WouldBlockTally::default();
        for _ in 0..3 {
            assert_eq!(c.receive(&t, Some(&mut tally)), Ok(Received::WouldBlock));
        }
        assert_eq!(tally.recv, 3);
    }
}
