//! A busy program's calls, read without stopping it (root only).
//!
//! Every call the filter traps stops the program twice, and a stop costs tens of
//! microseconds: a select server answering a hundred thousand lines a second under
//! `kettle load` would answer a few thousand. Yet at that rate no person watches each step —
//! the recorder only counts a crowded model's calls, and draws the connections someone
//! follows. So while the traced program is crowded, Kettle stops stopping it:
//!
//! 1. At a thread's next traced call's exit, the tracer sets `PTRACE_O_SUSPEND_SECCOMP` on it
//!    (CAP_SYS_ADMIN): the filter no longer runs for that thread, its calls run untouched.
//! 2. Its calls are read instead from the kernel's `raw_syscalls:sys_enter`/`sys_exit`
//!    tracepoints, in an instance of Kettle's own ([`super::tracefs`]) limited to the
//!    program's tasks (`set_event_pid` with `event-fork`) and, by a filter, to the calls a
//!    figure draws. A record costs the program a fraction of a microsecond and never stops it.
//! 3. The records carry a call's number, its six argument registers and its result — enough
//!    for descriptors, byte counts, `EAGAIN`s and how many descriptors a wait reported — but
//!    not the memory they point at, read too late to be true: a `select`'s sets, the bytes a
//!    `recv` copied. A readiness call is then counted, not drawn
//!    ([`crate::recorder::Tracer::count_wait`]); a call is seen when it returns. An
//!    `accept`'s peer is asked of a copy of the new socket instead
//!    ([`super::decode::peer_of_descriptor`]), so a browser echo client stays followed.
//! 4. Once the program has been calm for [`CALM`], each thread is brought back: a `SIGSTOP`
//!    that only the tracer sees (it swallows it) stops the thread, and the tracer clears the
//!    option. A thread inside a call the kernel would cut short with `EINTR` rather than
//!    restart (`epoll_wait`, `io_uring_enter`) is signalled only once the records show that
//!    call returned, so tracing does not make such a call fail (a thread that enters one in
//!    the millisecond before its records are read could still see an `EINTR`, as after any
//!    signal); any other blocking call is restarted by the kernel, and the restarted call is
//!    traced again as usual.
//!
//! Which thread was passive when is kept in [`Suspension`]: a record counts only if its thread
//! was passive at its time, so no call is seen twice, by the tracer and by the tracepoint.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::filter;
use super::tracefs::{self, read_field, record_tid, record_type, Field, Instance, PAGE};
use super::tracer::Seen;
use crate::clock::clock;

/// How long the program must have been calm (not crowded) before its threads are stopped at
/// each call again.
pub const CALM: Duration = Duration::from_millis(300);

/// How often the reader looks at the buffers, and at whether the program is busy.
const ROUND: Duration = Duration::from_micros(500);

/// The calls the kernel ends with `EINTR` when a signal comes, whatever the handler's
/// `SA_RESTART`: a thread in one is not signalled until it returns.
const NOT_RESTARTED: &[&str] = &["epoll_wait", "epoll_pwait", "epoll_pwait2", "io_uring_enter"];

/// Which threads of the program run passive (their filter suspended) and since when. Shared
/// by the tracer thread (which suspends and resumes them) and the reader.
#[derive(Debug, Default)]
pub struct Suspension {
    /// The reader runs and the kernel let the tracer suspend a filter (or has not refused yet).
    available: AtomicBool,
    /// The program is busy: threads should go passive.
    want: AtomicBool,
    threads: Mutex<HashMap<i32, Vec<Span>>>,
    /// Pages the kernel said came after records it dropped (the reader fell behind).
    missed: std::sync::atomic::AtomicU64,
}

/// One stretch of a thread's passive time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    since: u64,
    back: Option<u64>,
    /// The `SIGSTOP` that brings it back has been sent.
    signalled: bool,
}

/// How many old spans a thread keeps (records are read a little late, never this late).
const SPANS_KEPT: usize = 4;

impl Suspension {
    /// Whether the tracer should suspend the filter of a thread at its next call's exit.
    pub fn wanted(&self) -> bool {
        self.available.load(Ordering::Relaxed) && self.want.load(Ordering::Relaxed)
    }

    /// The kernel refused to suspend a filter (no CAP_SYS_ADMIN): every call stops, as before.
    pub fn refused(&self) {
        self.available.store(false, Ordering::Relaxed);
    }

