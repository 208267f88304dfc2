//! The load's clients: one thread, one epoll instance, every connection non-blocking.
//!
//! The generator shares the machine with the server it measures, so it must cost as little
//! as it can: one OS thread (never a tokio worker of the web server) waits in `epoll_wait`
//! (through `mio`, edge-triggered) for whichever of its connections can move, reads and writes
//! each until `EAGAIN`, and checks every echoed byte as it arrives ([`super::line`]). A
//! thousand connections cost a thousand descriptors and a few hundred bytes each, not a
//! thousand threads.
//!
//! - **Connecting in waves.** A listener queues at most its backlog of finished handshakes;
//!   beyond that the kernel drops SYNs and the client retries a second later. So at most
//!   [`CONNECT_WAVE`] connections are in flight at once — connecting, or open and not yet
//!   answered (up to [`SETTLE`]). No line is sent until the ramp is over (every connection
//!   open or failed, none opened for [`SETTLE`], or a quarter of the run gone): a server is
//!   measured serving, not accepting; `ECONNREFUSED`/`EAGAIN` are retried
//!   after a doubling pause, [`CONNECT_TRIES`] times, then the connection counts as failed.
//! - **Closed loop**: each connection sends its next line when the echo of the last one is
//!   complete. **Open loop**: lines fall due at `rate` a second, handed to the open
//!   connections in turn; a line due on a connection whose last lines are not echoed yet
//!   queues behind them (in the kernel's buffers, then in ours, up to a bound).
//! - **Stops by itself** after the duration, when the [`super::StopToken`] is stopped, or when
//!   no connection is left.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kettle_shared::{LoadReport, LoadSpec, Reason};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::latency::Latencies;
use super::line::{EchoCheck, LineBytes};
use super::StopToken;
use crate::failure::io_errno;

/// How often a report is made.
pub const REPORT_EVERY: Duration = Duration::from_millis(500);
/// Connects in flight at once: well inside a listener's backlog ([`crate::models::LISTEN_BACKLOG`]).
pub const CONNECT_WAVE: usize = 64;
/// How long an open connection counts against the wave if the server never answers it (a
/// server that serves one client at a time, or an open-loop line not yet due).
const SETTLE: Duration = Duration::from_secs(1);
/// Attempts to connect one connection before it counts as failed.
pub const CONNECT_TRIES: u32 = 6;
/// The pause before the first retry of a refused connect; it doubles with each retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// Bytes one connection may have waiting in user space (open loop; the kernel's buffers hold
/// more). A line due on a full connection goes to the next one.
const MAX_WAITING_PER_CONN: usize = 256 * 1024;
/// The longest `epoll_wait`, so a stop is seen promptly even when nothing moves.
const LONGEST_WAIT: Duration = Duration::from_millis(50);
/// Bytes read at once.
const READ_CHUNK: usize = 64 * 1024;

/// What one run is asked to do.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The load (its `secs` is what reports say; `duration` is what runs).
    pub spec: LoadSpec,
    /// How long to run (normally `spec.secs`; the bench's short form runs for less).
    pub duration: Duration,
    /// The descriptor limit the process got, for the reports.
    pub nofile_limit: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not tried yet.
    Fresh,
    /// Refused; tried again at this instant.
    Retry {
        at: Instant,
        tries: u32,
    },
    /// `connect` in flight.
    Connecting {
        tries: u32,
    },
    Open,
    /// Failed or ended by the server; never used again.
    Ended,
}

#[derive(Debug)]
struct Conn {
    stream: Option<TcpStream>,
    state: State,
    /// Bytes queued to send, from `tx_off` on.
    tx: Vec<u8>,
    tx_off: usize,
    /// Lines queued so far.
    queued: u64,
    /// When each line queued and not yet echoed was due, in ns since the start.
    due_ns: VecDeque<u64>,
    check: EchoCheck,
}

/// Running totals of one load.
#[derive(Debug, Default)]
struct Totals {
    open: u32,
    connecting: usize,
    failed: u32,
    lines: u64,
    bytes: u64,
    mismatches: u64,
    latencies: Latencies,
    /// Why the last connection that failed or ended did.
    last_failure: Option<Reason>,
}

