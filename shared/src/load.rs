//! Load: many echo clients at once against one model, to ask "and with a thousand clients?".
//!
//! The backend's load generator (`kettle load`, or [`crate::Command::LoadStart`] from the page)
//! opens [`LoadSpec::conns`] connections to a running model's own port — never any other
//! address — and sends lines of [`LoadSpec::size`] bytes, closed-loop (each connection sends
//! its next line when the echo of the last one is back) or open-loop (at [`LoadSpec::rate`]
//! lines a second over all connections), checking that every echo is byte for byte what was
//! sent. It stops by itself after [`LoadSpec::secs`]. While it runs it reports a
//! [`LoadReport`] about twice a second.

use serde::Serialize;

use crate::Reason;

/// The most connections one load may open.
pub const MAX_LOAD_CONNS: u32 = 10_000;
/// The longest a load may run, in seconds.
pub const MAX_LOAD_SECS: u32 = 600;
/// The longest line a load may send, in bytes (newline included).
pub const MAX_LOAD_LINE: u32 = 64 * 1024;
/// The highest open-loop rate, in lines a second over all connections.
pub const MAX_LOAD_RATE: u32 = 1_000_000;

/// What load to put on a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadSpec {
    /// The model ([`crate::ModelDescriptor::id`]); it must be running.
    pub model: String,
    /// Connections to open, 1 to [`MAX_LOAD_CONNS`].
    pub conns: u32,
    /// Lines a second over all connections (open loop), or `None`: each connection sends its
    /// next line as soon as the last one is echoed (closed loop).
    pub rate: Option<u32>,
    /// Bytes per line, newline included, 2 to [`MAX_LOAD_LINE`].
    pub size: u32,
    /// How long to run, 1 to [`MAX_LOAD_SECS`] seconds.
    pub secs: u32,
}

/// Latencies of echoed lines (send to complete echo), in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// The slowest.
    pub max_us: u64,
}

/// How a load is going (or went).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    /// What was asked.
    pub spec: LoadSpec,
    /// Since the load started, in ms.
    pub elapsed_ms: u64,
    /// Connections open now (in the final report: open when the load ended; the generator
    /// closes them all as it finishes).
    pub conns_open: u32,
    /// Connections that could not be opened or ended early (refused, reset, timed out).
    pub conns_failed: u32,
    /// The descriptor limit (`RLIMIT_NOFILE`) the generator got after raising it as far as
    /// allowed: connections beyond it cannot be opened.
    pub nofile_limit: u64,
    /// Lines whose echo came back complete.
    pub lines: u64,
    /// Bytes echoed back.
    pub bytes: u64,
    /// Echoed lines that differed from what was sent (should be 0).
    pub mismatches: u64,
    /// Lines echoed per second since the first line was sent (after the connections were
    /// opened).
    pub lines_per_s: u64,
    /// Latency of the echoed lines so far.
    pub latency: Latency,
    /// Of the connections that sent a line, the least lines any one got echoed, and the most:
    /// how fairly the server shared itself out.
    pub fairness: (u64, u64),
    /// The load is over.
    pub finished: bool,
    /// Why it ended early, if it did (the model stopped, a stop was asked).
    pub ended_by: Option<Reason>,
}

// Read back through `wire.rs` (objects only, less code than the derive).
crate::wire::deserialize_fields! {
    LoadSpec { model, conns, rate, size, secs }
    Latency { p50_us, p99_us, p999_us, max_us }
    LoadReport { spec, elapsed_ms, conns_open, conns_failed, nofile_limit, lines, bytes, mismatches, lines_per_s, latency, fairness, finished, ended_by }
}
