//! The kernel's own words about a thread, put into a sentence for students.
//!
//! Every thread sample carries a [`KernelView`]: what `/proc/self/task/<tid>/` said about the
//! thread (`stat`'s state letter, `syscall`, `wchan`, and `stack` when the backend runs as
//! root). A blocked `recv` reads, in the kernel's words, "asleep at `sk_wait_data`" — phase 1,
//! waiting for data — and a computing thread reads `R`: running, or runnable and waiting for
//! a CPU, never asleep.
//!
//! This module only rewords what was read: the function names, the call and the letter are
//! the kernel's; a file that could not be read is said to be unreadable, with its errno, and
//! nothing is filled in for it.

use kettle_shared::{InSyscall, KernelView, ProcRead};

use crate::i18n::{tf, Key, Lang};

/// Innermost frames that say *how* a thread sleeps (the scheduler, a generic wait), not *why*:
/// the first frame of the stack that is not one of these names the wait (`sk_wait_data`,
/// `inet_csk_accept`, `ep_poll`, `futex_wait_queue`…).
const HOW_IT_SLEEPS: &[&str] = &[
    "__schedule",
    "schedule",
    "schedule_timeout",
    "schedule_hrtimeout_range",
    "schedule_hrtimeout_range_clock",
    "schedule_preempt_disabled",
    "io_schedule",
    "io_schedule_timeout",
    "wait_woken",
    "freezable_schedule",
];

/// Frames that are only the way into the kernel (`__x64_sys_recvfrom`, `do_syscall_64`…):
/// never shown as the caller of the frame that names the wait.
fn is_entry(frame: &str) -> bool {
    ["__x64_sys_", "__arm64_sys_", "__se_sys_", "__do_sys_", "do_syscall_", "el0_", "entry_"]
        .iter()
        .any(|p| frame.starts_with(p))
        || frame == "invoke_syscall"
}

/// The frame that names the wait and the frame that called it, from a stack innermost first:
/// `sk_wait_data` and `tcp_recvmsg_locked`. `None` for an empty stack.
pub fn where_asleep(stack: &[String]) -> Option<(&str, Option<&str>)> {
    let at = stack.iter().position(|f| !HOW_IT_SLEEPS.contains(&f.as_str()))?;
    let caller = stack.get(at + 1).map(String::as_str).filter(|c| !is_entry(c));
    Some((stack[at].as_str(), caller))
}

/// How much a sentence says: a lane is narrow, a table row is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Where it sleeps (the frame that names the wait), without the call.
    Bare,
    /// The call, and the frame that names the wait.
    Short,
    /// The call, the frame and its caller.
    Full,
}

/// The state letter as read (`data-sched-state`), when `stat` could be read.
pub fn sched_state(view: &KernelView) -> Option<&str> {
    view.state.value().map(String::as_str)
}

/// `wchan` as read (`data-wchan`), `"0"` included, when it could be read.
pub fn wchan(view: &KernelView) -> Option<&str> {
    view.wchan.value().map(String::as_str)
}

/// True for the letters of a thread the kernel has put to sleep.
fn sleeping(letter: &str) -> bool {
    matches!(letter, "S" | "D" | "I")
}

/// `recvfrom(fd 5)`, `futex`, `system call 999`: the call a thread is in.
fn call_text(call: &InSyscall, lang: Lang) -> Option<String> {
    match call {
        InSyscall::Call { name: Some(name), fd: Some(fd), .. } => {
            Some(tf(lang, Key::KernelCallFd, &[name, fd]))
        }
        InSyscall::Call { name: Some(name), fd: None, .. } => Some(name.clone()),
        InSyscall::Call { nr, name: None, .. } => Some(tf(lang, Key::KernelCallNr, &[nr])),
        InSyscall::Running | InSyscall::Outside => None,
    }
}

fn unreadable(lang: Lang, file: &str, read: &ProcRead<impl Sized>) -> Option<String> {
    match read {
        ProcRead::Unreadable(errno) => Some(tf(lang, Key::KernelUnreadable, &[&file, errno])),
        ProcRead::Read(_) => None,
    }
}

