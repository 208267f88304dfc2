//! Counting every event, cheaply, on the thread that records it.
//!
//! A crowded model makes far more calls than anyone can watch, but its numbers are still the
//! lesson ("epoll looked at 3 descriptors to find 3 ready ones; select scanned 1 001"). So each
//! model has one [`Tally`]: a block of atomic counters the recording thread adds to (relaxed
//! additions: no lock, no allocation, no name — the kind is counted by its index,
//! [`EventKindId`]). Every [`AGGREGATE_EVERY_MS`](kettle_shared::AGGREGATE_EVERY_MS) the pump
//! *cuts* the tally — each counter swapped to 0 — and the cut becomes one
//! [`Aggregate`] for the viewers that asked for it.
//!
//! What each field counts, from which events:
//!
//! | field | counted from |
//! |---|---|
//! | `events` | every event, by kind |
//! | `syscalls` | every call the threads counted ([`super::Tracer::count_syscalls`], which recording a call's entry does too) |
//! | `inputs` | `recv_exit` with data; `complete` of `recv`/`recvmsg`/`aio_read` with a positive result (one each) |
//! | `bytes_received` | `recv_exit` with data; `complete` of `recv`/`recvmsg`/`aio_read` with a positive result |
//! | `bytes_sent` | `send_exit` sent; `complete` of `send` with a positive result |
//! | `would_block` | `recv_exit`/`send_exit` `would_block`, `complete` with `-EAGAIN`, an `accept_exit` failing with `EAGAIN`, and `would_block_burst.count` |
//! | `accepts` | `accept_exit` with a descriptor; `complete` of `accept` with a descriptor |
//! | `closes` | `close` |
//! | `waits`, `fds_ready`, `fds_scanned` | `wait_returned`: one each, `ready.len()`, `scanned` |
//! | `fds_watched` | `wait_enter`: `watched.len()` |
//! | `phase1`, `phase2` | `recv_exit`'s `wait_ns` and `copy_ns`, when measured |

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use kettle_shared::{
    Aggregate, AsyncOp, EventKind, EventKindId, Histogram, RecvOutcome, SendOutcome,
    HISTOGRAM_BUCKETS,
};
use strum::{EnumCount, VariantNames};

const KINDS: usize = EventKindId::COUNT;
const EAGAIN: i64 = libc::EAGAIN as i64;

/// One model's counters since the last cut.
#[derive(Debug)]
pub(crate) struct Tally {
    events: [AtomicU64; KINDS],
    detailed: AtomicU64,
    syscalls: AtomicU64,
    inputs: AtomicU64,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
    would_block: AtomicU64,
    accepts: AtomicU64,
    closes: AtomicU64,
    waits: AtomicU64,
    fds_watched: AtomicU64,
    fds_ready: AtomicU64,
    fds_scanned: AtomicU64,
    phase1: [AtomicU64; HISTOGRAM_BUCKETS],
    phase2: [AtomicU64; HISTOGRAM_BUCKETS],
}

/// What a cut took: the counts of one interval, plain numbers now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cut {
    pub events: [u64; KINDS],
    pub detailed: u64,
    pub syscalls: u64,
    pub inputs: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub would_block: u64,
    pub accepts: u64,
    pub closes: u64,
    pub waits: u64,
    pub fds_watched: u64,
    pub fds_ready: u64,
    pub fds_scanned: u64,
    pub phase1: [u64; HISTOGRAM_BUCKETS],
    pub phase2: [u64; HISTOGRAM_BUCKETS],
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn take(counter: &AtomicU64) -> u64 {
    counter.swap(0, Ordering::Relaxed)
}

fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            events: zeros(),
            detailed: AtomicU64::new(0),
            syscalls: AtomicU64::new(0),
            inputs: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            would_block: AtomicU64::new(0),
            accepts: AtomicU64::new(0),
            closes: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            fds_watched: AtomicU64::new(0),
            fds_ready: AtomicU64::new(0),
            fds_scanned: AtomicU64::new(0),
            phase1: zeros(),
            phase2: zeros(),
        }
    }
}

