//! The two plain echo servers every model is measured against.
//!
//! A model pays for being watched: it records each call it makes. How much is that? The
//! bench answers by running the same load against servers that record nothing:
//!
//! - **plain epoll**: what the tutorial's epoll server is without Kettle — one thread,
//!   level-triggered `epoll_wait`, non-blocking sockets, `recv` what is ready and `send` it
//!   back. Its system calls are counted (a counter per call, nothing else), so "calls per
//!   line" can be compared with the models'.
//! - **tokio**: what a Rust programmer would write today — a task per connection on a tokio
//!   runtime of its own (one worker per core, tokio's default). Its calls happen inside the
//!   runtime (its `epoll_wait`s are not ours to count), so it has no call count.
//!
//! Both echo like every model (upper-cased, [`RECV_BYTES`] at a time), so the generator's
//! byte-exact check holds for them too, and both listen on 127.0.0.1 only.

use std::collections::HashMap;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{accept4, SockFlag};

use crate::models::RECV_BYTES;

/// A baseline server running on its own thread(s) in this process.
pub struct Baseline {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// System calls it made, when it counts them.
    pub syscalls: Option<Arc<AtomicU64>>,
    stop: Box<dyn FnOnce() + Send>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Baseline").field("port", &self.port).finish()
    }
}

impl Baseline {
    /// Stops it and waits until every descriptor it opened is closed.
    pub fn stop(mut self) {
        let stop = std::mem::replace(&mut self.stop, Box::new(|| {}));
        stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A listener on 127.0.0.1, any port, with the models' own backlog.
fn listener() -> std::io::Result<TcpListener> {
    Ok(TcpListener::from(crate::registry::bind_listener(0)?))
}

/// The plain single-thread epoll echo loop.
pub fn plain_epoll() -> anyhow::Result<Baseline> {
    let listener = listener()?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let wake = Arc::new(EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?);
    let calls = Arc::new(AtomicU64::new(0));
    let thread = std::thread::Builder::new().name("plain-epoll".into()).spawn({
        let (wake, calls) = (wake.clone(), calls.clone());
        move || {
            if let Err(e) = epoll_loop(listener, &wake, &calls) {
                eprintln!("kettle bench: plain epoll failed: {e}");
            }
        }
    })?;
    Ok(Baseline {
        port,
        syscalls: Some(calls),
        stop: Box::new(move || {
            let _ = wake.write(1);
        }),
        thread: Some(thread),
    })
}

const LISTENER: u64 = u64::MAX;
const WAKE: u64 = u64::MAX - 1;

/// One connection: its socket, and what it has not yet been able to send back.
struct Conn {
    fd: OwnedFd,
    pending: Vec<u8>,
}

fn epoll_loop(listener: TcpListener, wake: &EventFd, calls: &AtomicU64) -> nix::Result<()> {
    let count = || calls.fetch_add(1, Ordering::Relaxed);
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    epoll.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))?;
    epoll.add(wake.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, WAKE))?;
    let mut conns: HashMap<RawFd, Conn> = HashMap::new();
    let mut events = vec![EpollEvent::empty(); 256];
    let mut buf = [0u8; RECV_BYTES];
    loop {
        count();
        let n = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        };
        for ev in &events[..n] {
            match ev.data() {
                WAKE => return Ok(()),
                LISTENER => loop {
                    count();
                    let fd = match accept4(
                        listener.as_raw_fd(),
                        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                    ) {
                        Ok(fd) => fd,
                        Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
                        // EAGAIN: none left; EMFILE: try again at the next readiness.
                        Err(_) => break,
                    };
                    // SAFETY: accept4 just returned this descriptor; nothing else owns it.
                    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                    count();
                    epoll.add(&fd, EpollEvent::new(EpollFlags::EPOLLIN, fd.as_raw_fd() as u64))?;
                    conns.insert(fd.as_raw_fd(), Conn { fd, pending: Vec::new() });
                },
                key => {
                    let raw = key as RawFd;
                    let Some(conn) = conns.get_mut(&raw) else { continue };
                    let alive = if ev.events().contains(EpollFlags::EPOLLOUT) {
                        drain(&epoll, conn, &count)
                    } else {
                        echo(&epoll, conn, &mut buf, &count)
                    };
                    if !alive {
                        count(); // the close, when `conn` drops
                        conns.remove(&raw);
                    }
                }
            }
        }
    }
}

/// One `recv` of what is ready, sent back upper-cased; false when the connection is over.
fn echo(epoll: &Epoll, conn: &mut Conn, buf: &mut [u8], count: &impl Fn() -> u64) -> bool {
    count();
    let n = match nix::unistd::read(&conn.fd, buf) {
        Ok(0) => return false,
        Ok(n) => n,
        Err(Errno::EAGAIN | Errno::EINTR) => return true,
        Err(_) => return false,
    };
    buf[..n].make_ascii_uppercase();
    conn.pending.extend_from_slice(&buf[..n]);
    drain(epoll, conn, count)
}

/// Sends what is pending; while some is left, waits for `EPOLLOUT` instead of reading more
/// (so what one connection holds stays bounded).
fn drain(epoll: &Epoll, conn: &mut Conn, count: &impl Fn() -> u64) -> bool {
    let had_backlog = !conn.pending.is_empty();
    while !conn.pending.is_empty() {
        count();
        match nix::unistd::write(&conn.fd, &conn.pending) {
            Ok(n) => {
                conn.pending.drain(..n);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => break,
            Err(_) => return false,
        }
    }
    let want = if conn.pending.is_empty() { EpollFlags::EPOLLIN } else { EpollFlags::EPOLLOUT };
    if had_backlog || want == EpollFlags::EPOLLOUT {
        count();
        let mut ev = EpollEvent::new(want, conn.fd.as_raw_fd() as u64);
        if epoll.modify(&conn.fd, &mut ev).is_err() {
            return false;
        }
    }
    true
}

/// The tokio echo server: a task per connection on a runtime of its own.
pub fn tokio_echo() -> anyhow::Result<Baseline> {
    let listener = listener()?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_io().build()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("tokio-echo".into()).spawn(move || {
        runtime.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            let serve = async {
                loop {
                    let Ok((mut s, _)) = listener.accept().await else { continue };
                    tokio::spawn(async move {
                        let mut buf = [0u8; RECV_BYTES];
                        loop {
                            let n = match s.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            buf[..n].make_ascii_uppercase();
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            };
            tokio::select! {
                _ = serve => {}
                _ = stop_rx => {}
            }
        });
        // Dropping the runtime here ends every connection task and closes its socket.
    })?;
    Ok(Baseline {
        port,
        syscalls: None,
        stop: Box::new(move || {
            let _ = stop_tx.send(());
        }),
        thread: Some(thread),
    })
}
