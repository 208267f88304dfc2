//! Kettle's own tracefs instances, and the binary records of their ring buffers: what
//! [`super::ready`] (the kernel's word on an arrival) and [`super::passive`] (a busy program's
//! calls, read without stopping it) share.
//!
//! An instance (`instances/kettle-<pid>-<n>`) has its own buffer, its own enabled events and
//! filters, and its clock set to `mono`, so its stamps are on the clock Kettle's events use.
//! Its records are read in binary from `per_cpu/cpuN/trace_pipe_raw` — the text output of
//! some tracepoints leaves out the fields Kettle needs (`sk_data_ready` prints no socket) —
//! one ring-buffer page at a time ([`parse_page`]); which bytes are which field comes from the
//! tracepoint's `format` file ([`field`]). Root only; dropping the instance removes it.

use std::fs::{self, File};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const TRACEFS: &str = "/sys/kernel/tracing";

/// The ring buffer's page: a header (timestamp, commit) and the records.
pub const PAGE: usize = 4096;

/// How long an idle reader sleeps before looking again, if the kernel does not wake it first
/// (it does, as records come): how often "read up to now" moves on while nothing happens (`POLL`).
const POLL: Duration = Duration::from_millis(1);

/// The least time between two looks at an emptied buffer: a machine busy with TCP makes
/// records by the hundred thousand a second, and a reader woken for each would take a core.
const BATCH: Duration = Duration::from_micros(500);

/// A field's place in a record, from the tracepoint's `format` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: usize,
    pub size: usize,
}

/// One tracefs instance of Kettle's own. Dropping it disables what it enabled and removes it.
#[derive(Debug)]
pub struct Instance {
    path: PathBuf,
    enabled: std::sync::Mutex<Vec<String>>,
}

impl Instance {
    /// Makes a new instance with its clock set to `mono`. Root only: otherwise, or with no
    /// tracefs, says why.
    pub fn create() -> Result<Instance, String> {
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
        // One instance per reader: a process may trace several programs (the tests do).
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = root.join(format!("instances/kettle-{}-{n}", std::process::id()));
        remove_leftovers(&root.join("instances"));
        fs::create_dir(&path).map_err(|e| format!("tracefs instance: {e}"))?;
        let instance = Instance { path, enabled: Default::default() };
        instance.write("trace_clock", "mono")?;
        // Readers are woken for any data, not when the buffer is half full.
        let _ = instance.write("buffer_percent", "0");
        Ok(instance)
    }

    /// The instance's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `value` to the instance's `file`.
    pub fn write(&self, file: &str, value: &str) -> Result<(), String> {
        fs::write(self.path.join(file), value).map_err(|e| format!("tracefs {file}: {e}"))
    }

    /// Turns tracepoint `event` (`sock/sk_data_ready`) on or off in this instance.
    pub fn enable(&self, event: &str, on: bool) -> Result<(), String> {
        self.write(&format!("events/{event}/enable"), if on { "1" } else { "0" })?;
        let mut enabled = self.enabled.lock().unwrap_or_else(|p| p.into_inner());
        enabled.retain(|e| e != event);
        if on {
            enabled.push(event.to_owned());
        }
        Ok(())
    }

    /// The CPUs the instance has a buffer for.
    pub fn cpus(&self) -> usize {
        fs::read_dir(self.path.join("per_cpu")).map_or(0, |d| d.count())
    }

