//! What the page keeps of each model's events, and which of them are steps of its figure.
//!
//! Every model has its own bounded [`ModelStore`], so a busy model (or another model's
//! periodic samples) can never push the steps of the model on screen out of memory. Periodic
//! thread samples are not kept here at all: they feed the threads panel and are gone.
//!
//! Events are kept in **time order** (`t_ns`, then `seq`), not arrival order. The difference
//! matters for one kind: [`EventKind::DataArrived`] carries the kernel's own receive timestamp,
//! which is recorded after the `recv` returned but happened before — often before the `select`
//! returned or the signal was delivered. In time order the figure shows what Stevens draws:
//! "data ready" first, then "return readable", then the copy. It also means a figure never has
//! a negative gap between two rows.
//!
//! [`Steps`] turns the events into the rows a figure draws: calls, returns and the kernel's
//! notes. State-only events (the listen backlog's length, a thread's stack size) change what
//! the figure's kernel panel shows but get no row. Housekeeping — an `io_uring_enter` that
//! returned only for its stop-check timeout — becomes a faint [`Tick`], not two rows. Runs of
//! the busy loop's `EAGAIN` bursts, and of sigio's "other work", merge into one growing row
//! (the staircase) instead of filling the figure.

use std::collections::VecDeque;
use std::rc::Rc;

use kettle_shared::{Event, EventKind};

/// The steps playback moves through: their sort keys and times, in order.
#[derive(Debug, Clone, Copy)]
pub struct Track<'a> {
    /// Sort keys `(t_ns, seq)`, increasing.
    pub keys: &'a [(u64, u64)],
    /// Times in nanoseconds, one per key.
    pub times_ns: &'a [u64],
}

impl Track<'_> {
    pub(crate) fn index_of(&self, anchor: (u64, u64)) -> usize {
        // The anchor may be gone (trimmed, merged): the next step in time stands in.
        self.keys.partition_point(|&k| k < anchor).min(self.keys.len().saturating_sub(1))
    }
}

/// Most events kept per model; the oldest go first (and are counted).
pub const MAX_MODEL_EVENTS: usize = 3_000;

/// Most events kept per model while the page records (`#record`: a lesson to save with
/// `#save-recording`), and while it replays a recording.
pub const RECORDING_MODEL_EVENTS: usize = 20_000;

/// One model's events, time-ordered and bounded, with the steps derived from them.
///
/// Equality is by [`ModelStore::revision`]: components compare stores on every playback tick,
/// and a revision number is all that tells them apart.
#[derive(Debug, Clone)]
pub struct ModelStore {
    events: VecDeque<Rc<Event>>,
    trimmed: u64,
    revision: u64,
    steps: Rc<Steps>,
    limit: usize,
}

impl Default for ModelStore {
    fn default() -> Self {
        ModelStore::with_limit(MAX_MODEL_EVENTS)
    }
}

impl PartialEq for ModelStore {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision
    }
}

/// Whether an event is kept in a model's store. Thread samples are measurements, read by
/// the threads panel as they arrive; keeping them would evict steps.
pub fn is_kept(kind: &EventKind) -> bool {
    !matches!(kind, EventKind::ThreadSample { .. })
}

impl ModelStore {
    /// An empty store keeping at most `limit` events.
    pub fn with_limit(limit: usize) -> ModelStore {
        ModelStore {
            events: VecDeque::new(),
            trimmed: 0,
            revision: 0,
            steps: Rc::default(),
            limit: limit.max(1),
        }
    }

    /// The most events this store keeps.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Keeps at most `limit` events from now on (the oldest go at once if there are more).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
        if self.events.len() > self.limit {
            self.trim();
            self.revision += 1;
            self.steps = Rc::new(Steps::derive(&self.events));
        }
    }

    fn trim(&mut self) {
        while self.events.len() > self.limit {
            self.events.pop_front();
            self.trimmed += 1;
        }
    }

    /// Adds events (any order), trims the oldest beyond its limit ([`MAX_MODEL_EVENTS`]
    /// unless set otherwise) and derives the steps again.
    pub fn extend(&mut self, events: impl IntoIterator<Item = Rc<Event>>) {
        let mut added = false;
        for event in events {
            if !is_kept(&event.kind) {
                continue;
            }
            let key = (event.t_ns, event.seq);
            // New events are nearly always the newest: the search ends near the back.
            let at = self.events.partition_point(|e| (e.t_ns, e.seq) <= key);
            if at > 0 && self.events[at - 1].seq == event.seq {
                continue; // the same event twice (history and a batch overlapping)
            }
            self.events.insert(at, event);
            added = true;
        }
        if !added {
            return;
        }
        self.trim();
        self.revision += 1;
        self.steps = Rc::new(Steps::derive(&self.events));
    }

    /// Events in time order.
    pub fn events(&self) -> &VecDeque<Rc<Event>> {
        &self.events
    }

    /// The figure's steps.
    pub fn steps(&self) -> &Rc<Steps> {
        &self.steps
    }

    /// Events trimmed to stay within its limit.
    pub fn trimmed(&self) -> u64 {
        self.trimmed
    }

    /// Changes whenever an event is added.
    pub fn revision(&self) -> u64 {
        self.revision
    }
}