/// Runs one load against `addr` (already checked to be a model's port by the caller, through
/// [`super::Target`]) until it ends, calling `on_report` about every [`REPORT_EVERY`]; returns
/// the final report (`finished: true`; `ended_by` says why it ended early, if it did).
pub fn run(
    addr: SocketAddr,
    settings: &Settings,
    stop: &StopToken,
    mut on_report: impl FnMut(&LoadReport),
) -> std::io::Result<LoadReport> {
    let mut load = Load::new(addr, settings)?;
    let mut events = Events::with_capacity(1024);
    let deadline = load.start + settings.duration;
    let mut next_report = load.start + REPORT_EVERY;
    let ended_by = loop {
        let now = Instant::now();
        if let Some(reason) = stop.reason() {
            break Some(reason);
        }
        if now >= deadline {
            break None;
        }
        load.connect_wave(now)?;
        load.start_traffic_once_ramped(now);
        let next_due = load.hand_out_due_lines(now);
        if now >= next_report {
            on_report(&load.report(false, None));
            next_report = (next_report + REPORT_EVERY).max(now);
        }
        if load.nothing_left() {
            break Some(load.t.last_failure.clone().unwrap_or(Reason::ServerClosed));
        }
        let wake = load.wake_at(now, deadline.min(next_report), next_due);
        match load.poll.poll(&mut events, Some(wake.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            load.on_event(ev);
        }
    };
    Ok(load.finish(ended_by))
}

/// Nanoseconds in a second, for the open loop's arithmetic.
const NS_PER_S: u128 = 1_000_000_000;

/// One load under way: its connections, its totals, and where the ramp and the open loop are.
struct Load<'a> {
    addr: SocketAddr,
    settings: &'a Settings,
    poll: Poll,
    conns: Vec<Conn>,
    t: Totals,
    /// Connections tried so far, in order; the rest have never been tried.
    fresh: usize,
    /// Connections waiting to retry a refused connect.
    retries: Vec<usize>,
    /// Open, and not yet answered by the server: (connection, when it opened).
    unsettled: Vec<(usize, Instant)>,
    /// Open loop: lines handed out so far.
    issued: u64,
    /// Open loop: the next connection to offer a line.
    turn: usize,
    /// Open loop: connections given a line this turn, to flush.
    dirty: Vec<usize>,
    /// When the lines started: once the ramp is over (every connection open or failed, or
    /// none opened for SETTLE), so the servers' lines/s are not measured while they accept.
    traffic_from: Option<Instant>,
    last_opened: Instant,
    buf: Vec<u8>,
    start: Instant,
}

