//! # Signal-driven I/O — Stevens Fig. 6.4
//!
//! The tutorial's eighth server: instead of asking "is there data?", the process asks the
//! kernel to *tell* it, with a signal, when a socket has something for it, and meanwhile gets
//! on with its own work ("watches TV", in the kettle story).
//!
//! ```text
//! sigaction(SIGRTMIN+2, handler)                       establish the handler
//! fcntl(fd, F_SETOWN_EX, {F_OWNER_TID, this thread})   signals for fd go to this thread only
//! fcntl(fd, F_SETSIG, SIGRTMIN+2)                      a queued signal that says which fd
//! fcntl(fd, F_SETFL, O_ASYNC | O_NONBLOCK)             switch signalling on
//! loop:  do other work … ← deliver signal { si_fd }    the kernel interrupts whatever we do
//!        recv(si_fd)                                   phase 2 only: the data is already there
//!        send(si_fd)
//! ```
//!
//! ## What a student should notice
//!
//! - Between signals the thread is not in any I/O call: it counts (its "other work", shown as
//!   `work_done` events) and naps in `nanosleep`. The signal arrives whenever the kernel has
//!   queued data, interrupting the count or the nap.
//! - When `recv` is called the data is already in the socket: phase 1 (`wait_ns`) is ≈ 0. But
//!   `recv` is still the process copying the data itself (phase 2): signal-driven I/O is
//!   *synchronous* I/O, the kernel only told us when to do it.
//! - Accepting works the same way: the listening socket signals when a connection is waiting.
//!
//! ## How it is built, and why
//!
//! - **One thread, one signal owner.** Every socket's owner is *this thread*
//!   (`F_SETOWN_EX` with `F_OWNER_TID`), so the kernel directs the signal to it alone: no other
//!   thread of the process (tokio's, other models') is ever interrupted or sees `EINTR`. The
//!   model creates no other thread.
//! - **A real handler.** `sigaction` installs a `SA_SIGINFO` handler for the realtime signal and
//!   for plain `SIGIO`. It only notes `(signo, si_fd, time)` in a small per-thread ring (atomics
//!   only: async-signal-safe); the thread reads the ring between units of work. `SA_RESTART`
//!   restarts an interrupted `recv`/`send`; `nanosleep` is never restarted, so a signal ends the
//!   nap at once. The handler stays installed when the model stops (resetting it to the default
//!   action could let a late `SIGIO` kill the process).
//! - **A realtime signal, not plain `SIGIO`.** `F_SETSIG` (10, set by hand via libc: the libc
//!   crate lacks it for glibc) makes the kernel queue one realtime signal per event with the
//!   descriptor in `si_fd`. Plain `SIGIO` is not queued and carries no descriptor.
//! - **Queue overflow.** Realtime signals queue up to `RLIMIT_SIGPENDING`; when the queue is full
//!   the kernel sends plain `SIGIO` instead, which says only "something happened". The model
//!   then rescans every descriptor (accept until `EAGAIN`, read every connection until `EAGAIN`).
//!   If the ring in user space fills, it does the same.
//!
//! ## Differences from the tutorial and Stevens, and why
//!
//! - Stevens' figure uses UDP, where `SIGIO` means "a datagram arrived". With TCP the kernel
//!   signals on more occasions (data, a connection, end of file, an error, free space to write),
//!   so each signal is answered by trying the socket: `recv` until a short read or `EAGAIN`.
//!   Sockets are therefore non-blocking (`O_NONBLOCK`): a signal that finds nothing to read must
//!   not put the thread to sleep in `recv`. An occasional `recv` → `EAGAIN` is that.
//! - A new connection gets one `recv` at once: data that arrived before `O_ASYNC` was set would
//!   never be signalled.
//! - Replies are sent with non-blocking `send`; what the peer does not take waits in a bounded
//!   buffer, the connection is not read while it holds
//!   [`OUTPUT_BOUND`](super::nonblocking_conn::OUTPUT_BOUND) bytes, and the free-space
//!   signal resumes it. A client that never reads cannot stall the others.

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kettle_shared::{CloseReason, EventKind, Reason};
use nix::errno::Errno;
use nix::sys::socket::SockFlag;