impl Tally {
    /// Counts one event (see the module's table for what adds to what).
    pub fn count(&self, kind: &EventKind) {
        add(&self.events[EventKindId::from(kind) as usize], 1);
        match kind {
            EventKind::RecvExit { outcome, wait_ns, copy_ns, .. } => {
                match outcome {
                    RecvOutcome::Data { bytes, .. } => {
                        add(&self.inputs, 1);
                        add(&self.bytes_received, *bytes as u64)
                    }
                    RecvOutcome::WouldBlock => add(&self.would_block, 1),
                    RecvOutcome::Eof | RecvOutcome::Error(_) => {}
                }
                if let Some(ns) = wait_ns {
                    add(&self.phase1[Histogram::bucket_of(*ns)], 1);
                }
                if let Some(ns) = copy_ns {
                    add(&self.phase2[Histogram::bucket_of(*ns)], 1);
                }
            }
            EventKind::SendExit { outcome, .. } => match outcome {
                SendOutcome::Sent { bytes } => add(&self.bytes_sent, *bytes as u64),
                SendOutcome::WouldBlock => add(&self.would_block, 1),
                SendOutcome::Error(_) => {}
            },
            EventKind::Complete { op, result, .. } => match (*op, *result) {
                (_, r) if r == -EAGAIN => add(&self.would_block, 1),
                (AsyncOp::Accept, r) if r >= 0 => add(&self.accepts, 1),
                (op, r) if op.reads_data() && r > 0 => {
                    add(&self.inputs, 1);
                    add(&self.bytes_received, r as u64)
                }
                (AsyncOp::Send, r) if r > 0 => add(&self.bytes_sent, r as u64),
                _ => {}
            },
            EventKind::AcceptExit { fd: Some(_), .. } => add(&self.accepts, 1),
            EventKind::AcceptExit { error: Some(e), .. } if e.errno == "EAGAIN" => {
                add(&self.would_block, 1)
            }
            EventKind::WouldBlockBurst { count, .. } => add(&self.would_block, *count),
            EventKind::Close { .. } => add(&self.closes, 1),
            EventKind::WaitEnter { watched, .. } => add(&self.fds_watched, watched.len() as u64),
            EventKind::WaitReturned { ready, scanned, .. } => {
                add(&self.waits, 1);
                add(&self.fds_ready, ready.len() as u64);
                add(&self.fds_scanned, *scanned as u64);
            }
            _ => {}
        }
    }

    /// Counts a readiness call whose descriptors were not seen, only how many it reported
    /// ready (its return value) and how many it made user space look at: a traced program's
    /// call read from the kernel's tracepoints ([`crate::trace::passive`]).
    pub fn count_wait(&self, ready: u64, scanned: u64) {
        add(&self.waits, 1);
        add(&self.fds_ready, ready);
        add(&self.fds_scanned, scanned);
    }

    /// Counts system calls made.
    pub fn count_syscalls(&self, n: u64) {
        add(&self.syscalls, n);
    }

    /// Counts an event queued in detail.
    pub fn count_detailed(&self) {
        add(&self.detailed, 1);
    }

    /// Takes every count, leaving zeros for the next interval. Each counter is swapped on its
    /// own: an event counted during the cut lands whole in this interval or the next one, and
    /// is never lost or counted twice.
    pub fn cut(&self) -> Cut {
        Cut {
            events: std::array::from_fn(|i| take(&self.events[i])),
            detailed: take(&self.detailed),
            syscalls: take(&self.syscalls),
            inputs: take(&self.inputs),
            bytes_received: take(&self.bytes_received),
            bytes_sent: take(&self.bytes_sent),
            would_block: take(&self.would_block),
            accepts: take(&self.accepts),
            closes: take(&self.closes),
            waits: take(&self.waits),
            fds_watched: take(&self.fds_watched),
            fds_ready: take(&self.fds_ready),
            fds_scanned: take(&self.fds_scanned),
            phase1: std::array::from_fn(|i| take(&self.phase1[i])),
            phase2: std::array::from_fn(|i| take(&self.phase2[i])),
        }
    }
}