impl<'a> Load<'a> {
    fn new(addr: SocketAddr, settings: &'a Settings) -> std::io::Result<Load<'a>> {
        let size = settings.spec.size;
        let conns = (0..settings.spec.conns)
            .map(|i| Conn {
                stream: None,
                state: State::Fresh,
                tx: Vec::new(),
                tx_off: 0,
                queued: 0,
                due_ns: VecDeque::new(),
                check: EchoCheck::new(i, size),
            })
            .collect();
        let now = Instant::now();
        Ok(Load {
            addr,
            settings,
            poll: Poll::new()?,
            conns,
            t: Totals::default(),
            fresh: 0,
            retries: Vec::new(),
            unsettled: Vec::new(),
            issued: 0,
            turn: 0,
            dirty: Vec::new(),
            traffic_from: None,
            last_opened: now,
            buf: vec![0u8; READ_CHUNK],
            start: now,
        })
    }

    fn ns_since_start(&self, at: Instant) -> u64 {
        at.duration_since(self.start).as_nanos() as u64
    }

    /// Connects in waves: retries that are due first, then connections never tried. A
    /// connection is off the wave once the server has answered it (its first echo) or after
    /// SETTLE: a handshake the kernel completed may still sit in the accept queue, and
    /// connecting faster than the server accepts overflows that queue (SYNs dropped, each
    /// retried a second later).
    fn connect_wave(&mut self, now: Instant) -> std::io::Result<()> {
        let conns = &self.conns;
        self.unsettled.retain(|&(i, at)| {
            conns[i].state == State::Open && conns[i].check.lines() == 0 && now < at + SETTLE
        });
        // During the ramp no line is sent, so no connection is answered: only the
        // handshakes in flight count.
        let in_wave = if self.traffic_from.is_some() { self.unsettled.len() } else { 0 };
        while self.t.connecting + in_wave < CONNECT_WAVE {
            let Some((i, tries)) = self.next_to_connect(now) else { break };
            let (poll, conns) = (&self.poll, &mut self.conns);
            start_connect(poll, self.addr, conns, i, tries, &mut self.t, &mut self.retries)?;
        }
        Ok(())
    }

    /// The next connection to try and the tries it has had: a retry that is due, else one
    /// never tried, else none.
    fn next_to_connect(&mut self, now: Instant) -> Option<(usize, u32)> {
        loop {
            let conns = &self.conns;
            let due = self
                .retries
                .iter()
                .position(|&i| matches!(conns[i].state, State::Retry { at, .. } if at <= now));
            match due {
                Some(k) => {
                    let i = self.retries.swap_remove(k);
                    if let State::Retry { tries, .. } = self.conns[i].state {
                        return Some((i, tries));
                    }
                }
                None if self.fresh < self.conns.len() => {
                    self.fresh += 1;
                    return Some((self.fresh - 1, 0));
                }
                None => return None,
            }
        }
    }

    /// Starts the lines once the ramp is over: every connection is open or failed, or no more
    /// open (a server that stopped accepting). Closed loop: every open connection sends its
    /// first line. A ramp that drags on (a server that accepts slowly, ephemeral ports
    /// scarce) ends after a quarter of the run anyway; the rest start as they open.
    fn start_traffic_once_ramped(&mut self, now: Instant) {
        let ramped =
            self.fresh == self.conns.len() && self.t.connecting == 0 && self.retries.is_empty();
        let dragging =
            now >= self.last_opened + SETTLE || now >= self.start + self.settings.duration / 4;
        if self.traffic_from.is_some() || self.t.open == 0 || !(ramped || dragging) {
            return;
        }
        self.traffic_from = Some(now);
        if self.settings.spec.rate.is_some() {
            return;
        }
        let now_ns = self.ns_since_start(now);
        for i in 0..self.conns.len() {
            if self.conns[i].state == State::Open {
                queue_line(&mut self.conns[i], i as u32, self.settings.spec.size, now_ns);
                flush(&self.poll, &mut self.conns, i, &mut self.t);
            }
        }
    }

    /// Open loop: hands out the lines due by `now`, each to the next open connection with
    /// room for it; returns when the next line falls due (`None` in a closed loop, before
    /// the traffic starts, or while lines are still owed).
    fn hand_out_due_lines(&mut self, now: Instant) -> Option<Instant> {
        let (Some(rate), Some(s0)) = (self.settings.spec.rate, self.traffic_from) else {
            return None;
        };
        let rate = u128::from(rate);
        let size = self.settings.spec.size;
        let n = self.conns.len();
        // Line k falls due k/rate seconds after the traffic started.
        let due_at = |k: u64| s0 + Duration::from_nanos((u128::from(k) * NS_PER_S / rate) as u64);
        let due = (now.duration_since(s0).as_nanos() * rate / NS_PER_S) as u64;
        let mut offered = 0usize;
        while self.issued < due && offered < n {
            let i = self.turn;
            self.turn = (self.turn + 1) % n;
            let c = &self.conns[i];
            let waiting = c.tx.len() - c.tx_off;
            if c.state == State::Open && waiting + size as usize <= MAX_WAITING_PER_CONN {
                let due_ns = self.ns_since_start(due_at(self.issued));
                queue_line(&mut self.conns[i], i as u32, size, due_ns);
                self.issued += 1;
                self.dirty.push(i);
                offered = 0;
            } else {
                offered += 1;
            }
        }
        let next_due = (self.issued >= due).then(|| due_at(self.issued + 1));
        for i in self.dirty.drain(..) {
            flush(&self.poll, &mut self.conns, i, &mut self.t);
        }
        next_due
    }

    /// Nothing left to drive: every connection failed or was ended by the server.
    fn nothing_left(&self) -> bool {
        self.t.open == 0
            && self.t.connecting == 0
            && self.retries.is_empty()
            && self.fresh == self.conns.len()
    }

    /// When to wake at the latest: `until` (the deadline or the next report), the next line
    /// due, the next retry, and never later than [`LONGEST_WAIT`] from `now`.
    fn wake_at(&self, now: Instant, until: Instant, next_due: Option<Instant>) -> Instant {
        let mut wake = until.min(now + LONGEST_WAIT);
        if let Some(d) = next_due {
            wake = wake.min(d);
        }
        for &i in &self.retries {
            if let State::Retry { at, .. } = self.conns[i].state {
                wake = wake.min(at);
            }
        }
        wake
    }

    fn on_event(&mut self, ev: &mio::event::Event) {
        let i = ev.token().0;
        match self.conns[i].state {
            State::Connecting { tries } => self.connect_ended(i, tries),
            State::Open => {
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.receive(i);
                }
                if ev.is_writable() && self.conns[i].state == State::Open {
                    flush(&self.poll, &mut self.conns, i, &mut self.t);
                }
            }
            State::Fresh | State::Retry { .. } | State::Ended => {}
        }
    }

