//! The crowd: what a model's connections do together, as counts and rates a person can read.
//!
//! A figure can follow one connection call by call; fifty connections making eighty thousand
//! calls a second can only be read as numbers. Under load the backend sends steps only for
//! the connections this page follows (its echo clients and a few sampled ones) and counts
//! everything every [`AGGREGATE_EVERY_MS`] into an [`Aggregate`] per model. This module keeps
//! each model's last [`CROWD_WINDOW_MS`] of those counts (bounded by time and by number) and
//! derives what the crowd panel says: connections and threads now; lines, bytes, `EAGAIN`s and
//! readiness waits per second over the last [`RATE_WINDOW_MS`]; how many descriptors user
//! space looked at per wait (select and poll hand the kernel every descriptor and scan every
//! answer; epoll only the ready ones); and the two phases' medians and 99th percentiles over
//! the whole window. Every number is a sum or a quotient of the backend's exact counts.
//!
//! The panel is for reading, not for watching digits flicker: [`Crowd`] republishes a model's
//! [`Rates`] at most every [`REFRESH_MS`] of the backend's time.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use kettle_shared::{Aggregate, Histogram, AGGREGATE_EVERY_MS};

/// How much history each model keeps, in ms of the backend's clock.
pub const CROWD_WINDOW_MS: u64 = 5_000;
/// Rates are measured over the newest this many ms (quantiles over the whole window).
pub const RATE_WINDOW_MS: u64 = 1_000;
/// The shown numbers change at most this often, in ms of the backend's clock.
pub const REFRESH_MS: u64 = 500;
/// Most aggregates kept per model, whatever their intervals (twice the window's worth).
const MAX_AGGREGATES: usize = 2 * (CROWD_WINDOW_MS / AGGREGATE_EVERY_MS) as usize;

const MS: u64 = 1_000_000;

/// The 50th and 99th percentiles of a phase, as upper bounds in ns
/// ([`Histogram::quantile_ns`]); `None` when no input measured the phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quantiles {
    /// Median.
    pub p50_ns: Option<u64>,
    /// 99th percentile.
    pub p99_ns: Option<u64>,
}

impl Quantiles {
    fn of(h: &Histogram) -> Quantiles {
        Quantiles { p50_ns: h.quantile_ns(0.5), p99_ns: h.quantile_ns(0.99) }
    }
}

/// What the crowd panel shows for one model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    /// The backend's time these numbers go up to (end of the newest interval), in ns.
    pub at_ns: u64,
    /// More than the detail budget: only followed connections are drawn step by step.
    pub crowded: bool,
    /// Connections open now.
    pub conns: u32,
    /// Live threads now.
    pub threads: u32,
    /// Inputs that brought data, per second (an echoed line is usually one).
    pub lines_per_s: f64,
    /// Bytes received per second.
    pub bytes_per_s: f64,
    /// Calls that returned `EAGAIN`, per second.
    pub eagain_per_s: f64,
    /// Readiness calls (`select`, `poll`, `epoll_wait`) returned, per second.
    pub waits_per_s: f64,
    /// Descriptors user space looked at per readiness call; `None` without waits.
    pub scanned_per_wait: Option<f64>,
    /// Descriptors reported ready per readiness call; `None` without waits.
    pub ready_per_wait: Option<f64>,
    /// Connections accepted per second.
    pub accepts_per_s: f64,
    /// System calls per second.
    pub syscalls_per_s: f64,
    /// Events recorded per second, and of those sent step by step.
    pub events_per_s: f64,
    /// Events sent step by step per second.
    pub detailed_per_s: f64,
    /// Phase 1 (waiting for data) over the window.
    pub phase1: Quantiles,
    /// Phase 2 (copying to user space) over the window.
    pub phase2: Quantiles,
    /// How many ms the rates cover (at most [`RATE_WINDOW_MS`]).
    pub rate_span_ms: u64,
}

/// One model's recent aggregates and what was last published from them.
#[derive(Debug, Clone, Default, PartialEq)]
struct History {
    aggregates: VecDeque<Aggregate>,
    shown: Option<Rc<Rates>>,
}

/// Every model's recent aggregates, and the rates shown for each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Crowd {
    models: BTreeMap<String, History>,
}

