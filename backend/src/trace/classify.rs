//! Which of Stevens' figures a traced program acts out, decided from the calls it makes.
//!
//! A built-in model's figure is known in advance; a student's program says what it is only by
//! what it does. Each decoded event that tells something about the I/O model is a *mark*:
//!
//! | mark | what it shows |
//! |---|---|
//! | `io_uring_enter` | the kernel does both phases and posts completions: Fig. 6.5 |
//! | a signal delivered after a handler was installed | signal-driven I/O: Fig. 6.4 |
//! | `select`, `poll`, `epoll_wait` | one call waits on many descriptors: Fig. 6.3 |
//! | a call that returned `EAGAIN` | the busy loop polls: Fig. 6.2 |
//! | `accept` or `recv` entered | the thread blocks in the call itself: Fig. 6.1 |
//!
//! The program is drawn as what its last [`WINDOW`] marks show, strongest first: a ring, a
//! signal, a readiness call, then `EAGAIN`s, then plain blocking calls. The order matters
//! because the stronger styles make the weaker marks too: a select server calls `accept` and
//! `recv` after each wake-up, an edge-triggered epoll loop reads until `EAGAIN`, a SIGIO
//! server drains with non-blocking `recv`s. A window rather than the whole history means a
//! program that changes style (blocking at first, then select) is drawn as what it does now,
//! and the switch is a [`EventKind::Recognised`] of its own.
//!
//! Python's `selectors` and `asyncio` are epoll on Linux and draw as Fig. 6.3, because what is
//! decided is the system call, not the library.

use std::collections::{HashMap, HashSet, VecDeque};

use kettle_shared::{EventKind, Family, RecvOutcome, WaitApi};

/// How many recent marks decide the figure. Enough that one stray `EAGAIN` in a select server
/// or one blocking `accept` before a busy loop starts does not flip the drawing; few enough
/// that a program that changed style is redrawn after a few dozen calls.
pub const WINDOW: usize = 32;

/// `EAGAIN`s among the recent marks, with no readiness call, that make a busy loop. One or two
/// happen to any non-blocking program; a loop that polls makes them by the thousand.
pub const BUSY_EAGAINS: u32 = 3;

/// How often a recognition is repeated while its count grows, so the page's "why" stays true
/// ("select(2) called 140 times") without an event per call.
pub const RETELL_EVERY_NS: u64 = 1_000_000_000;

/// One mark: what kind of evidence, on which thread, counting how many calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Ring,
    /// A signal about I/O, by number.
    Signal(i32),
    Wait(WaitApi),
    WouldBlock(u32),
    Blocked(Blocking),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocking {
    Accept,
    Recv,
}

/// Decides the figure as the events come.
#[derive(Debug, Default)]
pub struct Classifier {
    recent: VecDeque<(i32, Mark)>,
    /// Signals the program installed a handler for, with their names.
    handled: HashMap<i32, String>,
    /// The figure the program is drawn as, and since when (the counts are since then).
    now: Option<Recognition>,
}

#[derive(Debug)]
struct Recognition {
    family: Family,
    call: String,
    count: u32,
    threads: HashSet<i32>,
    told_at_ns: u64,
    told_count: u32,
}

impl Classifier {
    /// Takes one decoded event of thread `tid` at `t_ns`. Returns a [`EventKind::Recognised`]
    /// when the program is recognised for the first time, when it changed style, and at most
    /// every [`RETELL_EVERY_NS`] while the deciding call's count grows.
    pub fn observe(&mut self, tid: i32, t_ns: u64, kind: &EventKind) -> Option<EventKind> {
        let mark = self.mark(kind)?;
        self.recent.push_back((tid, mark));
        if self.recent.len() > WINDOW {
            self.recent.pop_front();
        }
        let (family, call) = self.decide()?;
        let calls = match mark {
            Mark::WouldBlock(n) => n,
            _ => 1,
        };
        let counts = family_of(mark) == Some(family);
        match &mut self.now {
            Some(r) if r.family == family => {
                if counts {
                    r.count = r.count.saturating_add(calls);
                    r.threads.insert(tid);
                    r.call = call;
                }
                let grew = r.count != r.told_count;
                (grew && t_ns.saturating_sub(r.told_at_ns) >= RETELL_EVERY_NS).then(|| r.tell(t_ns))
            }
            _ => {
                // The marks of the new style in the window are its count so far.
                let (count, threads) = self.evidence(family);
                let mut r =
                    Recognition { family, call, count, threads, told_at_ns: t_ns, told_count: 0 };
                let told = r.tell(t_ns);
                self.now = Some(r);
                Some(told)
            }
        }
    }