/// One row of a figure: an event, or a run of events merged into one.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Index of the (last) event in the store's events.
    pub at: usize,
    /// The event drawn; for a merged run, the newest.
    pub event: Rc<Event>,
    /// Events merged into this row (1 for a plain step).
    pub merged: u32,
    /// When the first merged event happened.
    pub first_ns: u64,
    /// For merged runs: the counts they add up (`("recv", 812_000)` of `EAGAIN` bursts,
    /// `("units", 40)` of sigio's work).
    pub counts: Vec<(String, u64)>,
}

impl Step {
    fn new(at: usize, event: &Rc<Event>) -> Step {
        let counts = match &event.kind {
            EventKind::WouldBlockBurst { call, count } => vec![(call.clone(), *count)],
            EventKind::WorkDone { units } => vec![("units".to_owned(), *units)],
            _ => Vec::new(),
        };
        Step { at, event: event.clone(), merged: 1, first_ns: event.t_ns, counts }
    }

    /// The sort key of the step's event: playback anchors on it.
    pub fn key(&self) -> (u64, u64) {
        (self.event.t_ns, self.event.seq)
    }

    /// The total of one count of a merged run.
    pub fn count(&self, name: &str) -> u64 {
        self.counts.iter().filter(|(n, _)| n == name).map(|(_, c)| c).sum()
    }
}

/// A housekeeping wake-up: drawn as a faint tick on its lane, never as a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// When.
    pub t_ns: u64,
    /// The thread that woke.
    pub thread: u32,
}

/// The rows of a figure, and the housekeeping between them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Steps {
    /// Rows, in time order.
    pub list: Vec<Step>,
    /// Housekeeping wake-ups, in time order.
    pub ticks: Vec<Tick>,
    /// Each row's sort key `(t_ns, seq)`, for playback.
    pub keys: Vec<(u64, u64)>,
    /// Each row's time, for playback.
    pub times: Vec<u64>,
}

/// How an event takes part in a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A row of its own.
    Row,
    /// A row, or part of the previous row of its thread when that is the same kind of run.
    Run,
    /// Changes the figure's state panels, no row.
    StateOnly,
    /// A wake-up to check for a stop: a tick.
    Housekeeping,
}

fn role(kind: &EventKind) -> Role {
    match kind {
        // The registry's monitor thread records these for the model: they are the kernel's
        // state (the listening socket and its queue), not a step of any model thread, and a
        // row would give that monitor a lane of its own.
        EventKind::Listen { .. }
        | EventKind::Backlog { .. }
        | EventKind::ThreadStack { .. }
        | EventKind::ThreadSample { .. }
        | EventKind::ClientConnected { .. }
        | EventKind::ClientSent { .. }
        | EventKind::ClientReceived { .. }
        | EventKind::ClientClosed { .. } => Role::StateOnly,
        EventKind::RingExit { timed_out: true, completions: 0 } => Role::Housekeeping,
        EventKind::WouldBlockBurst { .. } | EventKind::WorkDone { .. } => Role::Run,
        _ => Role::Row,
    }
}

fn same_run(a: &EventKind, b: &EventKind) -> bool {
    matches!(
        (a, b),
        (EventKind::WouldBlockBurst { .. }, EventKind::WouldBlockBurst { .. })
            | (EventKind::WorkDone { .. }, EventKind::WorkDone { .. })
    )
}

impl Steps {
    /// Derives the rows from a model's time-ordered events.
    pub fn derive(events: &VecDeque<Rc<Event>>) -> Steps {
        let mut steps = Steps::default();
        for (at, event) in events.iter().enumerate() {
            match role(&event.kind) {
                Role::StateOnly => {}
                Role::Row => steps.list.push(Step::new(at, event)),
                Role::Run => match steps.list.last_mut() {
                    Some(last)
                        if last.event.thread.id == event.thread.id
                            && same_run(&last.event.kind, &event.kind) =>
                    {
                        last.merged += 1;
                        last.at = at;
                        last.event = event.clone();
                        let added = Step::new(at, event).counts;
                        for (name, n) in added {
                            match last.counts.iter_mut().find(|(c, _)| *c == name) {
                                Some((_, total)) => *total += n,
                                None => last.counts.push((name, n)),
                            }
                        }
                    }
                    _ => steps.list.push(Step::new(at, event)),
                },
                Role::Housekeeping => {
                    // A call that submitted nothing and timed out was only a stop check: both
                    // its rows become ticks. One that submitted requests keeps its return.
                    let thread = event.thread.id;
                    let last = steps.list.iter().rposition(|s| s.event.thread.id == thread);
                    let stop_check = last.is_some_and(|i| {
                        matches!(
                            steps.list[i].event.kind,
                            EventKind::RingEnter { submitted: 0, .. }
                        )
                    });
                    match last {
                        Some(i) if stop_check => {
                            let enter = steps.list.remove(i);
                            steps.ticks.push(Tick { t_ns: enter.event.t_ns, thread });
                            steps.ticks.push(Tick { t_ns: event.t_ns, thread });
                        }
                        _ => steps.list.push(Step::new(at, event)),
                    }
                }
            }
        }
        steps.keys = steps.list.iter().map(Step::key).collect();
        steps.times = steps.list.iter().map(|s| s.event.t_ns).collect();
        steps
    }

