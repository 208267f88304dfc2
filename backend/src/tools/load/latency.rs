//! Latency of echoed lines: from the moment a line was queued to be sent to the moment its
//! echo is complete.
//!
//! Every line is counted, so the quantiles are exact up to the histogram's precision (3
//! significant digits) without keeping a sample per line: an HDR histogram (`hdrhistogram`)
//! has a bucket per value at that precision, a few tens of kilobytes for anything from 1 µs
//! to an hour.
//!
//! Open loop: a line is timed from when it was *due*, not from when the connection got round
//! to writing it, so a server that falls behind shows as latency instead of hiding it (the
//! "coordinated omission" a closed-loop client cannot avoid: it never asks while it waits).

use hdrhistogram::Histogram;
use kettle_shared::Latency;

/// The longest latency kept apart from the others, in µs (an hour); longer ones are counted
/// as this.
const HIGHEST_US: u64 = 3_600_000_000;

/// Latencies of the lines echoed so far.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies::new()
    }
}

impl Latencies {
    /// No lines yet.
    pub fn new() -> Latencies {
        // 1 µs to an hour at 3 significant digits: a valid configuration, so this cannot fail.
        let histogram = Histogram::new_with_bounds(1, HIGHEST_US, 3)
            .unwrap_or_else(|_| Histogram::new(3).expect("3 significant digits is valid"));
        Latencies { histogram }
    }

    /// One line's latency, in ns.
    pub fn record_ns(&mut self, ns: u64) {
        let us = (ns / 1_000).clamp(1, HIGHEST_US);
        self.histogram.saturating_record(us);
    }

    /// Lines recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The quantiles the reports carry (all 0 before the first line).
    pub fn summary(&self) -> Latency {
        if self.histogram.is_empty() {
            return Latency::default();
        }
        Latency {
            p50_us: self.histogram.value_at_quantile(0.50),
            p99_us: self.histogram.value_at_quantile(0.99),
            p999_us: self.histogram.value_at_quantile(0.999),
            max_us: self.histogram.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_every_recorded_line() {
        let mut l = Latencies::new();
        assert_eq!(l.summary(), Latency::default());
        for us in 1..=1000u64 {
            l.record_ns(us * 1_000);
        }
        let s = l.summary();
        assert_eq!(l.count(), 1000);
        assert!((499..=501).contains(&s.p50_us), "{s:?}");
        assert!((989..=991).contains(&s.p99_us), "{s:?}");
        assert!((999..=1000).contains(&s.p999_us), "{s:?}");
        assert!((999..=1001).contains(&s.max_us), "{s:?}");
    }

    #[test]
    fn a_sub_microsecond_echo_counts_as_one_microsecond() {
        let mut l = Latencies::new();
        l.record_ns(300);
        assert_eq!(l.summary().max_us, 1);
    }
}