impl Crowd {
    /// Takes in one `aggregates` message; the models whose shown rates changed are
    /// republished (at most every [`REFRESH_MS`]).
    pub fn observe(&mut self, aggregates: Vec<Aggregate>) {
        for a in aggregates {
            let history = self.models.entry(a.model.clone()).or_default();
            // A restarted backend's clock starts again: what came before is another run.
            if history.aggregates.back().is_some_and(|last| a.to_ns < last.to_ns) {
                *history = History::default();
            }
            history.aggregates.push_back(a);
            let newest = history.aggregates.back().map_or(0, |a| a.to_ns);
            while history.aggregates.len() > MAX_AGGREGATES
                || history
                    .aggregates
                    .front()
                    .is_some_and(|a| a.to_ns + CROWD_WINDOW_MS * MS <= newest)
            {
                history.aggregates.pop_front();
            }
            let due = history.shown.as_ref().is_none_or(|s| newest >= s.at_ns + REFRESH_MS * MS);
            if due {
                history.shown = Some(Rc::new(rates(&history.aggregates)));
            }
        }
    }

    /// The rates shown for a model, once it has sent an aggregate.
    pub fn rates(&self, model: &str) -> Option<&Rc<Rates>> {
        self.models.get(model)?.shown.as_ref()
    }

    /// Aggregates kept for a model.
    pub fn kept(&self, model: &str) -> usize {
        self.models.get(model).map_or(0, |h| h.aggregates.len())
    }

    /// Forgets everything (a new connection to the backend: another clock, maybe).
    pub fn clear(&mut self) {
        self.models.clear();
    }
}

/// Whether the crowd panel is worth its room under the figure: when the model is crowded, a
/// load runs on it, or it holds connections besides this page's own echo clients. A model
/// serving only the page's clients is all in the figure already, step by step.
pub fn worth_showing(rates: &Rates, own_clients: usize, loaded: bool) -> bool {
    rates.crowded || loaded || rates.conns as usize > own_clients
}