    /// The figure the program is drawn as now, if it is recognised.
    pub fn family(&self) -> Option<Family> {
        self.now.as_ref().map(|r| r.family)
    }

    fn mark(&mut self, kind: &EventKind) -> Option<Mark> {
        use EventKind as K;
        Some(match kind {
            K::SignalHandler { signo, name } => {
                self.handled.insert(*signo, name.clone());
                return None;
            }
            K::RingEnter { .. } => Mark::Ring,
            // Signal-driven I/O is SIGIO (or the signal `F_SETSIG` chose, which then says
            // which descriptor in `si_fd`), handled. Other handled signals — a shell's
            // SIGCHLD, a server's SIGTERM — say nothing about how it reads.
            K::SignalDelivered { signo, name, fd }
                if self.handled.contains_key(signo) && (fd.is_some() || name == "SIGIO") =>
            {
                Mark::Signal(*signo)
            }
            K::WaitEnter { api, .. } => Mark::Wait(*api),
            K::RecvExit { outcome: RecvOutcome::WouldBlock, .. } => Mark::WouldBlock(1),
            K::AcceptExit { error: Some(e), .. } if e.errno == "EAGAIN" => Mark::WouldBlock(1),
            K::WouldBlockBurst { count, .. } => {
                Mark::WouldBlock(u32::try_from(*count).unwrap_or(u32::MAX))
            }
            K::AcceptEnter => Mark::Blocked(Blocking::Accept),
            K::RecvEnter { .. } => Mark::Blocked(Blocking::Recv),
            _ => return None,
        })
    }

    /// The strongest style among the recent marks, and the call that shows it (the latest of
    /// its marks).
    fn decide(&self) -> Option<(Family, String)> {
        let latest = |family: Family| {
            self.recent.iter().rev().map(|(_, m)| *m).find(|m| family_of(*m) == Some(family))
        };
        let eagains: u32 = self
            .recent
            .iter()
            .map(|(_, m)| if let Mark::WouldBlock(n) = m { *n } else { 0 })
            .fold(0, u32::saturating_add);
        for family in [Family::Async, Family::Signal, Family::Multiplex] {
            if let Some(m) = latest(family) {
                return Some((family, self.call_of(m)));
            }
        }
        if eagains >= BUSY_EAGAINS {
            let m = latest(Family::BusyLoop)?;
            return Some((Family::BusyLoop, self.call_of(m)));
        }
        latest(Family::Blocking).map(|m| (Family::Blocking, self.call_of(m)))
    }

    /// How many calls of `family`'s kind the window holds, and on how many threads.
    fn evidence(&self, family: Family) -> (u32, HashSet<i32>) {
        let mut count = 0u32;
        let mut threads = HashSet::new();
        for (tid, m) in &self.recent {
            if family_of(*m) == Some(family) {
                count = count.saturating_add(if let Mark::WouldBlock(n) = m { *n } else { 1 });
                threads.insert(*tid);
            }
        }
        (count, threads)
    }
}

impl Recognition {
    fn tell(&mut self, t_ns: u64) -> EventKind {
        self.told_at_ns = t_ns;
        self.told_count = self.count;
        EventKind::Recognised {
            family: self.family,
            call: self.call.clone(),
            count: self.count,
            threads: u32::try_from(self.threads.len()).unwrap_or(u32::MAX),
        }
    }
}

fn family_of(mark: Mark) -> Option<Family> {
    Some(match mark {
        Mark::Ring => Family::Async,
        Mark::Signal(_) => Family::Signal,
        Mark::Wait(_) => Family::Multiplex,
        Mark::WouldBlock(_) => Family::BusyLoop,
        Mark::Blocked(_) => Family::Blocking,
    })
}

