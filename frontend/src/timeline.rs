//! The application side of every figure, as pure data: which threads there are (one lane
//! each), which call returned from which, where each thread slept, and the two phases of
//! every input with their measured durations.
//!
//! Calls are matched by **(thread, descriptor)**, never by "the next exit of that kind": on a
//! thread-per-connection server two threads are inside `recv` at once, and each `recv_exit`
//! belongs to the `recv_enter` of its own thread on its own socket. Asynchronous requests
//! (`submit` … `complete`) are matched by (operation, descriptor) across the model, because
//! glibc completes an `aio_read` on another thread than the one that submitted it.
//!
//! The phases follow Stevens: phase 1, *wait for data*, ends when the data reached the socket
//! — the kernel's receive timestamp (`data_arrived`). Where it starts depends on the model,
//! because that is the lesson: in a blocking `recv` (Fig. 6.1) at the call; in `select`
//! (Fig. 6.3) at the readiness call the thread slept in while the data came; for the busy loop
//! (Fig. 6.2) and signal-driven I/O (Fig. 6.4) when the socket was last drained, the thread
//! spinning or working meanwhile; for io_uring (Fig. 6.5) at the request's submission. Phase 2,
//! *copy to user*, ends when `recv` returned (measured by the backend as `copy_ns`), or for
//! io_uring when the completion was reaped. Every duration is the difference of two recorded
//! timestamps or a duration the backend measured; none is estimated.

use kettle_shared::{AsyncOp, EventKind, Family, RecvOutcome};

use crate::store::Step;

/// One thread of the model: a lane of the figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// The backend's small thread id (`data-thread`).
    pub thread: u32,
    /// Its name (`acceptor`, `conn-3`, `child-4242`, `aio-helper 812`…).
    pub name: String,
    /// Index of its first step.
    pub first: usize,
    /// Index of its last step.
    pub last: usize,
    /// Index of its `thread_exited`, if it ended.
    pub exited: Option<usize>,
    /// A glibc aio helper thread, seen from `/proc` rather than run by Kettle.
    pub helper: bool,
}

/// The lanes, in the order the threads first appear.
pub fn lanes(steps: &[Step]) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let e = &s.event;
        let lane = match lanes.iter_mut().find(|l| l.thread == e.thread.id) {
            Some(lane) => lane,
            None => {
                lanes.push(Lane {
                    thread: e.thread.id,
                    name: e.thread.name.clone(),
                    first: i,
                    last: i,
                    exited: None,
                    helper: false,
                });
                lanes.last_mut().expect("just pushed")
            }
        };
        lane.last = i;
        match e.kind {
            EventKind::ThreadExited => lane.exited = Some(i),
            EventKind::SeenInSyscall { .. } => lane.helper = true,
            _ => {}
        }
    }
    lanes
}

/// What a pair of steps is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `accept`.
    Accept,
    /// `recv`.
    Recv,
    /// `send`.
    Send,
    /// `select`, `poll`, `epoll_wait`.
    Wait,
    /// `io_uring_enter`.
    Ring,
    /// A pool worker asleep on the (user-space) queue.
    Queue,
    /// An asynchronous request of this operation: `submit` … `complete`.
    Async(AsyncOp),
    /// A glibc aio helper seen asleep in `read`, until the read completed.
    HelperRead,
}

/// A call and its return (or a request and its completion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// What it is.
    pub call: Call,
    /// The call's name as a program writes it (`recv`, `select`, `epoll_wait`, `read`).
    pub name: String,
    /// The thread that made the call (for [`Call::Async`] requests, the submitter).
    pub thread: u32,
    /// The descriptor, where the call has one.
    pub fd: Option<i32>,
    /// Index of the entering step.
    pub enter: usize,
    /// Index of the returning step, once it returned.
    pub exit: Option<usize>,
    /// No return was recorded, and the same thread entered the same call again at this step:
    /// the call ended before it (its return was lost, or not a step).
    pub abandoned: Option<usize>,
    /// Index of the `data_arrived` for the data this call returned (may precede `enter`).
    pub arrival: Option<usize>,
}

