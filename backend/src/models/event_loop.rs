//! The pieces shared by the epoll models (`epoll`, `epoll-et`, `reactor`): a recorded epoll
//! instance, its connections, and accepting with a pause when the process is out of
//! descriptors.
//!
//! The three models differ only in how they react to readiness; everything here is the same
//! for all of them, so it is written once. Each connection is the one non-blocking connection
//! of every one-thread model ([`NonBlockingConn`]): what a `send` did not take waits in its
//! output buffer and the connection asks for `EPOLLOUT`, so `epoll_wait` says when the kernel
//! has room again; while the buffer holds its bound the connection does not ask for `EPOLLIN`
//! (see [`super::nonblocking_conn`] for why the output must be bounded).

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;

use kettle_shared::{CloseReason, EpollOp, EventKind, ReadyFd, WaitApi};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::SockFlag;

use super::accept_pause::AcceptPause;
use super::calls::{accept_recorded, close_recorded, prepare_connection};
use super::nonblocking_conn::NonBlockingConn;
use super::{sys_error, ModelContext, StopSignal};
use crate::recorder::Tracer;

/// Ready descriptors one `epoll_wait` may return.
const MAX_EVENTS: usize = 64;

/// A recorded epoll instance that remembers its interest list, to show what it watches and to
/// skip `epoll_ctl` calls that would change nothing.
#[derive(Debug)]
pub struct Poller {
    epoll: Epoll,
    api: WaitApi,
    interest: BTreeMap<RawFd, EpollFlags>,
    events: Vec<EpollEvent>,
}

/// One descriptor `epoll_wait` reported, with what the kernel said about it.
#[derive(Debug, Clone, Copy)]
pub struct Ready {
    /// The descriptor.
    pub fd: RawFd,
    /// The events (`EPOLLIN`, `EPOLLOUT`, `EPOLLHUP`, `EPOLLERR`…).
    pub flags: EpollFlags,
}

impl Ready {
    /// Data, a connection, end of file or an error is waiting: a read will not block.
    pub fn readable(&self) -> bool {
        self.flags.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR)
    }

    /// The send buffer has room, or the socket failed or hung up: a write will not block
    /// (it reports the failure). Counting hang-ups here means a connection that only owes
    /// output is never reported, level-triggered, without the server acting on it.
    pub fn writable(&self) -> bool {
        self.flags.intersects(EpollFlags::EPOLLOUT | EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP)
    }
}

impl Poller {
    /// `epoll_create1(EPOLL_CLOEXEC)`; `api` says how its waits are recorded.
    pub fn new(api: WaitApi) -> nix::Result<Poller> {
        Ok(Poller {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            api,
            interest: BTreeMap::new(),
            events: vec![EpollEvent::empty(); MAX_EVENTS],
        })
    }

    // kettle:code-begin epoll-ctl
    /// `EPOLL_CTL_ADD`, recorded.
    pub fn add(
        &mut self,
        fd: BorrowedFd<'_>,
        flags: EpollFlags,
        conn: Option<u64>,
        t: &Tracer,
    ) -> nix::Result<()> {
        let result = self.epoll.add(fd, EpollEvent::new(flags, fd.as_raw_fd() as u64));
        record_ctl(EpollOp::Add, fd.as_raw_fd(), flags, result, conn, t);
        if result.is_ok() {
            self.interest.insert(fd.as_raw_fd(), flags);
        }
        result
    }

    /// `EPOLL_CTL_MOD`, recorded; nothing at all when the interest is already `flags`.
    pub fn modify(
        &mut self,
        fd: BorrowedFd<'_>,
        flags: EpollFlags,
        conn: Option<u64>,
        t: &Tracer,
    ) -> nix::Result<()> {
        let raw = fd.as_raw_fd();
        if self.interest.get(&raw) == Some(&flags) {
            return Ok(());
        }
        let result = self.epoll.modify(fd, &mut EpollEvent::new(flags, raw as u64));
        record_ctl(EpollOp::Mod, raw, flags, result, conn, t);
        if result.is_ok() {
            self.interest.insert(raw, flags);
        }
        result
    }

    /// `EPOLL_CTL_DEL`, recorded.
    pub fn delete(&mut self, fd: BorrowedFd<'_>, conn: Option<u64>, t: &Tracer) -> nix::Result<()> {
        let result = self.epoll.delete(fd);
        record_ctl(EpollOp::Del, fd.as_raw_fd(), EpollFlags::empty(), result, conn, t);
        self.interest.remove(&fd.as_raw_fd());
        result
    }
    // kettle:code-end epoll-ctl

