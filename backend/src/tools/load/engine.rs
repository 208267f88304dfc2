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
    let spec = &settings.spec;
    let n = spec.conns as usize;
    let size = spec.size;
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<Conn> = (0..n)
        .map(|i| Conn {
            stream: None,
            state: State::Fresh,
            tx: Vec::new(),
            tx_off: 0,
            queued: 0,
            due_ns: VecDeque::new(),
            check: EchoCheck::new(i as u32, size),
        })
        .collect();
    let mut t = Totals::default();
    let mut fresh = 0usize;
    let mut retries: Vec<usize> = Vec::new();
    // Open, and not yet answered by the server: (connection, when it opened).
    let mut unsettled: Vec<(usize, Instant)> = Vec::new();
    // Open loop: lines handed out so far, and the next connection to offer one.
    let mut issued = 0u64;
    let mut turn = 0usize;
    // When the lines started: once the ramp is over (every connection open or failed, or
    // none opened for SETTLE), so the servers' lines/s are not measured while they accept.
    let mut traffic_from: Option<Instant> = None;
    let mut last_opened = Instant::now();
    let mut dirty: Vec<usize> = Vec::new();
    let mut buf = vec![0u8; READ_CHUNK];

    let start = Instant::now();
    let deadline = start + settings.duration;
    let mut next_report = start + REPORT_EVERY;
    let ns_since = |at: Instant| at.duration_since(start).as_nanos() as u64;

    let mut ended_by = loop {
        let now = Instant::now();
        if let Some(reason) = stop.reason() {
            break Some(reason);
        }
        if now >= deadline {
            break None;
        }

        // Connect in waves: retries that are due first, then connections never tried. A
        // connection is off the wave once the server has answered it (its first echo) or
        // after SETTLE: a handshake the kernel completed may still sit in the accept queue,
        // and connecting faster than the server accepts overflows that queue (SYNs dropped,
        // each retried a second later).
        unsettled.retain(|&(i, at): &(usize, Instant)| {
            conns[i].state == State::Open && conns[i].check.lines() == 0 && now < at + SETTLE
        });
        // During the ramp no line is sent, so no connection is answered: only the
        // handshakes in flight count.
        let in_wave = if traffic_from.is_some() { unsettled.len() } else { 0 };
        while t.connecting + in_wave < CONNECT_WAVE {
            let due = retries
                .iter()
                .position(|&i| matches!(conns[i].state, State::Retry { at, .. } if at <= now));
            let (i, tries) = match due {
                Some(k) => {
                    let i = retries.swap_remove(k);
                    let State::Retry { tries, .. } = conns[i].state else { continue };
                    (i, tries)
                }
                None if fresh < n => {
                    fresh += 1;
                    (fresh - 1, 0)
                }
                None => break,
            };
            start_connect(&poll, addr, &mut conns, i, tries, &mut t, &mut retries)?;
        }

        // The ramp is over: every connection is open or failed, or no more open (a server
        // that stopped accepting). Closed loop: every open connection sends its first line.
        // A ramp that drags on (a server that accepts slowly, ephemeral ports scarce) ends
        // after a quarter of the run anyway; the rest start as they open.
        let ramped = fresh == n && t.connecting == 0 && retries.is_empty();
        let dragging = now >= last_opened + SETTLE || now >= start + settings.duration / 4;
        if traffic_from.is_none() && t.open > 0 && (ramped || dragging) {
            traffic_from = Some(now);
            if spec.rate.is_none() {
                for i in 0..n {
                    if conns[i].state == State::Open {
                        queue_line(&mut conns[i], i as u32, size, ns_since(now));
                        flush(&poll, &mut conns, i, &mut t);
                    }
                }
            }
        }

        // Open loop: hand out the lines due by now.
        let mut next_due: Option<Instant> = None;
        if let (Some(rate), Some(s0)) = (spec.rate, traffic_from) {
            let rate = u128::from(rate);
            let due = (now.duration_since(s0).as_nanos() * rate / 1_000_000_000) as u64;
            let mut offered = 0usize;
            while issued < due && offered < n {
                let i = turn;
                turn = (turn + 1) % n;
                let c = &mut conns[i];
                let waiting = c.tx.len() - c.tx_off;
                if c.state == State::Open && waiting + size as usize <= MAX_WAITING_PER_CONN {
                    let due_at = s0
                        + Duration::from_nanos((u128::from(issued) * 1_000_000_000 / rate) as u64);
                    queue_line(c, i as u32, size, ns_since(due_at));
                    issued += 1;
                    dirty.push(i);
                    offered = 0;
                } else {
                    offered += 1;
                }
            }
            if issued >= due {
                let ns = (u128::from(issued + 1) * 1_000_000_000 / rate) as u64;
                next_due = Some(s0 + Duration::from_nanos(ns));
            }
            for i in dirty.drain(..) {
                flush(&poll, &mut conns, i, &mut t);
            }
        }

        if now >= next_report {
            on_report(&report(spec, settings, start, traffic_from, &conns, &t, false, None));
            next_report = (next_report + REPORT_EVERY).max(now);
        }

        // Nothing left to drive: every connection failed or was ended by the server.
        if t.open == 0 && t.connecting == 0 && retries.is_empty() && fresh == n {
            break Some(t.last_failure.clone().unwrap_or(Reason::ServerClosed));
        }

        let mut wake = deadline.min(next_report).min(now + LONGEST_WAIT);
        if let Some(d) = next_due {
            wake = wake.min(d);
        }
        for &i in &retries {
            if let State::Retry { at, .. } = conns[i].state {
                wake = wake.min(at);
            }
        }
        match poll.poll(&mut events, Some(wake.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            let i = ev.token().0;
            match conns[i].state {
                State::Connecting { tries } => {
                    let Some(stream) = conns[i].stream.as_ref() else { continue };
                    // A connect's outcome: an error on the socket, or a peer.
                    let refused = match stream.take_error() {
                        Ok(Some(e)) | Err(e) => Some(e),
                        Ok(None) => match stream.peer_addr() {
                            Ok(_) => None,
                            Err(e) if e.kind() == ErrorKind::NotConnected => continue,
                            Err(e) => Some(e),
                        },
                    };
                    t.connecting -= 1;
                    match refused {
                        Some(e) => {
                            drop_stream(&poll, &mut conns[i]);
                            retry_or_fail(&mut conns[i], i, tries, &e, &mut t, &mut retries);
                        }
                        None => {
                            last_opened = Instant::now();
                            // After the ramp a connection that opens starts at once.
                            let send_now = traffic_from.is_some() && spec.rate.is_none();
                            if traffic_from.is_some() {
                                unsettled.push((i, last_opened));
                            }
                            let now_ns = ns_since(last_opened);
                            opened(&mut conns[i], i as u32, size, send_now, now_ns, &mut t);
                            flush(&poll, &mut conns, i, &mut t);
                        }
                    }
                }
                State::Open => {
                    if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                        receive(&poll, &mut conns, i, &mut buf, spec, start, &mut t);
                    }
                    if ev.is_writable() && conns[i].state == State::Open {
                        flush(&poll, &mut conns, i, &mut t);
                    }
                }
                State::Fresh | State::Retry { .. } | State::Ended => {}
            }
        }
    };

    // Every connection not open at the end never got going: count it as failed.
    let never = t.connecting + retries.len() + (n - fresh);
    t.failed += never as u32;
    t.connecting = 0;
    if ended_by.is_none() && t.lines == 0 && t.open == 0 {
        ended_by = t.last_failure.clone();
    }
    let last = report(spec, settings, start, traffic_from, &conns, &t, true, ended_by);
    // Closing happens when `conns` drops: every descriptor goes with it.
    drop(conns);
    Ok(last)
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