impl Classifier {
    /// The deciding call's name as its man page spells it (a signal by its name); for a busy
    /// loop, the call that returned `EAGAIN` is the last one entered before it in the window.
    fn call_of(&self, mark: Mark) -> String {
        match mark {
            Mark::Ring => "io_uring_enter".into(),
            Mark::Signal(signo) => self.handled.get(&signo).cloned().unwrap_or_default(),
            Mark::Wait(WaitApi::Select) => "select".into(),
            Mark::Wait(WaitApi::Poll) => "poll".into(),
            Mark::Wait(WaitApi::Epoll | WaitApi::EpollEt) => "epoll_wait".into(),
            Mark::WouldBlock(_) => {
                let last_call = self.recent.iter().rev().find_map(|(_, m)| match m {
                    Mark::Blocked(Blocking::Accept) => Some("accept"),
                    Mark::Blocked(Blocking::Recv) => Some("recv"),
                    _ => None,
                });
                last_call.unwrap_or("recv").into()
            }
            Mark::Blocked(Blocking::Accept) => "accept".into(),
            Mark::Blocked(Blocking::Recv) => "recv".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use kettle_shared::{ReadyFd, SysError};

    use super::*;

    fn feed(c: &mut Classifier, events: &[(i32, EventKind)]) -> Vec<EventKind> {
        events.iter().filter_map(|(tid, k)| c.observe(*tid, 0, k)).collect()
    }

    fn recognised(family: Family, call: &str, count: u32, threads: u32) -> EventKind {
        EventKind::Recognised { family, call: call.into(), count, threads }
    }

    fn select_round(fd: i32) -> Vec<(i32, EventKind)> {
        vec![
            (1, EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, fd] }),
            (1, EventKind::WaitReturned { api: WaitApi::Select, ready: vec![], scanned: 5 }),
            (1, EventKind::RecvEnter { fd, len: 1024 }),
        ]
    }

    #[test]
    fn a_blocking_server_is_fig_6_1_and_a_thread_per_connection_counts_its_threads() {
        let mut c = Classifier::default();
        let told = feed(&mut c, &[(1, EventKind::AcceptEnter)]);
        assert_eq!(told, [recognised(Family::Blocking, "accept", 1, 1)]);
        // Two more threads blocking in recv: the count grows, told again only after a second.
        feed(&mut c, &[(2, EventKind::RecvEnter { fd: 4, len: 9 })]);
        let again = c.observe(3, RETELL_EVERY_NS, &EventKind::RecvEnter { fd: 5, len: 9 });
        assert_eq!(again, Some(recognised(Family::Blocking, "recv", 3, 3)));
        assert_eq!(c.observe(3, RETELL_EVERY_NS + 1, &EventKind::AcceptEnter), None);
    }

    #[test]
    fn select_makes_fig_6_3_although_the_server_also_accepts_and_recvs() {
        let mut c = Classifier::default();
        let mut told = Vec::new();
        for _ in 0..5 {
            told.extend(feed(&mut c, &select_round(4)));
        }
        assert_eq!(told, [recognised(Family::Multiplex, "select", 1, 1)]);
        assert_eq!(c.family(), Some(Family::Multiplex));
    }

    #[test]
    fn eagain_with_no_readiness_call_is_a_busy_loop_but_an_edge_triggered_drain_is_not() {
        let would_block = (
            1,
            EventKind::RecvExit {
                fd: 4,
                outcome: RecvOutcome::WouldBlock,
                wait_ns: None,
                copy_ns: None,
            },
        );
        let recv = (1, EventKind::RecvEnter { fd: 4, len: 64 });
        let mut busy = Classifier::default();
        let told = feed(&mut busy, &[recv.clone(), would_block.clone(), recv.clone()]);
        assert_eq!(told, [recognised(Family::Blocking, "recv", 1, 1)], "not yet a loop");
        let told = feed(
            &mut busy,
            &[
                would_block.clone(),
                (1, EventKind::WouldBlockBurst { call: "accept".into(), count: 40 }),
            ],
        );
        assert_eq!(told, [recognised(Family::BusyLoop, "recv", 42, 1)]);

        let mut et = Classifier::default();
        let mut events = vec![(1, EventKind::WaitEnter { api: WaitApi::EpollEt, watched: vec![] })];
        events.extend([recv.clone(), would_block.clone(), recv, would_block]);
        let told = feed(&mut et, &events);
        assert_eq!(told, [recognised(Family::Multiplex, "epoll_wait", 1, 1)]);
    }

