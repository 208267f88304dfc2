//! Aggregates: what a model did in one interval, counted exactly, for the connections nobody
//! follows step by step.
//!
//! A person can follow a few connections call by call; a load of thousands of lines a second
//! is only readable as counts and rates. So every event a model records is *counted* (always,
//! on the recording thread, a few atomic additions), and *sent in detail* only for the
//! connections a viewer follows — its own echo clients and up to [`MAX_SAMPLED_CONNS`]
//! sampled ones — or while the model is quiet (below [`DETAIL_BUDGET_PER_S`] events a
//! second, when every step can be watched). Every [`AGGREGATE_EVERY_MS`] the counts are cut
//! into one [`Aggregate`] per model and sent to the viewers that subscribed to them.

use std::collections::BTreeMap;

use serde::Serialize;

/// How often each model's counts are cut into an [`Aggregate`], in ms.
pub const AGGREGATE_EVERY_MS: u64 = 100;

/// Below this many events a second a model is *quiet*: every event is sent in detail. Above
/// it, the model is *crowded* ([`Aggregate::crowded`]): only the followed connections are
/// sent in detail, the rest are counted.
pub const DETAIL_BUDGET_PER_S: u64 = 2_000;

/// The most connections of one model a viewer may follow besides its own echo clients
/// ([`crate::Command::Spotlight`]).
pub const MAX_SAMPLED_CONNS: u32 = 4;

/// Buckets of a [`Histogram`]: bucket `i` counts durations in `[2^i, 2^(i+1))` ns, so 40
/// buckets reach about 18 minutes.
pub const HISTOGRAM_BUCKETS: usize = 40;

/// Durations counted in power-of-two buckets of nanoseconds (a log scale: a phase can last
/// 200 ns or 2 s).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Histogram {
    /// Count per bucket, bucket `i` covering `[2^i, 2^(i+1))` ns; trailing empty buckets are
    /// left out (an empty histogram is an empty list).
    pub counts: Vec<u64>,
}

impl Histogram {
    /// The bucket a duration falls in (0 ns counts in bucket 0).
    pub fn bucket_of(ns: u64) -> usize {
        (63 - ns.max(1).leading_zeros() as usize).min(HISTOGRAM_BUCKETS - 1)
    }

    /// Counts one duration.
    pub fn add(&mut self, ns: u64) {
        let b = Histogram::bucket_of(ns);
        if self.counts.len() <= b {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Durations counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// An upper bound of the `q` quantile (0.0–1.0): the end of the bucket it falls in, in ns.
    /// `None` for an empty histogram.
    pub fn quantile_ns(&self, q: f64) -> Option<u64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(1u64 << (i + 1).min(63));
            }
        }
        None
    }
}

/// What one model did in one interval (about [`AGGREGATE_EVERY_MS`]): every event it
/// recorded, counted whether or not it was sent in detail. All counts are exact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Aggregate {
    /// The model ([`crate::ModelDescriptor::id`]).
    pub model: String,
    /// Start of the interval, on the events' clock ([`crate::Event::t_ns`]).
    pub from_ns: u64,
    /// End of the interval (exclusive).
    pub to_ns: u64,
    /// Events recorded in the interval by kind, named as [`crate::EventKind::name`].
    pub events: BTreeMap<String, u64>,
    /// Of those, how many were sent in detail (to viewers subscribed to the model's steps).
    pub detailed: u64,
    /// The model was crowded during this interval — it had recorded more than
    /// [`DETAIL_BUDGET_PER_S`] events a second in the interval before (the backend decides at
    /// each cut, for the next interval) — so only followed connections and thread and
    /// lifecycle events were sent in detail.
    pub crowded: bool,
    /// System calls made in the interval (the threads' own counts, also those not recorded
    /// one by one, like the busy loop's `EAGAIN`s).
    pub syscalls: u64,
    /// Inputs that brought data: `recv` returns and read completions with at least one
    /// byte — the lines a person would count (an echo client's line is usually one input).
    /// Added after protocol v4 was declared; an older backend leaves it out (0).
    #[serde(default)]
    pub inputs: u64,
    /// Bytes the server received (returns of `recv` and completions of reads).
    pub bytes_received: u64,
    /// Bytes the server sent.
    pub bytes_sent: u64,
    /// Calls that returned `EAGAIN`/`EWOULDBLOCK` (those counted in bursts included).
    pub would_block: u64,
    /// Connections accepted.
    pub accepts: u64,
    /// Connections closed.
    pub closes: u64,
    /// Readiness calls that returned (`select`, `poll`, `epoll_wait`).
    pub waits: u64,
    /// Descriptors handed to those calls, summed over the calls.
    pub fds_watched: u64,
    /// Descriptors they reported ready, summed.
    pub fds_ready: u64,
    /// Entries user space looked at to find the ready ones, summed.
    pub fds_scanned: u64,
    /// Phase 1 (waiting for data) of every input that measured it.
    pub phase1: Histogram,
    /// Phase 2 (copying the data to user space) of every input that measured it.
    pub phase2: Histogram,
    /// The model's live threads at the end of the interval.
    pub threads: u32,
    /// Connections its threads held open at the end of the interval.
    pub conns: u32,
}

// Read back through `wire.rs` (objects only, less code than the derive).
crate::wire::deserialize_fields! {
    Histogram { counts }
    Aggregate { model, from_ns, to_ns, events, detailed, crowded, syscalls, bytes_received, bytes_sent, would_block, accepts, closes, waits, fds_watched, fds_ready, fds_scanned, phase1, phase2, threads, conns; or_default inputs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_power_of_two_buckets() {
        assert_eq!(Histogram::bucket_of(0), 0);
        assert_eq!(Histogram::bucket_of(1), 0);
        assert_eq!(Histogram::bucket_of(2), 1);
        assert_eq!(Histogram::bucket_of(1023), 9);
        assert_eq!(Histogram::bucket_of(1024), 10);
        assert_eq!(Histogram::bucket_of(u64::MAX), HISTOGRAM_BUCKETS - 1);
    }

    #[test]
    fn a_quantile_is_the_end_of_its_bucket() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile_ns(0.5), None);
        for _ in 0..99 {
            h.add(1_500); // bucket 10: [1024, 2048)
        }
        h.add(1_000_000); // bucket 19
        assert_eq!(h.quantile_ns(0.5), Some(2048));
        assert_eq!(h.quantile_ns(0.99), Some(2048));
        assert_eq!(h.quantile_ns(1.0), Some(1 << 20));
        let mut sum = Histogram::default();
        sum.merge(&h);
        sum.merge(&h);
        assert_eq!(sum.total(), 200);
    }
}