impl Pair {
    /// The thread slept in this call: everything but a non-blocking call that found nothing
    /// to do (`EAGAIN`), and the asynchronous requests, which do not hold a thread.
    pub fn sleeps(&self, steps: &[Step]) -> bool {
        match self.call {
            Call::Async(_) | Call::Send => false,
            _ => !self.exit.is_some_and(|x| would_block(&steps[x].event.kind)),
        }
    }

    /// The recv returned data.
    pub fn got_data(&self, steps: &[Step]) -> bool {
        self.exit.is_some_and(|x| match &steps[x].event.kind {
            EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. } => true,
            EventKind::Complete { op, result, .. } => *result > 0 && op.reads_data(),
            _ => false,
        })
    }
}

/// A non-blocking call that found nothing to do.
pub fn would_block(kind: &EventKind) -> bool {
    match kind {
        EventKind::RecvExit { outcome: RecvOutcome::WouldBlock, .. } => true,
        EventKind::AcceptExit { error: Some(e), .. } => {
            e.errno == "EAGAIN" || e.errno == "EWOULDBLOCK"
        }
        _ => false,
    }
}

/// The name of a readiness call.
pub fn wait_name(api: kettle_shared::WaitApi) -> &'static str {
    use kettle_shared::WaitApi::*;
    match api {
        Select => "select",
        Poll => "poll",
        Epoll | EpollEt => "epoll_wait",
    }
}