    /// A connect's outcome: an error on the socket (retried or failed), or a peer (open).
    fn connect_ended(&mut self, i: usize, tries: u32) {
        let Some(stream) = self.conns[i].stream.as_ref() else { return };
        let refused = match stream.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match stream.peer_addr() {
                Ok(_) => None,
                // Not decided yet: a later event will say.
                Err(e) if e.kind() == ErrorKind::NotConnected => return,
                Err(e) => Some(e),
            },
        };
        self.t.connecting -= 1;
        if let Some(e) = refused {
            drop_stream(&self.poll, &mut self.conns[i]);
            retry_or_fail(&mut self.conns[i], i, tries, &e, &mut self.t, &mut self.retries);
            return;
        }
        self.last_opened = Instant::now();
        // After the ramp a connection that opens starts at once.
        let send_now = self.traffic_from.is_some() && self.settings.spec.rate.is_none();
        if self.traffic_from.is_some() {
            self.unsettled.push((i, self.last_opened));
        }
        let now_ns = self.ns_since_start(self.last_opened);
        let size = self.settings.spec.size;
        opened(&mut self.conns[i], i as u32, size, send_now, now_ns, &mut self.t);
        flush(&self.poll, &mut self.conns, i, &mut self.t);
    }

    /// Reads until the kernel has nothing more, checking each echo as it comes.
    fn receive(&mut self, i: usize) {
        let spec = &self.settings.spec;
        let closed_loop = spec.rate.is_none();
        loop {
            let c = &mut self.conns[i];
            let Some(stream) = c.stream.as_mut() else { return };
            let got = match stream.read(&mut self.buf) {
                Ok(0) => {
                    end(&self.poll, c, &mut self.t, Reason::ServerClosed);
                    return;
                }
                Ok(got) => got,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    end(
                        &self.poll,
                        c,
                        &mut self.t,
                        Reason::ConnectionError { errno: io_errno(&e) },
                    );
                    return;
                }
            };
            // One clock read per `read`: every line completed by it ends now.
            let now_ns = Instant::now().duration_since(self.start).as_nanos() as u64;
            let Conn { check, due_ns, .. } = c;
            let t = &mut self.t;
            check.feed(&self.buf[..got], |matched| {
                t.lines += 1;
                t.bytes += u64::from(spec.size);
                if !matched {
                    t.mismatches += 1;
                }
                // An echo of a line never sent has no send time (and is a mismatch anyway).
                if let Some(due) = due_ns.pop_front() {
                    t.latencies.record_ns(now_ns.saturating_sub(due));
                }
            });
            if closed_loop && c.due_ns.is_empty() {
                // Closed loop: the next line is sent the moment the last echo is complete.
                queue_line(c, i as u32, spec.size, now_ns);
                flush(&self.poll, &mut self.conns, i, &mut self.t);
            }
        }
    }

    /// The load as it stands (or, `finished`, as it ended: `ended_by` says why if early).
    fn report(&self, finished: bool, ended_by: Option<Reason>) -> LoadReport {
        let t = &self.t;
        let (mut least, mut most) = (u64::MAX, 0);
        for c in self.conns.iter().filter(|c| c.queued > 0) {
            least = least.min(c.check.lines());
            most = most.max(c.check.lines());
        }
        LoadReport {
            spec: self.settings.spec.clone(),
            elapsed_ms: self.start.elapsed().as_millis() as u64,
            conns_open: t.open,
            conns_failed: t.failed,
            nofile_limit: self.settings.nofile_limit,
            lines: t.lines,
            bytes: t.bytes,
            mismatches: t.mismatches,
            lines_per_s: self
                .traffic_from
                .map_or(0, |from| t.lines * 1000 / (from.elapsed().as_millis() as u64).max(1)),
            latency: t.latencies.summary(),
            fairness: if most == 0 && least == u64::MAX { (0, 0) } else { (least, most) },
            finished,
            ended_by,
        }
    }

    /// The last report. Every connection not open at the end never got going: it counts as
    /// failed. Closing happens as the load drops: every descriptor goes with it.
    fn finish(mut self, mut ended_by: Option<Reason>) -> LoadReport {
        let never = self.t.connecting + self.retries.len() + (self.conns.len() - self.fresh);
        self.t.failed += never as u32;
        self.t.connecting = 0;
        if ended_by.is_none() && self.t.lines == 0 && self.t.open == 0 {
            ended_by = self.t.last_failure.clone();
        }
        self.report(true, ended_by)
    }
}

