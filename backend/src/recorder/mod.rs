//! The recorder: how events get from model threads to every viewer without slowing anyone.
//!
//! ```text
//!                  ┌─ count (always: atomics per model) ──────────────▶ Tally ──cut every 100 ms──▶ Aggregates
//!  model thread ───┤                                                                     (to viewers who asked)
//!   (Tracer)       └─ detail? ──try_send──▶ [bounded queue] ──pump──▶ batches ──broadcast──▶ viewer 1
//!                     (quiet model, followed    (full = drop,    (every 25 ms,   (ring; lag   ─▶ viewer 2
//!                      connection, lifecycle)    counted)         in seq order)   = counted)
//! ```
//!
//! ## Under load: counted always, detail where a viewer looks
//!
//! Every event a model records is *counted* on the thread that records it ([`aggregate`]: a
//! few relaxed atomic additions in the model's counter block, no allocation, no lock). It is
//! *sent in detail* — queued, shipped in a batch, kept in the history — only if the model is
//! quiet (fewer than [`DETAIL_BUDGET_PER_S`] events a second in the last interval, decided by
//! the pump and read by the thread from an atomic), or it is a thread or lifecycle event, or
//! it concerns a connection somebody follows: an echo client's, or one spotlit by a viewer
//! ([`spotlight`]). Every [`AGGREGATE_EVERY_MS`] the pump cuts each model's counts into an
//! [`Aggregate`] and sends them to the viewers subscribed to that model's aggregates (built
//! only if somebody subscribed). A quiet model is sent in detail even while nobody watches:
//! it costs little, and a viewer who comes later gets its recent steps as history (the
//! thread that has been sitting in `accept` since before the page opened).
//!
//! The queue carries a [`Record`] — the model as a `&'static str`, the thread as a shared
//! `Arc<ThreadRef>` — so recording allocates no strings; the pump builds the wire's
//! [`Event`]s.
//!
//! ## Invariants
//!
//! - A model thread never blocks on recording: [`Tracer::emit`] is a `try_send`. When the
//!   queue is full the event is dropped.
//! - Every event sent in detail takes the next `seq` (one counter for every model) just before
//!   its `try_send`, so a seq that never reaches a viewer is a lost event, and a hole in the
//!   seqs is the exact count of them. Nothing guesses a drop count: viewers count holes
//!   ([`Position`]) and report them as `Batch::dropped`. (An event only counted takes no seq:
//!   it was never meant to be sent, and the aggregates count it.)
//! - Shipped seqs only increase, across batches too ([`sequencer`]): an event that comes after
//!   a higher seq was shipped is dropped (viewers already counted its hole).
//! - Every batch carries `through`, the seq up to which the stream is settled (each event
//!   shipped or lost for good), so a viewer learns of lost events even when nothing is recorded
//!   after them.
//! - Memory is bounded everywhere: the queue holds [`QUEUE_EVENTS`] events (each tick drains at
//!   most that), the broadcast ring [`RING_BATCHES`] batches of at most [`BATCH_EVENTS`], the
//!   history [`HISTORY_PER_MODEL`] events per model, each thread at most a few held steps. A
//!   viewer that reads too slowly skips batches (their seqs are holes to it, so counted)
//!   instead of holding memory.
//! - The history keeps each model's newest steps sent in detail ([`EventKind::ThreadSample`]s
//!   excluded), so one busy model, or the periodic samples, cannot push another model's steps
//!   out.

pub mod aggregate;
pub mod sampling;
pub mod sequencer;
pub mod spotlight;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use kettle_shared::{
    Aggregate, Event, EventKind, ThreadRef, AGGREGATE_EVERY_MS, DETAIL_BUDGET_PER_S, MODELS,
};
use tokio::sync::{broadcast, mpsc};

use crate::clock::clock;
use aggregate::{Span, Tally};
use sampling::ThreadStats;
use sequencer::Sequencer;
use spotlight::{Decision, Follow, Held};

