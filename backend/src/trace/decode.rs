//! From what the tracer saw to Kettle's events: the same [`EventKind`]s a built-in model
//! records, so the page draws a traced program as it draws its own servers.
//!
//! A call's entry and exit are two stops; the decoder keeps each thread's open call and turns
//! the pair into the kind's enter and exit events. What a figure needs beyond the registers is
//! read from the program's memory at the exit stop ([`Memory`]): the peer an `accept` filled
//! in, the first bytes a `recv` copied. Only sockets count: a `read` of a file is not drawn, so
//! the decoder follows which descriptors are sockets (from `socket` and `accept`, until their
//! `close`).
//!
//! Decoded so far: `socket`, `bind`/`listen` (the address it listens on), `accept`/`accept4`,
//! `read`/`recvfrom` on a socket, `write`/`sendto` on a socket, `close`, `select`/`pselect6`
//! (the fd sets handed in and returned) and `poll`/`ppoll` (the `pollfd` array). Still to
//! come: the `epoll` calls, `fcntl`, signals and io_uring.

use std::collections::{HashMap, HashSet};

use kettle_shared::{
    CloseReason, EventKind, ReadyFd, RecvOutcome, SendOutcome, SysError, WaitApi, PREVIEW_BYTES,
};
use nix::errno::Errno;

use super::tracer::Seen;
use crate::failure::errno_name;

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

/// Turns the tracer's stops into event kinds, per thread.
#[derive(Debug, Default)]
pub struct Decoder {
    sockets: HashSet<i32>,
    /// Where each socket was bound, for its `listen`.
    bound: HashMap<i32, String>,
    /// Sockets whose peer closed (a `recv` returned 0): their `close` says so.
    peer_closed: HashSet<i32>,
}

impl Decoder {
    /// The events one stop makes, with the thread they happened on.
    pub fn on(&mut self, seen: &Seen, mem: &dyn Memory) -> Vec<(i32, EventKind)> {
        match *seen {
            Seen::Enter { tid, name, args, .. } => {
                self.enter(tid, name, &args, mem).into_iter().map(|k| (tid, k)).collect()
            }
            Seen::Exit { tid, name, args, ret, .. } => {
                self.exit(tid, name, &args, ret, mem).into_iter().map(|k| (tid, k)).collect()
            }
            Seen::Spawned { .. } | Seen::Ended { .. } => Vec::new(),
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
            "accept" | "accept4" => Some(EventKind::AcceptEnter),
            "read" | "recvfrom" if self.sockets.contains(&fd) => {
                Some(EventKind::RecvEnter { fd, len: args[2] as u32 })
            }
            "write" | "sendto" if self.sockets.contains(&fd) => {
                Some(EventKind::SendEnter { fd, bytes: args[2] as u32 })
            }
            _ => None,
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
        let failed = (ret < 0).then(|| Errno::from_raw(-ret as i32));
        let error = |e: Errno| SysError { errno: errno_name(e), message: e.desc().to_owned() };
        match name {
            "socket" if ret >= 0 => {
                self.sockets.insert(ret as i32);
                None
            }
            "bind" if ret == 0 => {
                let addr = mem.read(tid, args[1], args[2] as usize).and_then(|a| sockaddr(&a));
                self.bound.insert(fd, addr.unwrap_or_default());
                None
            }
            "select" | "pselect6" if ret >= 0 => {
                let nfds = args[0] as usize;
                let read = fd_set(mem, tid, args[1], nfds);
                let write = fd_set(mem, tid, args[2], nfds);
                Some(EventKind::WaitReturned {
                    api: WaitApi::Select,
                    ready: ready_fds(&read, &write),
                    scanned: nfds as u32,
                })
            }
            "poll" | "ppoll" if ret >= 0 => {
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
            "listen" if ret == 0 => Some(EventKind::Listen {
                addr: self.bound.get(&fd).cloned().unwrap_or_default(),
                backlog: args[1] as i32,
            }),
            "accept" | "accept4" => Some(match failed {
                None => {
                    self.sockets.insert(ret as i32);
                    let peer = peer_of(mem, tid, args[1], args[2]);
                    EventKind::AcceptExit { fd: Some(ret as i32), peer, error: None }
                }
                Some(e) => EventKind::AcceptExit { fd: None, peer: None, error: Some(error(e)) },
            }),
            "read" | "recvfrom" if self.sockets.contains(&fd) => {
                let outcome = match failed {
                    Some(Errno::EAGAIN) => RecvOutcome::WouldBlock,
                    Some(e) => RecvOutcome::Error(error(e)),
                    None if ret == 0 => {
                        self.peer_closed.insert(fd);
                        RecvOutcome::Eof
                    }
                    None => {
                        let copied = mem.read(tid, args[1], (ret as usize).min(PREVIEW_BYTES));
                        let preview =
                            String::from_utf8_lossy(&copied.unwrap_or_default()).into_owned();
                        RecvOutcome::Data { bytes: ret as u32, preview }
                    }
                };
                Some(EventKind::RecvExit { fd, outcome, wait_ns: None, copy_ns: None })
            }
            "write" | "sendto" if self.sockets.contains(&fd) => {
                let outcome = match failed {
                    Some(Errno::EAGAIN) => SendOutcome::WouldBlock,
                    Some(e) => SendOutcome::Error(error(e)),
                    None => SendOutcome::Sent { bytes: ret as u32 },
                };
                Some(EventKind::SendExit { fd, outcome })
            }
            "close" if self.sockets.remove(&fd) => {
                let reason = if self.peer_closed.remove(&fd) {
                    CloseReason::PeerClosed
                } else {
                    CloseReason::Stopped
                };
                self.bound.remove(&fd);
                Some(EventKind::Close { fd, reason })
            }
            _ => None,
        }
    }
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
        let mut cmd = Command::new("python3");
        cmd.args(["-c", script]).stdout(Stdio::piped());
        let (tx, rx) = std::sync::mpsc::channel();
        let tracer = std::thread::spawn(move || {
            let mut decoder = Decoder::default();
            let mut kinds = Vec::new();
            let spawned = |child: &mut std::process::Child| {
                let _ = tx.send(child.stdout.take());
            };
            super::super::tracer::run_with(cmd, spawned, |seen| {
                kinds.extend(decoder.on(&seen, &ProcessMemory).into_iter().map(|(_, k)| k));
            })
            .unwrap();
            kinds
        });
        let stdout = rx.recv().unwrap().expect("stdout piped");
        let mut port = String::new();
        BufReader::new(stdout).read_line(&mut port).unwrap();
        let port: u16 = port.trim().parse().unwrap();
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(b"hello kettle\n").unwrap();
        let mut echo = [0u8; 13];
        client.read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"hello kettle\n");
        drop(client);
        tracer.join().unwrap()
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
}