    /// What playback moves through.
    pub fn track(&self) -> Track<'_> {
        Track { keys: &self.keys, times_ns: &self.times }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kettle_shared::ThreadRef;

    pub(crate) fn ev(seq: u64, t_ns: u64, thread: u32, kind: EventKind) -> Rc<Event> {
        Rc::new(Event {
            seq,
            t_ns,
            model: "m".into(),
            thread: ThreadRef { id: thread, name: format!("t{thread}") },
            conn: Some(1),
            kind,
        })
    }

    #[test]
    fn test_events_are_kept_in_time_order_and_data_arrival_moves_before_the_return() {
        let mut s = ModelStore::default();
        s.extend([
            ev(1, 100, 1, EventKind::RecvEnter { fd: 5, len: 10 }),
            ev(
                2,
                300,
                1,
                EventKind::WaitEnter { api: kettle_shared::WaitApi::Select, watched: vec![5] },
            ),
        ]);
        // Recorded after the call returned, stamped by the kernel before it.
        s.extend([ev(3, 200, 1, EventKind::DataArrived { fd: 5, stamp: None })]);
        let seqs: Vec<u64> = s.events().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 3, 2]);
        assert_eq!(s.steps().list.len(), 3);
    }

    #[test]
    fn test_samples_are_not_kept_and_duplicates_are_ignored() {
        let mut s = ModelStore::default();
        let sample = EventKind::ThreadSample { cpu_ns: 1, conns: 0, syscalls: 0, kernel: None };
        s.extend([ev(1, 1, 1, sample), ev(2, 2, 1, EventKind::AcceptEnter)]);
        s.extend([ev(2, 2, 1, EventKind::AcceptEnter)]);
        assert_eq!(s.events().len(), 1);
        assert_eq!(s.revision(), 1, "nothing new: same revision");
    }

    #[test]
    fn test_store_is_bounded_per_model() {
        let mut s = ModelStore::default();
        s.extend((0..MAX_MODEL_EVENTS as u64 + 7).map(|i| ev(i, i, 1, EventKind::AcceptEnter)));
        assert_eq!(s.events().len(), MAX_MODEL_EVENTS);
        assert_eq!(s.trimmed(), 7);
        assert_eq!(s.events()[0].seq, 7);
    }

    #[test]
    fn test_eagain_bursts_merge_into_one_staircase_row_per_thread() {
        let burst = |seq, call: &str, count| {
            ev(seq, seq * 100, 1, EventKind::WouldBlockBurst { call: call.into(), count })
        };
        let mut s = ModelStore::default();
        s.extend([burst(1, "accept", 10), burst(2, "recv", 20), burst(3, "recv", 30)]);
        s.extend([ev(4, 400, 1, EventKind::RecvEnter { fd: 5, len: 1 }), burst(5, "recv", 1)]);
        let list = &s.steps().list;
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].merged, 3);
        assert_eq!(list[0].count("recv"), 50);
        assert_eq!(list[0].count("accept"), 10);
        assert_eq!((list[0].first_ns, list[0].event.t_ns), (100, 300));
        assert_eq!(list[2].merged, 1, "a burst after another step starts a new row");
    }

    #[test]
    fn test_a_stop_check_wake_up_is_a_tick_not_two_rows() {
        let enter = |submitted| EventKind::RingEnter { submitted, wait_for: 1 };
        let timeout = EventKind::RingExit { completions: 0, timed_out: true };
        let mut s = ModelStore::default();
        s.extend([
            ev(1, 10, 1, enter(0)),
            ev(2, 20, 1, timeout.clone()),
            ev(3, 30, 1, enter(1)),
            ev(4, 40, 1, timeout),
        ]);
        let kinds: Vec<_> = s.steps().list.iter().map(|st| st.event.kind.name()).collect();
        assert_eq!(kinds, ["ring_enter", "ring_exit"], "the call that submitted an SQE stays");
        assert_eq!(s.steps().ticks.len(), 2);
    }
}