use super::accept_pause::AcceptPause;
use super::calls::{accept_recorded, close_recorded, prepare_connection};
use super::nonblocking_conn::{NonBlockingConn, Received};
use super::{ModelContext, StopSignal, RECV_BYTES};
use crate::clock::clock;
use crate::{failure::Syscall, recorder::Tracer};

/// The nap between two units of other work. A signal ends it early.
const NAP: Duration = Duration::from_millis(10);
/// How often the work done is recorded when no signal comes.
const WORK_REPORT: Duration = Duration::from_millis(500);
/// Additions in one unit of "other work".
const WORK_UNIT: u64 = 10_000;

/// `fcntl` commands glibc has but the libc crate does not expose for it (values from
/// `<asm-generic/fcntl.h>`, the same on every Linux architecture).
const F_SETSIG: libc::c_int = 10;
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;

/// `struct f_owner_ex`.
#[repr(C)]
struct FOwnerEx {
    kind: libc::c_int,
    pid: libc::pid_t,
}

/// The start of a `siginfo_t` for a `SIGPOLL`-class signal (the kernel's `_sigpoll` member);
/// also how the tracer reads a traced program's signals.
#[repr(C)]
pub(crate) struct SigPollInfo {
    pub(crate) signo: libc::c_int,
    errno: libc::c_int,
    pub(crate) code: libc::c_int,
    _pad: libc::c_int,
    band: libc::c_long,
    pub(crate) fd: libc::c_int,
}

/// The realtime signal the sockets send (glibc keeps the first two for itself; `SIGRTMIN()`
/// already skips them).
pub fn rt_signal() -> libc::c_int {
    libc::SIGRTMIN() + 2
}

/// Slots in the handler's ring.
const RING: usize = 256;

/// What the handler noted: signals in the order they came. Written only by the handler,
/// read only by the same thread outside it, so plain atomics suffice.
struct Ring {
    /// `signo << 32 | (fd as u32)`, fd = -1 when the signal named none.
    slots: [AtomicU64; RING],
    times: [AtomicU64; RING],
    head: AtomicUsize,
    tail: AtomicUsize,
    /// The ring was full: a signal was lost here, rescan everything.
    overflow: AtomicBool,
}

impl Ring {
    const fn new() -> Ring {
        Ring {
            slots: [const { AtomicU64::new(0) }; RING],
            times: [const { AtomicU64::new(0) }; RING],
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            overflow: AtomicBool::new(false),
        }
    }

    fn push(&self, signo: i32, fd: i32, t_ns: u64) {
        let head = self.head.load(Ordering::Relaxed);
        if head - self.tail.load(Ordering::Acquire) >= RING {
            self.overflow.store(true, Ordering::Release);
            return;
        }
        self.slots[head % RING].store(((signo as u64) << 32) | fd as u32 as u64, Ordering::Relaxed);
        self.times[head % RING].store(t_ns, Ordering::Relaxed);
        self.head.store(head + 1, Ordering::Release);
    }

    fn pop(&self) -> Option<Delivered> {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail == self.head.load(Ordering::Acquire) {
            return None;
        }
        let packed = self.slots[tail % RING].load(Ordering::Relaxed);
        let t_ns = self.times[tail % RING].load(Ordering::Relaxed);
        self.tail.store(tail + 1, Ordering::Release);
        Some(Delivered { signo: (packed >> 32) as i32, fd: packed as u32 as i32, t_ns })
    }
}

thread_local! {
    /// The ring of the thread the signals are directed to. `const`-initialised and free of
    /// destructors, so touching it from a signal handler allocates nothing and takes no lock.
    static DELIVERED: Ring = const { Ring::new() };
}

/// One signal as the handler noted it.
#[derive(Debug, Clone, Copy)]
struct Delivered {
    signo: i32,
    fd: RawFd,
    t_ns: u64,
}