/// Matches every call with its return. A call still open when the same thread enters the
/// same call again (a return that was dropped) is left without an exit.
pub fn pairs(steps: &[Step]) -> Vec<Pair> {
    let mut pairs: Vec<Pair> = Vec::new();
    // Open pairs, as indices into `pairs`.
    let mut open: Vec<usize> = Vec::new();
    // Arrivals not yet claimed by a recv on (thread, fd): the data came before the call.
    let mut early: Vec<(u32, i32, usize)> = Vec::new();
    let find_open = |pairs: &Vec<Pair>, open: &Vec<usize>, f: &dyn Fn(&Pair) -> bool| {
        open.iter().position(|&p| f(&pairs[p]))
    };
    for (i, s) in steps.iter().enumerate() {
        let e = &s.event;
        let thread = e.thread.id;
        let mut start = |call: Call, name: &str, fd: Option<i32>, pairs: &mut Vec<Pair>| {
            let arrival = match call {
                Call::Recv => fd.and_then(|fd| {
                    let at = early.iter().position(|&(t, f, _)| t == thread && f == fd)?;
                    Some(early.remove(at).2)
                }),
                _ => None,
            };
            pairs.push(Pair {
                call,
                name: name.to_owned(),
                thread,
                fd,
                enter: i,
                exit: None,
                abandoned: None,
                arrival,
            });
            pairs.len() - 1
        };
        let same_thread = |call: Call, fd: Option<i32>| {
            move |p: &Pair| p.call == call && p.thread == thread && p.fd == fd
        };
        match &e.kind {
            EventKind::AcceptEnter => {
                close_stale(&mut pairs, &mut open, i, same_thread(Call::Accept, None));
                open.push(start(Call::Accept, "accept", None, &mut pairs));
            }
            EventKind::RecvEnter { fd, .. } => {
                close_stale(&mut pairs, &mut open, i, same_thread(Call::Recv, Some(*fd)));
                open.push(start(Call::Recv, "recv", Some(*fd), &mut pairs));
            }
            EventKind::SendEnter { fd, .. } => {
                close_stale(&mut pairs, &mut open, i, same_thread(Call::Send, Some(*fd)));
                open.push(start(Call::Send, "send", Some(*fd), &mut pairs));
            }
            EventKind::WaitEnter { api, .. } => {
                close_stale(&mut pairs, &mut open, i, same_thread(Call::Wait, None));
                open.push(start(Call::Wait, wait_name(*api), None, &mut pairs));
            }
            EventKind::RingEnter { .. } => {
                close_stale(&mut pairs, &mut open, i, same_thread(Call::Ring, None));
                open.push(start(Call::Ring, "io_uring_enter", None, &mut pairs));
            }
            EventKind::ThreadBlocked { on } if on == "queue" => {
                close_stale(&mut pairs, &mut open, i, same_thread(Call::Queue, None));
                open.push(start(Call::Queue, "queue", None, &mut pairs));
            }
            EventKind::Submit { op, fd } => {
                let same = |p: &Pair| p.call == Call::Async(*op) && p.fd == Some(*fd);
                close_stale(&mut pairs, &mut open, i, same);
                open.push(start(Call::Async(*op), op.name(), Some(*fd), &mut pairs));
            }
            EventKind::SeenInSyscall { call, fd, .. } => {
                close_stale(&mut pairs, &mut open, i, same_thread(Call::HelperRead, Some(*fd)));
                open.push(start(Call::HelperRead, call, Some(*fd), &mut pairs));
            }
            EventKind::AcceptExit { .. } => {
                finish(&mut pairs, &mut open, i, same_thread(Call::Accept, None));
            }
            EventKind::RecvExit { fd, .. } => {
                finish(&mut pairs, &mut open, i, same_thread(Call::Recv, Some(*fd)));
            }
            EventKind::SendExit { fd, .. } => {
                finish(&mut pairs, &mut open, i, same_thread(Call::Send, Some(*fd)));
            }
            EventKind::WaitReturned { .. } => {
                finish(&mut pairs, &mut open, i, same_thread(Call::Wait, None));
            }
            EventKind::RingExit { .. } => {
                finish(&mut pairs, &mut open, i, same_thread(Call::Ring, None));
            }
            EventKind::ThreadWoken { .. } => {
                finish(&mut pairs, &mut open, i, same_thread(Call::Queue, None));
            }
            EventKind::Complete { op, fd, .. } => {
                let fd = *fd;
                finish(&mut pairs, &mut open, i, |p: &Pair| {
                    p.call == Call::Async(*op) && p.fd == Some(fd)
                });
                // The helper's read returned: glibc reports the completion.
                finish(&mut pairs, &mut open, i, |p: &Pair| {
                    p.call == Call::HelperRead && p.fd == Some(fd)
                });
            }
            EventKind::DataArrived { fd, .. } => {
                // The data of an open recv (blocking: the call is waiting), or of an open
                // asynchronous recv (io_uring: the kernel is waiting for it).
                let fd = *fd;
                let waiting = find_open(&pairs, &open, &|p: &Pair| {
                    p.fd == Some(fd)
                        && p.arrival.is_none()
                        && ((p.call == Call::Recv && p.thread == thread)
                            || (matches!(p.call, Call::Async(op) if op != AsyncOp::Send)))
                });
                match waiting {
                    Some(o) => pairs[open[o]].arrival = Some(i),
                    None => {
                        early.retain(|&(t, f, _)| !(t == thread && f == fd));
                        early.push((thread, fd, i));
                    }
                }
            }
            _ => {}
        }
    }
    pairs
}

/// A call entered again while still open lost its return: it ended before `at`.
fn close_stale(pairs: &mut [Pair], open: &mut Vec<usize>, at: usize, same: impl Fn(&Pair) -> bool) {
    open.retain(|&p| {
        if same(&pairs[p]) {
            pairs[p].abandoned = Some(at);
            false
        } else {
            true
        }
    });
}

impl Pair {
    /// Where the call ended: its return, or where the thread entered it again.
    pub fn end(&self) -> Option<usize> {
        self.exit.or(self.abandoned)
    }
}

fn finish(pairs: &mut [Pair], open: &mut Vec<usize>, exit: usize, same: impl Fn(&Pair) -> bool) {
    if let Some(o) = open.iter().position(|&p| same(&pairs[p])) {
        pairs[open.remove(o)].exit = Some(exit);
    }
}

/// Which phase a mark is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Phase 1: wait for data.
    Wait,
    /// Phase 2: copy data from kernel to user.
    Copy,
    /// Both phases in one span that cannot be split (glibc's `read` gives no timestamp).
    Both,
}

