//! # `uring-batching`: io_uring's system calls per line under load
//!
//! Asynchronous I/O as the kernel offers it today: the application writes requests into a
//! ring shared with the kernel, and one `io_uring_enter(2)` hands the kernel every request
//! queued since the last call and waits for completions. Under load, one call covers many
//! connections' sends and recvs. epoll batches too — one `epoll_wait` reports every ready
//! connection — but each of those still costs a `recv` and a `send` of its own.
//!
//! Measured here: Kettle's load generator with C connections in a closed loop (each sends a
//! line, waits for its echo, sends the next) against the io-uring and epoll models for a few seconds. System calls per line
//! come from the model thread's own counter (every `io_uring_enter`; every `epoll_wait`,
//! `recv`, `send`); requests per `io_uring_enter` and ready descriptors per `epoll_wait` from
//! the recorded events; lines per second and latencies from the clients.

use std::time::Duration;

use kettle_shared::Column;
use tokio::runtime::Handle;

use super::lab::{load, raise_descriptor_limit, Lab};
use super::{col, num, ratio, text, Experiment, Rows};

/// The experiment.
#[derive(Debug)]
pub struct UringBatching;

fn size(short: bool) -> (usize, Duration) {
    if short {
        (16, Duration::from_millis(700))
    } else {
        (64, Duration::from_secs(3))
    }
}

impl Experiment for UringBatching {
    fn id(&self) -> &'static str {
        "uring-batching"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            col("model", ""),
            col("conns", ""),
            col("lines_per_s", "/s"),
            col("syscalls_per_line", ""),
            col("per_wakeup", ""),
            col("p50_us", "µs"),
            col("p99_us", "µs"),
            col("note", ""),
        ]
    }

    fn steps(&self, _short: bool) -> u32 {
        2
    }

    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()> {
        raise_descriptor_limit();
        let lab = Lab::new(handle);
        let (conns, secs) = size(short);
        for model in ["io-uring", "epoll"] {
            if lab.unavailable(model).is_some() {
                let no = || text("unavailable");
                rows.push(vec![text(model), num(conns as f64), no(), no(), no(), no(), no(), no()]);
                continue;
            }
            lab.start(model)?;
            let before = lab.tap.tally(model)?;
            let lost0 = lab.tap.lost();
            let calls0 = lab.syscalls(model);
            let report = load(&lab, model, conns as u32, secs, |_| {})?;
            let calls1 = lab.syscalls(model);
            let after = lab.tap.tally(model)?;
            lab.stop(model);
            let lines = report.lines as f64;
            // What one wake-up of the thread covered: requests handed over per
            // io_uring_enter, or descriptors reported ready per epoll_wait.
            let per_wakeup = if model == "io-uring" {
                ratio(
                    after.submitted.saturating_sub(before.submitted) as f64,
                    after.count("ring_enter").saturating_sub(before.count("ring_enter")) as f64,
                )
            } else {
                ratio(
                    after.ready.saturating_sub(before.ready) as f64,
                    after.waits().saturating_sub(before.waits()) as f64,
                )
            };
            let lost = lab.tap.lost() - lost0;
            rows.push(vec![
                text(model),
                num(conns as f64),
                num(report.lines_per_s as f64),
                num(ratio(calls1.saturating_sub(calls0) as f64, lines)),
                num(per_wakeup),
                num(report.latency.p50_us as f64),
                num(report.latency.p99_us as f64),
                text(if lost > 0 { "events_lost" } else { "" }),
            ]);
        }
        Ok(())
    }
}
