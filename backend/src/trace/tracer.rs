//! Running a program under Kettle's own tracer: `ptrace` of Kettle's child (no privilege
//! needed), stopped by the seccomp filter ([`super::filter`]) only at the calls a figure draws,
//! every thread and child followed.
//!
//! The child asks to be traced (`PTRACE_TRACEME`), forbids itself new privileges and installs
//! the filter, then `execve`s the program; the kernel stops it after the exec, the tracer sets
//! its options, and from then on each traced call stops the thread twice: at its entry (the
//! seccomp stop: number and arguments) and, because the tracer resumes it with
//! `PTRACE_SYSCALL`, at its exit (the result). Both stops are timed with Kettle's clock.
//!
//! A signal on its way to the program stops the thread that is to receive it (a
//! signal-delivery-stop): the tracer reports it, with the descriptor the kernel named for a
//! signal an `O_ASYNC` socket sent, and hands it on unchanged as it resumes the thread.
//!
//! While the program is too busy to watch call by call, a thread can be made *passive*
//! ([`super::passive`]): at one of its calls' exits the tracer suspends its filter
//! (`PTRACE_O_SUSPEND_SECCOMP`), and a `SIGSTOP` the tracer swallows brings it back later.
//!
//! Every `ptrace` request must come from the tracer thread, the thread that spawned the child:
//! [`run`] spawns and then loops on `waitpid` in the caller's thread until every traced task
//! has exited.