fn histogram(buckets: &[u64; HISTOGRAM_BUCKETS]) -> Histogram {
    let used = buckets.iter().rposition(|&n| n > 0).map_or(0, |i| i + 1);
    Histogram { counts: buckets[..used].to_vec() }
}

/// Where an interval's aggregate stands: its model and span, how detail was decided, and what
/// the model's threads hold at its end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub from_ns: u64,
    pub to_ns: u64,
    pub crowded: bool,
    pub threads: u32,
    pub conns: u32,
}

impl Cut {
    /// Events counted in the interval.
    pub fn total(&self) -> u64 {
        self.events.iter().sum()
    }

    /// The wire's aggregate (built only for a model someone subscribed to).
    pub fn into_aggregate(self, model: &str, span: Span) -> Aggregate {
        let events = self
            .events
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(i, &n)| (EventKind::VARIANTS[i].to_owned(), n))
            .collect::<BTreeMap<_, _>>();
        Aggregate {
            model: model.to_owned(),
            from_ns: span.from_ns,
            to_ns: span.to_ns,
            events,
            detailed: self.detailed,
            crowded: span.crowded,
            syscalls: self.syscalls,
            inputs: self.inputs,
            bytes_received: self.bytes_received,
            bytes_sent: self.bytes_sent,
            would_block: self.would_block,
            accepts: self.accepts,
            closes: self.closes,
            waits: self.waits,
            fds_watched: self.fds_watched,
            fds_ready: self.fds_ready,
            fds_scanned: self.fds_scanned,
            phase1: histogram(&self.phase1),
            phase2: histogram(&self.phase2),
            threads: span.threads,
            conns: span.conns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kettle_shared::{ReadyFd, WaitApi};

    #[test]
    fn a_cut_takes_the_counts_and_leaves_zeros() {
        let tally = Tally::default();
        let data = RecvOutcome::Data { bytes: 5, preview: "hello".into() };
        tally.count(&EventKind::RecvExit {
            fd: 5,
            outcome: data,
            wait_ns: Some(1_500),
            copy_ns: Some(3),
        });
        tally.count(&EventKind::SendExit { fd: 5, outcome: SendOutcome::Sent { bytes: 5 } });
        tally.count(&EventKind::WouldBlockBurst { call: "recv".into(), count: 7 });
        let ready = vec![ReadyFd { fd: 5, readable: true, writable: false }];
        tally.count(&EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 5] });
        tally.count(&EventKind::WaitReturned { api: WaitApi::Select, ready, scanned: 6 });
        tally.count(&EventKind::Complete {
            op: AsyncOp::Accept,
            fd: 3,
            result: 7,
            peer: None,
            more: false,
        });
        tally.count(&EventKind::Complete {
            op: AsyncOp::Recv,
            fd: 7,
            result: -EAGAIN,
            peer: None,
            more: false,
        });
        tally.count_syscalls(4);
        let agg = tally.cut().into_aggregate(
            "select",
            Span { from_ns: 0, to_ns: 100, crowded: false, threads: 1, conns: 1 },
        );
        assert_eq!(agg.events["recv_exit"], 1);
        assert_eq!(agg.events["complete"], 2);
        assert_eq!(
            (agg.bytes_received, agg.bytes_sent, agg.would_block, agg.accepts),
            (5, 5, 8, 1)
        );
        assert_eq!(agg.inputs, 1, "the recv with data (the completion was EAGAIN)");
        assert_eq!((agg.waits, agg.fds_watched, agg.fds_ready, agg.fds_scanned), (1, 2, 1, 6));
        assert_eq!(agg.phase1.counts, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(agg.phase2.counts, [0, 1]);
        assert_eq!(agg.syscalls, 4);
        let empty = tally.cut();
        assert_eq!(empty.total(), 0);
        assert_eq!(empty.syscalls, 0);
    }
}
