//! As root: the kernel's own word on when data reached a traced program's socket — the
//! `sock:sk_data_ready` tracepoint, which fires when a socket's receive queue got something to
//! read (the moment a sleeping `recv` is woken).
//!
//! Its text output names no socket (`family=2 protocol=6 func=sock_def_readable`), and this
//! kernel has neither kprobe nor eprobe events to add one, so Kettle reads the tracepoints'
//! binary records from the ring buffer (`per_cpu/cpuN/trace_pipe_raw`), where the socket's
//! address (`skaddr`) is a field. Which connection a socket is comes from a second tracepoint,
//! `sock:inet_sock_set_state`, recorded when each connection is set up: its `skaddr`, local
//! port and peer. A data-ready of a socket whose local port is one the program listens on is
//! an arrival on the connection from that peer.
//!
//! Everything lives in a tracefs instance of Kettle's own (`instances/kettle-<pid>-<n>`: its own
//! buffer, its clock set to `mono`, so stamps are on the clock Kettle's events use), removed
//! when the run ends. Not root, no tracefs, no such tracepoint: [`KernelReady::start`] says why,
//! and phase 1 falls back to the client's stamps.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::tracefs::{self, read_field, Field, Instance, PAGE};
use crate::clock::clock;

/// Reading the two tracepoints while a traced program runs. Dropping it stops the readers and
/// removes the instance.
#[derive(Debug)]
pub struct KernelReady {
    stop: Arc<AtomicBool>,
    readers: Vec<JoinHandle<()>>,
    /// Dropped after the readers are joined.
    instance: Instance,
}

/// The two tracepoints' ids and fields.
#[derive(Debug, Clone)]
struct Layout {
    data_ready: u16,
    data_ready_sk: Field,
    state: u16,
    state_sk: Field,
    state_sport: Field,
    state_dport: Field,
    state_daddr: Field,
    state_family: Field,
}

/// What a reader makes of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Record {
    /// Socket `sk` has data to read, at `t_mono` (ns).
    DataReady { sk: u64, t_mono: u64 },
    /// Socket `sk` is the IPv4 connection from local port `port` to `peer`.
    Connection { sk: u64, port: u16, peer: SocketAddrV4 },
}

