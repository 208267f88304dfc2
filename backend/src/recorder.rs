//! The recorder: how events get from model threads to every viewer without slowing anyone.
//!
//! ```text
//!  model threads ──try_send──▶ [bounded queue] ──pump──▶ batch ──broadcast──▶ viewer 1
//!   (never block;                                (every 25 ms)     (ring;    ─▶ viewer 2
//!    full = drop + count)                                           lag = count)
//! ```
//!
//! Invariants:
//! - A model thread never blocks on recording: [`Tracer::emit`] is a `try_send`. When the
//!   queue is full the event is dropped.
//! - Every event recorded takes the next `seq` (one counter for every model) just before its
//!   `try_send`, so a seq that never reaches a viewer is a lost event, and a hole in the seqs
//!   is the exact count of them. Nothing guesses a drop count: viewers count holes
//!   ([`Position`]) and report them as `Batch::dropped`.
//! - Shipped seqs only increase, across batches too. Two threads can enqueue out of their seq
//!   order, so the pump ([`Sequencer`]) ships an event only once every lower seq had a full
//!   tick to arrive, holding the rest back one tick; an event that still comes after a higher
//!   seq was shipped is dropped (viewers already counted its hole).
//! - Every batch carries `through`, the seq up to which the stream is settled (each event
//!   shipped or lost for good), so a viewer learns of lost events even when nothing is recorded
//!   after them.
//! - Memory is bounded everywhere: the queue holds [`QUEUE_EVENTS`] events, the broadcast ring
//!   [`RING_BATCHES`] batches of at most [`BATCH_EVENTS`], the history [`HISTORY_PER_MODEL`]
//!   events per model. A viewer that reads too slowly skips batches (their seqs are holes to
//!   it, so counted) instead of holding memory.
//! - The history keeps each model's newest steps ([`EventKind::ThreadSample`]s excluded), so
//!   one busy model, or the periodic samples, cannot push another model's steps out.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use kettle_shared::{Event, EventKind, ThreadRef};
use tokio::sync::{broadcast, mpsc};

use crate::clock::clock;

/// Events the model threads can have in flight before new ones are dropped.
pub const QUEUE_EVENTS: usize = 64 * 1024;
/// The most events in one batch: with [`BATCH_INTERVAL`], the most the recorder ships, about
/// 80 000 events a second; beyond that the queue fills and events are dropped (counted).
pub const BATCH_EVENTS: usize = 2048;
/// Batches the broadcast ring keeps for viewers that are behind (~0.4 s at full rate). The
/// ring holds them whoever reads, so this, times [`BATCH_EVENTS`], bounds its memory (~10 MB).
pub const RING_BATCHES: usize = 16;
/// Recent events kept per model so a viewer that connects later sees what each model is doing
/// (for example a thread that has been sitting in `accept` since before the page opened).
pub const HISTORY_PER_MODEL: usize = 256;
/// How often the pump ships a batch.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(25);

/// One shipment to viewers.
#[derive(Debug)]
pub struct Batch {
    /// Events in `seq` order, every one above the previous batch's `through`.
    pub events: Vec<Event>,
    /// Every seq up to this one has now been shipped (in this batch or an earlier one) or is
    /// lost for good. At least the last event's seq.
    pub through: u64,
}

/// Cloneable handle that model threads and the relay record through.
#[derive(Debug, Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Event>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    seq: AtomicU64,
    /// Events lost so far: refused by the full queue, or arriving after a higher seq was
    /// shipped. A diagnostic total; viewers count their own losses from the seqs.
    dropped: AtomicU64,
    next_thread: AtomicU32,
    batches: broadcast::Sender<Arc<Batch>>,
    history: Mutex<History>,
    /// Threads that asked to be sampled ([`Tracer::sampled`]); dead entries are pruned.
    sampled: Mutex<Vec<Weak<ThreadStats>>>,
}