use std::collections::HashMap;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::ptrace::{self, Event, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::filter::{self, Stops};
use super::passive::Suspension;
use crate::clock::clock;
use crate::models::sigio::SigPollInfo;

/// What the tracer saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A traced call began on thread `tid`: its name and its six argument registers.
    Enter { tid: i32, t_ns: u64, name: &'static str, args: [u64; 6] },
    /// It returned (`ret` as the kernel gave it: a negative errno on failure), with the
    /// arguments it was called with (the buffers they point at are filled in now).
    Exit { tid: i32, t_ns: u64, name: &'static str, args: [u64; 6], ret: i64 },
    /// A new thread or child process `tid`, made by `by`.
    Spawned { tid: i32, by: i32, t_ns: u64 },
    /// Signal `signo` is about to be delivered to thread `tid` (it is handed on unchanged).
    /// `fd` is the descriptor the kernel named (`si_fd`) when an `O_ASYNC` descriptor sent it:
    /// `SIGIO`/`SIGPOLL`, or the signal chosen with `F_SETSIG`, with a `POLL_*` code.
    Signal { tid: i32, t_ns: u64, signo: i32, fd: Option<i32> },
    /// Task `tid` ended: its exit code, or the signal that ended it (`None` for a realtime
    /// signal, which nix's `Signal` cannot name).
    Ended { tid: i32, t_ns: u64, code: Option<i32>, signal: Option<Signal> },
}

/// Spawns `cmd` traced, and reports what it does to `seen` until every task of it has ended.
/// Returns the exit code (or killing signal) of the program's first process.
pub fn run(cmd: Command, seen: impl FnMut(Seen)) -> io::Result<(Option<i32>, Option<Signal>)> {
    run_with(cmd, |_| {}, seen)
}

/// [`run`], handing the spawned child to `spawned` first (its pipes, its id).
pub fn run_with(
    cmd: Command,
    spawned: impl FnOnce(&mut std::process::Child),
    seen: impl FnMut(Seen),
) -> io::Result<(Option<i32>, Option<Signal>)> {
    run_with_filter(cmd, Stops::Drawn, None, spawned, seen)
}

/// [`run_with`], the program stopping at the calls `stops` names: [`Stops::Every`] only to
/// measure what the filter saves. A call outside [`filter::TRACED`] is seen as `"?"`.
///
/// With a `suspension`, a thread whose traced call returns while the suspension is
/// [wanted](Suspension::wanted) stops being stopped (its filter suspended: its calls are then
/// read by [`super::passive`]), until a `SIGSTOP` — swallowed here — brings it back.
pub fn run_with_filter(
    mut cmd: Command,
    stops: Stops,
    suspension: Option<&Suspension>,
    spawned: impl FnOnce(&mut std::process::Child),
    mut seen: impl FnMut(Seen),
) -> io::Result<(Option<i32>, Option<Signal>)> {
    // Built before the fork and alive until `run` returns, long after the child's exec; the
    // closure carries its address (a raw pointer is not `Send`).
    let program = stops.program();
    let (at, len) = (program.as_ptr() as usize, program.len() as u16);
    // SAFETY: the closure runs in the child between fork and exec and only makes system
    // calls (no allocation, no lock): ptrace, prctl and seccomp on memory built before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let fprog = libc::sock_fprog { len, filter: at as *mut libc::sock_filter };
            ptrace::traceme().map_err(io::Error::from)?;
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let installed = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            );
            if installed != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let pid = Pid::from_raw(child.id() as i32);
    spawned(&mut child);
    // The stop after the exec.
    match waitpid(pid, None).map_err(io::Error::from)? {
        WaitStatus::Stopped(_, Signal::SIGTRAP) => {}
        other => {
            return Err(io::Error::other(format!("the program did not stop after exec: {other:?}")))
        }
    }
    ptrace::setoptions(pid, OPTIONS).map_err(io::Error::from)?;
    ptrace::cont(pid, None).map_err(io::Error::from)?;

    // Each thread's call between its two stops: its name and arguments.
    let mut in_call: HashMap<i32, (&'static str, [u64; 6])> = HashMap::new();
    let mut first_end = (None, None);
    loop {
        let (tid, raw) = match wait_any() {
            Ok(got) => got,
            Err(Errno::ECHILD) => return Ok(first_end),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(abandon(pid, e)),
        };
        let now = clock().now_ns();
        let status = match WaitStatus::from_raw(tid, raw) {
            Ok(status) => status,
            // nix's `Signal` has no realtime signals, and a program that asks for one
            // (`F_SETSIG`, or glibc's own two) must not stop the tracer: such a stop or death
            // is handled here from the raw status.
            Err(_) => {
                let resumed = if libc::WIFSTOPPED(raw) {
                    let signo = libc::WSTOPSIG(raw);
                    if let Some(fd) = delivered(tid) {
                        seen(Seen::Signal { tid: tid.as_raw(), t_ns: now, signo, fd });
                    }
                    cont_with(tid, signo)
                } else {
                    in_call.remove(&tid.as_raw());
                    ended(suspension, tid, now);
                    seen(Seen::Ended { tid: tid.as_raw(), t_ns: now, code: None, signal: None });
                    Ok(())
                };
                match resumed {
                    Ok(()) | Err(Errno::ESRCH) => continue,
                    Err(e) => return Err(abandon(pid, e)),
                }
            }
        };
        // A task that vanished between its stop and our requests (killed: its registers, its
        // event message, its resumption all fail with ESRCH) is not an error: its death is the
        // next thing `waitpid` reports, and the loop goes on until every task is reaped.
        let resumed = match status {
            WaitStatus::PtraceEvent(tid, _, e) if e == Event::PTRACE_EVENT_SECCOMP as i32 => {
                ptrace::getregs(tid).and_then(|regs| {
                    let name = filter::name_of(regs.orig_rax as i64).unwrap_or("?");
                    let args = [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9];
                    seen(Seen::Enter { tid: tid.as_raw(), t_ns: now, name, args });
                    in_call.insert(tid.as_raw(), (name, args));
                    ptrace::syscall(tid, None)
                })
            }
            WaitStatus::PtraceSyscall(tid) => {
                let exit = match in_call.remove(&tid.as_raw()) {
                    Some((name, args)) => ptrace::getregs(tid).map(|regs| {
                        let ret = regs.rax as i64;
                        seen(Seen::Exit { tid: tid.as_raw(), t_ns: now, name, args, ret });
                    }),
                    None => Ok(()),
                };
                exit.and_then(|()| match suspension {
                    Some(s) if s.wanted() && !s.is_passive(tid.as_raw()) => {
                        match set_options(tid, true) {
                            Ok(()) => s.suspended(tid.as_raw(), now),
                            // No CAP_SYS_ADMIN (or no CONFIG_CHECKPOINT_RESTORE): every call
                            // goes on stopping.
                            Err(Errno::EPERM | Errno::EINVAL) => s.refused(),
                            Err(e) => return Err(e),
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                })
                .and_then(|()| ptrace::cont(tid, None))
            }
            WaitStatus::PtraceEvent(tid, _, e)
                if [
                    Event::PTRACE_EVENT_CLONE,
                    Event::PTRACE_EVENT_FORK,
                    Event::PTRACE_EVENT_VFORK,
                ]
                .iter()
                .any(|k| *k as i32 == e) =>
            {
                ptrace::getevent(tid).and_then(|new| {
                    seen(Seen::Spawned { tid: new as i32, by: tid.as_raw(), t_ns: now });
                    resume(tid, &in_call)
                })
            }
            WaitStatus::PtraceEvent(tid, _, _) => resume(tid, &in_call),
            // A new task's first stop, or a stop we caused (to bring a passive thread back):
            // its calls stop it again (a new thread may have inherited a suspended filter),
            // and it resumes without the signal.
            WaitStatus::Stopped(tid, Signal::SIGSTOP) if suspension.is_some() => {
                set_options(tid, false).and_then(|()| {
                    if let Some(s) = suspension {
                        s.resumed(tid.as_raw(), now);
                    }
                    ptrace::cont(tid, None)
                })
            }
            WaitStatus::Stopped(tid, Signal::SIGSTOP)
            | WaitStatus::Stopped(tid, Signal::SIGTRAP) => ptrace::cont(tid, None),
            // A signal for the program: say so, and hand it on. A group-stop (the program
            // stopped by SIGTSTP and the like) has no siginfo: not a delivery, nothing to say.
            WaitStatus::Stopped(tid, signal) => {
                if let Some(fd) = delivered(tid) {
                    let signo = signal as i32;
                    seen(Seen::Signal { tid: tid.as_raw(), t_ns: now, signo, fd });
                }
                ptrace::cont(tid, Some(signal))
            }
            WaitStatus::Exited(tid, code) => {
                in_call.remove(&tid.as_raw());
                ended(suspension, tid, now);
                seen(Seen::Ended { tid: tid.as_raw(), t_ns: now, code: Some(code), signal: None });
                if tid == pid {
                    first_end = (Some(code), None);
                }
                Ok(())
            }
            WaitStatus::Signaled(tid, signal, _) => {
                in_call.remove(&tid.as_raw());
                ended(suspension, tid, now);
                seen(Seen::Ended {
                    tid: tid.as_raw(),
                    t_ns: now,
                    code: None,
                    signal: Some(signal),
                });
                if tid == pid {
                    first_end = (None, Some(signal));
                }
                Ok(())
            }
            _ => Ok(()),
        };
        match resumed {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => return Err(abandon(pid, e)),
        }
    }
}

/// Task `tid` is gone: it is passive no more (its id may be another task's later, which
/// must never be sent the `SIGSTOP` meant for it).
fn ended(suspension: Option<&Suspension>, tid: Pid, now: u64) {
    if let Some(s) = suspension {
        s.resumed(tid.as_raw(), now);
    }
}

/// The tracer's options for every task: stop at the filter's calls, say which stops are
/// system-call stops, follow every new task and exec, and kill everything if Kettle ends.
const OPTIONS: Options = Options::PTRACE_O_TRACESECCOMP
    .union(Options::PTRACE_O_TRACESYSGOOD)
    .union(Options::PTRACE_O_TRACECLONE)
    .union(Options::PTRACE_O_TRACEFORK)
    .union(Options::PTRACE_O_TRACEVFORK)
    .union(Options::PTRACE_O_TRACEEXEC)
    .union(Options::PTRACE_O_EXITKILL);

/// Sets task `tid`'s options, its filter suspended (`PTRACE_O_SUSPEND_SECCOMP`, which nix does
/// not name) or not.
fn set_options(tid: Pid, suspend: bool) -> nix::Result<()> {
    let bits = OPTIONS.bits() | if suspend { libc::PTRACE_O_SUSPEND_SECCOMP } else { 0 };
    // SAFETY: PTRACE_SETOPTIONS on our own stopped tracee; data is the option bits.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_SETOPTIONS,
            tid.as_raw(),
            std::ptr::null_mut::<libc::c_void>(),
            bits,
        )
    };
    Errno::result(rc).map(drop)
}

/// The loop cannot go on (`e`): every task of the program is killed and reaped before the
/// error is returned, so none is left stopped for a tracer that no longer answers, or a zombie.
fn abandon(pid: Pid, e: Errno) -> io::Error {
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    loop {
        match wait_any() {
            // Whatever else stops (a thread, a child process) is killed where it stands.
            Ok((tid, raw)) if libc::WIFSTOPPED(raw) => {
                let _ = nix::sys::signal::kill(tid, Signal::SIGKILL);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    e.into()
}

/// `waitpid` for any of this thread's tracees, with the raw status: nix's `waitpid` fails with
/// `EINVAL` on a stop or death by a realtime signal, and would leave that task stopped.
fn wait_any() -> nix::Result<(Pid, i32)> {
    let mut raw = 0;
    // This thread's tracees only: another thread of Kettle (a test beside this one, a model
    // that forks) waits for its own children.
    let flags = libc::__WALL | libc::__WNOTHREAD;
    // SAFETY: waitpid writes the status into a local int.
    let tid = Errno::result(unsafe { libc::waitpid(-1, &mut raw, flags) })?;
    Ok((Pid::from_raw(tid), raw))
}

/// For a task in a signal-delivery-stop: `Some(si_fd)`, the descriptor the signal is about if
/// the kernel named one. `None` if the stop is not a delivery (a group-stop has no siginfo).
fn delivered(tid: Pid) -> Option<Option<i32>> {
    let info = ptrace::getsiginfo(tid).ok()?;
    // SAFETY: `siginfo_t` is 128 bytes, `SigPollInfo` a prefix of it; every bit pattern is
    // valid.
    let poll = unsafe { &*(&info as *const libc::siginfo_t).cast::<SigPollInfo>() };
    // `si_fd` is set only by an O_ASYNC descriptor: SIGIO or the F_SETSIG signal (a realtime
    // one, numbered from the kernel's 32) with a POLL_IN..POLL_HUP code. The same codes mean
    // other things for other signals (CLD_EXITED is 1 for SIGCHLD).
    let from_fd = (poll.signo == libc::SIGIO || poll.signo >= 32) && (1..=6).contains(&poll.code);
    Some(from_fd.then_some(poll.fd))
}

/// `PTRACE_CONT` handing on signal `signo`, realtime ones too (nix's `cont` takes a `Signal`).
fn cont_with(tid: Pid, signo: i32) -> nix::Result<()> {
    // SAFETY: PTRACE_CONT on our own stopped tracee; addr is ignored, data is the signal.
    let rc = unsafe {
        libc::ptrace(libc::PTRACE_CONT, tid.as_raw(), std::ptr::null_mut::<libc::c_void>(), signo)
    };
    Errno::result(rc).map(drop)
}

/// Resumes a task stopped inside a traced call (a `clone`'s event) so that its exit still
/// stops it, or any other task to run until its next traced call.
fn resume(tid: Pid, in_call: &HashMap<i32, (&'static str, [u64; 6])>) -> nix::Result<()> {
    if in_call.contains_key(&tid.as_raw()) {
        ptrace::syscall(tid, None)
    } else {
        ptrace::cont(tid, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace_python(script: &str) -> (Vec<Seen>, Option<i32>) {
        let mut cmd = Command::new("python3");
        cmd.args(["-c", script]);
        let mut seen = Vec::new();
        let (code, _) = run(cmd, |s| seen.push(s)).expect("python3 runs traced");
        (seen, code)
    }

    fn calls(seen: &[Seen]) -> Vec<&'static str> {
        seen.iter()
            .filter_map(|s| match s {
                Seen::Enter { name, .. } => Some(*name),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_traced_program_is_seen_binding_listening_and_closing_in_order() {
        let (seen, code) = trace_python(
            "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen(5)\ns.close()",
        );
        assert_eq!(code, Some(0));
        let names = calls(&seen);
        let socket = names.iter().position(|n| *n == "socket").expect("socket");
        let bind = names.iter().position(|n| *n == "bind").expect("bind");
        let listen = names.iter().position(|n| *n == "listen").expect("listen");
        assert!(socket < bind && bind < listen, "{names:?}");
        // Every call but the last (`exit_group` does not return) has its exit, on its thread.
        for (i, s) in seen.iter().enumerate() {
            if let Seen::Enter { tid, name, .. } = s {
                let returned = seen[i + 1..].iter().find_map(|later| match later {
                    Seen::Exit { tid: t, name: n, .. } if t == tid => Some(*n),
                    Seen::Enter { tid: t, .. } if t == tid => Some("another call"),
                    Seen::Ended { tid: t, .. } if t == tid => Some("the end"),
                    _ => None,
                });
                if *name != "exit_group" {
                    assert_eq!(returned, Some(*name), "call {i} ({name}) on {tid}");
                }
            }
        }
        let listen_ret = seen.iter().find_map(|s| match s {
            Seen::Exit { name: "listen", ret, .. } => Some(*ret),
            _ => None,
        });
        assert_eq!(listen_ret, Some(0));
    }

    #[test]
    fn stopping_on_every_call_stops_on_the_calls_the_filter_lets_run() {
        let other_calls = |stops| {
            let mut cmd = Command::new("python3");
            cmd.args(["-c", "import os\nos.getpid()"]);
            let mut others = 0;
            let (code, _) = run_with_filter(
                cmd,
                stops,
                None,
                |_| {},
                |s| {
                    others += usize::from(matches!(s, Seen::Enter { name: "?", .. }));
                },
            )
            .expect("python3 runs traced");
            assert_eq!(code, Some(0), "{stops:?}: the program ran to its end");
            others
        };
        assert_eq!(other_calls(Stops::Drawn), 0);
        // Python's start alone makes hundreds: mmap, openat, fstat, getpid…
        assert!(other_calls(Stops::Every) > 100);
    }

    #[test]
    fn a_thread_of_the_program_is_followed_and_a_failing_call_returns_its_errno() {
        let (seen, code) = trace_python(
            "import socket, threading\n\
             def work():\n    s = socket.socket()\n    s.setblocking(False)\n    s.bind(('127.0.0.1', 0))\n    s.listen(1)\n    \n    try:\n        s.accept()\n    except BlockingIOError:\n        pass\n\
             t = threading.Thread(target=work)\nt.start()\nt.join()",
        );
        assert_eq!(code, Some(0));
        let main = match seen.first() {
            Some(Seen::Enter { tid, .. } | Seen::Exit { tid, .. }) => *tid,
            other => panic!("{other:?}"),
        };
        let spawned: Vec<i32> = seen
            .iter()
            .filter_map(|s| match s {
                Seen::Spawned { tid, .. } => Some(*tid),
                _ => None,
            })
            .collect();
        assert!(!spawned.is_empty(), "the thread was seen starting");
        let accept = seen.iter().find_map(|s| match s {
            Seen::Exit { tid, name: "accept4" | "accept", ret, .. } => Some((*tid, *ret)),
            _ => None,
        });
        let (tid, ret) = accept.expect("the accept was seen");
        assert_ne!(tid, main, "on the thread, not the main one");
        assert!(spawned.contains(&tid));
        assert_eq!(ret, -(libc::EAGAIN as i64));
    }

    #[test]
    fn a_realtime_signal_is_reported_and_handed_on_to_the_programs_handler() {
        // glibc's SIGRTMIN+2 (as the sigio model's), which nix's `Signal` cannot name; the
        // program exits 0 only if its handler ran.
        let (seen, code) = trace_python(
            "import os, signal, sys\n\
             got = []\n\
             signal.signal(signal.SIGRTMIN + 2, lambda signo, frame: got.append(signo))\n\
             os.kill(os.getpid(), signal.SIGRTMIN + 2)\n\
             sys.exit(0 if got else 1)",
        );
        assert_eq!(code, Some(0));
        let rt = libc::SIGRTMIN() + 2;
        assert!(
            seen.iter().any(|s| matches!(s, Seen::Signal { signo, fd: None, .. } if *signo == rt)),
            "{seen:?}"
        );
    }
}
