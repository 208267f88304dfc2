//! # What the kernel says about a thread: `/proc/self/task/<tid>/`
//!
//! A figure draws what Kettle *recorded* a thread doing; the kernel can also be asked directly.
//! Four small files of `proc(5)` say where a thread is right now:
//!
//! | file | says | for a thread blocked in `recv` |
//! |---|---|---|
//! | `stat`, field 3 | the scheduler's state letter | `S`: asleep, wakeable by a signal |
//! | `syscall` | the system call it is in, and its arguments | `45 0x5 …` = `recvfrom(5, …)` on x86_64 |
//! | `wchan` | the kernel function it sleeps in | `wait_woken` |
//! | `stack` (root only) | its kernel stack | `wait_woken`, `sk_wait_data`, `tcp_recvmsg_locked`… |
//!
//! `sk_wait_data` is the kernel's own name for phase 1 of an input, "waiting for data": the
//! kernel itself confirms which phase the thread is in. A thread that computes instead shows
//! `R` (running, or runnable and waiting for a CPU) and its `syscall` file says `running`.
//!
//! [`read`] reads the four files one after another and parses each on its own: a file that
//! cannot be read (`EACCES` for `stack` without root, `ENOENT` once the thread ended) is
//! reported as unreadable with its errno, never filled in. Reads go through a buffer on the
//! stack, one `open`/`read`/`close` per file, and [`read_since`] reads only `stat` of a thread
//! that has not run since it last looked: cheap enough to do for every model thread ten times
//! a second (measured in `ARCHITECTURE.md`).
//!
//! It reads `/proc/self`, so it only sees threads of the calling process: the process-per-conn
//! children sample their own threads.

use std::io::Read;

use kettle_shared::{InSyscall, KernelView, ProcRead, STACK_FRAMES};

/// What the kernel says about thread `tid` of this process now.
pub fn read(tid: i32) -> KernelView {
    let dir = format!("/proc/self/task/{tid}/");
    let mut buf = [0u8; 2048];
    let state = read_with(&dir, "stat", &mut buf, parse_state);
    read_rest(&dir, state, &mut buf)
}

/// The last view of one thread and the CPU time it had used when it was read.
#[derive(Debug, Default)]
pub struct LastView(Option<(u64, KernelView)>);

impl LastView {
    /// The view last read, if it still holds: the thread has not run since (its CPU clock
    /// still reads `cpu_ns`) and `state`, just read from `stat`, is the same letter.
    fn still(&self, cpu_ns: u64, state: &ProcRead<String>) -> Option<&KernelView> {
        let (then, view) = self.0.as_ref()?;
        let same = *then == cpu_ns && matches!(state, ProcRead::Read(_)) && view.state == *state;
        same.then_some(view)
    }
}

/// [`read`] for a sampler that asks again and again: when the thread has not run at all since
/// the last read (its CPU clock, `cpu_ns`, has not moved) and its state letter is the same, its
/// `syscall`, `wchan` and `stack` cannot have changed — only the thread itself changes its
/// kernel stack — so the last reads of those are returned again and only `stat` is read. A
/// sleeping thread, the common case on an idle machine, costs one small file a sample.
/// Returns the view and whether it is the last one again (the thread has nothing new to say).
pub fn read_since(tid: i32, cpu_ns: u64, last: &mut LastView) -> (KernelView, bool) {
    let dir = format!("/proc/self/task/{tid}/");
    let mut buf = [0u8; 2048];
    let state = read_with(&dir, "stat", &mut buf, parse_state);
    if let Some(view) = last.still(cpu_ns, &state) {
        return (view.clone(), true);
    }
    let view = read_rest(&dir, state, &mut buf);
    last.0 = Some((cpu_ns, view.clone()));
    (view, false)
}

fn read_rest(dir: &str, state: ProcRead<String>, buf: &mut [u8]) -> KernelView {
    KernelView {
        state,
        syscall: read_with(dir, "syscall", buf, parse_syscall),
        wchan: read_with(dir, "wchan", buf, parse_wchan),
        stack: read_with(dir, "stack", buf, parse_stack),
    }
}