/// Recent events for viewers that connect later.
#[derive(Debug, Default)]
struct History {
    /// The newest [`HISTORY_PER_MODEL`] events of each model (by model id: a fixed few).
    per_model: HashMap<String, VecDeque<Event>>,
    /// The `through` of the last batch remembered here.
    through: u64,
}

/// What one thread counts about itself, read every [`crate::registry::SAMPLE_EVERY`] for
/// [`EventKind::ThreadSample`].
#[derive(Debug)]
pub struct ThreadStats {
    /// The model it belongs to.
    pub model: &'static str,
    /// The thread.
    pub thread: ThreadRef,
    /// The kernel's id for the thread (`gettid`), to read its CPU clock and its
    /// `/proc/self/task/<tid>/` files.
    pub tid: i32,
    syscalls: AtomicU64,
    conns: AtomicU32,
    /// What the sampler remembers of this thread between samples.
    pub sampler: Mutex<SamplerMemory>,
}

/// What the sampler remembers of one thread between samples (only the sampler touches it).
#[derive(Debug, Default)]
pub struct SamplerMemory {
    /// What it last read in `/proc` for the thread.
    pub view: crate::proc_task::LastView,
    /// When it last sent a sample of the thread.
    pub sent_at: Option<std::time::Instant>,
}

impl ThreadStats {
    /// System calls made so far.
    pub fn syscalls(&self) -> u64 {
        self.syscalls.load(Ordering::Relaxed)
    }

    /// Connections held now.
    pub fn conns(&self) -> u32 {
        self.conns.load(Ordering::Relaxed)
    }
}

impl Recorder {
    /// Creates the recorder and starts its pump on the current tokio runtime.
    pub fn start() -> Recorder {
        let (queue, rx) = mpsc::channel(QUEUE_EVENTS);
        let (batches, _) = broadcast::channel(RING_BATCHES);
        let shared = Arc::new(Shared {
            seq: AtomicU64::new(1),
            dropped: AtomicU64::new(0),
            next_thread: AtomicU32::new(1),
            batches,
            history: Mutex::default(),
            sampled: Mutex::default(),
        });
        tokio::spawn(pump(rx, shared.clone()));
        Recorder { queue, shared }
    }

    /// Whether any viewer is subscribed now (samplers slow down when nobody watches).
    pub fn watched(&self) -> bool {
        self.shared.batches.receiver_count() > 0
    }

