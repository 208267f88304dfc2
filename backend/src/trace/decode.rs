//! From what the tracer saw to Kettle's events: the same [`EventKind`]s a built-in model
//! records, so the page draws a traced program as it draws its own servers.
//!
//! A call's entry and exit are two stops, and the tracer hands the exit with the call's
//! arguments; the decoder turns them into the kind's enter and exit events. What a figure
//! needs beyond the registers is read from the program's memory ([`Memory`]): the peer an
//! `accept` filled in, the first bytes a `recv` copied, an `epoll_event`. Only sockets count:
//! a `read` of a file is not drawn, so the decoder follows which descriptors are sockets (from
//! `socket` and `accept`, until their `close`), and which are epoll and io_uring instances.
//!
//! Decoded so far: `socket`, `bind`/`listen` (the address it listens on), `accept`/`accept4`,
//! `read`/`recvfrom`/`readv`/`recvmsg` on a socket, `write`/`sendto`/`writev`/`sendmsg` on a
//! socket, `close`, `select`/`pselect6` (the fd sets handed in and returned), `poll`/`ppoll`
//! (the `pollfd` array), `epoll_create`/`epoll_create1`, `epoll_ctl` (each instance's interest
//! list kept), `epoll_wait`/`epoll_pwait`/`epoll_pwait2` (the interest list, and the
//! `epoll_event`s returned), `rt_sigaction` (a handler installed) and the signals delivered to
//! one, `io_uring_setup` and `io_uring_enter` (what its registers say) and, as the busy loop records them, the
//! `EAGAIN`s of non-blocking calls: counted per thread, one `would_block_burst` per call per
//! [`BURST_WINDOW`]. `fcntl` (`F_SETFL`, `F_SETOWN`, `F_SETOWN_EX`, `F_SETSIG`) and `ioctl`
//! (`FIONBIO`, `FIOASYNC`) make no event, as in the `sigio` and `nonblocking` models; the modes
//! they set are kept and can be asked ([`Decoder::nonblocking`], [`Decoder::is_async`]).
//! `shutdown` makes no event either: no kind draws it (no model calls it but to stop).
//!
//! Not decoded: io_uring's submissions and completions, which live in rings the program shares
//! with the kernel by `mmap`, not in registers (see `ring_exit` below).
//!
//! Descriptor numbers are kept for the whole traced program, not per process: a child that
//! closes its copy of a socket makes the decoder forget the parent's too.

use std::collections::{BTreeMap, HashMap, HashSet};

use kettle_shared::{
    CloseReason, EpollOp, EventKind, ReadyFd, RecvOutcome, SendOutcome, SysError, WaitApi,
    PREVIEW_BYTES,
};
use nix::errno::Errno;
use nix::sys::epoll::EpollFlags;

use super::tracer::Seen;
use crate::failure::errno_name;
use crate::models::event_loop::flag_names;
use crate::models::nonblocking_conn::BURST_WINDOW;
use crate::models::sigio::signal_name;

/// Reads the traced program's memory (`process_vm_readv` in the real tracer; a table in tests).
pub trait Memory {
    /// Up to `len` bytes at `addr` in task `tid`, or `None` if they cannot be read.
    fn read(&self, tid: i32, addr: u64, len: usize) -> Option<Vec<u8>>;
}

/// The program's memory as the kernel lets its tracer read it.
#[derive(Debug)]
pub struct ProcessMemory;

impl Memory for ProcessMemory {
    fn read(&self, tid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let mut local = [std::io::IoSliceMut::new(&mut buf)];
        let remote = [nix::sys::uio::RemoteIoVec { base: addr as usize, len }];
        let n =
            nix::sys::uio::process_vm_readv(nix::unistd::Pid::from_raw(tid), &mut local, &remote)
                .ok()?;
        buf.truncate(n);
        Some(buf)
    }
}

/// Memory that cannot be read: a call known from the kernel's tracepoints only, its
/// registers and result but not what they point at ([`super::passive`]).
#[derive(Debug)]
pub struct Unread;

impl Memory for Unread {
    fn read(&self, _: i32, _: u64, _: usize) -> Option<Vec<u8>> {
        None
    }
}

/// A readiness call known by its registers only: how many descriptors it reported ready (its
/// result) and how many entries it made user space look at (`select`'s `nfds`, `poll`'s
/// array, `epoll_wait`'s returned events).
pub fn unseen_wait(name: &str, args: [u64; 6], ret: i64) -> (u64, u64) {
    let ready = ret.max(0) as u64;
    let scanned = match name {
        "select" | "pselect6" => args[0],
        "poll" | "ppoll" => args[1],
        _ => ready,
    };
    (ready, scanned)
}

/// `fcntl` commands the libc crate does not name for glibc (`<asm-generic/fcntl.h>`).
const F_SETSIG: u64 = 10;
const F_SETOWN_EX: u64 = 15;
const F_OWNER_PGRP: i32 = 2;
/// `io_uring_enter`'s flag "wait for `min_complete` completions" (`<linux/io_uring.h>`).
const IORING_ENTER_GETEVENTS: u64 = 1;
/// Bytes of one `struct epoll_event` on x86-64, where it is packed: `u32` events, `u64` data.
const EPOLL_EVENT: usize = 12;
/// The most array entries read from the program for one call (`pollfd`s, `epoll_event`s,
/// `iovec`s): a bound on what a wild length can make the decoder allocate.
const MOST_ENTRIES: usize = 65_536;

/// The modes a program set on a descriptor with `fcntl` or `ioctl`.
#[derive(Debug, Default, Clone, Copy)]
struct Mode {
    /// `O_NONBLOCK`: a call that would wait returns `EAGAIN` instead.
    nonblocking: bool,
    /// `O_ASYNC`: the descriptor signals its owner when it becomes ready.
    async_io: bool,
    /// `F_SETOWN`: the process (or, negative, the process group) it signals.
    owner: Option<i32>,
    /// `F_SETSIG`: the signal it sends instead of `SIGIO` (0: `SIGIO`).
    signal: i32,
}

/// One descriptor in an epoll instance's interest list, as it was registered.
#[derive(Debug, Clone, Copy)]
struct Interest {
    events: u32,
    data: u64,
}

/// One thread's `EAGAIN`s since its last report, as the busy loop counts them
/// (`WouldBlockTally`): recording each would flood every viewer.
#[derive(Debug, Default)]
struct Tally {
    /// When the first of them came.
    since_ns: u64,
    accept: u64,
    recv: u64,
    send: u64,
}

impl Tally {
    fn is_empty(&self) -> bool {
        self.accept + self.recv + self.send == 0
    }

    /// One `would_block_burst` per call that returned `EAGAIN`, in the model's order.
    fn bursts(&self) -> impl Iterator<Item = EventKind> {
        [("accept", self.accept), ("recv", self.recv), ("send", self.send)]
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(call, count)| EventKind::WouldBlockBurst { call: call.into(), count })
    }
}

/// Turns the tracer's stops into event kinds, per thread.
#[derive(Debug, Default)]
pub struct Decoder {
    sockets: HashSet<i32>,
    /// Where each socket was bound, for its `listen`.
    bound: HashMap<i32, String>,
    /// Sockets whose peer closed (a `recv` returned 0): their `close` says so.
    peer_closed: HashSet<i32>,
    /// Each epoll instance's interest list, by descriptor.
    epolls: HashMap<i32, BTreeMap<i32, Interest>>,
    /// io_uring instances.
    rings: HashSet<i32>,
    /// Descriptors a program set a mode on.
    modes: HashMap<i32, Mode>,
    /// Signals the program has a handler for: their deliveries are drawn.
    handled: HashSet<i32>,
    /// Threads in a call that cannot sleep, whose enter event waits for its exit.
    held: HashSet<i32>,
    /// Each thread's `EAGAIN`s not reported yet.
    tallies: HashMap<i32, Tally>,
}