    /// CPU `cpu`'s buffer, opened for non-blocking binary reads.
    pub fn open_cpu(&self, cpu: usize) -> Result<File, String> {
        let path = self.path.join(format!("per_cpu/cpu{cpu}/trace_pipe_raw"));
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let enabled = std::mem::take(&mut *self.enabled.lock().unwrap_or_else(|p| p.into_inner()));
        for event in enabled {
            let _ = fs::write(self.path.join(format!("events/{event}/enable")), "0");
        }
        // The kernel may still hold the buffer a moment after the readers closed it (EBUSY).
        for _ in 0..100 {
            if fs::remove_dir(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("kettle: cannot remove the tracefs instance {}", self.path.display());
    }
}

/// Sleeps until the kernel says the buffer has data (`poll(2)` on `trace_pipe_raw`: the
/// kernel wakes its readers as records come, with `buffer_percent` 0), or a millisecond passed —
/// so a stop is noticed, and the time read up to moves on while nothing happens (`POLL`).
pub fn wait_for_data(file: &File) {
    use std::os::fd::AsRawFd;
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
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// The `format` file of tracepoint `event` (`sock/sk_data_ready`).
pub fn format(event: &str) -> Result<String, String> {
    fs::read_to_string(Path::new(TRACEFS).join("events").join(event).join("format"))
        .map_err(|e| format!("tracepoint {event}: {e}"))
}

/// The tracepoint's id: the first two bytes of each of its records.
pub fn id(format: &str) -> Result<u16, String> {
    format
        .lines()
        .find_map(|l| l.strip_prefix("ID:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no ID in the tracepoint's format".into())
}

/// A field's place from a `format` file line (`field:const void * skaddr;`, then the offset and
/// the size, tab-separated).
pub fn field(format: &str, name: &str) -> Option<Field> {
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

/// [`field`], or why the tracepoint lacks it.
pub fn needed(format: &str, name: &str) -> Result<Field, String> {
    field(format, name).ok_or_else(|| format!("no field {name} in the tracepoint"))
}

pub fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// An unsigned field of 1, 2, 4 or 8 bytes.
pub fn read_field(b: &[u8], f: Field) -> Option<u64> {
    let bytes = b.get(f.offset..f.offset + f.size)?;
    Some(match f.size {
        1 => bytes[0] as u64,
        2 => u16::from_ne_bytes(bytes.try_into().ok()?) as u64,
        4 => u32::from_ne_bytes(bytes.try_into().ok()?) as u64,
        8 => u64::from_ne_bytes(bytes.try_into().ok()?),
        _ => return None,
    })
}

/// The record's tracepoint id (`common_type`, its first field).
pub fn record_type(data: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(data.get(0..2)?.try_into().ok()?))
}

/// The task that made the record (`common_pid`: a thread id).
pub fn record_tid(data: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(data.get(4..8)?.try_into().ok()?))
}

/// Whether the kernel dropped records before this page (the buffer was full: the reader fell
/// behind): the commit word's `RB_MISSED_EVENTS` bit.
pub fn missed_before(page: &[u8]) -> bool {
    read_u64(page, 8).is_some_and(|commit| commit & (1 << 31) != 0)
}

/// Hands each record of one ring-buffer page (`include/linux/ring_buffer.h`) to `each` with
/// its time (`mono`, ns): a `u64` timestamp, a `u64` commit (the data's length in its low 30
/// bits), then records, each a `u32` header — `type_len` in its 5 low bits, a time delta in
/// the other 27 — and its data. `type_len` 1–28 is the data's length in words; 0 puts the
/// length (plus its own word) in the next word; 29 is padding, 30 a time extension, 31 an
/// absolute timestamp.
pub fn parse_page(page: &[u8], mut each: impl FnMut(&[u8], u64)) {
    let (Some(mut ts), Some(commit)) = (read_u64(page, 0), read_u64(page, 8)) else {
        return;
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
                each(data, ts);
                at += len.next_multiple_of(4);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A page as the kernel writes it: records after a timestamp and a commit length.
    pub(crate) fn page(start: u64, records: &[(u32, Vec<u8>)]) -> Vec<u8> {
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
        let args = "\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n";
        assert_eq!(field(args, "args"), Some(Field { offset: 16, size: 48 }));
        assert_eq!(field(READY_FORMAT, "addr"), None);
        assert_eq!(id(READY_FORMAT), Ok(2285));
    }

    #[test]
    fn each_record_of_a_page_comes_with_its_time_and_a_time_extension_moves_it_on() {
        let a = vec![1u8; 8];
        let b = vec![2u8; 12];
        let mut p = page(1_000, &[(5, a.clone())]);
        // A time extension (type 30) of 1 << 27 ns plus 3, then a record 7 ns later.
        p.extend((30u32 | (3 << 5)).to_ne_bytes());
        p.extend(1u32.to_ne_bytes());
        p.extend(((7u32 << 5) | 3).to_ne_bytes());
        p.extend(&b);
        let commit = (p.len() - 16) as u64;
        p[8..16].copy_from_slice(&commit.to_ne_bytes());
        let mut got = Vec::new();
        parse_page(&p, |data, t| got.push((data.to_vec(), t)));
        assert_eq!(got, [(a, 1_005), (b, 1_005 + (1 << 27) + 3 + 7)]);
        assert!(!missed_before(&p));
        p[8..16].copy_from_slice(&(commit | 1 << 31).to_ne_bytes());
        assert!(missed_before(&p), "RB_MISSED_EVENTS");
        let mut again = Vec::new();
        parse_page(&p, |data, t| again.push((data.to_vec(), t)));
        assert_eq!(again.len(), 2, "the flag is not part of the length");
    }
}