/// Reads `dir/name` in one `read` (a `proc` file is produced whole on the first read) and
/// parses it; the errno name if it cannot be read, `"unparsable"` if `parse` refuses it.
fn read_with<T>(
    dir: &str,
    name: &str,
    buf: &mut [u8],
    parse: impl Fn(&str) -> Option<T>,
) -> ProcRead<T> {
    let path = format!("{dir}{name}");
    let n = match std::fs::File::open(&path).and_then(|mut f| f.read(buf)) {
        Ok(n) => n,
        Err(e) => return ProcRead::Unreadable(errno_name(&e)),
    };
    let text = String::from_utf8_lossy(&buf[..n]);
    match parse(&text) {
        Some(v) => ProcRead::Read(v),
        None => ProcRead::Unreadable("unparsable".into()),
    }
}

/// `EACCES` for an I/O error carrying an errno; the error's words otherwise.
fn errno_name(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
        None => e.to_string(),
    }
}

/// Field 3 of `stat`: the state letter. Field 2, the thread's name in parentheses, may itself
/// contain spaces and parentheses (`(a) (b)`): the state is the first word after the *last*
/// `)`, as `proc(5)` advises.
pub fn parse_state(stat: &str) -> Option<String> {
    let after = &stat[stat.rfind(')')? + 1..];
    let word = after.split_whitespace().next()?;
    (word.len() == 1 && word.chars().all(|c| c.is_ascii_alphabetic())).then(|| word.to_owned())
}

/// The `syscall` file: `running`; or `-1 sp pc` for a thread blocked outside any system call;
/// or the call's number in decimal, then its six arguments, the stack pointer and the program
/// counter in hex.
pub fn parse_syscall(text: &str) -> Option<InSyscall> {
    let text = text.trim();
    if text == "running" {
        return Some(InSyscall::Running);
    }
    let mut words = text.split_whitespace();
    let nr: i64 = words.next()?.parse().ok()?;
    if nr < 0 {
        return Some(InSyscall::Outside);
    }
    let arg0 = u64::from_str_radix(words.next()?.strip_prefix("0x")?, 16).ok()?;
    let (name, takes_fd) = match syscall_name(nr) {
        Some((name, takes_fd)) => (Some(name.to_owned()), takes_fd),
        None => (None, false),
    };
    // A descriptor is a small int; the kernel prints the register, so -1 reads as 2^64-1.
    let fd = takes_fd.then(|| i32::try_from(arg0).ok()).flatten();
    Some(InSyscall::Call { nr, name, fd })
}

/// The `wchan` file, as read: a kernel function's name, or `0` when the thread is not
/// sleeping (also what the kernel writes when it will not say).
pub fn parse_wchan(text: &str) -> Option<String> {
    let word = text.trim();
    (!word.is_empty() && !word.contains(char::is_whitespace)).then(|| word.to_owned())
}

/// The `stack` file: one frame a line, innermost first, as `[<0>] sk_wait_data+0x2d1/0x3a0`
/// (the address is hidden as `<0>` from readers without `kptr` rights). Keeps the function
/// names of the first [`STACK_FRAMES`] frames.
pub fn parse_stack(text: &str) -> Option<Vec<String>> {
    let mut frames = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let symbol = line.trim().split_once("] ").map_or(line.trim(), |(_, s)| s);
        let name = symbol.split(['+', ' ']).next().filter(|n| !n.is_empty())?;
        if frames.len() < STACK_FRAMES {
            frames.push(name.to_owned());
        }
    }
    Some(frames)
}