impl Decoder {
    /// The events one stop makes, with the thread they happened on.
    pub fn on(&mut self, seen: &Seen, mem: &dyn Memory) -> Vec<(i32, EventKind)> {
        let mut out = Vec::new();
        let tid = match *seen {
            Seen::Enter { tid, t_ns, name, args } => {
                self.report_if_due(tid, t_ns, &mut out);
                if let Some(kind) = self.enter(tid, name, &args, mem) {
                    // Drawn at its entry, the call may sleep: the count so far comes first,
                    // not after the sleep.
                    self.report(tid, &mut out);
                    out.push(kind);
                }
                tid
            }
            Seen::Exit { tid, t_ns, name, args, ret } => {
                self.report_if_due(tid, t_ns, &mut out);
                if self.held.remove(&tid) {
                    if errno_of(ret) == Some(Errno::EAGAIN) {
                        self.count_would_block(tid, t_ns, name);
                        return Vec::new();
                    }
                    out.extend(self.call_enter(tid, name, &args, mem));
                }
                out.extend(self.exit(tid, name, &args, ret, mem));
                tid
            }
            Seen::Signal { tid, signo, fd, .. } => {
                // A signal with no handler is ignored, or its default action ends the program
                // (which `Ended` says): only a handler's signal is drawn, as the sigio model
                // records the signals its handler notes.
                if self.handled.contains(&signo) {
                    let name = signal_name(signo);
                    out.push(EventKind::SignalDelivered { signo, name, fd });
                }
                tid
            }
            Seen::Ended { tid, .. } => {
                self.held.remove(&tid);
                self.report(tid, &mut out);
                tid
            }
            Seen::Spawned { tid, .. } => tid,
        };
        out.into_iter().map(|k| (tid, k)).collect()
    }

    /// Whether `fd` is in non-blocking mode (`O_NONBLOCK`, `SOCK_NONBLOCK` or `FIONBIO`).
    pub fn nonblocking(&self, fd: i32) -> bool {
        self.modes.get(&fd).is_some_and(|m| m.nonblocking)
    }

    /// Whether `fd` is in signal-driven mode (`O_ASYNC` or `FIOASYNC`): the kernel signals its
    /// owner ([`Decoder::owner`]) with [`Decoder::io_signal`] when it becomes ready.
    pub fn is_async(&self, fd: i32) -> bool {
        self.modes.get(&fd).is_some_and(|m| m.async_io)
    }

    /// Who `fd` signals (`F_SETOWN`, `F_SETOWN_EX`): a process or thread id, or a negated
    /// process group.
    pub fn owner(&self, fd: i32) -> Option<i32> {
        self.modes.get(&fd).and_then(|m| m.owner)
    }

    /// The signal `fd` sends in signal-driven mode: the one chosen with `F_SETSIG`, or `SIGIO`.
    pub fn io_signal(&self, fd: i32) -> i32 {
        match self.modes.get(&fd).map_or(0, |m| m.signal) {
            0 => libc::SIGIO,
            signo => signo,
        }
    }

    /// Whether `fd` is an io_uring instance (`io_uring_setup`).
    pub fn is_ring(&self, fd: i32) -> bool {
        self.rings.contains(&fd)
    }

    /// The thread's counted `EAGAIN`s, once its window is over: the busy loop reports once
    /// per [`BURST_WINDOW`]. Looked at on the thread's every stop.
    fn report_if_due(&mut self, tid: i32, t_ns: u64, out: &mut Vec<EventKind>) {
        let due = self.tallies.get(&tid).is_some_and(|t| {
            !t.is_empty() && t_ns.saturating_sub(t.since_ns) >= BURST_WINDOW.as_nanos() as u64
        });
        if due {
            self.report(tid, out);
        }
    }

    /// The thread's counted `EAGAIN`s, now.
    fn report(&mut self, tid: i32, out: &mut Vec<EventKind>) {
        if let Some(tally) = self.tallies.remove(&tid) {
            out.extend(tally.bursts());
        }
    }

    fn count_would_block(&mut self, tid: i32, t_ns: u64, name: &str) {
        let tally =
            self.tallies.entry(tid).or_insert_with(|| Tally { since_ns: t_ns, ..Tally::default() });
        match call_of(name) {
            Some(Call::Accept) => tally.accept += 1,
            Some(Call::Recv) => tally.recv += 1,
            Some(Call::Send) => tally.send += 1,
            None => {}
        }
    }

    fn enter(
        &mut self,
        tid: i32,
        name: &str,
        args: &[u64; 6],
        mem: &dyn Memory,
    ) -> Option<EventKind> {
        let fd = args[0] as i32;
        match name {
            "select" | "pselect6" => {
                let nfds = args[0] as usize;
                let read = fd_set(mem, tid, args[1], nfds);
                let write = fd_set(mem, tid, args[2], nfds);
                let mut watched: Vec<i32> = read.into_iter().chain(write).collect();
                watched.sort_unstable();
                watched.dedup();
                Some(EventKind::WaitEnter { api: WaitApi::Select, watched })
            }
            "poll" | "ppoll" => {
                let watched =
                    pollfds(mem, tid, args[0], args[1] as usize).iter().map(|p| p.0).collect();
                Some(EventKind::WaitEnter { api: WaitApi::Poll, watched })
            }
            "epoll_wait" | "epoll_pwait" | "epoll_pwait2" => {
                // The interest list as the decoder kept it: the same list the epoll model shows.
                let watched = self.epolls.get(&fd).map(|l| l.keys().copied().collect());
                Some(EventKind::WaitEnter {
                    api: self.epoll_api(fd),
                    watched: watched.unwrap_or_default(),
                })
            }
            // The model records what it hands over, the submission queue's length, which its
            // crate passes as `to_submit`: the program's `to_submit` is the same number. The
            // kernel may take fewer (it stops at a malformed SQE); what it took is only known
            // at the exit, and this event is drawn at the entry, where the thread sleeps.
            "io_uring_enter" => Some(EventKind::RingEnter {
                submitted: args[1] as u32,
                wait_for: if args[3] & IORING_ENTER_GETEVENTS != 0 { args[2] as u32 } else { 0 },
            }),
            _ => {
                let kind = self.call_enter(tid, name, args, mem)?;
                if self.cannot_block(name, args) {
                    // It returns at once: its enter is drawn with its exit, and not at all if
                    // it is one more `EAGAIN` of a busy loop, as the nonblocking model does.
                    // The model stamps that enter with the instant of the call; here whoever
                    // stamps the events gives both the exit stop's time, microseconds later
                    // for a call that cannot sleep.
                    self.held.insert(tid);
                    return None;
                }
                Some(kind)
            }
        }
    }

    /// The enter event of an `accept`, or a `recv`/`send` on a socket.
    fn call_enter(
        &self,
        tid: i32,
        name: &str,
        args: &[u64; 6],
        mem: &dyn Memory,
    ) -> Option<EventKind> {
        let fd = args[0] as i32;
        match call_of(name)? {
            Call::Accept => Some(EventKind::AcceptEnter),
            _ if !self.sockets.contains(&fd) => None,
            Call::Recv => {
                Some(EventKind::RecvEnter { fd, len: total_len(&buffers(mem, tid, name, args)) })
            }
            Call::Send => {
                Some(EventKind::SendEnter { fd, bytes: total_len(&buffers(mem, tid, name, args)) })
            }
        }
    }

    /// The call cannot sleep: its descriptor is non-blocking, or it asked `MSG_DONTWAIT`.
    fn cannot_block(&self, name: &str, args: &[u64; 6]) -> bool {
        let flags = match name {
            "recvfrom" | "sendto" => args[3],
            "recvmsg" | "sendmsg" => args[2],
            _ => 0,
        };
        self.nonblocking(args[0] as i32) || flags & libc::MSG_DONTWAIT as u64 != 0
    }

    /// Level- or edge-triggered: edge-triggered if any descriptor was registered with
    /// `EPOLLET` (the epoll-et model registers every one so).
    fn epoll_api(&self, epfd: i32) -> WaitApi {
        let edge = self
            .epolls
            .get(&epfd)
            .is_some_and(|l| l.values().any(|i| i.events & libc::EPOLLET as u32 != 0));
        if edge {
            WaitApi::EpollEt
        } else {
            WaitApi::Epoll
        }
    }

    /// A descriptor number made anew (`socket`, `accept`, `epoll_create1`, `io_uring_setup`):
    /// nothing known of an older one with this number still holds (its `close` may have been
    /// made by a call the filter lets through, such as `dup2` over it).
    fn forget(&mut self, fd: i32) {
        self.sockets.remove(&fd);
        self.bound.remove(&fd);
        self.peer_closed.remove(&fd);
        self.epolls.remove(&fd);
        self.rings.remove(&fd);
        self.modes.remove(&fd);
        // Closing a descriptor's last reference takes it out of every interest list. The
        // decoder does not see `dup`, so it takes every close as the last.
        for list in self.epolls.values_mut() {
            list.remove(&fd);
        }
    }