    #[test]
    fn a_signal_counts_only_once_a_handler_is_installed_and_then_outranks_the_recvs() {
        let sigio = EventKind::SignalDelivered { signo: 29, name: "SIGIO".into(), fd: Some(4) };
        let mut c = Classifier::default();
        assert_eq!(c.observe(1, 0, &sigio), None, "a signal nobody handles shows nothing");
        let told = feed(
            &mut c,
            &[
                (1, EventKind::SignalHandler { signo: 29, name: "SIGIO".into() }),
                (1, sigio),
                (1, EventKind::RecvEnter { fd: 4, len: 64 }),
            ],
        );
        assert_eq!(told, [recognised(Family::Signal, "SIGIO", 1, 1)]);
    }

    #[test]
    fn a_handled_signal_that_is_not_about_a_descriptor_is_no_sign_of_signal_driven_io() {
        let mut c = Classifier::default();
        let told = feed(
            &mut c,
            &[
                (1, EventKind::SignalHandler { signo: 17, name: "SIGCHLD".into() }),
                (1, EventKind::SignalDelivered { signo: 17, name: "SIGCHLD".into(), fd: None }),
                (1, EventKind::SignalHandler { signo: 36, name: "SIGRTMIN+2".into() }),
                (1, EventKind::AcceptEnter),
            ],
        );
        assert_eq!(told, [recognised(Family::Blocking, "accept", 1, 1)]);
        // The signal F_SETSIG chose names its descriptor: that one is signal-driven I/O.
        let rt = EventKind::SignalDelivered { signo: 36, name: "SIGRTMIN+2".into(), fd: Some(5) };
        assert_eq!(c.observe(1, 0, &rt), Some(recognised(Family::Signal, "SIGRTMIN+2", 1, 1)));
    }

    #[test]
    fn io_uring_enter_is_fig_6_5() {
        let mut c = Classifier::default();
        let told = feed(&mut c, &[(1, EventKind::RingEnter { submitted: 1, wait_for: 1 })]);
        assert_eq!(told, [recognised(Family::Async, "io_uring_enter", 1, 1)]);
    }

    #[test]
    fn a_program_that_switches_from_blocking_to_select_and_back_is_told_at_each_switch() {
        let mut c = Classifier::default();
        let mut told = feed(&mut c, &[(1, EventKind::AcceptEnter)]);
        told.extend(feed(&mut c, &select_round(4)));
        // A whole window of plain blocking calls: the select style is over.
        let blocking: Vec<_> =
            (0..WINDOW).map(|_| (1, EventKind::RecvEnter { fd: 4, len: 8 })).collect();
        told.extend(feed(&mut c, &blocking));
        let families: Vec<_> = told
            .iter()
            .map(|k| match k {
                EventKind::Recognised { family, .. } => *family,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(families, [Family::Blocking, Family::Multiplex, Family::Blocking]);
    }

    #[test]
    fn events_that_say_nothing_of_the_model_are_not_marks() {
        let mut c = Classifier::default();
        let quiet = [
            EventKind::Listen { addr: "127.0.0.1:1".into(), backlog: 5 },
            EventKind::WaitReturned {
                api: WaitApi::Poll,
                ready: vec![ReadyFd { fd: 3, readable: true, writable: false }],
                scanned: 1,
            },
            EventKind::AcceptExit {
                fd: None,
                peer: None,
                error: Some(SysError { errno: "EMFILE".into(), message: String::new() }),
            },
        ];
        for k in &quiet {
            assert_eq!(c.observe(1, 0, k), None, "{k:?}");
        }
        assert_eq!(c.family(), None);
    }
}