/// The name of system call `nr` on this architecture, and whether its first argument is a
/// descriptor — for the calls Kettle's models (and the threads around them) sleep in.
/// Numbers come from `libc`'s `SYS_*`, so x86_64 and aarch64 each get their own.
pub fn syscall_name(nr: i64) -> Option<(&'static str, bool)> {
    use libc::*;
    let nr = nr as c_long;
    let named: &[(c_long, &str, bool)] = &[
        (SYS_read, "read", true),
        (SYS_pread64, "pread64", true),
        (SYS_write, "write", true),
        (SYS_recvfrom, "recvfrom", true),
        (SYS_recvmsg, "recvmsg", true),
        (SYS_sendto, "sendto", true),
        (SYS_sendmsg, "sendmsg", true),
        (SYS_accept, "accept", true),
        (SYS_accept4, "accept4", true),
        (SYS_connect, "connect", true),
        (SYS_pselect6, "pselect6", false),
        (SYS_ppoll, "ppoll", false),
        (SYS_epoll_pwait, "epoll_pwait", true),
        (SYS_epoll_pwait2, "epoll_pwait2", true),
        (SYS_io_uring_enter, "io_uring_enter", true),
        (SYS_rt_sigtimedwait, "rt_sigtimedwait", false),
        (SYS_rt_sigsuspend, "rt_sigsuspend", false),
        (SYS_futex, "futex", false),
        (SYS_nanosleep, "nanosleep", false),
        (SYS_clock_nanosleep, "clock_nanosleep", false),
        (SYS_wait4, "wait4", false),
        (SYS_waitid, "waitid", false),
        #[cfg(target_arch = "x86_64")]
        (SYS_select, "select", false),
        #[cfg(target_arch = "x86_64")]
        (SYS_poll, "poll", false),
        #[cfg(target_arch = "x86_64")]
        (SYS_epoll_wait, "epoll_wait", true),
        #[cfg(target_arch = "x86_64")]
        (SYS_pause, "pause", false),
    ];
    named.iter().find(|(n, ..)| *n == nr).map(|&(_, name, fd)| (name, fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_read_after_the_last_parenthesis_of_the_name() {
        let stat = "4242 (a) (b) c) S 1 4242 4242 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 3 0";
        assert_eq!(parse_state(stat).as_deref(), Some("S"));
        assert_eq!(parse_state("7 (kettle) R 1 7 7").as_deref(), Some("R"));
        assert_eq!(parse_state("7 (x y) D 1").as_deref(), Some("D"));
        assert_eq!(parse_state("7 no name here"), None);
        assert_eq!(parse_state("7 (x) "), None);
    }

    #[test]
    fn a_syscall_line_names_the_call_and_its_descriptor() {
        let recv =
            format!("{} 0x5 0x7f3c2c000b70 0x400 0x0 0x0 0x0 0x7ffd 0x7f3c", libc::SYS_recvfrom);
        assert_eq!(
            parse_syscall(&recv),
            Some(InSyscall::Call {
                nr: libc::SYS_recvfrom,
                name: Some("recvfrom".into()),
                fd: Some(5)
            })
        );
        // A futex's first argument is an address, not a descriptor.
        let futex =
            format!("{} 0x7f3c2c000b70 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x7f3c", libc::SYS_futex);
        assert!(matches!(parse_syscall(&futex), Some(InSyscall::Call { fd: None, .. })));
        // A number Kettle does not name keeps its number and no name.
        assert_eq!(
            parse_syscall("999 0x3 0x0 0x0 0x0 0x0 0x0 0x1 0x2"),
            Some(InSyscall::Call { nr: 999, name: None, fd: None })
        );
    }

    #[test]
    fn running_and_blocked_outside_a_call_are_told_apart() {
        assert_eq!(parse_syscall("running\n"), Some(InSyscall::Running));
        assert_eq!(parse_syscall("-1 0x7ffd5a1b3c40 0x7f3c4a71a25d\n"), Some(InSyscall::Outside));
        assert_eq!(parse_syscall(""), None);
        assert_eq!(parse_syscall("45 zz"), None);
    }

    #[test]
    fn wchan_is_kept_as_read_and_zero_means_not_sleeping() {
        assert_eq!(parse_wchan("0").as_deref(), Some("0"));
        assert_eq!(parse_wchan("wait_woken").as_deref(), Some("wait_woken"));
        assert_eq!(parse_wchan(""), None);
    }

    #[test]
    fn stack_lines_give_function_names_innermost_first() {
        let stack = "[<0>] wait_woken+0x5c/0x80\n\
                     [<0>] sk_wait_data+0x16b/0x180\n\
                     [<0>] tcp_recvmsg_locked+0x204/0xa20\n\
                     [<0>] tcp_recvmsg+0x7c/0x1e0\n\
                     [<0>] inet_recvmsg+0x5c/0x130\n\
                     [<0>] sock_recvmsg+0x7c/0x80\n\
                     [<0>] __sys_recvfrom+0xb8/0x130\n\
                     [<0>] __x64_sys_recvfrom+0x24/0x30\n\
                     [<0>] do_syscall_64+0x71/0x290\n\
                     [<0>] entry_SYSCALL_64_after_hwframe+0x76/0x7e\n";
        let frames = parse_stack(stack).unwrap();
        assert_eq!(frames.len(), STACK_FRAMES);
        assert_eq!(
            &frames[..4],
            ["wait_woken", "sk_wait_data", "tcp_recvmsg_locked", "tcp_recvmsg"]
        );
        // With kernel addresses shown (kptr_restrict off) the name is still the word after `]`.
        let shown = parse_stack("[<ffffffff8a1c2d3e>] do_epoll_wait+0x4a1/0x5c0\n").unwrap();
        assert_eq!(shown, ["do_epoll_wait"]);
        // A running thread's stack can be empty: no frames, not unreadable.
        assert_eq!(parse_stack(""), Some(vec![]));
    }

    #[test]
    fn a_thread_blocked_in_recv_is_asleep_in_the_kernel_waiting_for_data() {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut served, _) = listener.accept().unwrap();
        let fd = served.as_raw_fd();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
            let mut byte = [0u8; 1];
            served.read(&mut byte).unwrap() // phase 1: nothing has been sent
        });
        let tid = tid_rx.recv().unwrap();
        // Wait for the kernel to say so: the thread may not have reached recv yet on a busy
        // machine, and nothing else tells us when it has.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let view = loop {
            let view = read(tid);
            let asleep = view.state.value().is_some_and(|s| s == "S")
                && view.wchan.value().is_some_and(|w| w != "0")
                && matches!(view.syscall.value(), Some(InSyscall::Call { .. }));
            if asleep || std::time::Instant::now() > deadline {
                break view;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(view.state, ProcRead::Read("S".into()), "{view:?}");
        match view.syscall.value() {
            Some(InSyscall::Call { name: Some(name), fd: Some(on), .. }) => {
                assert!(["recvfrom", "read"].contains(&name.as_str()), "{view:?}");
                assert_eq!(*on, fd, "{view:?}");
            }
            other => panic!("not in a named call on fd {fd}: {other:?}"),
        }
        let wchan = view.wchan.value().unwrap();
        assert!(["wait_woken", "sk_wait_data"].contains(&wchan.as_str()), "{view:?}");
        match &view.stack {
            // Root reads the stack: phase 1 in the kernel's own words.
            ProcRead::Read(frames) => {
                assert!(frames.iter().any(|f| f == "sk_wait_data"), "{view:?}")
            }
            ProcRead::Unreadable(errno) => assert!(["EACCES", "EPERM"].contains(&errno.as_str())),
        }
        client.write_all(b"x").unwrap();
        assert_eq!(reader.join().unwrap(), 1);
    }

    #[test]
    fn a_thread_that_has_not_run_is_read_again_only_when_its_clock_moved() {
        let me = nix::unistd::gettid().as_raw();
        let mut last = LastView::default();
        let (first, _) = read_since(me, 7, &mut last);
        // Pretend the last read found something else at the same CPU time: it is kept only
        // while the clock has not moved and the state is the same.
        let planted = KernelView { wchan: ProcRead::Read("planted".into()), ..first.clone() };
        last.0 = Some((7, planted.clone()));
        assert_eq!(read_since(me, 7, &mut last), (planted.clone(), true));
        assert_ne!(read_since(me, 8, &mut last).0.wchan, planted.wchan);
    }

    #[test]
    fn this_thread_reads_itself_running() {
        let view = read(nix::unistd::gettid().as_raw());
        // The thread reading its own files is on a CPU.
        assert_eq!(view.state, ProcRead::Read("R".into()));
        assert!(view.syscall.value().is_some(), "{view:?}");
        let gone = read(i32::MAX);
        assert_eq!(gone.state, ProcRead::Unreadable("ENOENT".into()));
    }

    #[test]
    fn a_thread_that_has_not_run_is_unchanged_and_one_that_ran_is_not() {
        let view = |letter: &str| KernelView {
            state: ProcRead::Read(letter.into()),
            syscall: ProcRead::Unreadable("EACCES".into()),
            wchan: ProcRead::Read("wait_woken".into()),
            stack: ProcRead::Unreadable("EACCES".into()),
        };
        let state = |letter: &str| ProcRead::Read(letter.to_owned());
        let last = LastView(Some((500, view("S"))));
        assert_eq!(last.still(500, &state("S")), Some(&view("S")));
        assert_eq!(last.still(501, &state("S")), None, "it ran");
        assert_eq!(last.still(500, &state("R")), None, "woken, not yet run");
        assert_eq!(LastView::default().still(500, &state("S")), None, "never read");
    }
}