    fn exit(
        &mut self,
        tid: i32,
        name: &str,
        args: &[u64; 6],
        ret: i64,
        mem: &dyn Memory,
    ) -> Option<EventKind> {
        let fd = args[0] as i32;
        let failed = errno_of(ret);
        let error = |e: Errno| SysError { errno: errno_name(e), message: e.desc().to_owned() };
        match name {
            "socket" if ret >= 0 => {
                self.forget(ret as i32);
                self.sockets.insert(ret as i32);
                if args[1] & libc::SOCK_NONBLOCK as u64 != 0 {
                    self.modes.entry(ret as i32).or_default().nonblocking = true;
                }
                None
            }
            "bind" if ret == 0 => {
                let addr = mem.read(tid, args[1], args[2] as usize).and_then(|a| sockaddr(&a));
                self.bound.insert(fd, addr.unwrap_or_default());
                None
            }
            // A failed wait (EINTR: a signal came) returns with nothing ready, as the epoll
            // model records it: otherwise the thread would be drawn asleep in it for good.
            "select" | "pselect6" | "poll" | "ppoll" if failed.is_some() => {
                let api = if name.ends_with("poll") { WaitApi::Poll } else { WaitApi::Select };
                Some(EventKind::WaitReturned { api, ready: Vec::new(), scanned: 0 })
            }
            "select" | "pselect6" => {
                let nfds = args[0] as usize;
                let read = fd_set(mem, tid, args[1], nfds);
                let write = fd_set(mem, tid, args[2], nfds);
                Some(EventKind::WaitReturned {
                    api: WaitApi::Select,
                    ready: ready_fds(&read, &write),
                    scanned: nfds as u32,
                })
            }
            "poll" | "ppoll" => {
                let fds = pollfds(mem, tid, args[0], args[1] as usize);
                let ready = fds
                    .iter()
                    .filter(|(_, revents)| *revents != 0)
                    .map(|&(fd, revents)| ReadyFd {
                        fd,
                        readable: revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
                        writable: revents & libc::POLLOUT != 0,
                    })
                    .collect();
                Some(EventKind::WaitReturned {
                    api: WaitApi::Poll,
                    ready,
                    scanned: fds.len() as u32,
                })
            }
            "epoll_create" | "epoll_create1" if ret >= 0 => {
                self.forget(ret as i32);
                self.epolls.insert(ret as i32, BTreeMap::new());
                None
            }
            "epoll_ctl" => self.epoll_ctl(tid, args, failed.map(error), mem),
            "epoll_wait" | "epoll_pwait" | "epoll_pwait2" => {
                let api = self.epoll_api(fd);
                let (ready, scanned) = match failed {
                    Some(_) => (Vec::new(), 0),
                    None => (self.epoll_ready(tid, fd, args[1], ret as usize, mem), ret as u32),
                };
                Some(EventKind::WaitReturned { api, ready, scanned })
            }
            "listen" if ret == 0 => Some(EventKind::Listen {
                addr: self.bound.get(&fd).cloned().unwrap_or_default(),
                backlog: args[1] as i32,
            }),
            "accept" | "accept4" => Some(match failed {
                None => {
                    let conn = ret as i32;
                    self.forget(conn);
                    self.sockets.insert(conn);
                    if name == "accept4" && args[3] & libc::SOCK_NONBLOCK as u64 != 0 {
                        self.modes.entry(conn).or_default().nonblocking = true;
                    }
                    let peer = peer_of(mem, tid, args[1], args[2]);
                    EventKind::AcceptExit { fd: Some(conn), peer, error: None }
                }
                Some(e) => EventKind::AcceptExit { fd: None, peer: None, error: Some(error(e)) },
            }),
            "read" | "recvfrom" | "readv" | "recvmsg" if self.sockets.contains(&fd) => {
                let outcome = match failed {
                    Some(Errno::EAGAIN) => RecvOutcome::WouldBlock,
                    Some(e) => RecvOutcome::Error(error(e)),
                    None if ret == 0 => {
                        self.peer_closed.insert(fd);
                        RecvOutcome::Eof
                    }
                    None => {
                        let bufs = buffers(mem, tid, name, args);
                        let copied = gather(mem, tid, &bufs, (ret as usize).min(PREVIEW_BYTES));
                        let preview = String::from_utf8_lossy(&copied).into_owned();
                        RecvOutcome::Data { bytes: ret as u32, preview }
                    }
                };
                Some(EventKind::RecvExit { fd, outcome, wait_ns: None, copy_ns: None })
            }
            "write" | "sendto" | "writev" | "sendmsg" if self.sockets.contains(&fd) => {
                let outcome = match failed {
                    Some(Errno::EAGAIN) => SendOutcome::WouldBlock,
                    Some(e) => SendOutcome::Error(error(e)),
                    None => SendOutcome::Sent { bytes: ret as u32 },
                };
                Some(EventKind::SendExit { fd, outcome })
            }
            "fcntl" if failed.is_none() => {
                self.fcntl(tid, fd, args, mem);
                None
            }
            "ioctl" if failed.is_none() => {
                // FIONBIO and FIOASYNC take a pointer to an int: non-zero sets the mode.
                let on = || read_int(mem, tid, args[2]).is_some_and(|v| v != 0);
                // The request number is 32 bits; the register's upper half is not looked at.
                match args[1] as u32 as libc::Ioctl {
                    libc::FIONBIO => self.modes.entry(fd).or_default().nonblocking = on(),
                    libc::FIOASYNC => self.modes.entry(fd).or_default().async_io = on(),
                    _ => {}
                }
                None
            }
            "rt_sigaction" if ret == 0 && args[1] != 0 => {
                // The kernel's `struct sigaction` starts with the handler: 0 is SIG_DFL, 1
                // SIG_IGN, anything else a function of the program's.
                let handler = mem
                    .read(tid, args[1], 8)
                    .and_then(|b| Some(u64::from_ne_bytes(b.try_into().ok()?)));
                let signo = args[0] as i32;
                match handler {
                    Some(0 | 1) => {
                        self.handled.remove(&signo);
                        None
                    }
                    Some(_) => {
                        self.handled.insert(signo);
                        Some(EventKind::SignalHandler { signo, name: signal_name(signo) })
                    }
                    None => None,
                }
            }
            "io_uring_setup" if ret >= 0 => {
                self.forget(ret as i32);
                self.rings.insert(ret as i32);
                None
            }
            "io_uring_enter" => Some(ring_exit(args, ret)),
            "close" if ret == 0 || self.sockets.contains(&fd) => {
                let was_socket = self.sockets.contains(&fd);
                let peer_closed = self.peer_closed.contains(&fd);
                self.forget(fd);
                was_socket.then(|| {
                    let reason =
                        if peer_closed { CloseReason::PeerClosed } else { CloseReason::Stopped };
                    EventKind::Close { fd, reason }
                })
            }
            _ => None,
        }
    }

    /// `epoll_ctl(epfd, op, fd, event)`, as the epoll model records it; the interest list
    /// follows it when it succeeded.
    fn epoll_ctl(
        &mut self,
        tid: i32,
        args: &[u64; 6],
        error: Option<SysError>,
        mem: &dyn Memory,
    ) -> Option<EventKind> {
        let (epfd, fd) = (args[0] as i32, args[2] as i32);
        let op = match args[1] as i32 {
            libc::EPOLL_CTL_ADD => EpollOp::Add,
            libc::EPOLL_CTL_MOD => EpollOp::Mod,
            libc::EPOLL_CTL_DEL => EpollOp::Del,
            _ => return None,
        };
        // `del` may pass a null event, and the model shows it with no events.
        let event = match op {
            EpollOp::Del => None,
            EpollOp::Add | EpollOp::Mod => epoll_events(mem, tid, args[3], 1).first().copied(),
        };
        if error.is_none() {
            let list = self.epolls.entry(epfd).or_default();
            match event {
                Some(interest) => {
                    list.insert(fd, interest);
                }
                None => {
                    list.remove(&fd);
                }
            }
        }
        let events = event.map_or(0, |i| i.events);
        let events = flag_names(EpollFlags::from_bits_truncate(events as i32));
        Some(EventKind::EpollCtl { op, fd, events, error })
    }