// kettle:code-begin sigio-handler
/// The signal handler: notes the signal and its descriptor, nothing else.
extern "C" fn on_signal(signo: libc::c_int, info: *mut libc::siginfo_t, _: *mut c_void) {
    let t_ns = clock().now_ns();
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t; for si_code POLL_IN..POLL_HUP
    // (1..=6) it is the `_sigpoll` member, whose `si_fd` names the descriptor.
    let fd = unsafe {
        let poll = &*info.cast::<SigPollInfo>();
        if (1..=6).contains(&poll.code) {
            poll.fd
        } else {
            -1
        }
    };
    DELIVERED.with(|r| r.push(signo, fd, t_ns));
}
// kettle:code-end sigio-handler

/// `sigaction` for `signo` with [`on_signal`], recorded. Through libc: nix's `Signal` has no
/// realtime signals.
fn establish_handler(signo: libc::c_int, t: &Tracer) -> anyhow::Result<()> {
    // SAFETY: a zeroed sigaction is valid; every field that matters is set below.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
    // SA_RESTART: a signal during recv/send restarts it; nanosleep returns EINTR anyway.
    action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    action.sa_mask = handler_mask();
    // SAFETY: a valid action whose handler only touches atomics in a const thread-local and
    // reads a clock; the old action is not wanted.
    let rc = unsafe { libc::sigaction(signo, &action, std::ptr::null_mut()) };
    Errno::result(rc).context(Syscall("sigaction"))?;
    t.count_syscalls(1);
    t.emit(None, EventKind::SignalHandler { signo, name: signal_name(signo) });
    Ok(())
}

/// A signal's name as a program would write it: `SIGIO`, `SIGRTMIN+2` for a realtime signal
/// (counted from glibc's `SIGRTMIN()`, as [`rt_signal`] is; the kernel's first realtime signal,
/// 32, is glibc's own), `SIGINT` and so on, or `signal N` for a number with no name.
pub fn signal_name(signo: libc::c_int) -> String {
    if signo == libc::SIGIO {
        // Also known as SIGPOLL (the same number on Linux); the tutorial and Stevens say SIGIO.
        return "SIGIO".to_owned();
    }
    let (rtmin, rtmax) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    if signo == rtmin {
        return "SIGRTMIN".to_owned();
    }
    if (rtmin..=rtmax).contains(&signo) {
        return format!("SIGRTMIN+{}", signo - rtmin);
    }
    match nix::sys::signal::Signal::try_from(signo) {
        Ok(signal) => signal.as_str().to_owned(),
        Err(_) => format!("signal {signo}"),
    }
}

/// Both signals, blocked while the handler runs so it never nests in itself.
fn handler_mask() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset with valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGIO);
        libc::sigaddset(&mut set, rt_signal());
        set
    }
}

/// Lets this thread receive both signals (a thread inherits its mask from its creator).
fn unblock_signals() -> nix::Result<()> {
    let set = handler_mask();
    // SAFETY: a valid set; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    Errno::result(if rc == 0 { 0 } else { -1 }).map(drop)
}

/// Asks the kernel to signal `tid` with `signo` (descriptor in `si_fd`) whenever `fd` is ready:
/// `F_SETOWN_EX`, `F_SETSIG`, then `O_ASYNC | O_NONBLOCK`. Three `fcntl` calls.
fn own_signals(fd: RawFd, tid: libc::pid_t, signo: libc::c_int, t: &Tracer) -> nix::Result<()> {
    let owner = FOwnerEx { kind: F_OWNER_TID, pid: tid };
    // SAFETY: fcntl with a pointer to a valid f_owner_ex / an int argument.
    Errno::result(unsafe { libc::fcntl(fd, F_SETOWN_EX, &raw const owner) })?;
    Errno::result(unsafe { libc::fcntl(fd, F_SETSIG, signo) })?;
    let flags = Errno::result(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    Errno::result(unsafe {
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_ASYNC | libc::O_NONBLOCK)
    })?;
    t.count_syscalls(4);
    Ok(())
}

/// The thread's state.
struct Server<'a> {
    t: &'a Tracer,
    stop: &'a StopSignal,
    listener: RawFd,
    tid: libc::pid_t,
    signo: libc::c_int,
    conns: BTreeMap<RawFd, NonBlockingConn>,
    next_conn: u64,
    /// Out of descriptors: no accept until this is over.
    pause: AcceptPause,
    /// Units of work since the last `work_done`.
    units: u64,
    last_report: Instant,
}