/// Reads until the kernel has nothing more, checking each echo as it comes.
fn receive(
    poll: &Poll,
    conns: &mut [Conn],
    i: usize,
    buf: &mut [u8],
    spec: &LoadSpec,
    start: Instant,
    t: &mut Totals,
) {
    let closed_loop = spec.rate.is_none();
    loop {
        let c = &mut conns[i];
        let Some(stream) = c.stream.as_mut() else { return };
        let got = match stream.read(buf) {
            Ok(0) => {
                end(poll, c, t, Reason::ServerClosed);
                return;
            }
            Ok(got) => got,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                end(poll, c, t, Reason::ConnectionError { errno: io_errno(&e) });
                return;
            }
        };
        // One clock read per `read`: every line completed by it ends now.
        let now_ns = Instant::now().duration_since(start).as_nanos() as u64;
        let Conn { check, due_ns, .. } = c;
        check.feed(&buf[..got], |matched| {
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
            flush(poll, conns, i, t);
        }
    }
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

#[allow(clippy::too_many_arguments)]
fn report(
    spec: &LoadSpec,
    settings: &Settings,
    start: Instant,
    traffic_from: Option<Instant>,
    conns: &[Conn],
    t: &Totals,
    finished: bool,
    ended_by: Option<Reason>,
) -> LoadReport {
    let elapsed_ms = start.elapsed().as_millis() as u64;
    let (mut least, mut most) = (u64::MAX, 0);
    for c in conns.iter().filter(|c| c.queued > 0) {
        least = least.min(c.check.lines());
        most = most.max(c.check.lines());
    }
    LoadReport {
        spec: spec.clone(),
        elapsed_ms,
        conns_open: t.open,
        conns_failed: t.failed,
        nofile_limit: settings.nofile_limit,
        lines: t.lines,
        bytes: t.bytes,
        mismatches: t.mismatches,
        lines_per_s: traffic_from
            .map_or(0, |from| t.lines * 1000 / (from.elapsed().as_millis() as u64).max(1)),
        latency: t.latencies.summary(),
        fairness: if most == 0 && least == u64::MAX { (0, 0) } else { (least, most) },
        finished,
        ended_by,
    }
}
