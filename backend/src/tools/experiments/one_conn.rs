//! # `one-conn`: for one connection, multiplexing is not faster
//!
//! The tutorial: "if the number of connections is not high, a server using select/epoll is
//! not necessarily better than multi-threading + blocking I/O, and the latency may even be
//! larger. The advantage of select/epoll is not that a single connection is handled faster,
//! but that more connections can be handled."
//!
//! Measured here: one client sends K lines, one at a time, to the blocking, select, poll and
//! epoll models. System calls per line come from the model threads' own counters (blocking:
//! `recv` + `send`; the multiplexers add their readiness call, `select`, `poll` or
//! `epoll_wait`, to the `recv` and the `send`), and each line's latency from the client (send
//! until the whole echo was read), as p50 and p99.

use std::time::Duration;

use kettle_shared::Column;
use tokio::runtime::Handle;

use super::lab::{Client, Lab, Latencies, LINE};
use super::{col, num, ratio, text, Experiment, Rows};

/// The experiment.
#[derive(Debug)]
pub struct OneConn;

/// The models compared, in the tutorial's order.
pub const MODELS: [&str; 4] = ["blocking", "select", "poll", "epoll"];

fn lines(short: bool) -> usize {
    if short {
        300
    } else {
        5_000
    }
}

/// Lets the server go back to sleep in its blocking call before its counter is read, so
/// each reading falls between two lines.
const QUIET: Duration = Duration::from_millis(30);

impl Experiment for OneConn {
    fn id(&self) -> &'static str {
        "one-conn"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            col("model", ""),
            col("lines", ""),
            col("syscalls_per_line", ""),
            col("p50_us", "µs"),
            col("p99_us", "µs"),
            col("cpu_us_per_line", "µs"),
        ]
    }

    fn steps(&self, _short: bool) -> u32 {
        MODELS.len() as u32
    }

    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()> {
        let lab = Lab::new(handle);
        let k = lines(short);
        for model in MODELS {
            let addr = lab.start(model)?;
            let mut client = Client::connect(addr)?;
            // The first line also pays for accept; it is not counted.
            client.line(LINE)?;
            std::thread::sleep(QUIET);
            let (calls0, cpu0) = (lab.syscalls(model), lab.cpu_ns(model));
            let mut latencies = Latencies::default();
            for _ in 0..k {
                latencies.add(client.line(LINE)?);
            }
            std::thread::sleep(QUIET);
            let (calls1, cpu1) = (lab.syscalls(model), lab.cpu_ns(model));
            drop(client);
            lab.stop(model);
            rows.push(vec![
                text(model),
                num(k as f64),
                num(ratio(calls1.saturating_sub(calls0) as f64, k as f64)),
                num(latencies.quantile_us(0.5)),
                num(latencies.quantile_us(0.99)),
                num(ratio(cpu1.saturating_sub(cpu0) as f64 / 1e3, k as f64)),
            ]);
        }
        Ok(())
    }
}