// kettle:code-begin sigio-loop
/// Serves every client from one thread driven by signals. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let t = ctx.server_tracer();
    t.emit(None, EventKind::ThreadSpawned);
    let signo = rt_signal();
    establish_handler(signo, &t)?;
    establish_handler(libc::SIGIO, &t)?;
    unblock_signals().context(Syscall("pthread_sigmask"))?;
    let mut s = Server {
        t: &t,
        stop: &ctx.stop,
        listener: ctx.listener.as_raw_fd(),
        tid: nix::unistd::gettid().as_raw(),
        signo,
        conns: BTreeMap::new(),
        next_conn: 1,
        pause: AcceptPause::default(),
        units: 0,
        last_report: Instant::now(),
    };
    own_signals(s.listener, s.tid, signo, &t).context(Syscall("fcntl"))?;
    // Connections that were already waiting will not be signalled.
    s.accept_all();
    while !ctx.stop.is_stopped() {
        s.handle_signals();
        if s.pause.ends_now() {
            s.accept_all();
        }
        s.other_work();
    }
    // A last look so the ring's leftovers are not mistaken for the next run's.
    while DELIVERED.with(Ring::pop).is_some() {}
    for (_, c) in std::mem::take(&mut s.conns) {
        c.close(CloseReason::Stopped, &t, &ctx.stop);
    }
    t.emit(None, EventKind::ThreadExited);
    Ok(())
}
// kettle:code-end sigio-loop

impl Server<'_> {
    // kettle:code-begin sigio-work
    /// The thread's own work: a unit of counting, then a nap that a signal cuts short.
    fn other_work(&mut self) {
        let mut acc = 0u64;
        for i in 0..WORK_UNIT {
            acc = acc.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(acc);
        self.units += 1;
        if self.last_report.elapsed() >= WORK_REPORT {
            self.report_work(clock().now_ns());
        }
        let nap = libc::timespec { tv_sec: 0, tv_nsec: NAP.as_nanos() as libc::c_long };
        // SAFETY: valid timespec; the remainder is not wanted (EINTR means: a signal came).
        // Not std::thread::sleep: it would go back to sleep after the signal.
        unsafe { libc::nanosleep(&nap, std::ptr::null_mut()) };
        self.t.count_syscalls(1);
    }
    // kettle:code-end sigio-work

    fn report_work(&mut self, at: u64) {
        if self.units > 0 {
            self.t.emit_at(at, None, EventKind::WorkDone { units: self.units });
        }
        self.units = 0;
        self.last_report = Instant::now();
    }

    // kettle:code-begin sigio-signals
    /// Everything the handler noted since last time, in order; a rescan if any was lost.
    fn handle_signals(&mut self) {
        let mut delivered = Vec::new();
        while let Some(d) = DELIVERED.with(Ring::pop) {
            delivered.push(d);
        }
        let lost = DELIVERED.with(|r| r.overflow.swap(false, Ordering::AcqRel));
        let Some(first) = delivered.first() else {
            if lost {
                self.rescan();
            }
            return;
        };
        self.report_work(first.t_ns);
        let mut rescan = lost;
        for d in delivered {
            // Returning from the handler was one more system call (rt_sigreturn).
            self.t.count_syscalls(1);
            let conn = self.conns.get(&d.fd).map(|c| c.id());
            let fd = (d.fd >= 0).then_some(d.fd);
            let name = signal_name(d.signo);
            self.t.emit_at(d.t_ns, conn, EventKind::SignalDelivered { signo: d.signo, name, fd });
            if d.signo != self.signo || fd.is_none() {
                // Plain SIGIO: the realtime queue overflowed; it does not say which socket.
                rescan = true;
            } else if d.fd == self.listener {
                if !self.pause.holds() {
                    self.accept_one();
                }
            } else {
                self.service(d.fd, Drain::UntilShortRead);
            }
        }
        if rescan {
            self.rescan();
        }
    }

    /// After a lost signal: every socket may have something.
    fn rescan(&mut self) {
        if !self.pause.holds() {
            self.accept_all();
        }
        let fds: Vec<RawFd> = self.conns.keys().copied().collect();
        for fd in fds {
            self.service(fd, Drain::UntilEagain);
        }
    }

    fn accept_all(&mut self) {
        while self.accept_one() {}
    }

    /// One non-blocking `accept`; true if a connection was accepted.
    fn accept_one(&mut self) -> bool {
        if self.stop.is_stopped() {
            return false;
        }
        let id = self.next_conn;
        match accept_recorded(self.listener, SockFlag::SOCK_NONBLOCK, id, self.t, self.stop) {
            Ok(fd) => {
                self.next_conn += 1;
                self.adopt(fd, id);
                true
            }
            // Out of descriptors, the connection stays in the backlog and will not signal
            // again: the main loop accepts once the pause is over.
            Err(e) => {
                self.pause.after_failure(e, self.t);
                false
            }
        }
    }

    /// A new connection: signals on, then one read for data that came before they were.
    fn adopt(&mut self, fd: OwnedFd, id: u64) {
        if !self.stop.track(&fd) {
            close_recorded(fd, id, CloseReason::Stopped, self.t, self.stop);
            return;
        }
        prepare_connection(&fd);
        let raw = fd.as_raw_fd();
        if let Err(e) = own_signals(raw, self.tid, self.signo, self.t) {
            let reason = Reason::SyscallFailed { call: "fcntl".into(), errno: format!("{e:?}") };
            self.t.emit(Some(id), EventKind::Refused { reason });
            close_recorded(fd, id, CloseReason::Error, self.t, self.stop);
            return;
        }
        self.conns.insert(raw, NonBlockingConn::new(fd, id));
        self.t.set_conns(self.conns.len() as u32);
        self.service(raw, Drain::UntilEagain);
    }

    /// Answers a signal about one connection: send what waits, read what came, echo it.
    fn service(&mut self, fd: RawFd, drain: Drain) {
        let Some(c) = self.conns.get_mut(&fd) else { return };
        let outcome = serve_conn(c, drain, self.t);
        if let Some(reason) = outcome {
            let c = self.conns.remove(&fd).expect("present");
            c.close(reason, self.t, self.stop);
            self.t.set_conns(self.conns.len() as u32);
        }
    }
    // kettle:code-end sigio-signals
}