impl Phase {
    /// `data-phase`.
    pub fn id(self) -> &'static str {
        match self {
            Phase::Wait => "wait",
            Phase::Copy => "copy",
            Phase::Both => "both",
        }
    }
}

/// One phase of one input, with its measured duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseSpan {
    /// Which phase.
    pub phase: Phase,
    /// The lane it belongs to (the thread whose input it is).
    pub thread: u32,
    /// The step it starts at.
    pub from: usize,
    /// The step it ends at; `None` while it goes on.
    pub to: Option<usize>,
    /// Its measured duration, once it ended.
    pub ns: Option<u64>,
    /// Who spends it: the application's thread (blocked in the call), or not.
    pub app_blocked: bool,
}

/// The phases of every input in `steps`.
pub fn phases(figure: Family, steps: &[Step], pairs: &[Pair]) -> Vec<PhaseSpan> {
    let t = |i: usize| steps[i].event.t_ns;
    let mut spans = Vec::new();
    for p in pairs {
        match p.call {
            Call::Recv => {
                let Some(exit) = p.exit else {
                    // Still inside recv: for a blocking recv, phase 1 is going on.
                    if figure == Family::Blocking && p.arrival.is_none() {
                        spans.push(still_waiting(p, true));
                    }
                    continue;
                };
                if !p.got_data(steps) {
                    continue;
                }
                let (wait_ns, copy_ns) = match &steps[exit].event.kind {
                    EventKind::RecvExit { wait_ns, copy_ns, .. } => (*wait_ns, *copy_ns),
                    _ => (None, None),
                };
                if let Some(a) = p.arrival {
                    let start = wait_start(figure, steps, pairs, p, a);
                    // A measured wait of 0 (data already there) is drawn as 0, not as the
                    // time stamps' difference.
                    let ns = match (start == p.enter, wait_ns) {
                        (true, Some(ns)) => Some(ns),
                        _ => Some(t(a).saturating_sub(t(start))),
                    };
                    spans.push(PhaseSpan {
                        phase: Phase::Wait,
                        thread: p.thread,
                        from: start.min(a),
                        to: Some(a),
                        ns,
                        app_blocked: start == p.enter,
                    });
                }
                spans.push(PhaseSpan {
                    phase: Phase::Copy,
                    thread: p.thread,
                    from: p.arrival.map_or(p.enter, |a| a.max(p.enter)),
                    to: Some(exit),
                    ns: copy_ns,
                    app_blocked: true,
                });
            }
            Call::Async(AsyncOp::Recv) => {
                let Some(a) = p.arrival else {
                    if p.exit.is_none() {
                        spans.push(still_waiting(p, false));
                    }
                    continue;
                };
                spans.push(PhaseSpan {
                    phase: Phase::Wait,
                    thread: p.thread,
                    from: p.enter,
                    to: Some(a),
                    ns: Some(t(a).saturating_sub(t(p.enter))),
                    app_blocked: false,
                });
                spans.push(PhaseSpan {
                    phase: Phase::Copy,
                    thread: p.thread,
                    from: a,
                    to: p.exit,
                    ns: p.exit.map(|x| t(x).saturating_sub(t(a))),
                    app_blocked: false,
                });
            }
            Call::HelperRead => spans.push(PhaseSpan {
                phase: Phase::Both,
                thread: p.thread,
                from: p.enter,
                to: p.exit,
                ns: p.exit.map(|x| t(x).saturating_sub(t(p.enter))),
                app_blocked: false,
            }),
            _ => {}
        }
    }
    spans
}

/// Phase 1 of a call that is still waiting for its data.
fn still_waiting(p: &Pair, app_blocked: bool) -> PhaseSpan {
    PhaseSpan {
        phase: Phase::Wait,
        thread: p.thread,
        from: p.enter,
        to: None,
        ns: None,
        app_blocked,
    }
}