    /// Forgets `fd` without a system call: closing a socket's last descriptor removes it from
    /// every interest list.
    pub fn forget(&mut self, fd: RawFd) {
        self.interest.remove(&fd);
    }

    // kettle:code-begin epoll-wait
    /// One `epoll_wait(2)`, recorded: `wait_enter` with the interest list, `wait_returned`
    /// with the ready list. `scanned` is the number of entries returned — user space looks
    /// only at ready descriptors, however many are watched.
    pub fn wait(&mut self, timeout: EpollTimeout, t: &Tracer) -> nix::Result<Vec<Ready>> {
        let watched = self.interest.keys().copied().collect();
        t.emit(None, EventKind::WaitEnter { api: self.api, watched });
        let n = match self.epoll.wait(&mut self.events, timeout) {
            Ok(n) => n,
            Err(e) => {
                t.emit(None, EventKind::WaitReturned { api: self.api, ready: vec![], scanned: 0 });
                return Err(e);
            }
        };
        let ready: Vec<Ready> = self.events[..n]
            .iter()
            .map(|e| Ready { fd: e.data() as RawFd, flags: e.events() })
            .collect();
        let shown = ready
            .iter()
            .map(|r| ReadyFd { fd: r.fd, readable: r.readable(), writable: r.writable() })
            .collect();
        t.emit(None, EventKind::WaitReturned { api: self.api, ready: shown, scanned: n as u32 });
        Ok(ready)
    }
    // kettle:code-end epoll-wait
}

fn record_ctl(
    op: EpollOp,
    fd: RawFd,
    flags: EpollFlags,
    result: nix::Result<()>,
    conn: Option<u64>,
    t: &Tracer,
) {
    t.count_syscalls(1);
    let error = result.err().map(sys_error);
    t.emit(conn, EventKind::EpollCtl { op, fd, events: flag_names(flags), error });
}

/// `EPOLLIN|EPOLLOUT|EPOLLET`, as a C programmer would write the mask.
pub fn flag_names(flags: EpollFlags) -> String {
    let names = [
        (EpollFlags::EPOLLIN, "EPOLLIN"),
        (EpollFlags::EPOLLOUT, "EPOLLOUT"),
        (EpollFlags::EPOLLRDHUP, "EPOLLRDHUP"),
        (EpollFlags::EPOLLHUP, "EPOLLHUP"),
        (EpollFlags::EPOLLERR, "EPOLLERR"),
        (EpollFlags::EPOLLET, "EPOLLET"),
    ];
    let set: Vec<&str> =
        names.iter().filter(|(f, _)| flags.contains(*f)).map(|(_, n)| *n).collect();
    set.join("|")
}

/// The epoll interest a connection needs now: `EPOLLIN` while it may read, `EPOLLOUT` while it
/// has a backlog, plus `EPOLLET` for edge-triggered models.
pub fn interest(conn: &NonBlockingConn, edge: bool) -> EpollFlags {
    let mut flags = EpollFlags::empty();
    if conn.wants_read() {
        flags |= EpollFlags::EPOLLIN;
    }
    if conn.wants_write() {
        flags |= EpollFlags::EPOLLOUT;
    }
    if edge {
        flags |= EpollFlags::EPOLLET;
    }
    flags
}

/// What one `accept` came to.
#[derive(Debug)]
pub enum Accepted {
    /// A new connection, non-blocking, tracked for stop, registered nowhere yet.
    Conn(NonBlockingConn),
    /// No connection was waiting (`EAGAIN`).
    WouldBlock,
    /// Out of descriptors: accepting is paused (see [`EventLoop::accept`]).
    Paused,
    /// Another failure (or the model is stopping); nothing to do.
    Failed,
}

/// One epoll model's state: the poller, the listener and the open connections.
#[derive(Debug)]
pub struct EventLoop<'a> {
    /// The epoll instance.
    pub poller: Poller,
    listener: BorrowedFd<'a>,
    listener_flags: EpollFlags,
    pause: AcceptPause,
    /// Open connections by descriptor.
    pub conns: HashMap<RawFd, NonBlockingConn>,
    next_conn: u64,
    stop: Arc<StopSignal>,
}

