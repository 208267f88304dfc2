//! A process as `/proc/<pid>/` shows it: threads and memory (`status`), state, parent and CPU
//! time (`stat`), open descriptors (`fd/`), and the processes whose parent it is; and the
//! machine's CPU model and kernel release, for a bench's heading.
//!
//! The tools read a server from the outside with these (`kettle soak` its `kettle serve`
//! child, `kettle bench` its own process, the experiments their lab), and the tests their own
//! process. Each parser takes the file's text, so it is tested on samples.

use std::io;
use std::path::PathBuf;

/// Which process: this one (`/proc/self`) or another, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// The calling process.
    Own,
    /// Process `n`.
    Id(u32),
}

impl Pid {
    fn dir(self) -> PathBuf {
        match self {
            Pid::Own => PathBuf::from("/proc/self"),
            Pid::Id(n) => PathBuf::from(format!("/proc/{n}")),
        }
    }
}

/// The lines of `/proc/<pid>/status` Kettle reads. A line the file lacks reads 0 (a zombie
/// or a kernel thread has no `Vm…` lines).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// Threads (`Threads:`).
    pub threads: u64,
    /// Resident memory, KiB (`VmRSS:`).
    pub rss_kib: u64,
    /// The most resident memory so far, KiB (`VmHWM:`).
    pub hwm_kib: u64,
    /// Address space reserved, KiB (`VmSize:`).
    pub vm_kib: u64,
}

impl Status {
    /// Parses the text of a `status` file: `Name:\tvalue [unit]` lines.
    pub fn parse(text: &str) -> Status {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Status {
            threads: field("Threads"),
            rss_kib: field("VmRSS"),
            hwm_kib: field("VmHWM"),
            vm_kib: field("VmSize"),
        }
    }
}

/// Reads `/proc/<pid>/status`.
pub fn status(pid: Pid) -> io::Result<Status> {
    Ok(Status::parse(&read(pid.dir().join("status"))?))
}

/// A file's text; an error names the file (`std::fs`'s own do not).
fn read(path: PathBuf) -> io::Result<String> {
    std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// The fields of `/proc/<pid>/stat` Kettle reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The state letter (field 3): `R` running, `S` sleeping, `Z` zombie…
    pub state: char,
    /// The parent's process id (field 4).
    pub ppid: u32,
    /// The process group (field 5).
    pub pgrp: u32,
    /// CPU time in user mode, clock ticks (field 14).
    pub utime_ticks: u64,
    /// CPU time in the kernel, clock ticks (field 15).
    pub stime_ticks: u64,
}

impl Stat {
    /// Parses the one line of a `stat` file. The command name (field 2) is in parentheses
    /// and may itself hold spaces and parentheses, so the fields are counted from the last
    /// `)`. `None` for a line too short to hold field 15.
    pub fn parse(text: &str) -> Option<Stat> {
        let (_, after_name) = text.rsplit_once(')')?;
        // Fields from 3 (the state) on.
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).copied();
        Some(Stat {
            state: field(3)?.chars().next()?,
            ppid: field(4)?.parse().ok()?,
            pgrp: field(5)?.parse().ok()?,
            utime_ticks: field(14)?.parse().ok()?,
            stime_ticks: field(15)?.parse().ok()?,
        })
    }

    /// User + system CPU time, clock ticks (see [`ticks_per_s`]).
    pub fn cpu_ticks(&self) -> u64 {
        self.utime_ticks + self.stime_ticks
    }
}

/// Reads `/proc/<pid>/stat`.
pub fn stat(pid: Pid) -> io::Result<Stat> {
    let path = pid.dir().join("stat");
    let text = read(path.clone())?;
    Stat::parse(&text).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{}: {text:?}", path.display()))
    })
}

/// Clock ticks a second (`sysconf(_SC_CLK_TCK)`), the unit of [`Stat`]'s CPU times.
pub fn ticks_per_s() -> f64 {
    // SAFETY: sysconf only reads a constant of the system.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// How many descriptors the process has open (the entries of `/proc/<pid>/fd/`).
pub fn open_fds(pid: Pid) -> io::Result<u64> {
    Ok(read_dir(pid.dir().join("fd"))?.count() as u64)
}

/// A directory's entries; an error names the directory.
fn read_dir(path: PathBuf) -> io::Result<std::fs::ReadDir> {
    std::fs::read_dir(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Whether the process holds socket `inode` open (one of its `fd/` links reads
/// `socket:[inode]`). Reading another user's `fd/` is refused by the kernel: an error.
pub fn holds_socket(pid: Pid, inode: u64) -> io::Result<bool> {
    let socket = format!("socket:[{inode}]");
    Ok(read_dir(pid.dir().join("fd"))?
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == &*socket)))
}

/// Every process whose parent is `parent`, with its `stat` — zombies too (state `Z`), until
/// their parent reaps them. Found by reading every process's `stat`, which works on every
/// kernel (`/proc/<pid>/task/<tid>/children` needs `CONFIG_PROC_CHILDREN`); a process that
/// ends meanwhile is simply not listed.
pub fn children(parent: u32) -> io::Result<Vec<(u32, Stat)>> {
    let mut found = Vec::new();
    for entry in read_dir(PathBuf::from("/proc"))?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(s) = stat(Pid::Id(pid)) {
            if s.ppid == parent {
                found.push((pid, s));
            }
        }
    }
    Ok(found)
}

/// The processes of process group `group` still alive (zombies, which hold nothing and only
/// wait for their parent — or init, for an orphan — to reap them, are left out).
pub fn alive_in_group(group: u32) -> io::Result<Vec<u32>> {
    let mut found = Vec::new();
    for entry in read_dir(PathBuf::from("/proc"))?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if stat(Pid::Id(pid)).is_ok_and(|s| s.pgrp == group && s.state != 'Z') {
            found.push(pid);
        }
    }
    Ok(found)
}

