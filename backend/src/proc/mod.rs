//! # What the kernel says, read from `/proc`
//!
//! Kettle shows the kernel's own words beside what it recorded, and its tools measure servers
//! from the outside; both read `proc(5)`. Every file of it Kettle reads is read here, once, and
//! every parser is a pure function over the file's text, tested on samples taken from this
//! kernel, so a format question has one answer in one place:
//!
//! | module | files | read by |
//! |---|---|---|
//! | [`task`] | `/proc/self/task/<tid>/{stat,syscall,wchan,stack}` | the monitors' thread samples (the lanes' kernel view) |
//! | [`process`] | `/proc/<pid>/{status,stat,fd/}`, every `/proc/<pid>/stat` (children), `/proc/cpuinfo`, `/proc/sys/kernel/osrelease` | `kettle soak`, `kettle bench`, the experiments, the tests |
//! | [`net`] | `/proc/net/tcp` | the load's parent-listener check, `kettle soak`'s faults, the tests |
//!
//! A file that cannot be read is an error (or, for a thread's view, "unreadable" with its
//! errno), never a number filled in.
//!
//! (The posix-aio model finds glibc's helper threads from `/proc/self/task/*/syscall` on its
//! own: a model file keeps its lesson whole.)

pub mod net;
pub mod process;
pub mod task;
