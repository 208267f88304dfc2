//! What the kernel says about a thread, read from `/proc/self/task/<tid>/`: its state
//! letter, the system call it is in, where it sleeps and its kernel stack.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::{deserialize_tagged, unknown, Fields, Tagged};

/// How often the backend samples each model thread ([`EventKind::ThreadSample`](crate::EventKind::ThreadSample)), in ms: often
/// enough that a wait of a few hundred milliseconds is seen asleep in the kernel at least
/// once or twice.
pub const SAMPLE_EVERY_MS: u64 = 100;

/// One file of `/proc/self/task/<tid>/`, as Kettle read it: its content, or why it could not
/// be read. Never a guess: a file that could not be read says so.
///
/// JSON: `{"read": …}` or `{"unreadable": "EACCES"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcRead<T> {
    /// The file was read; what it says.
    Read(T),
    /// It could not be read: the errno name (`"EACCES"` for `stack` without root, `"ENOENT"`
    /// for a thread that just ended), or `"unparsable"` when its text was not in the format
    /// `proc(5)` documents.
    Unreadable(String),
}

impl<T> ProcRead<T> {
    /// The value, if the file was read.
    pub fn value(&self) -> Option<&T> {
        match self {
            ProcRead::Read(v) => Some(v),
            ProcRead::Unreadable(_) => None,
        }
    }
}

/// What `/proc/self/task/<tid>/syscall` says: the system call a thread is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum InSyscall {
    /// The file says `running`: the thread is running or waiting for a CPU (runnable), so it
    /// is not asleep in any call.
    Running,
    /// The thread is inside system call `nr` (blocked in it, or stopped there).
    Call {
        /// The number, as the kernel wrote it (architecture-specific).
        nr: i64,
        /// Its name (`"recvfrom"`, `"epoll_wait"`), for the calls Kettle's models make;
        /// `None` for a number Kettle does not name.
        name: Option<String>,
        /// Its first argument when that is a descriptor (`read`, `recvfrom`, `accept4`,
        /// `epoll_wait`, `io_uring_enter`…); `None` otherwise (`select`'s is a count,
        /// `poll`'s and `futex`'s are addresses).
        fd: Option<i32>,
    },
    /// The thread is blocked but not in a system call (the file's `-1 …` line).
    Outside,
}

/// What the kernel says about one thread, read from `/proc/self/task/<tid>/` one file after
/// another within a few microseconds (each is true at its own instant: a thread that wakes
/// between two reads can show a sleeping state and a `running` call). The process-per-conn
/// children read their own `/proc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelView {
    /// `stat`, field 3: the scheduler's state letter, as read (`"R"` running or runnable,
    /// `"S"` asleep and wakeable by a signal, `"D"` asleep and not, `"T"` stopped, `"Z"`
    /// zombie…).
    pub state: ProcRead<String>,
    /// `syscall`: the call it is in.
    pub syscall: ProcRead<InSyscall>,
    /// `wchan`: the kernel function it sleeps in (`"wait_woken"`, `"inet_csk_accept"`,
    /// `"do_epoll_wait"`…), as read; `"0"` when it is not sleeping.
    pub wchan: ProcRead<String>,
    /// `stack`: the function names of its kernel stack, innermost first (`"wait_woken"`,
    /// `"sk_wait_data"`, `"tcp_recvmsg_locked"`…), at most [`STACK_FRAMES`]. Readable by
    /// root only (`"EACCES"` otherwise).
    pub stack: ProcRead<Vec<String>>,
}

/// The most kernel stack frames a [`KernelView`] keeps: the top few say where and why.
pub const STACK_FRAMES: usize = 8;

/// `{"read": value}` or `{"unreadable": "why"}`, as serde writes the enum; read through
/// `wire.rs`, as the page reads every sample.
impl<'de, T: DeserializeOwned> Deserialize<'de> for ProcRead<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ProcRead<T>, D::Error> {
        let mut f = Fields::read(d)?;
        let read = match f.take::<Option<T>>("read") {
            Ok(Some(value)) => Ok(ProcRead::Read(value)),
            Ok(None) => match f.take::<Option<String>>("unreadable") {
                Ok(Some(why)) => Ok(ProcRead::Unreadable(why)),
                Ok(None) => Err(unknown("", &["read", "unreadable"])),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        read.map_err(D::Error::custom)
    }
}

deserialize_tagged!(InSyscall);

impl Tagged for InSyscall {
    const TAG: &'static str = "in";
    const TAGS: &'static [&'static str] = &["running", "call", "outside"];

    fn read(tag: &str, mut f: Fields) -> Result<InSyscall, String> {
        Ok(match tag {
            "running" => InSyscall::Running,
            "call" => {
                InSyscall::Call { nr: f.take("nr")?, name: f.take("name")?, fd: f.take("fd")? }
            }
            "outside" => InSyscall::Outside,
            other => return Err(unknown(other, Self::TAGS)),
        })
    }
}

// Read back through `wire.rs` (objects only, less code than the derive).
crate::wire::deserialize_fields! {
    KernelView { state, syscall, wchan, stack }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventKind;

    #[test]
    fn a_kernel_view_names_each_file_read_or_unreadable() {
        let kind = EventKind::ThreadSample {
            cpu_ns: 1,
            conns: 0,
            syscalls: 2,
            kernel: Some(KernelView {
                state: ProcRead::Read("S".into()),
                syscall: ProcRead::Read(InSyscall::Call {
                    nr: 45,
                    name: Some("recvfrom".into()),
                    fd: Some(5),
                }),
                wchan: ProcRead::Read("wait_woken".into()),
                stack: ProcRead::Unreadable("EACCES".into()),
            }),
        };
        let json = serde_json::to_string(&kind).unwrap();
        assert!(json.contains(r#""state":{"read":"S"}"#), "{json}");
        assert!(json.contains(r#""syscall":{"read":{"in":"call","nr":45"#), "{json}");
        assert!(json.contains(r#""stack":{"unreadable":"EACCES"}"#), "{json}");
        assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), kind);
        // A sample without the kernel's view (an older backend) still reads.
        let old = r#"{"type":"thread_sample","cpu_ns":1,"conns":0,"syscalls":2}"#;
        match serde_json::from_str::<EventKind>(old).unwrap() {
            EventKind::ThreadSample { kernel, .. } => assert_eq!(kernel, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_place_a_thread_can_be_reads_back_and_a_sample_naming_none_is_refused() {
        for syscall in [
            InSyscall::Running,
            InSyscall::Outside,
            InSyscall::Call { nr: 7, name: None, fd: None },
        ] {
            let read = ProcRead::Read(syscall);
            let json = serde_json::to_string(&read).unwrap();
            assert_eq!(serde_json::from_str::<ProcRead<InSyscall>>(&json).unwrap(), read, "{json}");
        }
        let err = serde_json::from_str::<ProcRead<String>>(r#"{"neither":1}"#).unwrap_err();
        assert!(err.to_string().contains("expected one of `read`, `unreadable`"), "{err}");
        let err = serde_json::from_str::<ProcRead<InSyscall>>(r#"{"read":{"in":"asleep"}}"#);
        assert!(err.unwrap_err().to_string().starts_with("unknown variant `asleep`"));
    }
}