/// What the kernel says about a thread, as one sentence: "in recvfrom(fd 5), asleep in the
/// kernel at sk_wait_data in tcp_recvmsg_locked (S)", "running (R)"; then, for each file
/// the sentence needed and could not read, "stack unreadable: EACCES".
pub fn describe(view: &KernelView, lang: Lang, detail: Detail) -> String {
    let Some(letter) = sched_state(view) else {
        return unreadable(lang, "stat", &view.state).unwrap_or_default();
    };
    let call =
        view.syscall.value().and_then(|c| call_text(c, lang)).filter(|_| detail != Detail::Bare);
    let mut notes = Vec::new();
    let sentence = if letter == "R" {
        notes.extend(unreadable(lang, "syscall", &view.syscall));
        match call {
            Some(call) => tf(lang, Key::KernelRunningIn, &[&call]),
            None => tf(lang, Key::KernelRunning, &[&letter]),
        }
    } else if sleeping(letter) {
        notes.extend(unreadable(lang, "syscall", &view.syscall));
        let from_stack =
            view.stack.value().and_then(|s| where_asleep(s)).map(|(at, caller)| {
                match (caller, detail) {
                    (Some(caller), Detail::Full) => tf(lang, Key::KernelFrameIn, &[&at, &caller]),
                    _ => at.to_owned(),
                }
            });
        notes.extend(unreadable(lang, "stack", &view.stack));
        let at = from_stack.or_else(|| {
            if view.stack.value().is_none() {
                notes.extend(unreadable(lang, "wchan", &view.wchan));
            }
            wchan(view).filter(|w| *w != "0").map(str::to_owned)
        });
        match (call, at) {
            (Some(call), Some(at)) => tf(lang, Key::KernelInCallAsleepAt, &[&call, &at, &letter]),
            (None, Some(at)) => tf(lang, Key::KernelAsleepAt, &[&at, &letter]),
            (Some(call), None) => tf(lang, Key::KernelInCallAsleep, &[&call, &letter]),
            (None, None) => tf(lang, Key::KernelAsleep, &[&letter]),
        }
    } else {
        notes.extend(unreadable(lang, "syscall", &view.syscall));
        match call {
            Some(call) => tf(lang, Key::KernelStateIn, &[&letter, &call]),
            None => tf(lang, Key::KernelState, &[&letter]),
        }
    };
    std::iter::once(sentence).chain(notes).collect::<Vec<_>>().join("; ")
}

/// The fewest words for a narrow lane: the state letter and where the thread sleeps (the
/// stack's frame, else `wchan`), else the call it is in: `S · sk_wait_data`, `R`.
pub fn compact(view: &KernelView, lang: Lang) -> String {
    let Some(letter) = sched_state(view) else {
        return unreadable(lang, "stat", &view.state).unwrap_or_default();
    };
    let at = view
        .stack
        .value()
        .and_then(|s| where_asleep(s))
        .map(|(at, _)| at.to_owned())
        .filter(|_| letter != "R")
        .or_else(|| wchan(view).filter(|w| *w != "0").map(str::to_owned))
        .or_else(|| view.syscall.value().and_then(|c| call_text(c, lang)));
    match at {
        Some(at) => format!("{letter} · {at}"),
        None => letter.to_owned(),
    }
}