    /// Thread `tid`'s filter was suspended at `t_ns`.
    pub fn suspended(&self, tid: i32, t_ns: u64) {
        let mut threads = self.lock();
        let spans = threads.entry(tid).or_default();
        if spans.len() >= SPANS_KEPT {
            spans.remove(0);
        }
        spans.push(Span { since: t_ns, back: None, signalled: false });
    }

    /// Whether thread `tid` runs passive now.
    pub fn is_passive(&self, tid: i32) -> bool {
        self.lock().get(&tid).and_then(|s| s.last()).is_some_and(|s| s.back.is_none())
    }

    /// Thread `tid` stops at its calls again from `t_ns`; whether it was passive.
    pub fn resumed(&self, tid: i32, t_ns: u64) -> bool {
        let mut threads = self.lock();
        match threads.get_mut(&tid).and_then(|s| s.last_mut()) {
            Some(span) if span.back.is_none() => {
                span.back = Some(t_ns);
                true
            }
            _ => false,
        }
    }

    /// How many times the kernel said it dropped records since the run began: its counts are
    /// short by some calls (0: none lost).
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }

    /// Whether a record of thread `tid` at `t_ns` was made while it ran passive.
    fn covers(&self, tid: i32, t_ns: u64) -> bool {
        self.lock().get(&tid).is_some_and(|spans| {
            spans.iter().any(|s| s.since <= t_ns && s.back.is_none_or(|b| t_ns < b))
        })
    }

    /// Whether any thread runs passive.
    fn any_passive(&self) -> bool {
        self.lock().values().any(|spans| spans.last().is_some_and(|s| s.back.is_none()))
    }

    /// The passive threads not yet signalled back, but those `keep` says to leave be; marks
    /// them signalled.
    fn to_bring_back(&self, keep: impl Fn(i32) -> bool) -> Vec<i32> {
        let mut threads = self.lock();
        let mut out = Vec::new();
        for (tid, spans) in threads.iter_mut() {
            if let Some(span) = spans.last_mut() {
                if span.back.is_none() && !span.signalled && !keep(*tid) {
                    span.signalled = true;
                    out.push(*tid);
                }
            }
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Vec<Span>>> {
        self.threads.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The reader of one run's `raw_syscalls` records. Dropping it stops the reader and removes
/// its instance.
#[derive(Debug)]
pub struct Passive {
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Drop for Passive {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// The two tracepoints' ids and fields.
#[derive(Debug, Clone, Copy)]
struct Layout {
    enter: u16,
    enter_nr: Field,
    enter_args: Field,
    exit: u16,
    exit_nr: Field,
    exit_ret: Field,
}

/// One record, as the reader keeps it until it is in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    tid: i32,
    t_mono: u64,
    call: Call,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Enter { nr: i64, args: [u64; 6] },
    Exit { nr: i64, ret: i64 },
}

impl Passive {
    /// Starts reading the calls of program `pid` (and every task it makes) for the threads
    /// `suspension` says are passive, handing each call to `seen` as an entry and an exit when
    /// it returns. `busy()` says whether the program is crowded now; the reader decides from
    /// it when threads should go passive and brings them back, and tells `told(passive)` each
    /// time that decision changes. Not root, no tracefs: says why, and the suspension stays
    /// unavailable.
    pub fn start(
        pid: i32,
        suspension: Arc<Suspension>,
        busy: impl FnMut() -> bool + Send + 'static,
        told: impl FnMut(bool) + Send + 'static,
        seen: impl FnMut(Seen) + Send + 'static,
    ) -> Result<Passive, String> {
        let layout = Layout::read()?;
        let instance = Instance::create()?;
        // The program's tasks only, and every task they make from now on.
        instance.write("set_event_pid", &pid.to_string())?;
        instance.write("options/event-fork", "1")?;
        // Bursts of a busy program while the reader is descheduled (a machine busy with other
        // work): 16 MiB a CPU holds ~250 000 records, over a second of a program answering
        // 100 000 lines a second. Freed when the run ends.
        let _ = instance.write("buffer_size_kb", "16384");
        let calls: Vec<String> =
            filter::TRACED.iter().map(|(_, nr)| format!("id == {nr}")).collect();
        let only_drawn = calls.join(" || ");
        instance.write("events/raw_syscalls/sys_enter/filter", &only_drawn)?;
        instance.write("events/raw_syscalls/sys_exit/filter", &only_drawn)?;
        let files = (0..instance.cpus())
            .map(|cpu| instance.open_cpu(cpu))
            .collect::<Result<Vec<_>, _>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        suspension.available.store(true, Ordering::Relaxed);
        let reader = Reader {
            files,
            instance,
            layout,
            suspension,
            enabled: false,
            calm_since: None,
            calls: Calls::default(),
            told_missed: false,
        };
        let stopping = stop.clone();
        let reader = std::thread::Builder::new()
            .name("passive-calls".into())
            .spawn(move || reader.run(&stopping, busy, told, seen))
            .map_err(|e| format!("reader thread: {e}"))?;
        Ok(Passive { stop, reader: Some(reader) })
    }
}

struct Reader {
    /// Closed before the instance is removed (fields drop in order; an open buffer is busy).
    files: Vec<File>,
    instance: Instance,
    layout: Layout,
    suspension: Arc<Suspension>,
    /// The tracepoints are on (only while some thread is or is about to be passive).
    enabled: bool,
    calm_since: Option<Instant>,
    calls: Calls,
    /// The terminal was told that the kernel dropped records.
    told_missed: bool,
}

/// Records put in order and paired into calls.
#[derive(Debug, Default)]
struct Calls {
    /// Records read but not yet known to be in order (a later CPU's record may be earlier).
    later: Vec<Record>,
    /// Each passive thread's call entered and not returned: its name, arguments and entry.
    open: HashMap<i32, (&'static str, [u64; 6], u64)>,
}

impl Reader {
    fn run(
        mut self,
        stop: &AtomicBool,
        mut busy: impl FnMut() -> bool,
        mut told: impl FnMut(bool),
        mut seen: impl FnMut(Seen),
    ) {
        let mut was = false;
        while !stop.load(Ordering::Relaxed) {
            self.govern(busy());
            let wanted = self.suspension.wanted();
            if wanted != was {
                told(wanted);
                was = wanted;
            }
            // Asked before reading: once no thread is passive (and none may become so), the
            // read below finds every record they made while they were.
            let none_passive = !wanted && !self.suspension.any_passive();
            if self.enabled {
                let read_to = self.read_all();
                self.calls.hand_on(read_to, &self.suspension, &mut seen);
                if none_passive && self.calls.later.is_empty() && self.enable(false).is_ok() {
                    self.enabled = false;
                    self.calls.open.clear();
                }
            }
            std::thread::sleep(ROUND);
        }
        let _ = self.enable(false);
    }

    /// Decides whether threads should go passive, turns the tracepoints on before any does,
    /// and signals the passive threads back once the program is calm.
    fn govern(&mut self, busy: bool) {
        let s = &self.suspension;
        if busy {
            self.calm_since = None;
            if s.available.load(Ordering::Relaxed) && !self.enabled {
                self.enabled = self.enable(true).is_ok();
            }
            // Only once the records are flowing may a thread stop being stopped (and never if
            // the kernel refused to suspend a filter).
            s.want.store(self.enabled && s.available.load(Ordering::Relaxed), Ordering::Relaxed);
            return;
        }
        let calm = self.calm_since.get_or_insert_with(Instant::now).elapsed() >= CALM;
        if !calm {
            return;
        }
        s.want.store(false, Ordering::Relaxed);
        let open = &self.calls.open;
        let in_unrestarted =
            |tid: i32| open.get(&tid).is_some_and(|(name, ..)| NOT_RESTARTED.contains(name));
        for tid in s.to_bring_back(in_unrestarted) {
            // SAFETY: tkill sends a signal to one thread of our own tracee.
            let sent = unsafe { libc::syscall(libc::SYS_tkill, tid, libc::SIGSTOP) };
            if sent != 0 {
                // Gone: nothing to bring back.
                s.resumed(tid, clock().now_ns());
            }
        }
    }

    fn enable(&self, on: bool) -> Result<(), String> {
        self.instance.enable("raw_syscalls/sys_enter", on)?;
        self.instance.enable("raw_syscalls/sys_exit", on)
    }

    /// Reads every CPU's buffer empty. Returns the time (`mono`) up to which every record has
    /// been read: the earliest instant a buffer was found empty.
    fn read_all(&mut self) -> u64 {
        let mut page = vec![0u8; PAGE];
        let mut read_to = u64::MAX;
        let (layout, later, told_missed, suspension) =
            (self.layout, &mut self.calls.later, &mut self.told_missed, &self.suspension);
        for file in &mut self.files {
            loop {
                let before = clock().to_monotonic(clock().now_ns());
                match file.read(&mut page) {
                    Ok(n) if n > 0 => {
                        let missed = tracefs::missed_before(&page[..n]);
                        if missed {
                            suspension.missed.fetch_add(1, Ordering::Relaxed);
                        }
                        if missed && !*told_missed {
                            *told_missed = true;
                            eprintln!(
                                "kettle: the kernel dropped some of the traced program's call \
                                 records (Kettle's reader fell behind): its counts are short"
                            );
                        }
                        tracefs::parse_page(&page[..n], |data, t| {
                            later.extend(layout.record(data, t));
                        })
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    _ => {
                        read_to = read_to.min(before);
                        break;
                    }
                }
            }
        }
        read_to
    }
}

impl Calls {
    /// Hands on, in time order, the records up to `read_to`; keeps the rest for later.
    fn hand_on(&mut self, read_to: u64, suspension: &Suspension, seen: &mut impl FnMut(Seen)) {
        self.later.sort_by_key(|r| r.t_mono);
        let ready = self.later.partition_point(|r| r.t_mono <= read_to);
        let records: Vec<Record> = self.later.drain(..ready).collect();
        for r in records {
            let t_ns = clock().from_monotonic(r.t_mono);
            if !suspension.covers(r.tid, t_ns) {
                continue;
            }
            match r.call {
                Call::Enter { nr, args } => {
                    if let Some(name) = filter::name_of(nr) {
                        self.open.insert(r.tid, (name, args, t_ns));
                    }
                }
                Call::Exit { nr, ret } => {
                    let Some((name, args, entered)) = self.open.remove(&r.tid) else { continue };
                    // ERESTARTSYS..ERESTART_RESTARTBLOCK: a signal cut the call short and the
                    // kernel makes it again (traced by then, if the signal was Kettle's).
                    if filter::name_of(nr) != Some(name) || (-516..=-512).contains(&ret) {
                        continue;
                    }
                    seen(Seen::Enter { tid: r.tid, t_ns: entered, name, args });
                    seen(Seen::Exit { tid: r.tid, t_ns, name, args, ret });
                }
            }
        }
    }
}

impl Layout {
    fn read() -> Result<Layout, String> {
        let enter = tracefs::format("raw_syscalls/sys_enter")?;
        let exit = tracefs::format("raw_syscalls/sys_exit")?;
        Ok(Layout {
            enter: tracefs::id(&enter)?,
            enter_nr: tracefs::needed(&enter, "id")?,
            enter_args: tracefs::needed(&enter, "args")?,
            exit: tracefs::id(&exit)?,
            exit_nr: tracefs::needed(&exit, "id")?,
            exit_ret: tracefs::needed(&exit, "ret")?,
        })
    }

    fn record(&self, data: &[u8], t_mono: u64) -> Option<Record> {
        let kind = record_type(data)?;
        let tid = record_tid(data)?;
        let call = if kind == self.enter {
            let mut args = [0u64; 6];
            for (i, arg) in args.iter_mut().enumerate() {
                *arg = tracefs::read_u64(data, self.enter_args.offset + 8 * i)?;
            }
            Call::Enter { nr: read_field(data, self.enter_nr)? as i64, args }
        } else if kind == self.exit {
            Call::Exit {
                nr: read_field(data, self.exit_nr)? as i64,
                ret: read_field(data, self.exit_ret)? as i64,
            }
        } else {
            return None;
        };
        Some(Record { tid, t_mono, call })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_nr() -> i64 {
        libc::SYS_read
    }

    fn enter(tid: i32, t: u64, nr: i64, fd: u64) -> Record {
        Record {
            tid,
            t_mono: clock().to_monotonic(t),
            call: Call::Enter { nr, args: [fd, 0, 64, 0, 0, 0] },
        }
    }

    fn exit(tid: i32, t: u64, nr: i64, ret: i64) -> Record {
        Record { tid, t_mono: clock().to_monotonic(t), call: Call::Exit { nr, ret } }
    }

    fn handed(calls: &mut Calls, read_to: u64, s: &Suspension) -> Vec<Seen> {
        let mut seen = Vec::new();
        calls.hand_on(clock().to_monotonic(read_to), s, &mut |x| seen.push(x));
        seen
    }

    #[test]
    fn a_record_counts_only_while_its_thread_ran_passive() {
        let s = Suspension::default();
        s.suspended(7, 100);
        assert!(s.is_passive(7));
        assert!(s.resumed(7, 200));
        assert!(!s.resumed(7, 250), "already back");
        s.suspended(7, 300);
        assert!(!s.covers(7, 99), "stopped by the tracer then: seen by it");
        assert!(s.covers(7, 100) && s.covers(7, 199));
        assert!(!s.covers(7, 200) && !s.covers(7, 299));
        assert!(s.covers(7, 1_000), "passive again, for good");
        assert!(!s.covers(8, 150), "another thread never was");
    }

    #[test]
    fn calls_are_handed_on_in_time_order_across_cpus_and_later_records_wait() {
        let s = Suspension::default();
        s.suspended(1, 0);
        s.suspended(2, 0);
        // As two CPUs' buffers give them: thread 2's call first in the reading, later in time;
        // thread 1's exit after the time read up to.
        let later = vec![
            enter(2, 30, read_nr(), 5),
            exit(2, 40, read_nr(), 64),
            enter(1, 10, read_nr(), 4),
            exit(1, 60, read_nr(), 64),
        ];
        let mut calls = Calls { later, ..Calls::default() };
        let first = handed(&mut calls, 50, &s);
        let order: Vec<(i32, u64)> = first
            .iter()
            .map(|x| match x {
                Seen::Enter { tid, t_ns, .. } | Seen::Exit { tid, t_ns, .. } => (*tid, *t_ns),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(order, [(2, 30), (2, 40)], "thread 1's call is not over yet");
        assert_eq!(calls.later.len(), 1);
        let second = handed(&mut calls, 100, &s);
        assert_eq!(
            second,
            [
                Seen::Enter { tid: 1, t_ns: 10, name: "read", args: [4, 0, 64, 0, 0, 0] },
                Seen::Exit { tid: 1, t_ns: 60, name: "read", args: [4, 0, 64, 0, 0, 0], ret: 64 },
            ]
        );
    }

    #[test]
    fn a_call_cut_short_to_be_restarted_is_not_a_call_and_records_outside_a_span_are_dropped() {
        let s = Suspension::default();
        s.suspended(1, 0);
        let later = vec![
            enter(1, 10, libc::SYS_select, 5),
            // -ERESTARTNOHAND: Kettle's SIGSTOP came; the kernel makes the call again.
            exit(1, 20, libc::SYS_select, -514),
            enter(3, 30, read_nr(), 5),
            exit(3, 40, read_nr(), 64),
        ];
        let mut calls = Calls { later, ..Calls::default() };
        assert_eq!(handed(&mut calls, 100, &s), []);
    }

    #[test]
    fn threads_are_brought_back_once_and_never_inside_a_call_the_kernel_would_not_restart() {
        let s = Suspension::default();
        s.suspended(1, 0);
        s.suspended(2, 0);
        let in_epoll_wait = |tid| tid == 2;
        assert_eq!(s.to_bring_back(in_epoll_wait), [1]);
        assert_eq!(s.to_bring_back(in_epoll_wait), Vec::<i32>::new(), "signalled once");
        assert_eq!(s.to_bring_back(|_| false), [2], "its epoll_wait returned");
        assert!(s.any_passive(), "until the tracer sees the stop");
        s.resumed(1, 10);
        s.resumed(2, 10);
        assert!(!s.any_passive());
    }

    #[test]
    fn sys_enter_and_sys_exit_records_give_the_call_its_arguments_and_its_result() {
        let f = |offset, size| Field { offset, size };
        let l = Layout {
            enter: 443,
            enter_nr: f(8, 8),
            enter_args: f(16, 48),
            exit: 442,
            exit_nr: f(8, 8),
            exit_ret: f(16, 8),
        };
        let mut e = vec![0u8; 64];
        e[0..2].copy_from_slice(&443u16.to_ne_bytes());
        e[4..8].copy_from_slice(&4242i32.to_ne_bytes());
        e[8..16].copy_from_slice(&45i64.to_ne_bytes());
        for i in 0..6u64 {
            e[16 + 8 * i as usize..24 + 8 * i as usize].copy_from_slice(&(i + 1).to_ne_bytes());
        }
        assert_eq!(
            l.record(&e, 9),
            Some(Record {
                tid: 4242,
                t_mono: 9,
                call: Call::Enter { nr: 45, args: [1, 2, 3, 4, 5, 6] }
            })
        );
        let mut x = vec![0u8; 24];
        x[0..2].copy_from_slice(&442u16.to_ne_bytes());
        x[4..8].copy_from_slice(&4242i32.to_ne_bytes());
        x[8..16].copy_from_slice(&45i64.to_ne_bytes());
        x[16..24].copy_from_slice(&(-11i64).to_ne_bytes());
        assert_eq!(
            l.record(&x, 10),
            Some(Record { tid: 4242, t_mono: 10, call: Call::Exit { nr: 45, ret: -11 } })
        );
        let mut other = x.clone();
        other[0..2].copy_from_slice(&7u16.to_ne_bytes());
        assert_eq!(l.record(&other, 10), None);
    }
}
