//! The seccomp-bpf filter a traced program runs under: stop (`SECCOMP_RET_TRACE`) on the
//! system calls a figure draws, let every other call run untouched (`SECCOMP_RET_ALLOW`).
//!
//! Stopping on every call (`PTRACE_SYSCALL` alone) would cost the program two context switches
//! to Kettle for each `getpid`, `mmap` or `futex`; with the filter, only the calls below do, as
//! with `strace --seccomp-bpf`. The filter checks the architecture first: a call made through
//! another ABI (32-bit `int 0x80` on x86-64) is stopped too, so nothing is missed unseen.
//!
//! [`Stops::Every`] is the other filter, which stops on every call: only to measure what this
//! one saves (`kettle bench --traced`), never what a student runs.

/// The calls Kettle draws, by the name the figure uses and their number on x86-64.
pub const TRACED: &[(&str, libc::c_long)] = &[
    ("socket", libc::SYS_socket),
    ("bind", libc::SYS_bind),
    ("listen", libc::SYS_listen),
    ("accept", libc::SYS_accept),
    ("accept4", libc::SYS_accept4),
    ("read", libc::SYS_read),
    ("readv", libc::SYS_readv),
    ("recvfrom", libc::SYS_recvfrom),
    ("recvmsg", libc::SYS_recvmsg),
    ("write", libc::SYS_write),
    ("writev", libc::SYS_writev),
    ("sendto", libc::SYS_sendto),
    ("sendmsg", libc::SYS_sendmsg),
    ("close", libc::SYS_close),
    ("shutdown", libc::SYS_shutdown),
    ("select", libc::SYS_select),
    ("pselect6", libc::SYS_pselect6),
    ("poll", libc::SYS_poll),
    ("ppoll", libc::SYS_ppoll),
    ("epoll_create", libc::SYS_epoll_create),
    ("epoll_create1", libc::SYS_epoll_create1),
    ("epoll_ctl", libc::SYS_epoll_ctl),
    ("epoll_wait", libc::SYS_epoll_wait),
    ("epoll_pwait", libc::SYS_epoll_pwait),
    ("epoll_pwait2", libc::SYS_epoll_pwait2),
    ("fcntl", libc::SYS_fcntl),
    // For FIONBIO and FIOASYNC: Python's setblocking() is an ioctl, not an fcntl.
    ("ioctl", libc::SYS_ioctl),
    ("rt_sigaction", libc::SYS_rt_sigaction),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("clone", libc::SYS_clone),
    ("clone3", libc::SYS_clone3),
    ("fork", libc::SYS_fork),
    ("vfork", libc::SYS_vfork),
    ("exit_group", libc::SYS_exit_group),
];

/// The name of traced call `nr`, if it is one.
pub fn name_of(nr: i64) -> Option<&'static str> {
    TRACED.iter().find(|(_, n)| *n == nr).map(|(name, _)| *name)
}

// Offsets into `struct seccomp_data` (linux/seccomp.h): the call's number, then its ABI.
const NR: u32 = 0;
const ARCH: u32 = 4;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

const fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

const fn jump_if(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16, jt, jf, k }
}

/// Which calls stop the traced program.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stops {
    /// The calls a figure draws ([`TRACED`]): what Kettle runs.
    #[default]
    Drawn,
    /// Every call but `execve`: what tracing costs without the filter, for comparison only.
    Every,
}

impl Stops {
    /// The filter's instructions.
    pub fn program(self) -> Vec<libc::sock_filter> {
        match self {
            Stops::Drawn => program(),
            Stops::Every => program_every_call(),
        }
    }
}

/// The filter's instructions: load the ABI (anything but x86-64 is traced), load the call's
/// number, then one comparison per traced call, each jumping to "trace"; "allow" at the end.
pub fn program() -> Vec<libc::sock_filter> {
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    let n = TRACED.len();
    let mut p = Vec::with_capacity(n + 6);
    p.push(stmt(load, ARCH));
    // Not x86-64: skip the comparisons and the "allow", straight to "trace".
    p.push(jump_if(AUDIT_ARCH_X86_64, 0, (n + 2) as u8));
    p.push(stmt(load, NR));
    for (i, (_, nr)) in TRACED.iter().enumerate() {
        // On a match, jump over the remaining comparisons and the "allow".
        p.push(jump_if(*nr as u32, (n - i) as u8, 0));
    }
    p.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
    p.push(stmt(ret, libc::SECCOMP_RET_TRACE));
    p
}

/// A filter that stops on every call, as `PTRACE_SYSCALL` alone would, but `execve` and
/// `execveat`: the filter is installed before the program's `execve`, when the tracer has not
/// yet asked for seccomp stops, and the kernel fails a call it cannot stop with `ENOSYS`.
pub fn program_every_call() -> Vec<libc::sock_filter> {
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    vec![
        stmt(load, ARCH),
        // Not x86-64: to "trace", past the two comparisons and the "allow".
        jump_if(AUDIT_ARCH_X86_64, 0, 4),
        stmt(load, NR),
        jump_if(libc::SYS_execve as u32, 1, 0),
        jump_if(libc::SYS_execveat as u32, 0, 1),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
        stmt(ret, libc::SECCOMP_RET_TRACE),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter `stops` over one `seccomp_data` as the kernel would, for its verdict.
    fn verdict_of(stops: Stops, arch: u32, nr: u32) -> u32 {
        let p = stops.program();
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = p[pc];
            let code = u32::from(i.code);
            if code == (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) {
                acc = if i.k == ARCH { arch } else { nr };
                pc += 1;
            } else if code == (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) {
                pc += 1 + usize::from(if acc == i.k { i.jt } else { i.jf });
            } else {
                return i.k;
            }
        }
    }

    fn verdict(arch: u32, nr: u32) -> u32 {
        verdict_of(Stops::Drawn, arch, nr)
    }

    #[test]
    fn the_filter_stops_the_drawn_calls_and_lets_every_other_run() {
        for (name, nr) in TRACED {
            assert_eq!(verdict(AUDIT_ARCH_X86_64, *nr as u32), libc::SECCOMP_RET_TRACE, "{name}");
        }
        for other in [libc::SYS_getpid, libc::SYS_mmap, libc::SYS_futex, libc::SYS_openat] {
            assert_eq!(verdict(AUDIT_ARCH_X86_64, other as u32), libc::SECCOMP_RET_ALLOW);
        }
        // A call through another ABI is never let through unseen.
        assert_eq!(verdict(0x4000_0003, 20), libc::SECCOMP_RET_TRACE);
    }

    #[test]
    fn the_every_call_filter_stops_every_call_but_the_exec() {
        let every = |arch, nr: libc::c_long| verdict_of(Stops::Every, arch, nr as u32);
        for nr in [libc::SYS_getpid, libc::SYS_mmap, libc::SYS_futex, libc::SYS_read] {
            assert_eq!(every(AUDIT_ARCH_X86_64, nr), libc::SECCOMP_RET_TRACE, "{nr}");
        }
        for (_, nr) in TRACED {
            assert_eq!(every(AUDIT_ARCH_X86_64, *nr), libc::SECCOMP_RET_TRACE, "{nr}");
        }
        for exec in [libc::SYS_execve, libc::SYS_execveat] {
            assert_eq!(every(AUDIT_ARCH_X86_64, exec), libc::SECCOMP_RET_ALLOW);
        }
        assert_eq!(every(0x4000_0003, libc::SYS_execve), libc::SECCOMP_RET_TRACE);
    }
}