/// The CPU's model name from the text of `/proc/cpuinfo` (its first `model name` line).
pub fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    let line = cpuinfo.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}

/// The CPU's model name (`/proc/cpuinfo`), if the kernel says it.
pub fn cpu_model() -> Option<String> {
    parse_cpu_model(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
}

/// The kernel's release (`/proc/sys/kernel/osrelease`), such as `6.1.0-28-amd64`.
pub fn kernel_release() -> Option<String> {
    Some(std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines that matter of a real `/proc/<pid>/status` (Linux 6.1).
    const STATUS: &str = "Name:\tkettle\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n\
        Pid:\t4242\nPPid:\t1\nVmPeak:\t  120880 kB\nVmSize:\t  118832 kB\nVmLck:\t       0 kB\n\
        VmHWM:\t    9216 kB\nVmRSS:\t    7936 kB\nRssAnon:\t    2048 kB\nThreads:\t15\n\
        SigQ:\t0/31335\n";

    #[test]
    fn status_gives_threads_and_memory_in_kib() {
        let s = Status::parse(STATUS);
        assert_eq!(s, Status { threads: 15, rss_kib: 7936, hwm_kib: 9216, vm_kib: 118832 });
    }

    #[test]
    fn status_reads_a_missing_line_as_zero_and_never_a_longer_name() {
        // A zombie's status has no Vm lines; `VmRSS` must not be read from `VmRSSx`-like names.
        let s = Status::parse("Name:\tdefunct\nState:\tZ (zombie)\nThreads:\t1\nVmRSSx:\t5 kB\n");
        assert_eq!(s, Status { threads: 1, ..Status::default() });
    }

    #[test]
    fn stat_counts_fields_after_a_name_holding_spaces_and_parentheses() {
        let line = "4242 (kettle (x) y) S 17 4242 4242 0 -1 4194560 2000 0 0 0 \
                    150 25 0 0 20 0 15 0 12345 121716736 1984 18446744073709551615\n";
        let s = Stat::parse(line).unwrap();
        let expected = Stat { state: 'S', ppid: 17, pgrp: 4242, utime_ticks: 150, stime_ticks: 25 };
        assert_eq!(s, expected);
        assert_eq!(s.cpu_ticks(), 175);
    }

    #[test]
    fn stat_of_a_cut_line_is_none() {
        assert_eq!(Stat::parse("4242 (kettle) Z 17 4242"), None);
        assert_eq!(Stat::parse("no parenthesis at all"), None);
    }

    #[test]
    fn this_process_is_read_from_proc_self() {
        let s = status(Pid::Own).unwrap();
        assert!(s.threads >= 1 && s.rss_kib > 0 && s.vm_kib >= s.rss_kib, "{s:?}");
        let me = std::process::id();
        assert!(status(Pid::Id(me)).unwrap().threads >= 1);
        let st = stat(Pid::Id(me)).unwrap();
        assert_eq!(st.ppid, std::os::unix::process::parent_id());
        assert!(open_fds(Pid::Own).unwrap() >= 3);
    }

    #[test]
    fn a_child_is_found_by_its_parent_until_reaped() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let kids = children(std::process::id()).unwrap();
        assert!(kids.iter().any(|(pid, _)| *pid == child.id()), "{kids:?}");
        child.kill().unwrap();
        child.wait().unwrap();
        let kids = children(std::process::id()).unwrap();
        assert!(!kids.iter().any(|(pid, _)| *pid == child.id()), "{kids:?}");
    }

    #[test]
    fn the_cpu_model_is_the_first_model_name_line() {
        let info = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 85\n\
                    model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nprocessor\t: 1\n\
                    model name\t: other\n";
        assert_eq!(parse_cpu_model(info).as_deref(), Some("Intel(R) Xeon(R) CPU @ 2.20GHz"));
        assert_eq!(parse_cpu_model("processor\t: 0\n"), None);
    }
}