/// The rates of a model's kept aggregates (oldest first, at least one).
fn rates(aggregates: &VecDeque<Aggregate>) -> Rates {
    let Some(newest) = aggregates.back() else { return Rates::default() };
    let recent: Vec<&Aggregate> =
        aggregates.iter().filter(|a| a.from_ns + RATE_WINDOW_MS * MS >= newest.to_ns).collect();
    let from = recent.first().map_or(newest.from_ns, |a| a.from_ns);
    let span_ns = newest.to_ns.saturating_sub(from);
    let per_s = |f: &dyn Fn(&Aggregate) -> u64| {
        let total: u64 = recent.iter().map(|a| f(a)).sum();
        if span_ns == 0 {
            0.0
        } else {
            total as f64 * 1e9 / span_ns as f64
        }
    };
    let sum = |f: &dyn Fn(&Aggregate) -> u64| recent.iter().map(|a| f(a)).sum::<u64>();
    let waits = sum(&|a| a.waits);
    let per_wait = |n: u64| (waits > 0).then(|| n as f64 / waits as f64);
    let mut phase1 = Histogram::default();
    let mut phase2 = Histogram::default();
    for a in aggregates {
        phase1.merge(&a.phase1);
        phase2.merge(&a.phase2);
    }
    Rates {
        at_ns: newest.to_ns,
        crowded: newest.crowded,
        conns: newest.conns,
        threads: newest.threads,
        lines_per_s: per_s(&|a| a.inputs),
        bytes_per_s: per_s(&|a| a.bytes_received),
        eagain_per_s: per_s(&|a| a.would_block),
        waits_per_s: per_s(&|a| a.waits),
        scanned_per_wait: per_wait(sum(&|a| a.fds_scanned)),
        ready_per_wait: per_wait(sum(&|a| a.fds_ready)),
        accepts_per_s: per_s(&|a| a.accepts),
        syscalls_per_s: per_s(&|a| a.syscalls),
        events_per_s: per_s(&|a| a.events.values().sum()),
        detailed_per_s: per_s(&|a| a.detailed),
        phase1: Quantiles::of(&phase1),
        phase2: Quantiles::of(&phase2),
        rate_span_ms: span_ns / MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 ms of model `m` ending at `end_ms`, with `lines` inputs of 64 bytes.
    fn tick(end_ms: u64, lines: u64) -> Aggregate {
        let mut phase1 = Histogram::default();
        for _ in 0..lines {
            phase1.add(3_000);
        }
        Aggregate {
            model: "m".into(),
            from_ns: (end_ms - 100) * MS,
            to_ns: end_ms * MS,
            inputs: lines,
            bytes_received: 64 * lines,
            waits: lines / 2,
            fds_scanned: lines * 25,
            fds_ready: lines,
            conns: 50,
            threads: 1,
            crowded: lines > 200,
            phase1,
            ..Aggregate::default()
        }
    }

    #[test]
    fn rates_are_counts_over_the_newest_second() {
        // 2 s at 1 000 lines per 100 ms, then the newest second at 500.
        let kept: VecDeque<Aggregate> = (1..=20)
            .map(|i| tick(100 * i, 1_000))
            .chain((21..=30).map(|i| tick(100 * i, 500)))
            .collect();
        let r = rates(&kept);
        assert_eq!(r.at_ns, 3_000 * MS);
        assert_eq!(r.rate_span_ms, 1_000);
        assert_eq!(r.lines_per_s, 5_000.0);
        assert_eq!(r.bytes_per_s, 320_000.0);
        assert_eq!(r.waits_per_s, 2_500.0);
        assert_eq!(r.scanned_per_wait, Some(50.0), "25 scanned per line, 2 lines per wait");
        assert_eq!(r.ready_per_wait, Some(2.0));
        assert_eq!((r.conns, r.threads, r.crowded), (50, 1, true));
        assert_eq!(r.phase1.p50_ns, Some(4_096), "3 µs falls in [2048, 4096)");
    }

    #[test]
    fn shown_rates_change_at_most_every_refresh() {
        let mut crowd = Crowd::default();
        crowd.observe(vec![tick(100, 10)]);
        let first = crowd.rates("m").unwrap().clone();
        crowd.observe(vec![tick(200, 10_000)]);
        assert!(Rc::ptr_eq(&first, crowd.rates("m").unwrap()), "100 ms later: same numbers");
        for end in (300..=600).step_by(100) {
            crowd.observe(vec![tick(end, 10_000)]);
        }
        assert_eq!(crowd.rates("m").unwrap().at_ns, 600 * MS, "republished after 500 ms");
    }

    #[test]
    fn history_is_bounded_by_the_window() {
        let mut crowd = Crowd::default();
        crowd.observe((1..=200).map(|i| tick(100 * i, 1)).collect());
        assert_eq!(crowd.kept("m"), (CROWD_WINDOW_MS / AGGREGATE_EVERY_MS) as usize);
        // Intervals shorter than promised cannot grow memory either.
        let mut crowd = Crowd::default();
        let tiny = (0..10_000u64).map(|i| Aggregate {
            model: "m".into(),
            from_ns: i,
            to_ns: i + 1,
            ..Aggregate::default()
        });
        crowd.observe(tiny.collect());
        assert_eq!(crowd.kept("m"), MAX_AGGREGATES);
    }

    #[test]
    fn a_quiet_model_has_no_waits_to_divide_by_and_no_phases() {
        let mut crowd = Crowd::default();
        crowd.observe(vec![Aggregate {
            model: "m".into(),
            from_ns: 0,
            to_ns: 100 * MS,
            ..Aggregate::default()
        }]);
        let r = crowd.rates("m").unwrap();
        assert_eq!(r.scanned_per_wait, None);
        assert_eq!(r.phase2, Quantiles::default());
        assert_eq!(r.lines_per_s, 0.0);
    }

    #[test]
    fn the_panel_shows_only_when_there_is_a_crowd() {
        let quiet = Rates { conns: 1, ..Rates::default() };
        assert!(!worth_showing(&quiet, 1, false), "only the page's own client");
        assert!(worth_showing(&quiet, 0, false), "someone else's connection");
        assert!(worth_showing(&quiet, 1, true), "a load runs on it");
        assert!(worth_showing(&Rates { crowded: true, ..quiet }, 1, false));
    }

    #[test]
    fn a_clock_going_back_starts_the_history_again() {
        let mut crowd = Crowd::default();
        crowd.observe((1..=30).map(|i| tick(100 * i, 100)).collect());
        crowd.observe(vec![tick(100, 7)]);
        assert_eq!(crowd.kept("m"), 1);
        assert_eq!(crowd.rates("m").unwrap().lines_per_s, 70.0);
    }
}