    /// The descriptors of the `n` `epoll_event`s an `epoll_wait` on `epfd` wrote at `addr`.
    ///
    /// The kernel returns each one's `data` as it was registered, not its descriptor. Most
    /// programs (Python's selectors, the epoll model, most C servers) register the descriptor
    /// itself, so `data` is taken as one when it is in `epfd`'s interest list; otherwise, the
    /// descriptor registered with that very `data` (a program that keeps a token or a pointer
    /// there, as mio does); an entry neither finds is left out of `ready` (it still counts in
    /// `scanned`: the program looked at it).
    fn epoll_ready(
        &self,
        tid: i32,
        epfd: i32,
        addr: u64,
        n: usize,
        mem: &dyn Memory,
    ) -> Vec<ReadyFd> {
        let list = self.epolls.get(&epfd);
        epoll_events(mem, tid, addr, n)
            .into_iter()
            .filter_map(|e| {
                let list = list?;
                let as_fd = i32::try_from(e.data).ok().filter(|fd| list.contains_key(fd));
                let fd = as_fd
                    .or_else(|| list.iter().find(|(_, i)| i.data == e.data).map(|(fd, _)| *fd))?;
                let flags = EpollFlags::from_bits_truncate(e.events as i32);
                // As the epoll models read a report (`Ready::readable`, `Ready::writable`).
                let failed = EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR;
                Some(ReadyFd {
                    fd,
                    readable: flags.intersects(EpollFlags::EPOLLIN | failed),
                    writable: flags.intersects(EpollFlags::EPOLLOUT | failed),
                })
            })
            .collect()
    }

    /// `fcntl(fd, cmd, arg)` that succeeded: the modes it set.
    fn fcntl(&mut self, tid: i32, fd: i32, args: &[u64; 6], mem: &dyn Memory) {
        let (cmd, arg) = (args[1], args[2]);
        match cmd {
            // F_SETFL replaces the status flags: a mode not in `arg` is off.
            c if c == libc::F_SETFL as u64 => {
                let mode = self.modes.entry(fd).or_default();
                mode.nonblocking = arg & libc::O_NONBLOCK as u64 != 0;
                mode.async_io = arg & libc::O_ASYNC as u64 != 0;
            }
            c if c == libc::F_SETOWN as u64 => {
                self.modes.entry(fd).or_default().owner = Some(arg as i32);
            }
            F_SETOWN_EX => {
                // `struct f_owner_ex { int type; pid_t pid; }`: a thread, a process or a group.
                let owner = mem.read(tid, arg, 8).filter(|b| b.len() == 8).map(|b| {
                    let kind = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
                    let pid = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
                    if kind == F_OWNER_PGRP {
                        -pid
                    } else {
                        pid
                    }
                });
                self.modes.entry(fd).or_default().owner = owner;
            }
            F_SETSIG => self.modes.entry(fd).or_default().signal = arg as i32,
            _ => {}
        }
    }
}

/// What a traced call is, for the events a would-block `EAGAIN` of it is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Accept,
    Recv,
    Send,
}

fn call_of(name: &str) -> Option<Call> {
    match name {
        "accept" | "accept4" => Some(Call::Accept),
        "read" | "recvfrom" | "readv" | "recvmsg" => Some(Call::Recv),
        "write" | "sendto" | "writev" | "sendmsg" => Some(Call::Send),
        _ => None,
    }
}

/// The errno a call's return value says, if it failed. The kernel's restart codes
/// (`ERESTARTSYS` 512 … `ERESTART_RESTARTBLOCK` 516), which only a tracer sees, are a signal
/// interrupting the call: the program sees `EINTR`, or the call made again.
fn errno_of(ret: i64) -> Option<Errno> {
    match ret {
        0.. => None,
        -516..=-512 => Some(Errno::EINTR),
        _ => Some(Errno::from_raw(-ret as i32)),
    }
}

/// `io_uring_enter(fd, to_submit, min_complete, flags, arg, argsz)` returned `ret`.
///
/// What the registers tell: `ret` is the number of SQEs the kernel took, or a negated errno —
/// `ETIME` when the call's timeout passed before any completion, with nothing submitted.
/// What they do not tell: how many CQEs wait in the completion queue. That queue is memory
/// the program shares with the kernel (`mmap` of the ring at `IORING_OFF_CQ_RING`, its
/// offsets in the `io_uring_params` `io_uring_setup` filled in); reading it needs the ring's
/// address in the program, which the filter does not stop for (`mmap`). One case is certain:
/// a call that waited (`IORING_ENTER_GETEVENTS`), submitted nothing and returned 0 came back
/// because `min_complete` completions were there, so `completions` is at least that; it is 0
/// in every other case, not a guess. For the same reason no `submit`/`complete` is decoded.
fn ring_exit(args: &[u64; 6], ret: i64) -> EventKind {
    let waited = args[3] & IORING_ENTER_GETEVENTS != 0;
    let completions = if waited && ret == 0 { args[2] as u32 } else { 0 };
    EventKind::RingExit { completions, timed_out: errno_of(ret) == Some(Errno::ETIME) }
}

/// The `int` at `addr`.
fn read_int(mem: &dyn Memory, tid: i32, addr: u64) -> Option<i32> {
    Some(i32::from_ne_bytes(mem.read(tid, addr, 4)?.try_into().ok()?))
}

/// The `n` `struct epoll_event`s at `addr`.
fn epoll_events(mem: &dyn Memory, tid: i32, addr: u64, n: usize) -> Vec<Interest> {
    if addr == 0 || n == 0 {
        return Vec::new();
    }
    let bytes = mem.read(tid, addr, n.min(MOST_ENTRIES) * EPOLL_EVENT).unwrap_or_default();
    bytes
        .chunks_exact(EPOLL_EVENT)
        .map(|e| Interest {
            events: u32::from_ne_bytes([e[0], e[1], e[2], e[3]]),
            data: u64::from_ne_bytes(e[4..12].try_into().expect("8 bytes")),
        })
        .collect()
}

/// The buffers a `recv`/`send`-like call reads into or writes from, as `(address, length)`:
/// its one buffer, its `iovec` array (`readv`, `writev`) or its `msghdr`'s (`recvmsg`,
/// `sendmsg`).
fn buffers(mem: &dyn Memory, tid: i32, name: &str, args: &[u64; 6]) -> Vec<(u64, u64)> {
    match name {
        "readv" | "writev" => iovecs(mem, tid, args[1], args[2] as usize),
        "recvmsg" | "sendmsg" => {
            // `struct msghdr`: name, namelen (and padding), then iov at 16 and iovlen at 24.
            let Some(hdr) = mem.read(tid, args[1], 32).filter(|h| h.len() == 32) else {
                return Vec::new();
            };
            let iov = u64::from_ne_bytes(hdr[16..24].try_into().expect("8 bytes"));
            let n = u64::from_ne_bytes(hdr[24..32].try_into().expect("8 bytes"));
            iovecs(mem, tid, iov, n as usize)
        }
        _ => vec![(args[1], args[2])],
    }
}

/// The `n` `struct iovec`s (address, length) at `addr`.
fn iovecs(mem: &dyn Memory, tid: i32, addr: u64, n: usize) -> Vec<(u64, u64)> {
    if addr == 0 || n == 0 {
        return Vec::new();
    }
    let bytes = mem.read(tid, addr, n.min(MOST_ENTRIES) * 16).unwrap_or_default();
    bytes
        .chunks_exact(16)
        .map(|v| {
            let base = u64::from_ne_bytes(v[..8].try_into().expect("8 bytes"));
            (base, u64::from_ne_bytes(v[8..].try_into().expect("8 bytes")))
        })
        .collect()
}

/// The buffers' lengths added up, as a `u32` (saturated).
fn total_len(bufs: &[(u64, u64)]) -> u32 {
    bufs.iter().map(|b| b.1).fold(0u64, u64::saturating_add).min(u64::from(u32::MAX)) as u32
}

/// The first `n` bytes of the buffers, in order.
fn gather(mem: &dyn Memory, tid: i32, bufs: &[(u64, u64)], n: usize) -> Vec<u8> {
    let mut got = Vec::with_capacity(n);
    for &(addr, len) in bufs {
        let want = (n - got.len()).min(len as usize);
        if want == 0 {
            break;
        }
        got.extend(mem.read(tid, addr, want).unwrap_or_default());
    }
    got
}
/// The descriptors below `nfds` set in the `fd_set` at `addr` (none if `addr` is null).
fn fd_set(mem: &dyn Memory, tid: i32, addr: u64, nfds: usize) -> Vec<i32> {
    if addr == 0 || nfds == 0 {
        return Vec::new();
    }
    let bytes = mem.read(tid, addr, nfds.div_ceil(64) * 8).unwrap_or_default();
    (0..nfds.min(bytes.len() * 8))
        .filter(|&fd| bytes[fd / 8] & (1 << (fd % 8)) != 0)
        .map(|fd| fd as i32)
        .collect()
}

