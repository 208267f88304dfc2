//! # A selectors-style reactor over epoll, one thread — Stevens Fig. 6.3
//!
//! The tutorial's `selectors` server, with the registry written out:
//!
//! ```text
//! table: fd → (interest, callback)         in user space, beside the kernel's epoll set
//! register(fd, READ, cb):  table[fd] = (READ, cb); epoll_ctl(ep, ADD, fd, EPOLLIN)
//!
//! callback accept(listener):  fd = accept(listener); register(fd, READ, read)
//! callback read(fd):          n = recv(fd, buf, 1024)
//!                             if n == 0: unregister(fd); close(fd)
//!                             else: send(fd, upper(buf[..n]))
//!
//! register(listener, READ, accept)
//! loop:
//!     for fd in epoll_wait(ep):                    sleeps until a registered fd is ready
//!         table[fd].callback(fd)                   the loop knows callbacks, not sockets
//! ```
//!
//! ## What a student should notice
//!
//! - It is the epoll server ([`super::epoll`]) with one idea added: the loop does not know
//!   what to do with a ready descriptor; it looks up the **callback** registered with it
//!   and calls it. `register` is a table entry plus one `epoll_ctl`; `unregister` removes both.
//! - The `accept` callback registers a `read` callback for each new connection: the program
//!   is a set of small handlers, and the loop (the *reactor*) dispatches events to them.
//!   This is the shape of Python's `asyncio`, Node.js, nginx and Rust's `mio`.
//! - The system calls are the same as for epoll: `epoll_wait`, then `recv` and `send`.
//!
//! ## Differences from the tutorial, and why
//!
//! - The tutorial assumes `send` takes everything. Here, when the kernel takes only part of
//!   a reply, the connection is re-registered with `sel.modify(conn, EVENT_WRITE, write)`:
//!   it is not read any more until `write` has sent the rest, then `read` is registered again.
//!   At most one `recv`'s worth of reply waits per connection.
//! - The tutorial appends `_SB` to each reply; Kettle's models echo exactly, upper-cased.
//! - Out of descriptors (`EMFILE`), the listener's epoll interest is emptied for 100 ms
//!   (the registry keeps its `accept` callback).

use std::collections::HashMap;
use std::os::fd::RawFd;

use kettle_shared::{CloseReason, EventKind, WaitApi};
use nix::sys::epoll::EpollFlags;

use super::event_loop::{Accepted, EventLoop, Ready};
use super::nonblocking_conn::NonBlockingConn;
use super::ModelContext;
use crate::recorder::Tracer;

/// A function the reactor calls for a ready descriptor (selectors' `key.data`).
type Callback = fn(&mut Reactor<'_>, Ready, &Tracer);

/// What a registered descriptor is waiting for: selectors' `EVENT_READ` or `EVENT_WRITE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interest {
    Read,
    Write,
}