fn start_connect(
    poll: &Poll,
    addr: SocketAddr,
    conns: &mut [Conn],
    i: usize,
    tries: u32,
    t: &mut Totals,
    retries: &mut Vec<usize>,
) -> std::io::Result<()> {
    match TcpStream::connect(addr) {
        Ok(mut stream) => {
            poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            // Lines are small and answered at once: no waiting to fill a segment.
            let _ = stream.set_nodelay(true);
            conns[i].stream = Some(stream);
            conns[i].state = State::Connecting { tries: tries + 1 };
            t.connecting += 1;
        }
        Err(e) => retry_or_fail(&mut conns[i], i, tries + 1, &e, t, retries),
    }
    Ok(())
}

/// After a failed connect: try again later if the kernel may say yes then (the listen queue
/// was full, or no ephemeral port was free for a moment), else count the connection failed.
fn retry_or_fail(
    c: &mut Conn,
    i: usize,
    tries: u32,
    e: &std::io::Error,
    t: &mut Totals,
    retries: &mut Vec<usize>,
) {
    let transient = matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::EAGAIN | libc::EADDRNOTAVAIL | libc::ETIMEDOUT)
    );
    if transient && tries < CONNECT_TRIES {
        let pause = FIRST_BACKOFF * 2u32.pow(tries.saturating_sub(1));
        c.state = State::Retry { at: Instant::now() + pause, tries };
        retries.push(i);
    } else {
        c.state = State::Ended;
        t.failed += 1;
        t.last_failure = Some(Reason::ConnectionError { errno: io_errno(e) });
    }
}

fn opened(c: &mut Conn, conn: u32, size: u32, send_now: bool, now_ns: u64, t: &mut Totals) {
    c.state = State::Open;
    t.open += 1;
    if send_now {
        // Its first line now; the next when this one's echo is complete.
        queue_line(c, conn, size, now_ns);
    }
}

fn queue_line(c: &mut Conn, conn: u32, size: u32, due_ns: u64) {
    if c.tx_off == c.tx.len() {
        c.tx.clear();
        c.tx_off = 0;
    }
    c.tx.extend(LineBytes::new(conn, c.queued, size));
    c.queued += 1;
    c.due_ns.push_back(due_ns);
}

/// Writes what is queued until the kernel takes no more.
fn flush(poll: &Poll, conns: &mut [Conn], i: usize, t: &mut Totals) {
    let c = &mut conns[i];
    let Some(stream) = c.stream.as_mut() else { return };
    while c.tx_off < c.tx.len() {
        match stream.write(&c.tx[c.tx_off..]) {
            Ok(n) => c.tx_off += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                end(poll, c, t, Reason::ConnectionError { errno: io_errno(&e) });
                return;
            }
        }
    }
    c.tx.clear();
    c.tx_off = 0;
}

/// The connection ended early (the server closed it, or it failed).
fn end(poll: &Poll, c: &mut Conn, t: &mut Totals, why: Reason) {
    drop_stream(poll, c);
    if c.state == State::Open {
        t.open -= 1;
    }
    c.state = State::Ended;
    t.failed += 1;
    t.last_failure = Some(why);
}

fn drop_stream(poll: &Poll, c: &mut Conn) {
    if let Some(mut s) = c.stream.take() {
        let _ = poll.registry().deregister(&mut s);
    }
}