/// Each descriptor of the sets a `select` returned, read and write merged.
fn ready_fds(read: &[i32], write: &[i32]) -> Vec<ReadyFd> {
    let mut fds: Vec<i32> = read.iter().chain(write).copied().collect();
    fds.sort_unstable();
    fds.dedup();
    fds.into_iter()
        .map(|fd| ReadyFd { fd, readable: read.contains(&fd), writable: write.contains(&fd) })
        .collect()
}

/// `(fd, revents)` of the `n` `struct pollfd`s at `addr` (8 bytes each: fd, events, revents).
fn pollfds(mem: &dyn Memory, tid: i32, addr: u64, n: usize) -> Vec<(i32, i16)> {
    let bytes = mem.read(tid, addr, n.min(65_536) * 8).unwrap_or_default();
    bytes
        .chunks_exact(8)
        .map(|p| (i32::from_ne_bytes([p[0], p[1], p[2], p[3]]), i16::from_ne_bytes([p[6], p[7]])))
        .collect()
}

/// The address an `accept` wrote at `addr` (its length at `len_at`), if the program asked.
fn peer_of(mem: &dyn Memory, tid: i32, addr: u64, len_at: u64) -> Option<String> {
    if addr == 0 || len_at == 0 {
        return None;
    }
    let len = mem.read(tid, len_at, 4)?;
    let len = u32::from_ne_bytes(len.try_into().ok()?) as usize;
    sockaddr(&mem.read(tid, addr, len.min(128))?)
}

/// The peer of descriptor `fd` of process `pid`, asked of a copy of the socket the tracer takes
/// (`pidfd_getfd`, which needs the right to ptrace it): how an `accept` known only from the
/// kernel's tracepoints ([`super::passive`]), without the program's memory, still names its
/// peer — so a browser echo client's connection is followed. `None` if the descriptor is gone
/// or not a connected socket.
pub fn peer_of_descriptor(pid: i32, fd: i32) -> Option<String> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: pidfd_open and pidfd_getfd return new descriptors (owned at once, closed on
    // drop) or fail; getpeername writes at most `len` bytes into a local sockaddr_storage.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
        if pidfd < 0 {
            return None;
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd as i32);
        let copy = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0);
        if copy < 0 {
            return None;
        }
        let copy = OwnedFd::from_raw_fd(copy as i32);
        let mut addr: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let at = (&mut addr as *mut libc::sockaddr_storage).cast::<libc::sockaddr>();
        if libc::getpeername(copy.as_raw_fd(), at, &mut len) != 0 {
            return None;
        }
        let len = (len as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
        sockaddr(std::slice::from_raw_parts(at.cast::<u8>(), len))
    }
}