/// Events the model threads can have in flight before new ones are dropped.
pub const QUEUE_EVENTS: usize = 64 * 1024;
/// The most events the pump takes from the queue in one tick: with [`BATCH_INTERVAL`], about
/// 1.3 million events a second, beyond which the queue fills and events are dropped (counted).
/// What a tick takes is all in memory at once (as records, then as events in the ring), so
/// this bounds the pump's own memory too.
pub const TICK_EVENTS: usize = 16 * BATCH_EVENTS;
/// The most events in one batch (a tick ships everything the queue holds, in batches of this).
pub const BATCH_EVENTS: usize = 2048;
/// Batches the broadcast ring keeps for viewers that are behind (at a million events a second,
/// about 65 ms). The ring holds them whoever reads, so this, times [`BATCH_EVENTS`], bounds its
/// memory (~16 MB at 250 bytes an event).
pub const RING_BATCHES: usize = 16;
/// Recent events kept per model so a viewer that connects later sees what each model is doing
/// (for example a thread that has been sitting in `accept` since before the page opened).
pub const HISTORY_PER_MODEL: usize = 256;
/// How often the pump ships a batch.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(25);
/// Aggregate messages the ring keeps for a viewer that is behind.
const RING_AGGREGATES: usize = 16;

/// One shipment to viewers.
#[derive(Debug)]
pub struct Batch {
    /// Events in `seq` order, every one above the previous batch's `through`.
    pub events: Vec<Event>,
    /// Every seq up to this one has now been shipped (in this batch or an earlier one) or is
    /// lost for good. At least the last event's seq.
    pub through: u64,
}

/// Which events are sent in detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// A quiet model's every event; a crowded model's followed connections and lifecycle
    /// only (`kettle serve`).
    WhereWatched,
    /// Every event (a `process-per-conn` child: its parent decides what to send on; tests of
    /// the recorder's own drop counting).
    Everything,
}

/// An event as the model thread recorded it, before it has the wire's owned strings.
#[derive(Debug)]
pub struct Record {
    seq: u64,
    t_ns: u64,
    model: &'static str,
    thread: Arc<ThreadRef>,
    conn: Option<u64>,
    kind: EventKind,
}

impl Record {
    fn into_event(self) -> Event {
        let thread = ThreadRef::clone(&self.thread);
        Event {
            seq: self.seq,
            t_ns: self.t_ns,
            model: self.model.to_owned(),
            thread,
            conn: self.conn,
            kind: self.kind,
        }
    }
}

/// What the recorder keeps per model: its counts, who follows which of its connections, and
/// whether it is crowded now.
#[derive(Debug)]
pub struct Ledger {
    model: &'static str,
    tally: Tally,
    follow: Follow,
    /// Over its detail budget in the last interval: only followed connections are sent.
    crowded: AtomicBool,
    /// Viewers subscribed to this model's aggregates by name.
    aggregate_viewers: AtomicU32,
    /// How many connections each viewer spotlit (the most of them are followed).
    samples: Mutex<HashMap<u64, u32>>,
}

impl Ledger {
    fn new(model: &'static str) -> Ledger {
        Ledger {
            model,
            tally: Tally::default(),
            follow: Follow::default(),
            crowded: AtomicBool::new(false),
            aggregate_viewers: AtomicU32::new(0),
            samples: Mutex::default(),
        }
    }

    fn respotlight(&self) {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        self.follow.set_sample(samples.values().copied().max().unwrap_or(0));
    }
}

/// Cloneable handle that model threads and the relay record through.
#[derive(Debug, Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Record>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    detail: Detail,
    seq: AtomicU64,
    /// Events lost so far: refused by the full queue, or arriving after a higher seq was
    /// shipped. A diagnostic total; viewers count their own losses from the seqs.
    dropped: AtomicU64,
    next_thread: AtomicU32,
    batches: broadcast::Sender<Arc<Batch>>,
    aggregates: broadcast::Sender<Arc<[Aggregate]>>,
    history: Mutex<History>,
    /// Threads that asked to be sampled ([`Tracer::sampled`]); dead entries are pruned.
    sampled: Mutex<Vec<Weak<ThreadStats>>>,
    /// One per model that has recorded or been watched (a fixed few).
    ledgers: Mutex<Vec<Arc<Ledger>>>,
    /// Viewers subscribed to every model's aggregates.
    all_aggregates: AtomicU32,
    next_watcher: AtomicU64,
}