/// Where phase 1 of the data that arrived at step `a` began, for the recv `p`.
fn wait_start(figure: Family, steps: &[Step], pairs: &[Pair], p: &Pair, a: usize) -> usize {
    // Pairs are in the order their calls were entered: those entered before the arrival are a
    // prefix, searched from its end, so each recv looks back only as far as its answer (a
    // search of every pair for every recv made a crowded figure's layout quadratic).
    let earlier = &pairs[..pairs.partition_point(|w| w.enter < a)];
    match figure {
        // The call waited: phase 1 is inside it (or zero, the data was already there).
        Family::Blocking => p.enter,
        // The readiness call this thread slept in when the data came.
        Family::Multiplex => earlier
            .iter()
            .rev()
            .find(|w| w.call == Call::Wait && w.thread == p.thread)
            .map_or(p.enter, |w| w.enter),
        // Since the socket was last drained (or accepted): the thread spun or worked meanwhile.
        Family::BusyLoop | Family::Signal | Family::Async => {
            let conn = steps[p.enter].event.conn;
            // A descriptor's receives follow one another: the latest entered one that has
            // returned is the one that returned last.
            let drained = earlier
                .iter()
                .rev()
                .filter(|q| q.call == Call::Recv && q.fd == p.fd)
                .find_map(|q| q.exit.filter(|&x| x < a));
            // An accept after that drain is all that can move the start later.
            let from = drained.unwrap_or(0);
            let accepted = steps[from..a]
                .iter()
                .rposition(|s| s.event.conn == conn && is_accept_return(&s.event.kind))
                .map(|i| from + i);
            drained.max(accepted).unwrap_or(p.enter)
        }
    }
}