impl Interest {
    fn flags(self) -> EpollFlags {
        match self {
            Interest::Read => EpollFlags::EPOLLIN,
            Interest::Write => EpollFlags::EPOLLOUT,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Interest::Read => "read",
            Interest::Write => "write",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Registration {
    name: &'static str,
    callback: Callback,
}

/// The registry (selectors' `DefaultSelector`) and the connections it serves.
#[derive(Debug)]
struct Reactor<'a> {
    lp: EventLoop<'a>,
    registry: HashMap<RawFd, Registration>,
}

// kettle:code-begin reactor-registry
impl Reactor<'_> {
    /// `sel.register(server, EVENT_READ, accept)`: a table entry and `epoll_ctl(ADD)`.
    fn register_listener(&mut self, t: &Tracer) -> nix::Result<()> {
        let fd = self.lp.listener();
        self.record_register(fd, Interest::Read, "accept", None, t);
        self.lp.watch_listener(Interest::Read.flags(), t)?;
        self.registry.insert(fd, Registration { name: "accept", callback: accept });
        Ok(())
    }

    /// `sel.register(conn, EVENT_READ, read)`: a table entry and `epoll_ctl(ADD)`.
    fn register_conn(&mut self, conn: NonBlockingConn, t: &Tracer) {
        let fd = conn.raw();
        self.record_register(fd, Interest::Read, "read", Some(conn.id()), t);
        self.lp.insert(conn, Interest::Read.flags(), t);
        if self.lp.conns.contains_key(&fd) {
            self.registry.insert(fd, Registration { name: "read", callback: read });
        }
    }

    /// `sel.modify(fd, interest, callback)`: a new table entry and `epoll_ctl(MOD)`.
    fn modify(
        &mut self,
        fd: RawFd,
        interest: Interest,
        name: &'static str,
        callback: Callback,
        t: &Tracer,
    ) {
        let Some(conn) = self.lp.conns.get(&fd) else { return };
        let id = conn.id();
        self.record_register(fd, interest, name, Some(id), t);
        self.registry.insert(fd, Registration { name, callback });
        if self.lp.poller.modify(conn.fd(), interest.flags(), Some(id), t).is_err() {
            self.close(fd, CloseReason::Error, t);
        }
    }

    /// `sel.unregister(conn); conn.close()`: the table entry, `epoll_ctl(DEL)`, `close`.
    fn close(&mut self, fd: RawFd, reason: CloseReason, t: &Tracer) {
        self.registry.remove(&fd);
        let Some(conn) = self.lp.conns.get(&fd) else { return };
        t.emit(Some(conn.id()), EventKind::Unregister { fd });
        let _ = self.lp.poller.delete(conn.fd(), Some(conn.id()), t);
        self.lp.close(fd, reason, t);
    }

    fn record_register(
        &self,
        fd: RawFd,
        interest: Interest,
        name: &str,
        conn: Option<u64>,
        t: &Tracer,
    ) {
        let kind = EventKind::Register {
            fd,
            interest: interest.name().to_owned(),
            callback: name.to_owned(),
        };
        t.emit(conn, kind);
    }

    /// The loop's body: call each ready descriptor's callback.
    fn dispatch(&mut self, ready: Ready, t: &Tracer) {
        let Some(reg) = self.registry.get(&ready.fd).copied() else { return };
        t.emit(
            self.lp.conns.get(&ready.fd).map(|c| c.id()),
            EventKind::Callback { name: reg.name.to_owned(), fd: ready.fd },
        );
        (reg.callback)(self, ready, t);
    }
}
// kettle:code-end reactor-registry

/// Serves every client from one thread until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let t = ctx.server_tracer();
    t.emit(None, EventKind::ThreadSpawned);
    let lp = EventLoop::new(&ctx, WaitApi::Epoll)?;
    let mut reactor = Reactor { lp, registry: HashMap::new() };
    let result = run(&mut reactor, &t);
    reactor.lp.close_all(&t);
    t.emit(None, EventKind::ThreadExited);
    Ok(result?)
}

// kettle:code-begin reactor-loop
fn run(r: &mut Reactor<'_>, t: &Tracer) -> nix::Result<()> {
    r.register_listener(t)?;
    while !r.lp.stopped() {
        for ready in r.lp.wait(t)? {
            if r.lp.stopped() {
                break;
            }
            r.dispatch(ready, t);
        }
    }
    Ok(())
}

/// The listener's callback: accept one connection and register `read` for it.
fn accept(r: &mut Reactor<'_>, _ready: Ready, t: &Tracer) {
    if let Accepted::Conn(conn) = r.lp.accept(t) {
        r.register_conn(conn, t);
    }
}

/// A connection's callback while it is readable: one `recv`, one `send` of the reply. End
/// of file or an error unregisters and closes it; a reply the kernel took only in part
/// switches the connection to `write`.
fn read(r: &mut Reactor<'_>, ready: Ready, t: &Tracer) {
    let Some(conn) = r.lp.conns.get_mut(&ready.fd) else { return };
    let step = conn.receive(t, None).and_then(|_| conn.flush(t, None));
    let (finished, owed) = (conn.finished(), conn.wants_write());
    match step {
        Err(reason) => r.close(ready.fd, reason, t),
        Ok(()) if finished => r.close(ready.fd, CloseReason::PeerClosed, t),
        Ok(()) if owed => r.modify(ready.fd, Interest::Write, "write", write, t),
        Ok(()) => {}
    }
}

/// A connection's callback while it owes a reply: send the rest; once all is sent, read
/// again (or close, if the peer has finished).
fn write(r: &mut Reactor<'_>, ready: Ready, t: &Tracer) {
    let Some(conn) = r.lp.conns.get_mut(&ready.fd) else { return };
    let step = conn.flush(t, None);
    let (finished, owed) = (conn.finished(), conn.wants_write());
    match step {
        Err(reason) => r.close(ready.fd, reason, t),
        Ok(()) if finished => r.close(ready.fd, CloseReason::PeerClosed, t),
        Ok(()) if owed => {}
        Ok(()) => r.modify(ready.fd, Interest::Read, "read", read, t),
    }
}
// kettle:code-end reactor-loop