/// Recent events for viewers that connect later.
#[derive(Debug, Default)]
struct History {
    /// The newest [`HISTORY_PER_MODEL`] events of each model (by model id: a fixed few).
    per_model: HashMap<String, VecDeque<Event>>,
    /// The `through` of the last batch remembered here.
    through: u64,
}

impl Recorder {
    /// Creates the recorder — detail where watched — and starts its pump on the current tokio
    /// runtime.
    pub fn start() -> Recorder {
        Recorder::start_with(Detail::WhereWatched)
    }

    /// Creates the recorder sending `detail`, and starts its pump.
    pub fn start_with(detail: Detail) -> Recorder {
        let (queue, rx) = mpsc::channel(QUEUE_EVENTS);
        let (batches, _) = broadcast::channel(RING_BATCHES);
        let (aggregates, _) = broadcast::channel(RING_AGGREGATES);
        let ledgers = MODELS.iter().map(|m| Arc::new(Ledger::new(m.id))).collect();
        let shared = Arc::new(Shared {
            detail,
            seq: AtomicU64::new(1),
            dropped: AtomicU64::new(0),
            next_thread: AtomicU32::new(1),
            batches,
            aggregates,
            history: Mutex::default(),
            sampled: Mutex::default(),
            ledgers: Mutex::new(ledgers),
            all_aggregates: AtomicU32::new(0),
            next_watcher: AtomicU64::new(1),
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

    /// A new receiver of the aggregates cut from now on: every [`AGGREGATE_EVERY_MS`], those of
    /// the models some [`Watcher`] asked for.
    pub fn subscribe_aggregates(&self) -> broadcast::Receiver<Arc<[Aggregate]>> {
        self.shared.aggregates.subscribe()
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

    /// True while `model` is crowded: over its detail budget in the last interval, so only
    /// followed connections and lifecycle events are sent in detail.
    pub fn crowded(&self, model: &'static str) -> bool {
        self.ledger(model).crowded.load(Ordering::Relaxed)
    }

    /// The model's ledger, made on first use.
    fn ledger(&self, model: &'static str) -> Arc<Ledger> {
        let mut ledgers = self.shared.ledgers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = ledgers.iter().find(|l| l.model == model) {
            return l.clone();
        }
        let ledger = Arc::new(Ledger::new(model));
        ledgers.push(ledger.clone());
        ledger
    }

    /// A tracer for a new thread of `model`: gives the thread its small stable id.
    pub fn tracer(&self, model: &'static str, thread_name: impl Into<String>) -> Tracer {
        let id = self.shared.next_thread.fetch_add(1, Ordering::Relaxed);
        let thread = Arc::new(ThreadRef { id, name: thread_name.into() });
        let stats = Arc::new(ThreadStats::new(model, thread.clone(), 0));
        Tracer {
            recorder: self.clone(),
            model,
            thread,
            stats,
            ledger: self.ledger(model),
            held: Arc::default(),
        }
    }

    /// The live sampled threads of `model`.
    pub fn sampled_threads(&self, model: &str) -> Vec<Arc<ThreadStats>> {
        let mut all = self.shared.sampled.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|w| w.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).filter(|s| s.model == model).collect()
    }

    /// Records an event on behalf of another thread (for example its periodic sample).
    pub fn emit_for(&self, stats: &ThreadStats, conn: Option<u64>, kind: EventKind) {
        let ledger = self.ledger(stats.model);
        ledger.tally.count(&kind);
        let record = Record {
            seq: 0,
            t_ns: clock().now_ns(),
            model: stats.model,
            thread: stats.thread.clone(),
            conn,
            kind,
        };
        self.enqueue(&ledger, record);
    }

    /// Sends one record in detail: its seq, then the queue.
    fn enqueue(&self, ledger: &Ledger, mut record: Record) {
        record.seq = self.shared.seq.fetch_add(1, Ordering::Relaxed);
        if self.queue.try_send(record).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            ledger.tally.count_detailed();
        }
    }

    /// Follows the connection of `model` whose accept reports `peer` (a browser echo client's
    /// local address), for as long as the returned guard lives. Call it before connecting.
    pub fn follow_peer(&self, model: &'static str, peer: String) -> FollowedPeer {
        let ledger = self.ledger(model);
        ledger.follow.watch_peer(peer.clone());
        FollowedPeer { ledger, peer }
    }

    /// What one viewer asks of the recorder: aggregates (every model's, at first) and
    /// spotlights. Dropping it withdraws both.
    pub fn watcher(&self) -> Watcher {
        self.shared.all_aggregates.fetch_add(1, Ordering::Relaxed);
        Watcher {
            recorder: self.clone(),
            id: self.shared.next_watcher.fetch_add(1, Ordering::Relaxed),
            aggregates: None,
            spotlit: Vec::new(),
        }
    }
}

/// A browser echo client's peer address, watched for while the guard lives.
#[derive(Debug)]
pub struct FollowedPeer {
    ledger: Arc<Ledger>,
    peer: String,
}

impl Drop for FollowedPeer {
    fn drop(&mut self) {
        self.ledger.follow.unwatch_peer(&self.peer);
    }
}

/// One viewer's standing requests: whose aggregates it receives, which models it spotlit.
#[derive(Debug)]
pub struct Watcher {
    recorder: Recorder,
    id: u64,
    /// `None`: every model's.
    aggregates: Option<Vec<Arc<Ledger>>>,
    spotlit: Vec<Arc<Ledger>>,
}

impl Watcher {
    fn release_aggregates(&mut self) {
        match self.aggregates.take() {
            None => {
                self.recorder.shared.all_aggregates.fetch_sub(1, Ordering::Relaxed);
            }
            Some(ledgers) => {
                for l in ledgers {
                    l.aggregate_viewers.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Receive the aggregates of these models (`None`: of every model). Ids must be valid
    /// model ids (checked by the caller).
    pub fn set_aggregates(&mut self, models: Option<&[String]>) {
        self.release_aggregates();
        self.aggregates = match models {
            None => {
                self.recorder.shared.all_aggregates.fetch_add(1, Ordering::Relaxed);
                None
            }
            Some(ids) => {
                let ledgers: Vec<_> = ids
                    .iter()
                    .filter_map(|id| id.parse::<kettle_shared::ModelId>().ok())
                    .map(|m| self.recorder.ledger(m.id()))
                    .collect();
                for l in &ledgers {
                    l.aggregate_viewers.fetch_add(1, Ordering::Relaxed);
                }
                Some(ledgers)
            }
        };
    }

    /// True if this viewer asked for `model`'s aggregates.
    pub fn wants_aggregates_of(&self, model: &str) -> bool {
        self.aggregates.as_ref().is_none_or(|ls| ls.iter().any(|l| l.model == model))
    }

    /// Follow `sample` of the model's connections for this viewer (0 stops). Each model
    /// follows the most any of its viewers asked for: every viewer of its steps sees them.
    pub fn spotlight(&mut self, model: &'static str, sample: u32) {
        let ledger = self.recorder.ledger(model);
        {
            let mut samples = ledger.samples.lock().unwrap_or_else(|p| p.into_inner());
            if sample == 0 {
                samples.remove(&self.id);
            } else {
                samples.insert(self.id, sample);
            }
        }
        ledger.respotlight();
        if !self.spotlit.iter().any(|l| Arc::ptr_eq(l, &ledger)) {
            self.spotlit.push(ledger);
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.release_aggregates();
        for ledger in std::mem::take(&mut self.spotlit) {
            ledger.samples.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
            ledger.respotlight();
        }
    }
}

/// When an event happened: now (read only if the event is kept), or at an instant measured
/// elsewhere.
#[derive(Debug, Clone, Copy)]
enum When {
    Now,
    At(u64),
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
    thread: Arc<ThreadRef>,
    stats: Arc<ThreadStats>,
    ledger: Arc<Ledger>,
    /// Steps held until the thread knows whose story they are ([`spotlight`]).
    held: Arc<Mutex<Held>>,
}

impl Tracer {
    /// Records `kind` now.
    pub fn emit(&self, conn: Option<u64>, kind: EventKind) {
        self.record(When::Now, conn, kind);
    }

    /// Records `kind` at an instant measured elsewhere (a kernel timestamp, a syscall's entry):
    /// counts it, and sends it in detail if somebody may look (see the module's docs).
    pub fn emit_at(&self, t_ns: u64, conn: Option<u64>, kind: EventKind) {
        self.record(When::At(t_ns), conn, kind);
    }

    /// Counts `kind` and, if it goes out in detail or is held for that, stamps and keeps it.
    /// The clock is read only then: an event that is only counted (a crowded model's call on
    /// a connection nobody follows) costs no `clock_gettime`, which is most of what counting
    /// would otherwise cost (~50 ns of ~70 on this machine's VM).
    fn record(&self, when: When, conn: Option<u64>, kind: EventKind) {
        crate::fault::check_model_panic(self.model);
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
        let ledger = &*self.ledger;
        ledger.tally.count(&kind);
        if matches!(kind, EventKind::Listen { .. } | EventKind::Stopped { .. }) {
            ledger.follow.forget_connections();
        }
        let record = |kind| Record {
            seq: 0,
            t_ns: match when {
                When::Now => clock().now_ns(),
                When::At(t_ns) => t_ns,
            },
            model: self.model,
            thread: self.thread.clone(),
            conn,
            kind,
        };
        if !ledger.crowded.load(Ordering::Relaxed) {
            // Quiet: every step is sent. A return whose call was held while the model was
            // crowded brings that call along.
            if matches!(
                kind,
                EventKind::WaitReturned { .. }
                    | EventKind::AcceptExit { .. }
                    | EventKind::RingExit { .. }
                    | EventKind::Complete { .. }
            ) {
                self.send_held();
            }
            ledger.follow.note_quiet(conn, &kind);
            self.recorder.enqueue(ledger, record(kind));
            return;
        }
        if spotlight::always_sent(&kind) {
            self.recorder.enqueue(ledger, record(kind));
            return;
        }
        match ledger.follow.decide(conn, &kind) {
            Decision::Send => {
                self.send_held();
                self.recorder.enqueue(ledger, record(kind));
            }
            Decision::SendAndUnfollow(conn) => {
                self.recorder.enqueue(ledger, record(kind));
                ledger.follow.unfollow(conn);
            }
            Decision::HoldAfresh => {
                let mut held = self.held();
                held.records.clear();
                held.push(record(kind));
            }
            Decision::HoldMore => self.held().push(record(kind)),
            Decision::Skip { clear: true } => self.held().records.clear(),
            Decision::Skip { clear: false } => {}
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends what the thread held: the opening of a followed connection's story.
    fn send_held(&self) {
        let held = std::mem::take(&mut self.held().records);
        for r in held {
            self.recorder.enqueue(&self.ledger, r);
        }
    }

    /// Adds system calls that were made but not recorded one by one.
    pub fn count_syscalls(&self, n: u64) {
        self.stats.syscalls.fetch_add(n, Ordering::Relaxed);
        self.ledger.tally.count_syscalls(n);
    }

    /// Counts a readiness call (its entry and return) known only by its numbers — how many
    /// descriptors it reported ready, how many it made user space scan — not sent: there is no
    /// step to draw without the descriptors ([`crate::trace::passive`]).
    pub fn count_wait(&self, ready: u64, scanned: u64) {
        self.count_syscalls(1);
        self.ledger.tally.count_wait(ready, scanned);
    }

    /// How many connections this thread holds now.
    pub fn set_conns(&self, n: u32) {
        self.stats.conns.store(n, Ordering::Relaxed);
    }

    /// The same tracer, sampled every [`sampling::SAMPLE_EVERY`] (CPU time, connections,
    /// system calls, the kernel's view). Call it on the thread being traced: it reads that
    /// thread's kernel id.
    pub fn sampled(mut self) -> Tracer {
        let stats =
            ThreadStats::new(self.model, self.thread.clone(), nix::unistd::gettid().as_raw());
        stats.syscalls.store(self.stats.syscalls(), Ordering::Relaxed);
        stats.conns.store(self.stats.conns(), Ordering::Relaxed);
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

async fn pump(mut rx: mpsc::Receiver<Record>, shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(BATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sequencer = Sequencer::default();
    // The last seq taken before the previous tick began.
    let mut taken_before = 0;
    let mut cut_at = clock().now_ns();
    loop {
        tick.tick().await;
        let taken_now = shared.seq.load(Ordering::Acquire) - 1;
        // Everything there, up to what the queue can hold: the intake keeps up with the
        // models, and memory stays bounded by the queue's size.
        let mut incoming = Vec::with_capacity(rx.len().min(TICK_EVENTS));
        let mut emptied = false;
        while incoming.len() < TICK_EVENTS {
            match rx.try_recv() {
                Ok(r) => incoming.push(r),
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
        let records = sequencer.tick(incoming, settled);
        shared.dropped.fetch_add(sequencer.late - late_before, Ordering::Relaxed);
        let now = clock().now_ns();
        if now.saturating_sub(cut_at) >= AGGREGATE_EVERY_MS * 1_000_000 {
            cut_aggregates(&shared, cut_at, now);
            cut_at = now;
        }
        if records.is_empty() && sequencer.through == through_before {
            continue;
        }
        // At most BATCH_EVENTS per batch. Every seq below a shipped one is shipped or lost,
        // so a batch that is not the tick's last is settled through its own last event.
        // Built chunk by chunk: splitting one long vector would move its tail again for
        // every batch cut off its front.
        let mut left = records.len();
        let mut events = records.into_iter().map(Record::into_event);
        loop {
            let n = left.min(BATCH_EVENTS);
            let batch: Vec<Event> = events.by_ref().take(n).collect();
            left -= n;
            if left == 0 {
                ship(&shared, Batch { events: batch, through: sequencer.through });
                break;
            }
            let through = batch.last().map_or(0, |e| e.seq);
            ship(&shared, Batch { events: batch, through });
        }
    }
}

/// Cuts every model's counts for the interval `from_ns..to_ns`: decides whether each model is
/// crowded for the next one, and sends the aggregates somebody asked for.
fn cut_aggregates(shared: &Shared, from_ns: u64, to_ns: u64) {
    let ledgers = shared.ledgers.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let listening = shared.aggregates.receiver_count() > 0;
    let all = shared.all_aggregates.load(Ordering::Relaxed) > 0;
    let budget = DETAIL_BUDGET_PER_S as u128 * (to_ns - from_ns) as u128 / 1_000_000_000;
    let mut out = Vec::new();
    for ledger in ledgers {
        let cut = ledger.tally.cut();
        let crowded = shared.detail == Detail::WhereWatched && cut.total() as u128 > budget.max(1);
        let was_crowded = ledger.crowded.swap(crowded, Ordering::Relaxed);
        let wanted = all || ledger.aggregate_viewers.load(Ordering::Relaxed) > 0;
        if !listening || !wanted {
            continue;
        }
        let threads = sampled_threads(shared, ledger.model);
        if cut.total() == 0 && threads.is_empty() {
            continue;
        }
        let span = Span {
            from_ns,
            to_ns,
            crowded: was_crowded,
            threads: threads.len() as u32,
            conns: threads.iter().map(|t| t.conns()).sum(),
        };
        out.push(cut.into_aggregate(ledger.model, span));
    }
    if !out.is_empty() {
        let _ = shared.aggregates.send(out.into());
    }
}

fn sampled_threads(shared: &Shared, model: &str) -> Vec<Arc<ThreadStats>> {
    let all = shared.sampled.lock().unwrap_or_else(|p| p.into_inner());
    all.iter().filter_map(Weak::upgrade).filter(|s| s.model == model).collect()
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

    // Multi-threaded: the pump must ship while the test's own thread waits for the flood.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_viewer_that_stops_reading_counts_exactly_the_events_it_missed() {
        // Every event sent: this is about counting losses, not about crowds.
        let rec = Recorder::start_with(Detail::Everything);
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
        let rec = Recorder::start_with(Detail::Everything);
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
        let rec = Recorder::start_with(Detail::Everything);
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
        let rec = Recorder::start_with(Detail::Everything);
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
