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
use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::clock;

const TRACEFS: &str = "/sys/kernel/tracing";

/// How long an idle reader sleeps before looking again, if the kernel does not wake it first
/// (it does, as records come): how often "read up to now" moves on while nothing happens.
const POLL: Duration = Duration::from_millis(1);

/// The least time between two looks at an emptied buffer: at most this late, an arrival is
/// known (the tracer waits for it only while a person watches a program that is not busy).
const BATCH: Duration = Duration::from_micros(500);

/// The ring buffer's page: a header (timestamp, commit) and the records.
const PAGE: usize = 4096;

/// Reading the two tracepoints while a traced program runs. Dropping it stops the readers and
/// removes the instance.
#[derive(Debug)]
pub struct KernelReady {
    instance: PathBuf,
    stop: Arc<AtomicBool>,
    readers: Vec<JoinHandle<()>>,
}

/// A record's fields that matter, from the tracepoint's `format` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    offset: usize,
    size: usize,
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
        if !is_root() {
            return Err("not root: tracefs is root's".into());
        }
        let root = Path::new(TRACEFS);
        if !root.join("instances").is_dir() {
            // Mounted on demand (systemd mounts it on most machines).
            let mounted = std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev", TRACEFS])
                .status()
                .map_err(|e| format!("mount tracefs: {e}"))?;
            if !mounted.success() || !root.join("instances").is_dir() {
                return Err(format!("no tracefs at {TRACEFS}"));
            }
        }
        let layout = Layout::read(&root.join("events/sock"))?;
        // One instance per reader: a process may trace several programs (the tests do).
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let instance = root.join(format!("instances/kettle-{}-{n}", std::process::id()));
        remove_leftovers(&root.join("instances"));
        fs::create_dir(&instance).map_err(|e| format!("tracefs instance: {e}"))?;
        let ready =
            KernelReady { instance, stop: Arc::new(AtomicBool::new(false)), readers: vec![] };
        ready.configure()?;
        let arrived = Arc::new(arrived);
        let read_to = Arc::new(read_to);
        let cpus = cpus(&ready.instance);
        // Each CPU's buffer was found empty at: all of them, at the earliest of these.
        let emptied: Arc<Vec<AtomicU64>> = Arc::new((0..cpus).map(|_| AtomicU64::new(0)).collect());
        let mut ready = ready;
        for cpu in 0..cpus {
            let path = ready.instance.join(format!("per_cpu/cpu{cpu}/trace_pipe_raw"));
            let file = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
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

    fn configure(&self) -> Result<(), String> {
        let write = |file: &str, value: &str| {
            fs::write(self.instance.join(file), value).map_err(|e| format!("tracefs {file}: {e}"))
        };
        write("trace_clock", "mono")?;
        // Readers are woken for any data, not when the buffer is half full.
        let _ = write("buffer_percent", "0");
        write("events/sock/inet_sock_set_state/enable", "1")?;
        write("events/sock/sk_data_ready/enable", "1")
    }
}

impl Drop for KernelReady {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let _ = fs::write(self.instance.join("events/sock/sk_data_ready/enable"), "0");
        let _ = fs::write(self.instance.join("events/sock/inet_sock_set_state/enable"), "0");
        // The kernel may still hold the buffer a moment after the readers closed it (EBUSY).
        for _ in 0..100 {
            if fs::remove_dir(&self.instance).is_ok() || !self.instance.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("kettle: cannot remove the tracefs instance {}", self.instance.display());
    }
}