/// What a lane's header says about its thread, "now: …" (the lane's other lines are the
/// moment playback shows, which may be in the past), in at most two lines of `width` at the
/// figure's smallest font: the sentence with the call if it fits, else without it, else
/// [`compact`] (shortened with `…` if even that must be).
pub fn lane_lines(view: &KernelView, lang: Lang, width: f64) -> Vec<String> {
    use crate::figures::layout::{fit, text_width, wrap, FONT_MIN};
    let now = |text: String| tf(lang, Key::KernelNow, &[&text]);
    let fits = |lines: &[String]| {
        lines.iter().all(|l| !l.ends_with('…') && text_width(l, FONT_MIN) <= width)
    };
    for detail in [Detail::Short, Detail::Bare] {
        let sentence = wrap(&now(describe(view, lang, detail)), width, FONT_MIN, 2);
        if fits(&sentence) {
            return sentence;
        }
    }
    let short = wrap(&now(compact(view, lang)), width, FONT_MIN, 2);
    short.iter().map(|l| fit(l, width, FONT_MIN)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T>(v: T) -> ProcRead<T> {
        ProcRead::Read(v)
    }

    fn recv_call() -> InSyscall {
        InSyscall::Call { nr: 45, name: Some("recvfrom".into()), fd: Some(5) }
    }

    fn frames(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn blocked_in_recv(stack: ProcRead<Vec<String>>) -> KernelView {
        KernelView {
            state: read("S".into()),
            syscall: read(recv_call()),
            wchan: read("wait_woken".into()),
            stack,
        }
    }

    #[test]
    fn a_thread_asleep_in_recv_with_its_stack_is_waiting_for_data() {
        let stack = frames(&[
            "wait_woken",
            "sk_wait_data",
            "tcp_recvmsg_locked",
            "tcp_recvmsg",
            "__x64_sys_recvfrom",
        ]);
        let view = blocked_in_recv(read(stack));
        assert_eq!(
            describe(&view, Lang::En, Detail::Full),
            "in recvfrom(fd 5), asleep in the kernel at sk_wait_data in tcp_recvmsg_locked (S)"
        );
        assert_eq!(
            describe(&view, Lang::En, Detail::Short),
            "in recvfrom(fd 5), asleep in the kernel at sk_wait_data (S)"
        );
        assert!(describe(&view, Lang::Zh, Detail::Full).contains("sk_wait_data"));
        assert_eq!((sched_state(&view), wchan(&view)), (Some("S"), Some("wait_woken")));
    }

    #[test]
    fn a_lane_says_now_and_drops_the_call_before_the_frame() {
        let stack = frames(&["wait_woken", "sk_wait_data", "tcp_recvmsg_locked"]);
        let view = blocked_in_recv(read(stack));
        let wide = lane_lines(&view, Lang::En, 300.0);
        assert_eq!(
            wide.join(" "),
            "now: in recvfrom(fd 5), asleep in the kernel at sk_wait_data (S)"
        );
        let single = lane_lines(&view, Lang::En, 240.0);
        assert_eq!(single.join(" "), "now: asleep in the kernel at sk_wait_data (S)");
        assert_eq!(
            describe(&view, Lang::En, Detail::Bare),
            "asleep in the kernel at sk_wait_data (S)"
        );
    }

    #[test]
    fn a_narrow_lane_shows_the_letter_and_the_frame_and_never_overflows() {
        use crate::figures::layout::{text_width, FONT_MIN};
        let stack = frames(&["wait_woken", "sk_wait_data", "tcp_recvmsg_locked"]);
        let view = blocked_in_recv(read(stack));
        assert_eq!(compact(&view, Lang::En), "S · sk_wait_data");
        let lines = lane_lines(&view, Lang::En, 170.0);
        assert_eq!(lines, ["now: S · sk_wait_data"]);
        for width in [40.0, 86.0, 120.0, 200.0] {
            for line in lane_lines(&view, Lang::Zh, width) {
                assert!(text_width(&line, FONT_MIN) <= width, "{line:?} wider than {width}");
            }
        }
        let running = KernelView {
            state: read("R".into()),
            syscall: read(InSyscall::Running),
            wchan: read("0".into()),
            stack: read(vec![]),
        };
        assert_eq!(compact(&running, Lang::En), "R");
    }

    #[test]
    fn without_the_stack_the_lane_says_wchan_and_why_the_stack_is_missing() {
        let view = blocked_in_recv(ProcRead::Unreadable("EACCES".into()));
        assert_eq!(
            describe(&view, Lang::En, Detail::Short),
            "in recvfrom(fd 5), asleep in the kernel at wait_woken (S); stack unreadable: EACCES"
        );
    }

    #[test]
    fn a_running_thread_is_r_and_says_no_more() {
        let view = KernelView {
            state: read("R".into()),
            syscall: read(InSyscall::Running),
            wchan: read("0".into()),
            stack: ProcRead::Unreadable("EACCES".into()),
        };
        // A running thread's stack says nothing about a wait: its absence is not news.
        assert_eq!(describe(&view, Lang::En, Detail::Full), "running (R)");
        let woken = KernelView { syscall: read(recv_call()), ..view };
        assert_eq!(
            describe(&woken, Lang::En, Detail::Full),
            "in recvfrom(fd 5), running or runnable (R)"
        );
    }

    #[test]
    fn unreadable_files_are_said_unreadable_never_filled_in() {
        let gone = KernelView {
            state: ProcRead::Unreadable("ENOENT".into()),
            syscall: ProcRead::Unreadable("ENOENT".into()),
            wchan: ProcRead::Unreadable("ENOENT".into()),
            stack: ProcRead::Unreadable("ENOENT".into()),
        };
        assert_eq!(describe(&gone, Lang::En, Detail::Full), "stat unreadable: ENOENT");
        assert_eq!(sched_state(&gone), None);
        let blind = KernelView {
            state: read("S".into()),
            syscall: ProcRead::Unreadable("EPERM".into()),
            wchan: ProcRead::Unreadable("EPERM".into()),
            stack: ProcRead::Unreadable("EACCES".into()),
        };
        assert_eq!(
            describe(&blind, Lang::En, Detail::Full),
            "asleep (S); syscall unreadable: EPERM; stack unreadable: EACCES; wchan unreadable: EPERM"
        );
    }

    #[test]
    fn the_wait_is_named_by_the_first_frame_past_the_scheduler() {
        let accept = frames(&["inet_csk_accept", "inet_accept", "do_accept", "__sys_accept4"]);
        assert_eq!(where_asleep(&accept), Some(("inet_csk_accept", Some("inet_accept"))));
        let epoll = frames(&["schedule_hrtimeout_range", "do_epoll_wait", "__x64_sys_epoll_wait"]);
        assert_eq!(where_asleep(&epoll), Some(("do_epoll_wait", None)));
        assert_eq!(where_asleep(&[]), None);
        // Not sleeping at any named frame: wchan "0" is not a place.
        let idle = KernelView {
            state: read("S".into()),
            syscall: read(InSyscall::Outside),
            wchan: read("0".into()),
            stack: read(vec![]),
        };
        assert_eq!(describe(&idle, Lang::En, Detail::Full), "asleep (S)");
    }
}