/// An IPv4 or IPv6 `sockaddr` as `ip:port`.
fn sockaddr(b: &[u8]) -> Option<String> {
    let family = u16::from_ne_bytes([*b.first()?, *b.get(1)?]) as i32;
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match family {
        libc::AF_INET => {
            let ip = std::net::Ipv4Addr::new(*b.get(4)?, *b.get(5)?, *b.get(6)?, *b.get(7)?);
            Some(format!("{ip}:{port}"))
        }
        libc::AF_INET6 => {
            let octets: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some(format!("[{}]:{port}", std::net::Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    #[test]
    fn an_accepted_sockets_peer_is_read_from_a_copy_of_the_descriptor() {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let me = std::process::id() as i32;
        let peer = peer_of_descriptor(me, accepted.as_raw_fd());
        assert_eq!(peer, Some(client.local_addr().unwrap().to_string()));
        assert_eq!(peer_of_descriptor(me, listener.as_raw_fd()), None, "not connected");
        assert_eq!(peer_of_descriptor(me, 100_000), None, "no such descriptor");
    }
    use std::process::{Command, Stdio};

    /// A blocking echo server in Python, as the tutorial writes one; it prints its port.
    const BLOCKING: &str = "import socket, sys\n\
        s = socket.socket()\n\
        s.bind(('127.0.0.1', 0))\n\
        s.listen(5)\n\
        print(s.getsockname()[1], flush=True)\n\
        c, _ = s.accept()\n\
        while True:\n    d = c.recv(1024)\n    if not d:\n        break\n    c.sendall(d)\n\
        c.close()\n\
        s.close()\n";

    /// Traces `script` (a Python echo server that prints its port), echoes one line through
    /// it, closes, and returns the event kinds it was decoded as.
    fn echo_one_line_through(script: &str) -> Vec<EventKind> {
        echo_when(script, |_| true).0
    }

    /// As [`echo_one_line_through`], but the line is written only once the tracer has seen a
    /// stop `ready` accepts (the server in a state the test needs), and the decoder is
    /// returned too, to be asked what it kept.
    fn echo_when(
        script: &str,
        ready: impl Fn(&Seen) -> bool + Send + 'static,
    ) -> (Vec<EventKind>, Decoder) {
        let mut cmd = Command::new("python3");
        cmd.args(["-c", script]).stdout(Stdio::piped());
        let (tx, rx) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let tracer = std::thread::spawn(move || {
            let mut decoder = Decoder::default();
            let mut kinds = Vec::new();
            let spawned = |child: &mut std::process::Child| {
                let _ = tx.send(child.stdout.take());
            };
            super::super::tracer::run_with(cmd, spawned, |seen| {
                if ready(&seen) {
                    let _ = ready_tx.send(());
                }
                kinds.extend(decoder.on(&seen, &ProcessMemory).into_iter().map(|(_, k)| k));
            })
            .unwrap();
            (kinds, decoder)
        });
        let stdout = rx.recv().unwrap().expect("stdout piped");
        let mut port = String::new();
        BufReader::new(stdout).read_line(&mut port).unwrap();
        let port: u16 = port.trim().parse().unwrap();
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        ready_rx.recv().expect("the server reached the state the test waits for");
        client.write_all(b"hello kettle\n").unwrap();
        let mut echo = [0u8; 13];
        client.read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"hello kettle\n");
        drop(client);
        tracer.join().unwrap()
    }

    /// The connection's descriptor: the first one an `accept` returned.
    fn accepted(kinds: &[EventKind]) -> i32 {
        kinds
            .iter()
            .find_map(|k| match k {
                EventKind::AcceptExit { fd: Some(fd), .. } => Some(*fd),
                _ => None,
            })
            .expect("accepted")
    }

    /// The descriptor the program listens on: the one its first `epoll_ctl` added.
    fn first_added(kinds: &[EventKind]) -> i32 {
        kinds
            .iter()
            .find_map(|k| match k {
                EventKind::EpollCtl { op: EpollOp::Add, fd, .. } => Some(*fd),
                _ => None,
            })
            .expect("an epoll_ctl(ADD)")
    }

    /// Whether the line came back as one `recv` of it and one `send` of it.
    fn echoed(kinds: &[EventKind]) -> bool {
        let received = kinds.iter().any(|k| matches!(k, EventKind::RecvExit { outcome: RecvOutcome::Data { bytes: 13, preview }, .. } if preview == "hello kettle\n"));
        let sent = kinds.iter().any(|k| {
            matches!(k, EventKind::SendExit { outcome: SendOutcome::Sent { bytes: 13 }, .. })
        });
        received && sent
    }

    /// The tutorial's select server in Python: one thread, `select.select` over the listener
    /// and the connections; it exits once its one client has gone.
    const SELECT: &str = "import select, socket\n\
        s = socket.socket()\n\
        s.bind(('127.0.0.1', 0))\n\
        s.listen(5)\n\
        print(s.getsockname()[1], flush=True)\n\
        inputs = [s]\n\
        served = False\n\
        while not served or len(inputs) > 1:\n    readable, _, _ = select.select(inputs, [], [])\n    for r in readable:\n        if r is s:\n            c, _ = s.accept()\n            inputs.append(c)\n            served = True\n        else:\n            d = r.recv(1024)\n            if d:\n                r.sendall(d)\n            else:\n                inputs.remove(r)\n                r.close()\n";

    #[test]
    fn a_python_select_server_reads_as_waits_on_the_listener_then_on_the_connection() {
        let kinds = echo_one_line_through(SELECT);
        let waits: Vec<&EventKind> =
            kinds.iter().filter(|k| matches!(k, EventKind::WaitReturned { .. })).collect();
        assert!(waits.len() >= 3, "the accept, the line and the end: {kinds:?}");
        let conn = kinds
            .iter()
            .find_map(|k| match k {
                EventKind::AcceptExit { fd: Some(fd), .. } => Some(*fd),
                _ => None,
            })
            .expect("accepted");
        // The first wait watches the listener alone and wakes for it; later ones watch the
        // connection too, and one wakes for the connection's line.
        match kinds.iter().find(|k| matches!(k, EventKind::WaitEnter { .. })) {
            Some(EventKind::WaitEnter { api: WaitApi::Select, watched }) => {
                assert_eq!(watched.len(), 1, "{watched:?}")
            }
            other => panic!("{other:?}"),
        }
        assert!(
            kinds.iter().any(|k| matches!(k,
            EventKind::WaitEnter { watched, .. } if watched.contains(&conn) && watched.len() == 2))
        );
        assert!(kinds.iter().any(|k| matches!(k,
            EventKind::WaitReturned { api: WaitApi::Select, ready, scanned }
                if ready.iter().any(|r| r.fd == conn && r.readable) && *scanned as i32 == conn + 1)));
    }

    #[test]
    fn a_python_blocking_echo_server_reads_as_the_blocking_models_events() {
        let kinds = echo_one_line_through(BLOCKING);
        let names: Vec<&str> = kinds.iter().map(EventKind::name).collect();
        let want = [
            "listen",
            "accept_enter",
            "accept_exit",
            "recv_enter",
            "recv_exit",
            "send_enter",
            "send_exit",
            "recv_enter",
            "recv_exit",
            "close",
        ];
        let mut at = 0;
        for name in &names {
            if at < want.len() && *name == want[at] {
                at += 1;
            }
        }
        assert_eq!(at, want.len(), "{names:?}");
        assert!(kinds.iter().any(|k| matches!(k, EventKind::Listen { addr, backlog: 5 } if addr.starts_with("127.0.0.1:"))), "{kinds:?}");
        assert!(kinds.iter().any(|k| matches!(k, EventKind::AcceptExit { fd: Some(_), peer: Some(p), .. } if p.starts_with("127.0.0.1:"))), "{kinds:?}");
        assert!(kinds.iter().any(|k| matches!(k, EventKind::RecvExit { outcome: RecvOutcome::Data { bytes: 13, preview }, .. } if preview == "hello kettle\n")), "{kinds:?}");
        assert!(kinds
            .iter()
            .any(|k| matches!(k, EventKind::RecvExit { outcome: RecvOutcome::Eof, .. })));
        assert!(kinds
            .iter()
            .any(|k| matches!(k, EventKind::Close { reason: CloseReason::PeerClosed, .. })));
    }

    /// The selectors tutorial's echo server: `selectors.DefaultSelector`, which is epoll on
    /// Linux, non-blocking sockets, and `unregister` before `close`.
    const SELECTORS: &str = "import selectors, socket\n\
        sel = selectors.DefaultSelector()\n\
        s = socket.socket()\n\
        s.bind(('127.0.0.1', 0))\n\
        s.listen(5)\n\
        s.setblocking(False)\n\
        sel.register(s, selectors.EVENT_READ)\n\
        print(s.getsockname()[1], flush=True)\n\
        served = False\n\
        while not served or len(sel.get_map()) > 1:\n    for key, mask in sel.select():\n        if key.fileobj is s:\n            c, _ = s.accept()\n            c.setblocking(False)\n            sel.register(c, selectors.EVENT_READ)\n            served = True\n        else:\n            c = key.fileobj\n            d = c.recv(1024)\n            if d:\n                c.sendall(d)\n            else:\n                sel.unregister(c)\n                c.close()\n";

    #[test]
    fn a_python_selectors_server_reads_as_the_epoll_models_interest_list_and_waits() {
        let kinds = echo_one_line_through(SELECTORS);
        let listener = first_added(&kinds);
        let conn = accepted(&kinds);
        let ctl = |op, fd, events: &str| {
            kinds
                .iter()
                .any(|k| *k == EventKind::EpollCtl { op, fd, events: events.into(), error: None })
        };
        assert!(ctl(EpollOp::Add, listener, "EPOLLIN"), "{kinds:?}");
        assert!(ctl(EpollOp::Add, conn, "EPOLLIN"), "{kinds:?}");
        assert!(ctl(EpollOp::Del, conn, ""), "{kinds:?}");
        // The first wait watches the listener alone and wakes for it; a later one watches
        // the connection too and wakes for its line, one entry looked at per ready one.
        let first = kinds.iter().find(|k| matches!(k, EventKind::WaitEnter { .. }));
        assert_eq!(
            first,
            Some(&EventKind::WaitEnter { api: WaitApi::Epoll, watched: vec![listener] })
        );
        assert!(kinds.iter().any(|k| matches!(k,
            EventKind::WaitReturned { api: WaitApi::Epoll, ready, scanned: 1 }
                if ready == &[ReadyFd { fd: listener, readable: true, writable: false }])));
        let both = if listener < conn { vec![listener, conn] } else { vec![conn, listener] };
        assert!(kinds.contains(&EventKind::WaitEnter { api: WaitApi::Epoll, watched: both }));
        assert!(kinds.iter().any(|k| matches!(k,
            EventKind::WaitReturned { api: WaitApi::Epoll, ready, scanned }
                if ready.iter().any(|r| r.fd == conn && r.readable)
                    && *scanned as usize == ready.len())));
        assert!(echoed(&kinds), "{kinds:?}");
        // Non-blocking, the recv is drawn whole once it returned: enter, then exit.
        let recv = kinds.iter().position(|k| matches!(k, EventKind::RecvExit { .. })).unwrap();
        assert_eq!(kinds[recv - 1], EventKind::RecvEnter { fd: conn, len: 1024 });
        assert!(kinds.contains(&EventKind::Close { fd: conn, reason: CloseReason::PeerClosed }));
    }

    /// The tutorial's non-blocking server: one thread asking every socket, again and again.
    const BUSY_LOOP: &str = "import socket\n\
        s = socket.socket()\n\
        s.bind(('127.0.0.1', 0))\n\
        s.listen(5)\n\
        s.setblocking(False)\n\
        print(s.getsockname()[1], flush=True)\n\
        conns = []\n\
        served = False\n\
        while not served or conns:\n    try:\n        c, _ = s.accept()\n        c.setblocking(False)\n        conns.append(c)\n        served = True\n    except BlockingIOError:\n        pass\n    for c in list(conns):\n        try:\n            d = c.recv(1024)\n        except BlockingIOError:\n            continue\n        if d:\n            c.sendall(d)\n        else:\n            conns.remove(c)\n            c.close()\n";

    #[test]
    fn a_python_busy_loop_reads_as_would_block_bursts_not_one_event_per_eagain() {
        // The line is sent once a `recv` on the connection has found nothing, so the server
        // has surely asked in vain.
        let eagain = -(libc::EAGAIN as i64);
        let (kinds, _) = echo_when(
            BUSY_LOOP,
            move |s| matches!(s, Seen::Exit { name: "recvfrom", ret, .. } if *ret == eagain),
        );
        let burst = |call: &str| -> u64 {
            kinds
                .iter()
                .filter_map(|k| match k {
                    EventKind::WouldBlockBurst { call: c, count } if c == call => Some(*count),
                    _ => None,
                })
                .sum()
        };
        // After its one client the server asks `accept` on every turn: in vain.
        assert!(burst("accept") >= 1, "{kinds:?}");
        assert!(burst("recv") >= 1, "{kinds:?}");
        // No EAGAIN is drawn one by one: no accept that failed, no recv that would block,
        // and every enter drawn has its exit right after it (the calls cannot sleep).
        assert!(!kinds.iter().any(|k| matches!(
            k,
            EventKind::AcceptExit { error: Some(_), .. }
                | EventKind::RecvExit { outcome: RecvOutcome::WouldBlock, .. }
        )));
        for (i, k) in kinds.iter().enumerate() {
            let exit = match k {
                EventKind::AcceptEnter => "accept_exit",
                EventKind::RecvEnter { .. } => "recv_exit",
                EventKind::SendEnter { .. } => "send_exit",
                _ => continue,
            };
            assert_eq!(kinds.get(i + 1).map(EventKind::name), Some(exit), "{kinds:?}");
        }
        // Counted, not listed: far fewer events than calls made in vain.
        let bursts = kinds.iter().filter(|k| k.name() == "would_block_burst").count() as u64;
        assert!(bursts <= burst("accept") + burst("recv"));
        assert!(echoed(&kinds), "{kinds:?}");
        assert!(kinds
            .iter()
            .any(|k| matches!(k, EventKind::Close { reason: CloseReason::PeerClosed, .. })));
    }

    /// A signal-driven echo server: the sockets signal SIGIO (named with `F_SETSIG` so the
    /// kernel says which socket); as in the sigio model the handler only notes the signal and
    /// the main thread, napping between signals, accepts and echoes until `EAGAIN` (a handler
    /// that did the work would be re-entered by the next signal). `os._exit` at the end: no
    /// finaliser closes the listener, so the decoder still holds its modes.
    const SIGIO: &str = "import fcntl, os, signal, socket, time\n\
        s = socket.socket()\n\
        s.bind(('127.0.0.1', 0))\n\
        s.listen(5)\n\
        conns = []\n\
        noted = []\n\
        done = False\n\
        def asynchronous(sock):\n    fcntl.fcntl(sock, fcntl.F_SETOWN, os.getpid())\n    fcntl.fcntl(sock, fcntl.F_SETSIG, signal.SIGIO)\n    flags = fcntl.fcntl(sock, fcntl.F_GETFL)\n    fcntl.fcntl(sock, fcntl.F_SETFL, flags | os.O_ASYNC | os.O_NONBLOCK)\n\
        def serve():\n    global done\n    try:\n        while True:\n            c, _ = s.accept()\n            asynchronous(c)\n            conns.append(c)\n    except BlockingIOError:\n        pass\n    for c in list(conns):\n        try:\n            while True:\n                d = c.recv(1024)\n                if not d:\n                    conns.remove(c)\n                    c.close()\n                    done = True\n                    break\n                c.sendall(d)\n        except BlockingIOError:\n            pass\n\
        signal.signal(signal.SIGIO, lambda signo, frame: noted.append(signo))\n\
        asynchronous(s)\n\
        print(s.getsockname()[1], flush=True)\n\
        while not done:\n    if noted:\n        noted.clear()\n        serve()\n    else:\n        time.sleep(0.01)\n\
        os._exit(0)\n";

    #[test]
    fn a_python_sigio_server_reads_as_signals_delivered_then_calls_that_do_not_wait() {
        // The line is sent once the connection was read in vain (it signals from then on), so
        // the line brings its own signal.
        let eagain = -(libc::EAGAIN as i64);
        let (kinds, decoder) = echo_when(
            SIGIO,
            move |s| matches!(s, Seen::Exit { name: "recvfrom", ret, .. } if *ret == eagain),
        );
        let conn = accepted(&kinds);
        let sigio = libc::SIGIO;
        assert!(kinds.contains(&EventKind::SignalHandler { signo: sigio, name: "SIGIO".into() }));
        let delivered = |fd: i32| {
            kinds.iter().position(|k| {
                *k == EventKind::SignalDelivered {
                    signo: sigio,
                    name: "SIGIO".into(),
                    fd: Some(fd),
                }
            })
        };
        // The listener's signal comes before the accept, the connection's before its line.
        let accept = kinds.iter().position(|k| *k == EventKind::AcceptEnter).unwrap();
        let at_listener = kinds[..accept].iter().rev().find_map(|k| match k {
            EventKind::SignalDelivered { fd, .. } => Some(*fd),
            _ => None,
        });
        let listener = at_listener.flatten().expect("a signal named the listener");
        let line = kinds
            .iter()
            .position(|k| {
                matches!(k, EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. })
            })
            .expect("the line was read");
        assert!(delivered(conn).is_some_and(|at| at < line), "{kinds:?}");
        assert!(echoed(&kinds), "{kinds:?}");
        // The fcntl calls made no event, but the decoder knows the listener signals.
        assert!(decoder.is_async(listener) && decoder.nonblocking(listener));
        assert_eq!(decoder.owner(listener).map(|o| o > 0), Some(true));
        assert_eq!(decoder.io_signal(listener), sigio);
        assert!(!decoder.is_async(conn), "closed: forgotten");
    }

    /// The asyncio tutorial's echo server: streams over selectors' epoll.
    const ASYNCIO: &str = "import asyncio\n\
        async def handle(reader, writer):\n    while True:\n        d = await reader.read(1024)\n        if not d:\n            break\n        writer.write(d)\n        await writer.drain()\n    writer.close()\n    await writer.wait_closed()\n    done.set()\n\
        async def main():\n    global done\n    done = asyncio.Event()\n    server = await asyncio.start_server(handle, '127.0.0.1', 0)\n    print(server.sockets[0].getsockname()[1], flush=True)\n    await done.wait()\n    server.close()\n    await server.wait_closed()\n\
        asyncio.run(main())\n";

    #[test]
    fn a_python_asyncio_server_reads_as_epoll_waits_then_recv_and_send() {
        let (kinds, _) = echo_when(ASYNCIO, |_| true);
        let conn = accepted(&kinds);
        assert!(kinds.iter().any(|k| matches!(k,
            EventKind::EpollCtl { op: EpollOp::Add, fd, error: None, .. } if *fd == conn)));
        let woken = kinds
            .iter()
            .position(|k| {
                matches!(k,
                EventKind::WaitReturned { api: WaitApi::Epoll, ready, .. }
                    if ready.iter().any(|r| r.fd == conn && r.readable))
            })
            .expect("a wait woke for the connection");
        let line = kinds
            .iter()
            .position(|k| matches!(k, EventKind::RecvExit { fd, outcome: RecvOutcome::Data { .. }, .. } if *fd == conn))
            .expect("the line was read");
        assert!(woken < line, "{kinds:?}");
        assert!(kinds[line + 1..].iter().any(|k| matches!(k,
            EventKind::SendExit { fd, outcome: SendOutcome::Sent { bytes: 13 } } if *fd == conn)));
        assert!(echoed(&kinds), "{kinds:?}");
        assert!(kinds.iter().any(|k| matches!(k,
            EventKind::RecvExit { fd, outcome: RecvOutcome::Eof, .. } if *fd == conn)));
        assert!(kinds.contains(&EventKind::Close { fd: conn, reason: CloseReason::PeerClosed }));
    }

    /// A blocking server that reads with `recvmsg` and `readv`, answers with `sendmsg` and
    /// `writev`, and shuts the connection down before closing it.
    const SCATTER_GATHER: &str = "import os, socket\n\
        s = socket.socket()\n\
        s.bind(('127.0.0.1', 0))\n\
        s.listen(5)\n\
        print(s.getsockname()[1], flush=True)\n\
        c, _ = s.accept()\n\
        line = b''\n\
        while not line.endswith(b'\\n'):\n    line += c.recvmsg(1024)[0]\n\
        c.sendmsg([line[:5]])\n\
        os.writev(c.fileno(), [line[5:]])\n\
        buf = bytearray(300)\n\
        while os.readv(c.fileno(), [buf, buf]):\n    pass\n\
        c.shutdown(socket.SHUT_RDWR)\n\
        c.close()\n";

    #[test]
    fn recvmsg_readv_sendmsg_and_writev_read_as_recv_and_send() {
        let kinds = echo_one_line_through(SCATTER_GATHER);
        let conn = accepted(&kinds);
        assert!(kinds.contains(&EventKind::RecvEnter { fd: conn, len: 1024 }), "{kinds:?}");
        assert!(kinds.iter().any(|k| matches!(k,
            EventKind::RecvExit { fd, outcome: RecvOutcome::Data { preview, .. }, .. }
                if *fd == conn && preview.starts_with("hello"))));
        let sent: Vec<&EventKind> = kinds
            .iter()
            .filter(|k| matches!(k, EventKind::SendEnter { .. } | EventKind::SendExit { .. }))
            .collect();
        let want = [
            EventKind::SendEnter { fd: conn, bytes: 5 },
            EventKind::SendExit { fd: conn, outcome: SendOutcome::Sent { bytes: 5 } },
            EventKind::SendEnter { fd: conn, bytes: 8 },
            EventKind::SendExit { fd: conn, outcome: SendOutcome::Sent { bytes: 8 } },
        ];
        assert_eq!(sent, want.iter().collect::<Vec<_>>());
        // readv's two 300-byte buffers, and the end of file it found.
        assert!(kinds.contains(&EventKind::RecvEnter { fd: conn, len: 600 }), "{kinds:?}");
        assert!(kinds.iter().any(|k| matches!(k,
            EventKind::RecvExit { fd, outcome: RecvOutcome::Eof, .. } if *fd == conn)));
        assert!(kinds.contains(&EventKind::Close { fd: conn, reason: CloseReason::PeerClosed }));
    }

    /// Memory as a table of what is at each address, for hand-built stops.
    #[derive(Default)]
    struct Table(HashMap<u64, Vec<u8>>);

    impl Memory for Table {
        fn read(&self, _: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
            let bytes = self.0.get(&addr)?;
            Some(bytes[..len.min(bytes.len())].to_vec())
        }
    }

    fn epoll_event(events: i32, data: u64) -> Vec<u8> {
        let mut e = (events as u32).to_ne_bytes().to_vec();
        e.extend(data.to_ne_bytes());
        e
    }

    fn exit(name: &'static str, args: [u64; 6], ret: i64) -> Seen {
        Seen::Exit { tid: 7, t_ns: 0, name, args, ret }
    }

    fn enter(name: &'static str, args: [u64; 6]) -> Seen {
        Seen::Enter { tid: 7, t_ns: 0, name, args }
    }

    fn kinds_of(decoder: &mut Decoder, seen: &Seen, mem: &dyn Memory) -> Vec<EventKind> {
        decoder.on(seen, mem).into_iter().map(|(_, k)| k).collect()
    }

    #[test]
    fn an_epoll_event_whose_data_is_no_descriptor_is_found_by_the_data_it_was_added_with() {
        let mut mem = Table::default();
        let mut d = Decoder::default();
        let token = 0x7f00_dead_beef;
        let edge = libc::EPOLLIN | libc::EPOLLET;
        mem.0.insert(0x100, epoll_event(edge, token));
        kinds_of(&mut d, &exit("epoll_create1", [0; 6], 3), &mem);
        let added = kinds_of(&mut d, &exit("epoll_ctl", [3, 1, 9, 0x100, 0, 0], 0), &mem);
        assert_eq!(
            added,
            [EventKind::EpollCtl {
                op: EpollOp::Add,
                fd: 9,
                events: "EPOLLIN|EPOLLET".into(),
                error: None
            }]
        );
        let waiting = [3, 0x200, 8, u64::MAX, 0, 0];
        assert_eq!(
            kinds_of(&mut d, &enter("epoll_wait", waiting), &mem),
            [EventKind::WaitEnter { api: WaitApi::EpollEt, watched: vec![9] }]
        );
        // The kernel wrote back the token, and one entry the decoder cannot place.
        let mut returned = epoll_event(libc::EPOLLIN, token);
        returned.extend(epoll_event(libc::EPOLLIN, 12345));
        mem.0.insert(0x200, returned);
        assert_eq!(
            kinds_of(&mut d, &exit("epoll_wait", waiting, 2), &mem),
            [EventKind::WaitReturned {
                api: WaitApi::EpollEt,
                ready: vec![ReadyFd { fd: 9, readable: true, writable: false }],
                scanned: 2,
            }]
        );
        // A failed epoll_ctl is drawn with its error and changes nothing; a wait a signal
        // interrupted (the kernel's ERESTARTNOHAND) returns nothing ready.
        let failed = kinds_of(&mut d, &exit("epoll_ctl", [3, 1, 9, 0x100, 0, 0], -17), &mem);
        assert!(
            matches!(&failed[..], [EventKind::EpollCtl { error: Some(e), .. }] if e.errno == "EEXIST")
        );
        assert_eq!(
            kinds_of(&mut d, &exit("epoll_wait", waiting, -514), &mem),
            [EventKind::WaitReturned { api: WaitApi::EpollEt, ready: vec![], scanned: 0 }]
        );
        // Closing the descriptor takes it out of the interest list.
        kinds_of(&mut d, &exit("close", [9, 0, 0, 0, 0, 0], 0), &mem);
        assert_eq!(
            kinds_of(&mut d, &enter("epoll_wait", waiting), &mem),
            [EventKind::WaitEnter { api: WaitApi::Epoll, watched: vec![] }]
        );
    }

    #[test]
    fn io_uring_enter_reads_as_ring_enter_and_exit_with_what_the_registers_say() {
        let mem = Table::default();
        let mut d = Decoder::default();
        kinds_of(&mut d, &exit("io_uring_setup", [8, 0x100, 0, 0, 0, 0], 4), &mem);
        assert!(d.is_ring(4));
        // Two SQEs handed over, waiting for one completion (IORING_ENTER_GETEVENTS).
        let submit_and_wait = [4, 2, 1, IORING_ENTER_GETEVENTS, 0, 0];
        assert_eq!(
            kinds_of(&mut d, &enter("io_uring_enter", submit_and_wait), &mem),
            [EventKind::RingEnter { submitted: 2, wait_for: 1 }]
        );
        // It returns the SQEs it took: how many CQEs wait is in the ring, not here.
        assert_eq!(
            kinds_of(&mut d, &exit("io_uring_enter", submit_and_wait, 2), &mem),
            [EventKind::RingExit { completions: 0, timed_out: false }]
        );
        // Nothing submitted and 0 returned: the completion it waited for is there.
        let wait = [4, 0, 1, IORING_ENTER_GETEVENTS, 0, 0];
        assert_eq!(
            kinds_of(&mut d, &exit("io_uring_enter", wait, 0), &mem),
            [EventKind::RingExit { completions: 1, timed_out: false }]
        );
        assert_eq!(
            kinds_of(&mut d, &exit("io_uring_enter", wait, -(libc::ETIME as i64)), &mem),
            [EventKind::RingExit { completions: 0, timed_out: true }]
        );
        // Submitting only (no GETEVENTS): it waits for nothing.
        assert_eq!(
            kinds_of(&mut d, &enter("io_uring_enter", [4, 3, 1, 0, 0, 0]), &mem),
            [EventKind::RingEnter { submitted: 3, wait_for: 0 }]
        );
        kinds_of(&mut d, &exit("close", [4, 0, 0, 0, 0, 0], 0), &mem);
        assert!(!d.is_ring(4));
    }

    #[test]
    fn eagains_are_reported_once_their_window_is_over_or_before_the_thread_sleeps() {
        let mem = Table::default();
        let mut d = Decoder::default();
        kinds_of(&mut d, &exit("socket", [2, 1 | libc::SOCK_NONBLOCK as u64, 0, 0, 0, 0], 5), &mem);
        let accept = [5, 0, 0, 0, 0, 0];
        let at = |t_ns: u64, seen: Seen| match seen {
            Seen::Enter { tid, name, args, .. } => Seen::Enter { tid, t_ns, name, args },
            Seen::Exit { tid, name, args, ret, .. } => Seen::Exit { tid, t_ns, name, args, ret },
            other => other,
        };
        let window = BURST_WINDOW.as_nanos() as u64;
        let mut all = Vec::new();
        for i in 0..3 {
            all.extend(kinds_of(&mut d, &at(i, enter("accept4", accept)), &mem));
            all.extend(kinds_of(&mut d, &at(i, exit("accept4", accept, -11)), &mem));
        }
        assert_eq!(all, []);
        // The window is over at the thread's next stop.
        let late = kinds_of(&mut d, &at(window, enter("accept4", accept)), &mem);
        assert_eq!(late, [EventKind::WouldBlockBurst { call: "accept".into(), count: 3 }]);
        kinds_of(&mut d, &at(window, exit("accept4", accept, -11)), &mem);
        // A call that may sleep comes after the count so far.
        let poll = [0, 0, u64::MAX, 0, 0, 0];
        assert_eq!(
            kinds_of(&mut d, &at(window + 1, enter("poll", poll)), &mem),
            [
                EventKind::WouldBlockBurst { call: "accept".into(), count: 1 },
                EventKind::WaitEnter { api: WaitApi::Poll, watched: vec![] },
            ]
        );
    }
}