/// How far to read a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    /// After its own signal: a short read emptied the socket, and anything arriving later
    /// (data or end of file) brings its own signal.
    UntilShortRead,
    /// When no signal can be trusted to follow (a new connection whose data and FIN came
    /// before `O_ASYNC`, a rescan after lost signals): until `EAGAIN` or end of file.
    UntilEagain,
}

// kettle:code-begin sigio-conn
/// Works one connection until it would block. `Some(reason)` when it is finished.
fn serve_conn(c: &mut NonBlockingConn, drain: Drain, t: &Tracer) -> Option<CloseReason> {
    // Full send buffer: the kernel signals again when there is room.
    if let Err(reason) = c.flush(t, None) {
        return Some(reason);
    }
    while c.wants_read() {
        match c.receive(t, None) {
            Ok(Received::Data(n)) => {
                if let Err(reason) = c.flush(t, None) {
                    return Some(reason);
                }
                // A short read emptied the socket; later data brings its own signal.
                if n < RECV_BYTES && drain == Drain::UntilShortRead {
                    break;
                }
            }
            Ok(Received::Eof | Received::WouldBlock) => break,
            Err(reason) => return Some(reason),
        }
    }
    c.finished().then_some(CloseReason::PeerClosed)
}
// kettle:code-end sigio-conn

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_are_written_as_a_program_would() {
        assert_eq!(signal_name(libc::SIGIO), "SIGIO");
        assert_eq!(signal_name(rt_signal()), "SIGRTMIN+2");
        assert_eq!(signal_name(libc::SIGRTMIN()), "SIGRTMIN");
        assert_eq!(
            signal_name(libc::SIGRTMAX()),
            format!("SIGRTMIN+{}", libc::SIGRTMAX() - libc::SIGRTMIN())
        );
        assert_eq!(signal_name(libc::SIGINT), "SIGINT");
        // 32 and 33 are realtime signals to the kernel but glibc keeps them for itself.
        assert_eq!(signal_name(32), "signal 32");
    }
}
