//! # `c10k`: which models hold 10 000 connections, and how well
//!
//! The tutorial ends where Dan Kegel's "C10K problem" (1999) begins: a server facing
//! "thousands or even tens of thousands of client requests at once". Thread per connection
//! "seriously occupies system resources", a pool "always has its upper limit", select is slow
//! with many handles, and epoll is recommended.
//!
//! Measured here, for every model that can try: Kettle's load generator opens N connections
//! (10 000; short: 200) and runs a closed loop on every one of them for a few seconds, every
//! echo checked. Per model: connections held open to the end and failed, the fewest lines
//! any one connection got echoed (0: someone was never served), lines per second, latency
//! p50/p99, the model's CPU share (its threads' CPU clocks), and the most resident memory
//! and threads the process gained while the load ran (`/proc/self/status`).
//!
//! Skipped, with the reason in the row: `blocking` (one connection at a time: the rest wait
//! in the backlog forever), `thread-pool` (its 4 workers each keep one connection until it
//! closes, its queue refuses the rest), `select` (`FD_SETSIZE`: no descriptor of 1024 or
//! more), `process-per-conn` (a child process per connection). The clients live in this
//! process too, so N connections cost 2N descriptors: with `RLIMIT_NOFILE` below what that
//! needs, N is lowered to fit and the row says so.

use std::time::Duration;

use kettle_shared::{Column, MODELS};
use tokio::runtime::Handle;

use std::sync::{Arc, Mutex};

use super::lab::{load, raise_descriptor_limit, Lab};
use super::{col, num, ratio, text, Experiment, Rows};
use crate::models::ModelOptions;
use crate::proc::process::{self, Pid};

/// The experiment.
#[derive(Debug)]
pub struct C10k;

/// Descriptors kept free for everything else (the models' listeners, the recorder, files).
const SPARE_FDS: u64 = 300;

fn target(short: bool) -> (usize, Duration) {
    if short {
        (200, Duration::from_secs(2))
    } else {
        (10_000, Duration::from_secs(5))
    }
}

/// Why a model cannot try, as a code the page words.
fn cannot(model: &str) -> Option<&'static str> {
    match model {
        "blocking" => Some("one_at_a_time"),
        "thread-pool" => Some("pool_ceiling"),
        "select" => Some("above_fd_setsize"),
        "process-per-conn" => Some("process_per_conn"),
        _ => None,
    }
}

impl Experiment for C10k {
    fn id(&self) -> &'static str {
        "c10k"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            col("model", ""),
            col("conns", ""),
            col("held", ""),
            col("failed", ""),
            col("fewest_lines_per_conn", ""),
            col("lines_per_s", "/s"),
            col("p50_us", "µs"),
            col("p99_us", "µs"),
            col("cpu_percent", "%"),
            col("rss_added_mib", "MiB"),
            col("threads_added", ""),
            col("note", ""),
        ]
    }

    fn steps(&self, _short: bool) -> u32 {
        MODELS.len() as u32
    }

    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()> {
        let limit = raise_descriptor_limit();
        let (wanted, secs) = target(short);
        let fit = (limit.saturating_sub(SPARE_FDS) / 2) as usize;
        let n = wanted.min(fit);
        let options = ModelOptions { max_threads: n + 16, ..ModelOptions::default() };
        let lab = Lab::with_options(handle, options);
        for model in MODELS.iter().map(|m| m.id) {
            let why_not = cannot(model)
                .map(str::to_owned)
                .or_else(|| lab.unavailable(model).map(|_| "unavailable".to_owned()));
            if let Some(why) = why_not {
                let mut cells = vec![text(model), num(n as f64)];
                cells.extend((0..9).map(|_| text("")));
                cells.push(text(why));
                rows.push(cells);
                continue;
            }
            let before = process::status(Pid::Own)?;
            lab.start(model)?;
            let cpu0 = lab.cpu_ns(model);
            // The most threads and memory the process had while the load ran (read at each
            // report, with the connections open).
            let peak = Arc::new(Mutex::new(before));
            let seen = peak.clone();
            let report = lab.watch_cpu(model, || {
                load(&lab, model, n as u32, secs, move |_| {
                    if let Ok(now) = process::status(Pid::Own) {
                        let mut p = seen.lock().unwrap_or_else(|p| p.into_inner());
                        p.threads = p.threads.max(now.threads);
                        p.rss_kib = p.rss_kib.max(now.rss_kib);
                    }
                })
            })?;
            let cpu = lab.cpu_ns(model).saturating_sub(cpu0) as f64;
            lab.stop(model);
            let peak = *peak.lock().unwrap_or_else(|p| p.into_inner());
            let elapsed = report.elapsed_ms as f64 / 1e3;
            let note = if n < wanted {
                "descriptor_limit"
            } else if report.conns_failed > 0 || report.mismatches > 0 {
                "some_failed"
            } else {
                ""
            };
            rows.push(vec![
                text(model),
                num(n as f64),
                num(f64::from(report.conns_open)),
                num(f64::from(report.conns_failed)),
                num(report.fairness.0 as f64),
                num(report.lines_per_s as f64),
                num(report.latency.p50_us as f64),
                num(report.latency.p99_us as f64),
                num(ratio(cpu / 1e9, elapsed) * 100.0),
                num(peak.rss_kib.saturating_sub(before.rss_kib) as f64 / 1024.0),
                num(peak.threads.saturating_sub(before.threads) as f64),
                text(note),
            ]);
        }
        Ok(())
    }
}