/// Sleeps until the kernel says the buffer has data (`poll(2)` on `trace_pipe_raw`: the
/// kernel wakes its readers as records come, with `buffer_percent` 0), or [`POLL`] passed —
/// so a stop is noticed, and the time read up to moves on while nothing happens.
fn wait_for_data(file: &File) {
    use std::os::fd::AsRawFd;
    // Batches: a machine busy with TCP (another model under load) makes data-ready by the
    // hundred thousand a second; woken for each, the readers would take a core from it.
    std::thread::sleep(BATCH);
    let mut pfd = libc::pollfd { fd: file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd, alive for the call.
    unsafe { libc::poll(&mut pfd, 1, POLL.as_millis() as libc::c_int) };
}

/// Removes the instances of Kettles that were killed (their pid no longer runs): an instance
/// left behind keeps its tracepoints recording.
fn remove_leftovers(instances: &Path) {
    let Ok(dir) = fs::read_dir(instances) else { return };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix("kettle-").and_then(|rest| rest.split('-').next());
        if pid.is_some_and(|p| !Path::new("/proc").join(p).exists()) {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

/// Whether Kettle runs as root (tracefs is root's).
fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// The CPUs the instance has a buffer for.
fn cpus(instance: &Path) -> usize {
    fs::read_dir(instance.join("per_cpu")).map_or(0, |d| d.count())
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
                wait_for_data(&file);
            }
            Ok(n) => {
                for record in parse_page(&page[..n], layout) {
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
                wait_for_data(&file);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

impl Layout {
    fn read(events: &Path) -> Result<Layout, String> {
        let format = |event: &str| {
            fs::read_to_string(events.join(event).join("format"))
                .map_err(|e| format!("tracepoint sock:{event}: {e}"))
        };
        let ready = format("sk_data_ready")?;
        let state = format("inet_sock_set_state")?;
        let field = |text: &str, name: &str| {
            field(text, name).ok_or_else(|| format!("no field {name} in the tracepoint"))
        };
        Ok(Layout {
            data_ready: id(&ready)?,
            data_ready_sk: field(&ready, "skaddr")?,
            state: id(&state)?,
            state_sk: field(&state, "skaddr")?,
            state_sport: field(&state, "sport")?,
            state_dport: field(&state, "dport")?,
            state_daddr: field(&state, "daddr")?,
            state_family: field(&state, "family")?,
        })
    }
}

fn id(format: &str) -> Result<u16, String> {
    format
        .lines()
        .find_map(|l| l.strip_prefix("ID:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no ID in the tracepoint's format".into())
}

/// A field's place from a `format` file line (`field:const void * skaddr;`, then the offset and
/// the size, tab-separated).
fn field(format: &str, name: &str) -> Option<Field> {
    format.lines().find_map(|line| {
        let line = line.trim();
        let decl = line.strip_prefix("field:")?.split(';').next()?;
        let declared = decl.trim_end_matches(|c: char| c == ']' || c.is_ascii_digit());
        let declared = declared.trim_end_matches('[');
        if declared.rsplit([' ', '*']).next()? != name {
            return None;
        }
        let value = |key: &str| {
            line.split(';').find_map(|p| p.trim().strip_prefix(key)?.parse::<usize>().ok())
        };
        Some(Field { offset: value("offset:")?, size: value("size:")? })
    })
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn read_field(b: &[u8], f: Field) -> Option<u64> {
    let bytes = b.get(f.offset..f.offset + f.size)?;
    Some(match f.size {
        1 => bytes[0] as u64,
        2 => u16::from_ne_bytes(bytes.try_into().ok()?) as u64,
        4 => u32::from_ne_bytes(bytes.try_into().ok()?) as u64,
        8 => u64::from_ne_bytes(bytes.try_into().ok()?),
        _ => return None,
    })
}

/// The records of one ring-buffer page (`include/linux/ring_buffer.h`): a `u64` timestamp, a
/// `u64` commit (the data's length in its low 30 bits), then records, each a `u32` header —
/// `type_len` in its 5 low bits, a time delta in the other 27 — and its data. `type_len` 1–28
/// is the data's length in words; 0 puts the length (plus its own word) in the next word; 29
/// is padding, 30 a time extension, 31 an absolute timestamp.
fn parse_page(page: &[u8], layout: &Layout) -> Vec<Record> {
    let mut records = Vec::new();
    let (Some(mut ts), Some(commit)) = (read_u64(page, 0), read_u64(page, 8)) else {
        return records;
    };
    let end = (16 + (commit & 0x3fff_ffff) as usize).min(page.len());
    let mut at = 16;
    while at + 4 <= end {
        let Some(header) = read_u32(page, at) else { break };
        let (type_len, delta) = (header & 0x1f, u64::from(header >> 5));
        at += 4;
        match type_len {
            29 => {
                // Padding: a length follows, or nothing more on this page.
                let Some(len) = read_u32(page, at).filter(|_| delta != 0) else { break };
                at += len as usize;
            }
            30 => {
                let Some(ext) = read_u32(page, at) else { break };
                ts += (u64::from(ext) << 27) + delta;
                at += 4;
            }
            31 => {
                let Some(abs) = read_u32(page, at) else { break };
                ts = (ts & !((1u64 << 59) - 1)) | (u64::from(abs) << 27) | delta;
                at += 4;
            }
            _ => {
                let len = if type_len == 0 {
                    let Some(len) = read_u32(page, at) else { break };
                    at += 4;
                    (len as usize).saturating_sub(4)
                } else {
                    type_len as usize * 4
                };
                ts += delta;
                let Some(data) = page.get(at..at + len) else { break };
                records.extend(record(data, ts, layout));
                at += len.next_multiple_of(4);
            }
        }
    }
    records
}

fn record(data: &[u8], t_mono: u64, l: &Layout) -> Option<Record> {
    let kind = u16::from_ne_bytes(data.get(0..2)?.try_into().ok()?);
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

    const READY_FORMAT: &str = "name: sk_data_ready\nID: 2285\nformat:\n\
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
        \tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;\n\
        \tfield:__u16 family;\toffset:16;\tsize:2;\tsigned:0;\n";

    #[test]
    fn a_field_is_found_by_its_name_with_its_offset_and_size() {
        assert_eq!(field(READY_FORMAT, "skaddr"), Some(Field { offset: 8, size: 8 }));
        assert_eq!(field(READY_FORMAT, "family"), Some(Field { offset: 16, size: 2 }));
        let arrays = "\tfield:__u8 saddr[4];\toffset:28;\tsize:4;\tsigned:0;\n";
        assert_eq!(field(arrays, "saddr"), Some(Field { offset: 28, size: 4 }));
        assert_eq!(field(READY_FORMAT, "addr"), None);
        assert_eq!(id(READY_FORMAT), Ok(2285));
    }

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

    /// A page as the kernel writes it: records after a timestamp and a commit length.
    fn page(start: u64, records: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (delta, data) in records {
            let words = data.len().div_ceil(4) as u32;
            body.extend(((delta << 5) | words).to_ne_bytes());
            body.extend(data);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        let mut p = start.to_ne_bytes().to_vec();
        p.extend((body.len() as u64).to_ne_bytes());
        p.extend(body);
        p
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
        let records = parse_page(&p, &layout());
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
                Err(why) if !is_root() => {
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
        let instance = ready.instance.clone();
        drop(ready);
        assert!(!instance.exists(), "the instance is removed");
    }
}