    /// A new receiver of every batch shipped from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.shared.batches.subscribe()
    }

    /// The recent history — each model's newest events (at most [`HISTORY_PER_MODEL`], no
    /// thread samples), in `seq` order — and the seq through which batches had been shipped
    /// when it was taken, read together. Subscribe first, then call this, and follow the
    /// batches with [`Position::after`] that seq: it skips what the history already covered
    /// and counts every seq lost from there on.
    pub fn history(&self) -> (Vec<Event>, u64) {
        let history = self.shared.history.lock().unwrap_or_else(|p| p.into_inner());
        let mut events: Vec<Event> = history.per_model.values().flatten().cloned().collect();
        events.sort_unstable_by_key(|e| e.seq);
        (events, history.through)
    }

    /// Events the recorder has lost so far (queue full, or too late to ship in order). For
    /// diagnostics: viewers count what they missed from the seqs, which also covers their
    /// own lag.
    pub fn dropped_total(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// True if `tid` is a thread Kettle runs and samples (a model's own thread).
    pub fn is_sampled_tid(&self, tid: i32) -> bool {
        let all = self.shared.sampled.lock().unwrap_or_else(|p| p.into_inner());
        all.iter().filter_map(Weak::upgrade).any(|s| s.tid == tid)
    }

    /// A tracer for a new thread of `model`: gives the thread its small stable id.
    pub fn tracer(&self, model: &'static str, thread_name: impl Into<String>) -> Tracer {
        let id = self.shared.next_thread.fetch_add(1, Ordering::Relaxed);
        let thread = ThreadRef { id, name: thread_name.into() };
        let stats = Arc::new(ThreadStats {
            model,
            thread: thread.clone(),
            tid: 0,
            syscalls: AtomicU64::new(0),
            conns: AtomicU32::new(0),
            sampler: Mutex::default(),
        });
        Tracer { recorder: self.clone(), model, thread, stats }
    }

    /// The live sampled threads of `model`.
    pub fn sampled_threads(&self, model: &str) -> Vec<Arc<ThreadStats>> {
        let mut all = self.shared.sampled.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|w| w.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).filter(|s| s.model == model).collect()
    }

    /// Records an event on behalf of another thread (for example its periodic sample).
    pub fn emit_for(&self, stats: &ThreadStats, conn: Option<u64>, kind: EventKind) {
        self.record(stats.model, &stats.thread, clock().now_ns(), conn, kind);
    }

    fn record(
        &self,
        model: &'static str,
        thread: &ThreadRef,
        t_ns: u64,
        conn: Option<u64>,
        kind: EventKind,
    ) {
        let seq = self.shared.seq.fetch_add(1, Ordering::Relaxed);
        let event =
            Event { seq, t_ns, model: model.to_owned(), thread: thread.clone(), conn, kind };
        if self.queue.try_send(event).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What one thread records through. Owned by that thread; cheap to clone for a helper.
///
/// It also counts the thread's system calls for the periodic [`EventKind::ThreadSample`]:
/// every `accept_enter`, `recv_enter`, `send_enter`, `wait_enter` and `close` it records is
/// one call; calls not recorded one by one (an `EAGAIN` storm) are added with
/// [`Tracer::count_syscalls`].
#[derive(Debug, Clone)]
pub struct Tracer {
    recorder: Recorder,
    model: &'static str,
    thread: ThreadRef,
    stats: Arc<ThreadStats>,
}

impl Tracer {
    /// Records `kind` now.
    pub fn emit(&self, conn: Option<u64>, kind: EventKind) {
        self.emit_at(clock().now_ns(), conn, kind);
    }

    /// Records `kind` at an instant measured elsewhere (a kernel timestamp, a syscall's entry).
    pub fn emit_at(&self, t_ns: u64, conn: Option<u64>, kind: EventKind) {
        if matches!(
            kind,
            EventKind::AcceptEnter
                | EventKind::RecvEnter { .. }
                | EventKind::SendEnter { .. }
                | EventKind::WaitEnter { .. }
                | EventKind::Close { .. }
        ) {
            self.count_syscalls(1);
        }
        self.recorder.record(self.model, &self.thread, t_ns, conn, kind);
    }

    /// Adds system calls that were made but not recorded one by one.
    pub fn count_syscalls(&self, n: u64) {
        self.stats.syscalls.fetch_add(n, Ordering::Relaxed);
    }

    /// How many connections this thread holds now.
    pub fn set_conns(&self, n: u32) {
        self.stats.conns.store(n, Ordering::Relaxed);
    }

    /// The same tracer, sampled every [`crate::registry::SAMPLE_EVERY`] (CPU time, connections,
    /// system calls, the kernel's view). Call it on
    /// the thread being traced: it reads that thread's kernel id.
    pub fn sampled(mut self) -> Tracer {
        let stats = ThreadStats {
            model: self.model,
            thread: self.thread.clone(),
            tid: nix::unistd::gettid().as_raw(),
            syscalls: AtomicU64::new(self.stats.syscalls()),
            conns: AtomicU32::new(self.stats.conns()),
            sampler: Mutex::default(),
        };
        self.stats = Arc::new(stats);
        let mut all = self.recorder.shared.sampled.lock().unwrap_or_else(|p| p.into_inner());
        all.push(Arc::downgrade(&self.stats));
        drop(all);
        self
    }

    /// The thread this tracer records for.
    pub fn thread(&self) -> &ThreadRef {
        &self.thread
    }
}

async fn pump(mut rx: mpsc::Receiver<Event>, shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(BATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sequencer = Sequencer::default();
    // The last seq taken before the previous tick began.
    let mut taken_before = 0;
    loop {
        tick.tick().await;
        let taken_now = shared.seq.load(Ordering::Acquire) - 1;
        // A full tick's worth whatever is held back: under overload (a backlog with holes where
        // the queue refused events) nearly every tick holds most of what it took, and shipping
        // that next to a full new intake keeps the rate at BATCH_EVENTS per tick.
        let mut incoming = Vec::with_capacity(BATCH_EVENTS);
        let mut emptied = false;
        while incoming.len() < BATCH_EVENTS {
            match rx.try_recv() {
                Ok(e) => incoming.push(e),
                Err(mpsc::error::TryRecvError::Empty) => {
                    emptied = true;
                    break;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    // Every recorder is gone; ship what is left, then stop.
                    if incoming.is_empty() && sequencer.held.is_empty() {
                        return;
                    }
                    emptied = true;
                    break;
                }
            }
        }
        // Seqs taken before the previous tick had a whole tick to be enqueued; with the queue
        // now empty, each of them has been received or was refused: settled.
        let settled = if emptied { taken_before } else { 0 };
        taken_before = taken_now;
        let (late_before, through_before) = (sequencer.late, sequencer.through);
        let mut events = sequencer.tick(incoming, settled);
        shared.dropped.fetch_add(sequencer.late - late_before, Ordering::Relaxed);
        if events.is_empty() && sequencer.through == through_before {
            continue;
        }
        // At most BATCH_EVENTS per batch (what was held back and the new intake can make up to
        // twice that). Every seq below a shipped one is shipped or lost, so a batch that is not
        // the tick's last is settled through its own last event.
        while events.len() > BATCH_EVENTS {
            let rest = events.split_off(BATCH_EVENTS);
            let through = events.last().map_or(0, |e| e.seq);
            ship(&shared, Batch { events, through });
            events = rest;
        }
        ship(&shared, Batch { events, through: sequencer.through });
    }
}

fn ship(shared: &Shared, batch: Batch) {
    let batch = Arc::new(batch);
    // Remembered before it is sent: a viewer subscribes, then reads the history; whichever
    // side of this line it reads on, it gets this batch from one or the other (or both, and
    // then `Position` skips the repeat).
    remember(shared, &batch);
    // No receivers is fine: nobody is watching, the batch is simply not kept.
    let _ = shared.batches.send(batch);
}

/// Puts events back in `seq` order across batches.
///
/// Threads take their seq just before they enqueue, so two threads racing can enqueue out of
/// order, and the lower seq may come a tick later than the higher one. If the higher one were
/// shipped first, viewers would count the lower one as lost and then receive it too. So each
/// tick ships every event up to `cut` — the highest seq received by the previous tick: every
/// lower seq has had a whole tick to arrive, or was refused by the full queue (a real loss) —
/// and the unbroken run of seqs after it; what follows a hole is held for one tick. An event
/// that arrives even later than that is dropped and counted in `late`.
#[derive(Debug, Default)]
struct Sequencer {
    /// Received, not shipped yet.
    held: Vec<Event>,
    /// The highest seq received in the ticks so far.
    received_max: u64,
    /// Every seq up to this one has been shipped or is lost.
    through: u64,
    /// Events dropped for arriving after a higher seq was shipped.
    late: u64,
}

impl Sequencer {
    /// One tick: takes the events received since the last one and returns those to ship, in
    /// order. `settled` is a seq known to be settled by the caller — every event up to it has
    /// been received or was refused — or 0.
    fn tick(&mut self, incoming: Vec<Event>, settled: u64) -> Vec<Event> {
        let cut = self.received_max.max(settled);
        self.received_max = incoming.iter().map(|e| e.seq).fold(self.received_max, u64::max);
        let mut pending = std::mem::take(&mut self.held);
        pending.extend(incoming);
        let before = pending.len();
        pending.retain(|e| e.seq > self.through);
        self.late += (before - pending.len()) as u64;
        pending.sort_unstable_by_key(|e| e.seq);
        self.through = self.through.max(cut);
        let mut ship = Vec::with_capacity(pending.len());
        for e in pending {
            if e.seq <= cut || e.seq == self.through + 1 {
                self.through = self.through.max(e.seq);
                ship.push(e);
            } else {
                self.held.push(e);
            }
        }
        ship
    }
}

/// Keeps each model's newest [`HISTORY_PER_MODEL`] events, thread samples excluded (they are
/// many, and a late viewer needs the steps, not old measurements).
fn remember(shared: &Shared, batch: &Batch) {
    // Only a model's last HISTORY_PER_MODEL events of this batch can stay: find them from the
    // end, so a large batch costs no clones of events that would be pushed out at once.
    let mut taken: HashMap<&str, usize> = HashMap::new();
    let mut keep: Vec<&Event> = Vec::new();
    for e in batch.events.iter().rev() {
        if matches!(e.kind, EventKind::ThreadSample { .. }) {
            continue;
        }
        let n = taken.entry(e.model.as_str()).or_default();
        if *n < HISTORY_PER_MODEL {
            *n += 1;
            keep.push(e);
        }
    }
    let mut history = shared.history.lock().unwrap_or_else(|p| p.into_inner());
    for e in keep.into_iter().rev() {
        let kept = match history.per_model.get_mut(&e.model) {
            Some(kept) => kept,
            None => history.per_model.entry(e.model.clone()).or_default(),
        };
        if kept.len() == HISTORY_PER_MODEL {
            kept.pop_front();
        }
        kept.push_back(e.clone());
    }
    history.through = batch.through;
}

/// Where one viewer is in the stream of batches: counts the seqs it never got.
///
/// It sees every batch it receives whole, before any subscription filter, so a hole is a hole
/// whichever model the lost events belonged to; batches it skipped because it lagged are holes
/// like any other. Start it with [`Position::after`] the seq [`Recorder::history`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The next seq expected.
    next: u64,
}

impl Position {
    /// A viewer that has everything up to `through` (nothing when 0).
    pub fn after(through: u64) -> Position {
        Position { next: through + 1 }
    }

    /// Takes one batch: its events this viewer has not had yet (those the history already
    /// gave are skipped), and how many seqs were lost since the last batch taken.
    pub fn take<'a>(&mut self, batch: &'a Batch) -> (&'a [Event], u64) {
        let start = batch.events.partition_point(|e| e.seq < self.next);
        let fresh = &batch.events[start..];
        let mut lost = 0;
        for e in fresh {
            lost += e.seq - self.next;
            self.next = e.seq + 1;
        }
        if batch.through >= self.next {
            lost += batch.through + 1 - self.next;
            self.next = batch.through + 1;
        }
        (fresh, lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_recorder_is_watched_exactly_while_a_viewer_is_subscribed() {
        let recorder = Recorder::start();
        assert!(!recorder.watched(), "nobody yet: samplers may slow down");
        let viewer = recorder.subscribe();
        assert!(recorder.watched());
        drop(viewer);
        assert!(!recorder.watched());
    }

    /// Batches until one is settled through `seq`, with every event in them.
    async fn batches_through(
        rx: &mut broadcast::Receiver<Arc<Batch>>,
        seq: u64,
    ) -> Vec<Arc<Batch>> {
        let mut got = Vec::new();
        while got.last().is_none_or(|b: &Arc<Batch>| b.through < seq) {
            let batch = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("a batch within 10 s")
                .expect("no lag");
            got.push(batch);
        }
        got
    }

    fn event(seq: u64, model: &str) -> Event {
        Event {
            seq,
            t_ns: seq,
            model: model.to_owned(),
            thread: ThreadRef { id: 1, name: "t".into() },
            conn: None,
            kind: EventKind::AcceptEnter,
        }
    }

    fn seqs(events: &[Event]) -> Vec<u64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[tokio::test]
    async fn events_reach_a_subscriber_in_seq_order() {
        let rec = Recorder::start();
        let mut rx = rec.subscribe();
        let t = rec.tracer("blocking", "test");
        for _ in 0..10 {
            t.emit(None, EventKind::AcceptEnter);
        }
        let events: Vec<Event> =
            batches_through(&mut rx, 10).await.iter().flat_map(|b| b.events.clone()).collect();
        assert_eq!(seqs(&events), (1..=10).collect::<Vec<_>>());
        assert_eq!(events[0].thread.name, "test");
    }

    #[test]
    fn the_pump_ships_in_order_and_holds_what_follows_a_hole_for_one_tick() {
        let mut s = Sequencer::default();
        // 1, 2 and 4 came; 3 was taken but is not there yet. 1 and 2 run unbroken: shipped.
        assert_eq!(seqs(&s.tick(vec![event(2, "a"), event(4, "a"), event(1, "a")], 0)), [1, 2]);
        assert_eq!(s.through, 2);
        // 3 comes a tick later, after 5: all go out in order.
        assert_eq!(seqs(&s.tick(vec![event(5, "a"), event(3, "a")], 0)), [3, 4, 5]);
        // 6 never comes (the full queue refused it). 7 waits one tick, then goes out over the
        // hole, which is settled: viewers count 6 as lost.
        assert_eq!(seqs(&s.tick(vec![event(7, "a")], 0)), Vec::<u64>::new());
        assert_eq!(s.through, 5);
        assert_eq!(seqs(&s.tick(vec![], 0)), [7]);
        assert_eq!(s.through, 7);
        // 6 after all: too late, 7 is out. Dropped and counted, never shipped out of order.
        assert_eq!(seqs(&s.tick(vec![event(6, "a"), event(8, "a")], 0)), [8]);
        assert_eq!(s.late, 1);
        // Lost events at the end of the stream: settled by the caller, they move `through`.
        assert_eq!(seqs(&s.tick(vec![], 12)), Vec::<u64>::new());
        assert_eq!(s.through, 12);
    }

    // Multi-threaded: the pump must ship while the test's own thread waits for the flood.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_viewer_that_stops_reading_counts_exactly_the_events_it_missed() {
        let rec = Recorder::start();
        let mut rx = rec.subscribe();
        let (history, through) = rec.history();
        assert!(history.is_empty());
        let mut position = Position::after(through);
        let t = rec.tracer("blocking", "flood");
        // While the viewer does not read, far more batches are shipped than the ring keeps
        // (one every other tick or so, even if a busy machine delays the pump a lot).
        let total = RING_BATCHES as u64 * 3 * 100;
        let flood = std::thread::spawn(move || {
            for i in 0..total {
                t.emit(None, EventKind::AcceptEnter);
                if i % 100 == 99 {
                    std::thread::sleep(BATCH_INTERVAL * 2);
                }
            }
        });
        flood.join().unwrap();
        let (mut received, mut lost, mut lagged) = (0, 0, false);
        while received + lost < total {
            let batch = match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Ok(batch)) => batch,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    lagged = true;
                    continue;
                }
                other => panic!("{other:?} after {received} received, {lost} lost"),
            };
            let (fresh, missed) = position.take(&batch);
            received += fresh.len() as u64;
            lost += missed;
        }
        assert!(lagged, "the viewer was meant to fall behind");
        assert!(lost > 0 && received > 0, "{received} received, {lost} lost");
        assert_eq!(received + lost, total, "every seq is either received or counted lost");
    }

    #[tokio::test]
    async fn history_keeps_each_models_newest_steps_when_another_model_floods() {
        let rec = Recorder::start();
        let mut rx = rec.subscribe();
        let quiet = rec.tracer("blocking", "quiet");
        quiet.emit(None, EventKind::AcceptEnter);
        quiet.emit(None, EventKind::ThreadSpawned);
        let busy = rec.tracer("epoll", "busy");
        let flood = (HISTORY_PER_MODEL * 4) as u64;
        for _ in 0..flood {
            busy.emit(None, EventKind::AcceptEnter);
        }
        // Thread samples are not steps: they never take a place in the history.
        rec.emit_for(
            &quiet.stats,
            None,
            EventKind::ThreadSample { cpu_ns: 1, conns: 0, syscalls: 1, kernel: None },
        );
        let last = flood + 3;
        batches_through(&mut rx, last).await;
        let (history, through) = rec.history();
        assert_eq!(through, last);
        let quiet_steps: Vec<_> = history.iter().filter(|e| e.model == "blocking").collect();
        assert_eq!(quiet_steps.len(), 2, "the quiet model's steps were pushed out");
        let busy_steps: Vec<_> = history.iter().filter(|e| e.model == "epoll").collect();
        assert_eq!(busy_steps.len(), HISTORY_PER_MODEL);
        assert_eq!(busy_steps.last().unwrap().seq, flood + 2, "the newest are kept");
        assert!(history.iter().all(|e| e.kind.name() != "thread_sample"));
        assert!(history.windows(2).all(|w| w[0].seq < w[1].seq), "shipped in seq order");
    }

    #[tokio::test]
    async fn a_late_viewer_skips_what_the_history_gave_and_counts_from_there() {
        let rec = Recorder::start();
        let mut early = rec.subscribe();
        let t = rec.tracer("blocking", "test");
        for _ in 0..5 {
            t.emit(None, EventKind::AcceptEnter);
        }
        batches_through(&mut early, 5).await;
        let mut late = rec.subscribe();
        let (history, through) = rec.history();
        assert_eq!((seqs(&history), through), ((1..=5).collect(), 5));
        let mut position = Position::after(through);
        for _ in 0..3 {
            t.emit(None, EventKind::AcceptEnter);
        }
        let mut fresh_seqs = Vec::new();
        for batch in batches_through(&mut late, 8).await {
            let (fresh, lost) = position.take(&batch);
            assert_eq!(lost, 0);
            fresh_seqs.extend(seqs(fresh));
        }
        assert_eq!(fresh_seqs, [6, 7, 8]);
    }

    #[test]
    fn a_position_counts_holes_between_and_after_the_events_of_a_batch() {
        let mut p = Position::after(2);
        let batch = Batch { events: vec![event(1, "a"), event(4, "a"), event(5, "a")], through: 8 };
        let (fresh, lost) = p.take(&batch);
        // 1 was in the history; 3 is a hole, and so are 6, 7 and 8, settled without events.
        assert_eq!((seqs(fresh), lost), (vec![4, 5], 4));
        let batch = Batch { events: vec![event(11, "b")], through: 11 };
        let (fresh, lost) = p.take(&batch);
        assert_eq!((seqs(fresh), lost), (vec![11], 2));
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let rec = Recorder::start();
        let t = rec.tracer("blocking", "flood");
        // Emitting from a plain thread must finish even though nothing drains fast enough.
        let flood = std::thread::spawn(move || {
            for _ in 0..(QUEUE_EVENTS * 3) {
                t.emit(None, EventKind::AcceptEnter);
            }
        });
        flood.join().unwrap();
        assert!(rec.dropped_total() > 0, "expected drops after {} events", QUEUE_EVENTS * 3);
    }

    #[tokio::test]
    async fn events_refused_by_a_full_queue_are_holes_a_viewer_counts_even_with_nothing_after() {
        let rec = Recorder::start();
        let mut rx = rec.subscribe();
        let mut position = Position::after(rec.history().1);
        let t = rec.tracer("blocking", "flood");
        let total = (QUEUE_EVENTS * 2) as u64;
        std::thread::spawn(move || {
            for _ in 0..total {
                t.emit(None, EventKind::AcceptEnter);
            }
        })
        .join()
        .unwrap();
        let (mut received, mut lost) = (0, 0);
        while received + lost < total {
            let batch = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("a batch within 10 s")
                .expect("this test reads fast enough not to lag");
            let (fresh, missed) = position.take(&batch);
            received += fresh.len() as u64;
            lost += missed;
        }
        assert_eq!(received + lost, total);
        assert!(lost >= total - QUEUE_EVENTS as u64, "{lost} lost");
        assert_eq!(lost, rec.dropped_total());
    }
}