fn is_accept_return(kind: &EventKind) -> bool {
    matches!(kind, EventKind::AcceptExit { fd: Some(_), .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::ev;
    use crate::store::{ModelStore, Step};
    use kettle_shared::RecvOutcome;

    fn data(fd: i32, wait: u64, copy: u64) -> EventKind {
        EventKind::RecvExit {
            fd,
            outcome: RecvOutcome::Data { bytes: 6, preview: "hello\n".into() },
            wait_ns: Some(wait),
            copy_ns: Some(copy),
        }
    }

    fn steps_of(events: Vec<std::rc::Rc<kettle_shared::Event>>) -> Vec<Step> {
        let mut s = ModelStore::default();
        s.extend(events);
        s.steps().list.clone()
    }

    /// Two threads of thread-per-connection in recv at once, their returns interleaved the
    /// other way round: each exit and each arrival goes to its own thread's call.
    #[test]
    fn test_two_interleaved_threads_each_get_their_own_phases() {
        let s = steps_of(vec![
            ev(1, 1_000, 2, EventKind::RecvEnter { fd: 5, len: 1024 }),
            ev(2, 2_000, 3, EventKind::RecvEnter { fd: 6, len: 1024 }),
            ev(3, 5_000, 3, EventKind::DataArrived { fd: 6, stamp: None }),
            ev(4, 5_400, 3, data(6, 3_000, 400)),
            ev(5, 9_000, 2, EventKind::DataArrived { fd: 5, stamp: None }),
            ev(6, 9_700, 2, data(5, 8_000, 700)),
        ]);
        let p = pairs(&s);
        assert_eq!(p.len(), 2);
        let a = p.iter().find(|p| p.thread == 2).unwrap();
        let b = p.iter().find(|p| p.thread == 3).unwrap();
        assert_eq!((a.enter, a.arrival, a.exit), (0, Some(4), Some(5)));
        assert_eq!((b.enter, b.arrival, b.exit), (1, Some(2), Some(3)));
        let ph = phases(Family::Blocking, &s, &p);
        let of =
            |thread, phase| ph.iter().find(|x| x.thread == thread && x.phase == phase).unwrap().ns;
        assert_eq!(of(2, Phase::Wait), Some(8_000));
        assert_eq!(of(2, Phase::Copy), Some(700));
        assert_eq!(of(3, Phase::Wait), Some(3_000));
        assert_eq!(of(3, Phase::Copy), Some(400));
    }

    #[test]
    fn test_select_phase_one_is_spent_in_select_and_recv_only_copies() {
        use kettle_shared::{ReadyFd, WaitApi};
        let s = steps_of(vec![
            ev(1, 1_000, 1, EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 5] }),
            ev(
                2,
                9_000,
                1,
                EventKind::WaitReturned {
                    api: WaitApi::Select,
                    ready: vec![ReadyFd { fd: 5, readable: true, writable: false }],
                    scanned: 6,
                },
            ),
            ev(3, 9_100, 1, EventKind::RecvEnter { fd: 5, len: 1024 }),
            // The kernel's stamp: the data came while the thread slept in select.
            ev(4, 8_500, 1, EventKind::DataArrived { fd: 5, stamp: None }),
            ev(5, 9_300, 1, data(5, 0, 200)),
        ]);
        let kinds: Vec<_> = s.iter().map(|s| s.event.kind.name()).collect();
        assert_eq!(
            kinds,
            ["wait_enter", "data_arrived", "wait_returned", "recv_enter", "recv_exit"]
        );
        let p = pairs(&s);
        let ph = phases(Family::Multiplex, &s, &p);
        let wait = ph.iter().find(|x| x.phase == Phase::Wait).unwrap();
        assert_eq!((wait.from, wait.to, wait.ns), (0, Some(1), Some(7_500)));
        assert!(!wait.app_blocked, "the thread was blocked in select, not in recv");
        let copy = ph.iter().find(|x| x.phase == Phase::Copy).unwrap();
        assert_eq!((copy.from, copy.to, copy.ns), (3, Some(4), Some(200)));
    }

    #[test]
    fn test_io_uring_kernel_does_both_phases() {
        let s = steps_of(vec![
            ev(1, 1_000, 1, EventKind::Submit { op: AsyncOp::Recv, fd: 7 }),
            ev(2, 50_000, 1, EventKind::DataArrived { fd: 7, stamp: None }),
            ev(
                3,
                51_000,
                1,
                EventKind::Complete {
                    op: AsyncOp::Recv,
                    fd: 7,
                    result: 6,
                    peer: None,
                    more: false,
                },
            ),
        ]);
        let ph = phases(Family::Async, &s, &pairs(&s));
        assert_eq!(ph.len(), 2);
        assert_eq!(ph[0].ns, Some(49_000));
        assert_eq!(ph[1].ns, Some(1_000));
        assert!(ph.iter().all(|p| !p.app_blocked));
    }

    #[test]
    fn test_lanes_appear_in_order_and_end_when_the_thread_exits() {
        let s = steps_of(vec![
            ev(1, 1, 1, EventKind::AcceptEnter),
            ev(2, 2, 2, EventKind::ThreadSpawned),
            ev(3, 3, 2, EventKind::ThreadExited),
            ev(4, 4, 9, EventKind::SeenInSyscall { tid: 812, call: "read".into(), fd: 5 }),
        ]);
        let l = lanes(&s);
        assert_eq!(l.iter().map(|l| l.thread).collect::<Vec<_>>(), [1, 2, 9]);
        assert_eq!(l[1].exited, Some(2));
        assert!(l[2].helper && !l[0].helper);
    }

    #[test]
    fn test_a_call_entered_again_without_a_return_ends_there() {
        let s = steps_of(vec![
            ev(1, 1, 1, EventKind::RingEnter { submitted: 1, wait_for: 1 }),
            ev(2, 2, 1, EventKind::RingEnter { submitted: 0, wait_for: 1 }),
        ]);
        let p = pairs(&s);
        assert_eq!((p[0].exit, p[0].abandoned, p[0].end()), (None, Some(1), Some(1)));
        assert_eq!(p[1].end(), None, "the second is still open");
    }

    #[test]
    fn test_eagain_recv_did_not_sleep() {
        let s = steps_of(vec![
            ev(1, 1, 1, EventKind::RecvEnter { fd: 5, len: 1 }),
            ev(
                2,
                2,
                1,
                EventKind::RecvExit {
                    fd: 5,
                    outcome: RecvOutcome::WouldBlock,
                    wait_ns: None,
                    copy_ns: None,
                },
            ),
        ]);
        let p = pairs(&s);
        assert!(!p[0].sleeps(&s));
        assert!(phases(Family::BusyLoop, &s, &p).is_empty());
    }
}