impl KernelReady {
    /// Starts reading. `arrived(peer, local port, t_ns)` is called on the reader threads for
    /// each data-ready of a connection (any connection on the machine: the caller keeps those
    /// of the program's ports).
    /// `read_to(t_ns)` is called whenever a reader found its buffer empty: every data-ready
    /// until then has been reported.
    pub fn start(
        arrived: impl Fn(SocketAddrV4, u16, u64) + Send + Sync + 'static,
        read_to: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<KernelReady, String> {
        let layout = Layout::read()?;
        let instance = Instance::create()?;
        instance.enable("sock/inet_sock_set_state", true)?;
        instance.enable("sock/sk_data_ready", true)?;
        let mut ready =
            KernelReady { stop: Arc::new(AtomicBool::new(false)), readers: vec![], instance };
        let arrived = Arc::new(arrived);
        let read_to = Arc::new(read_to);
        let cpus = ready.instance.cpus();
        // Each CPU's buffer was found empty at: all of them, at the earliest of these.
        let emptied: Arc<Vec<AtomicU64>> = Arc::new((0..cpus).map(|_| AtomicU64::new(0)).collect());
        for cpu in 0..cpus {
            let file = ready.instance.open_cpu(cpu)?;
            let (stop, layout, arrived) = (ready.stop.clone(), layout.clone(), arrived.clone());
            let (read_to, emptied) = (read_to.clone(), emptied.clone());
            let emptied_at = move |t_ns: u64| {
                emptied[cpu].store(t_ns, Ordering::Relaxed);
                let all = emptied.iter().map(|e| e.load(Ordering::Relaxed)).min().unwrap_or(0);
                read_to(all);
            };
            let reader = std::thread::Builder::new()
                .name(format!("sk-data-ready-{cpu}"))
                .spawn(move || read_cpu(file, &layout, &stop, &*arrived, &emptied_at))
                .map_err(|e| format!("reader thread: {e}"))?;
            ready.readers.push(reader);
        }
        Ok(ready)
    }
}

impl Drop for KernelReady {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

fn read_cpu(
    mut file: File,
    layout: &Layout,
    stop: &AtomicBool,
    arrived: &(dyn Fn(SocketAddrV4, u16, u64) + Send + Sync),
    read_to: &dyn Fn(u64),
) {
    let mut sockets: HashMap<u64, (u16, SocketAddrV4)> = HashMap::new();
    let mut page = vec![0u8; PAGE];
    while !stop.load(Ordering::Relaxed) {
        // Taken before the read: an empty buffer then means nothing before this instant is
        // left unreported on this CPU.
        let before = clock().now_ns();
        match file.read(&mut page) {
            Ok(0) => {
                read_to(before);
                tracefs::wait_for_data(&file);
            }
            Ok(n) => {
                let mut records = Vec::new();
                tracefs::parse_page(&page[..n], |data, t| records.extend(record(data, t, layout)));
                for record in records {
                    match record {
                        Record::Connection { sk, port, peer } => {
                            sockets.insert(sk, (port, peer));
                        }
                        Record::DataReady { sk, t_mono } => {
                            if let Some(&(port, peer)) = sockets.get(&sk) {
                                arrived(peer, port, clock().from_monotonic(t_mono));
                            }
                        }
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                read_to(before);
                tracefs::wait_for_data(&file);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

impl Layout {
    fn read() -> Result<Layout, String> {
        let ready = tracefs::format("sock/sk_data_ready")?;
        let state = tracefs::format("sock/inet_sock_set_state")?;
        let field = tracefs::needed;
        Ok(Layout {
            data_ready: tracefs::id(&ready)?,
            data_ready_sk: field(&ready, "skaddr")?,
            state: tracefs::id(&state)?,
            state_sk: field(&state, "skaddr")?,
            state_sport: field(&state, "sport")?,
            state_dport: field(&state, "dport")?,
            state_daddr: field(&state, "daddr")?,
            state_family: field(&state, "family")?,
        })
    }
}

fn record(data: &[u8], t_mono: u64, l: &Layout) -> Option<Record> {
    let kind = tracefs::record_type(data)?;
    if kind == l.data_ready {
        return Some(Record::DataReady { sk: read_field(data, l.data_ready_sk)?, t_mono });
    }
    if kind == l.state && read_field(data, l.state_family)? == libc::AF_INET as u64 {
        let daddr = data.get(l.state_daddr.offset..l.state_daddr.offset + 4)?;
        let peer = SocketAddrV4::new(
            Ipv4Addr::new(daddr[0], daddr[1], daddr[2], daddr[3]),
            read_field(data, l.state_dport)? as u16,
        );
        let port = read_field(data, l.state_sport)? as u16;
        return Some(Record::Connection { sk: read_field(data, l.state_sk)?, port, peer });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::tracefs::tests::page;
    use std::time::Duration;

    fn layout() -> Layout {
        let f = |offset, size| Field { offset, size };
        Layout {
            data_ready: 7,
            data_ready_sk: f(8, 8),
            state: 9,
            state_sk: f(8, 8),
            state_sport: f(24, 2),
            state_dport: f(26, 2),
            state_daddr: f(32, 4),
            state_family: f(28, 2),
        }
    }

    #[test]
    fn a_page_gives_each_connection_and_its_data_ready_at_its_time() {
        let mut state = vec![0u8; 40];
        state[0..2].copy_from_slice(&9u16.to_ne_bytes());
        state[8..16].copy_from_slice(&0xffff_8880_0000_1000u64.to_ne_bytes());
        state[24..26].copy_from_slice(&9000u16.to_ne_bytes());
        state[26..28].copy_from_slice(&40222u16.to_ne_bytes());
        state[28..30].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        state[32..36].copy_from_slice(&[127, 0, 0, 1]);
        let mut ready = vec![0u8; 16];
        ready[0..2].copy_from_slice(&7u16.to_ne_bytes());
        ready[8..16].copy_from_slice(&0xffff_8880_0000_1000u64.to_ne_bytes());
        let p = page(1_000_000, &[(5, state), (20, ready)]);
        let mut records = Vec::new();
        tracefs::parse_page(&p, |data, t| records.extend(record(data, t, &layout())));
        assert_eq!(
            records,
            [
                Record::Connection {
                    sk: 0xffff_8880_0000_1000,
                    port: 9000,
                    peer: "127.0.0.1:40222".parse().unwrap()
                },
                Record::DataReady { sk: 0xffff_8880_0000_1000, t_mono: 1_000_025 },
            ]
        );
    }

    /// The real thing, as root: a connection on loopback, a line sent, the data-ready of the
    /// receiving socket reported with the peer it came from, between the send and the read.
    #[test]
    fn as_root_the_kernel_reports_a_lines_arrival_on_the_receiving_socket() {
        use std::io::{Read, Write};
        use std::sync::Mutex;
        let seen: Arc<Mutex<Vec<(SocketAddrV4, u16, u64)>>> = Arc::default();
        let ready = {
            let seen = seen.clone();
            match KernelReady::start(
                move |peer, port, t| seen.lock().unwrap().push((peer, port, t)),
                |_| {},
            ) {
                Ok(r) => r,
                Err(why) if !tracefs::is_root() => {
                    assert!(why.contains("not root"), "{why}");
                    return;
                }
                Err(why) => panic!("root, but the tracepoints cannot be read: {why}"),
            }
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let peer = match client.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        };
        let before = clock().now_ns();
        client.write_all(b"hello\n").unwrap();
        let mut got = [0u8; 6];
        server.read_exact(&mut got).unwrap();
        let after = clock().now_ns();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let arrival = loop {
            let found =
                seen.lock().unwrap().iter().find(|(p, l, _)| *p == peer && *l == port).copied();
            if let Some(found) = found {
                break found;
            }
            assert!(std::time::Instant::now() < deadline, "no data-ready for {peer} → {port}");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(before <= arrival.2 && arrival.2 <= after, "{before} {} {after}", arrival.2);
        let instance = ready.instance.path().to_owned();
        drop(ready);
        assert!(!instance.exists(), "the instance is removed");
    }
}
