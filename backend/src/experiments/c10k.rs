//! # `c10k`: which models hold 10 000 connections, and how well
//!
//! The tutorial ends where Dan Kegel's "C10K problem" (1999) begins: a server facing
//! "thousands or even tens of thousands of client requests at once". Thread per connection
//! "seriously occupies system resources", a pool "always has its upper limit", select is slow
//! with many handles, and epoll is recommended.
//!
//! Measured here, for every model that can try: N clients connect (10 000; short: 200) and
//! stay; then a closed loop of 32 lines in flight goes round every connection for a few
//! seconds. Per model: connections that got their echo (served), lines per second, latency
//! p50/p99 (clients), the model's CPU share (its threads' CPU clocks), and what the process
//! gained in resident memory and threads (`/proc/self/status`, before the model started vs
//! with every client connected).
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

use super::lab::{drive, process_status, raise_descriptor_limit, wait_for, Client, Lab};
use super::{col, num, ratio, text, Experiment, Rows};
use crate::models::ModelOptions;

/// The experiment.
#[derive(Debug)]
pub struct C10k;

/// Descriptors kept free for everything else (the models' listeners, the recorder, files).
const SPARE_FDS: u64 = 300;
/// Lines in flight during the drive.
const IN_FLIGHT: usize = 32;

fn target(short: bool) -> (usize, Duration) {
    if short {
        (200, Duration::from_millis(500))
    } else {
        (10_000, Duration::from_secs(3))
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
            col("served", ""),
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
                let no = || text("");
                let cells = vec![text(model), num(n as f64), no(), no(), no(), no(), no(), no()];
                rows.push([cells, vec![no(), text(why)]].concat());
                continue;
            }
            let before = process_status()?;
            let addr = lab.start(model)?;
            let mut clients = Vec::with_capacity(n);
            let mut refused = 0;
            for _ in 0..n {
                match Client::connect(addr) {
                    Ok(c) => {
                        c.set_patience(Duration::from_secs(5))?;
                        clients.push(c)
                    }
                    Err(_) => refused += 1,
                }
            }
            // Every connection accepted (or the patience spent: the row then shows the cost
            // of those that were).
            let _ = wait_for(Duration::from_secs(10), "every client accepted", || {
                lab.tap.tally_now(model).accepted >= (n - refused) as u64
            });
            let held = process_status()?;
            let cpu0 = lab.cpu_ns(model);
            let driven = drive(&mut clients, IN_FLIGHT, secs);
            let cpu = lab.cpu_ns(model).saturating_sub(cpu0) as f64;
            drop(clients);
            lab.stop(model);
            let note = if n < wanted {
                "descriptor_limit"
            } else if driven.failed + refused > 0 {
                "some_failed"
            } else {
                ""
            };
            rows.push(vec![
                text(model),
                num(n as f64),
                num(driven.served as f64),
                num(ratio(driven.lines as f64, driven.secs)),
                num(driven.latencies.quantile_us(0.5)),
                num(driven.latencies.quantile_us(0.99)),
                num(ratio(cpu / 1e9, driven.secs) * 100.0),
                num(held.rss_kib.saturating_sub(before.rss_kib) as f64 / 1024.0),
                num(held.threads.saturating_sub(before.threads) as f64),
                text(note),
            ]);
        }
        Ok(())
    }
}