impl<'a> EventLoop<'a> {
    /// Creates the epoll instance and makes the listener non-blocking (an `accept` after a
    /// readiness report must never sleep). The listener is not registered yet.
    pub fn new(ctx: &'a ModelContext, api: WaitApi) -> nix::Result<EventLoop<'a>> {
        let flags = OFlag::from_bits_truncate(fcntl(&ctx.listener, FcntlArg::F_GETFL)?);
        fcntl(&ctx.listener, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        Ok(EventLoop {
            poller: Poller::new(api)?,
            listener: ctx.listener.as_fd(),
            listener_flags: EpollFlags::EPOLLIN,
            pause: AcceptPause::default(),
            conns: HashMap::new(),
            next_conn: 1,
            stop: ctx.stop.clone(),
        })
    }

    /// The listening socket's descriptor.
    pub fn listener(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Registers the listener for `flags` (`EPOLLIN`, plus `EPOLLET` if edge-triggered).
    pub fn watch_listener(&mut self, flags: EpollFlags, t: &Tracer) -> nix::Result<()> {
        self.listener_flags = flags;
        self.poller.add(self.listener, flags, None, t)
    }

    /// True once a stop was requested.
    pub fn stopped(&self) -> bool {
        self.stop.is_stopped()
    }

    /// Waits for readiness: forever, or until an `EMFILE` pause ends. Afterwards the listener
    /// is watched again if its pause is over. `EINTR` comes back as an empty ready list.
    pub fn wait(&mut self, t: &Tracer) -> nix::Result<Vec<Ready>> {
        let timeout = match self.pause.left() {
            None => EpollTimeout::NONE,
            Some(left) => {
                // Rounded up: a 0 ms timeout just before the pause ends would spin.
                let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128);
                EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::MAX)
            }
        };
        let ready = match self.poller.wait(timeout, t) {
            Err(Errno::EINTR) => Vec::new(),
            other => other?,
        };
        // The pause is over: watch the listener again (no call if it is watched already).
        if !self.pause.holds() {
            let _ = self.poller.modify(self.listener, self.listener_flags, None, t);
        }
        Ok(ready)
    }

    // kettle:code-begin loop-accept
    /// One recorded non-blocking `accept4`. Out of descriptors, the listener's interest is
    /// emptied for the [`AcceptPause`] — otherwise it would stay readable and `epoll_wait`
    /// would return at once, forever: a busy loop — and [`EventLoop::wait`] restores it.
    pub fn accept(&mut self, t: &Tracer) -> Accepted {
        let id = self.next_conn;
        let listener = self.listener.as_raw_fd();
        match accept_recorded(listener, SockFlag::SOCK_NONBLOCK, id, t, &self.stop) {
            Ok(fd) => {
                if !self.stop.track(&fd) {
                    close_recorded(fd, id, CloseReason::Stopped, t, &self.stop);
                    return Accepted::Failed;
                }
                prepare_connection(&fd);
                self.next_conn += 1;
                Accepted::Conn(NonBlockingConn::new(fd, id))
            }
            Err(Errno::EAGAIN) => Accepted::WouldBlock,
            Err(e) if self.pause.after_failure(e, t) => {
                let _ = self.poller.modify(self.listener, EpollFlags::empty(), None, t);
                Accepted::Paused
            }
            Err(_) => Accepted::Failed,
        }
    }
    // kettle:code-end loop-accept

    /// Registers a new connection for `flags` and keeps it; closes it if epoll refuses.
    pub fn insert(&mut self, conn: NonBlockingConn, flags: EpollFlags, t: &Tracer) {
        if self.poller.add(conn.fd(), flags, Some(conn.id()), t).is_err() {
            conn.close(CloseReason::Error, t, &self.stop);
            return;
        }
        self.conns.insert(conn.raw(), conn);
        t.set_conns(self.conns.len() as u32);
    }

    /// Brings a connection's epoll interest up to date ([`interest`]); no call if unchanged.
    pub fn update_interest(&mut self, fd: RawFd, edge: bool, t: &Tracer) {
        let Some(conn) = self.conns.get(&fd) else { return };
        let flags = interest(conn, edge);
        if self.poller.modify(conn.fd(), flags, Some(conn.id()), t).is_err() {
            self.close(fd, CloseReason::Error, t);
        }
    }

    // kettle:code-begin loop-close
    /// Closes a connection (which also removes it from the interest list) and records why.
    pub fn close(&mut self, fd: RawFd, reason: CloseReason, t: &Tracer) {
        if let Some(conn) = self.conns.remove(&fd) {
            self.poller.forget(fd);
            conn.close(reason, t, &self.stop);
            t.set_conns(self.conns.len() as u32);
        }
    }
    // kettle:code-end loop-close

    /// Closes every connection: the model is stopping (or failed).
    pub fn close_all(&mut self, t: &Tracer) {
        let fds: Vec<RawFd> = self.conns.keys().copied().collect();
        for fd in fds {
            self.close(fd, CloseReason::Stopped, t);
        }
    }
}
