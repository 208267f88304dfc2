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
//!   queue is full the event is dropped and counted; the count reaches viewers as
//!   `Batch::dropped`.
//! - Memory is bounded everywhere: the queue holds [`QUEUE_EVENTS`] events, the broadcast ring
//!   [`RING_BATCHES`] batches of at most [`BATCH_EVENTS`]. A viewer that reads too slowly
//!   skips batches (counted as dropped for that viewer) instead of holding memory.
//! - `seq` is taken when the event is recorded, so a gap in a viewer's sequence numbers means
//!   dropped events; each batch is sorted by `seq`.

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
/// Recent events kept so a viewer that connects later sees what the models are doing (for
/// example a thread that has been sitting in `accept` since before the page opened).
pub const HISTORY_EVENTS: usize = 512;
/// How often the pump ships a batch.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(25);

/// One shipment to viewers.
#[derive(Debug)]
pub struct Batch {
    /// Events in `seq` order.
    pub events: Vec<Event>,
    /// Events the recorder has dropped since it started (viewers turn this into a delta).
    pub recorder_dropped_total: u64,
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
    dropped: AtomicU64,
    next_thread: AtomicU32,
    batches: broadcast::Sender<Arc<Batch>>,
    history: std::sync::Mutex<std::collections::VecDeque<Event>>,
    /// Threads that asked to be sampled ([`Tracer::sampled`]); dead entries are pruned.
    sampled: Mutex<Vec<Weak<ThreadStats>>>,
}

/// What one thread counts about itself, read every 250 ms for [`EventKind::ThreadSample`].
#[derive(Debug)]
pub struct ThreadStats {
    /// The model it belongs to.
    pub model: &'static str,
    /// The thread.
    pub thread: ThreadRef,
    /// The kernel's id for the thread (`gettid`), to read its CPU clock.
    pub tid: i32,
    syscalls: AtomicU64,
    conns: AtomicU32,
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
            history: Default::default(),
            sampled: Default::default(),
        });
        tokio::spawn(pump(rx, shared.clone()));
        Recorder { queue, shared }
    }

    /// A new receiver of every batch shipped from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.shared.batches.subscribe()
    }

    /// The most recent events (at most [`HISTORY_EVENTS`]), oldest first. Subscribe first,
    /// then read this, and skip batch events with a `seq` already seen here.
    pub fn history(&self) -> Vec<Event> {
        self.shared.history.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// Events dropped by the recorder so far.
    pub fn dropped_total(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
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

    /// The same tracer, sampled every 250 ms (CPU time, connections, system calls). Call it on
    /// the thread being traced: it reads that thread's kernel id.
    pub fn sampled(mut self) -> Tracer {
        let stats = ThreadStats {
            model: self.model,
            thread: self.thread.clone(),
            tid: nix::unistd::gettid().as_raw(),
            syscalls: AtomicU64::new(self.stats.syscalls()),
            conns: AtomicU32::new(self.stats.conns()),
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
    let mut last_dropped = 0;
    loop {
        tick.tick().await;
        let mut events = Vec::new();
        while events.len() < BATCH_EVENTS {
            match rx.try_recv() {
                Ok(e) => events.push(e),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) if events.is_empty() => return,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        let dropped = shared.dropped.load(Ordering::Relaxed);
        if events.is_empty() && dropped == last_dropped {
            continue;
        }
        last_dropped = dropped;
        // Threads take `seq` before they enqueue, so two threads racing can enqueue out of
        // order; a batch is put back in order here.
        events.sort_by_key(|e| e.seq);
        remember(&shared, &events);
        // No receivers is fine: nobody is watching, the batch is simply not kept.
        let _ = shared.batches.send(Arc::new(Batch { events, recorder_dropped_total: dropped }));
    }
}

/// Keeps the newest [`HISTORY_EVENTS`] events.
fn remember(shared: &Shared, events: &[Event]) {
    let mut history = shared.history.lock().unwrap_or_else(|p| p.into_inner());
    let skip = events.len().saturating_sub(HISTORY_EVENTS);
    history.extend(events[skip..].iter().cloned());
    let excess = history.len().saturating_sub(HISTORY_EVENTS);
    history.drain(..excess);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_a_subscriber_in_seq_order() {
        let rec = Recorder::start();
        let mut rx = rec.subscribe();
        let t = rec.tracer("blocking", "test");
        for _ in 0..10 {
            t.emit(None, EventKind::AcceptEnter);
        }
        let batch = rx.recv().await.unwrap();
        assert_eq!(batch.events.len(), 10);
        assert!(batch.events.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(batch.events[0].thread.name, "test");
    }

    #[tokio::test]
    async fn history_keeps_only_the_newest_events() {
        let rec = Recorder::start();
        let mut rx = rec.subscribe();
        let t = rec.tracer("blocking", "test");
        for _ in 0..(HISTORY_EVENTS + 10) {
            t.emit(None, EventKind::AcceptEnter);
        }
        let mut seen = 0;
        while seen < HISTORY_EVENTS + 10 {
            seen += rx.recv().await.unwrap().events.len();
        }
        let history = rec.history();
        assert_eq!(history.len(), HISTORY_EVENTS);
        assert_eq!(history.last().unwrap().seq, (HISTORY_EVENTS + 10) as u64);
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
}
