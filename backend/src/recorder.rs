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
use std::sync::Arc;
use std::time::Duration;

use kettle_shared::{Event, EventKind, ThreadRef};
use tokio::sync::{broadcast, mpsc};

use crate::clock::clock;

/// Events the model threads can have in flight before new ones are dropped.
pub const QUEUE_EVENTS: usize = 64 * 1024;
/// The most events in one batch.
pub const BATCH_EVENTS: usize = 4096;
/// Batches the broadcast ring keeps for viewers that are behind.
pub const RING_BATCHES: usize = 64;
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
        Tracer { recorder: self.clone(), model, thread: ThreadRef { id, name: thread_name.into() } }
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
#[derive(Debug, Clone)]
pub struct Tracer {
    recorder: Recorder,
    model: &'static str,
    thread: ThreadRef,
}

impl Tracer {
    /// Records `kind` now.
    pub fn emit(&self, conn: Option<u64>, kind: EventKind) {
        self.emit_at(clock().now_ns(), conn, kind);
    }

    /// Records `kind` at an instant measured elsewhere (a kernel timestamp, a syscall's entry).
    pub fn emit_at(&self, t_ns: u64, conn: Option<u64>, kind: EventKind) {
        self.recorder.record(self.model, &self.thread, t_ns, conn, kind);
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
