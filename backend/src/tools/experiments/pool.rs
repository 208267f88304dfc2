//! # `pool`: the pool's ceiling — clients queue and wait
//!
//! The tutorial: a thread pool keeps "a reasonable number of threads" and reuses them, but
//! "a pool always has its upper limit": when requests far exceed it, the pool responds no
//! better than no pool. The thread-pool model has 4 workers, each serving one connection
//! from accept to close, fed by a bounded queue.
//!
//! Measured here: C clients connect at once, and each sends a few lines, one every few ms,
//! then leaves. From the model's own events: the deepest its queue got (`conn_queued`) and the
//! longest a connection waited in it (`conn_dequeued`); from the clients: how long each
//! waited from its first line to its echo, and how many could only be served after another
//! client had left (a worker became free) — with C clients and 4 workers, at least C − 4.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use kettle_shared::Column;
use tokio::runtime::Handle;

use super::lab::{Client, Lab, Latencies, LINE};
use super::{col, num, Experiment, Rows};

/// The experiment.
#[derive(Debug)]
pub struct Pool;

const MODEL: &str = "thread-pool";
const WORKERS: usize = 4;

fn clients(short: bool) -> &'static [usize] {
    if short {
        &[2, 4, 8]
    } else {
        &[2, 4, 8, 16]
    }
}

/// Lines each client sends, and the pause between them.
fn session(short: bool) -> (usize, Duration) {
    if short {
        (5, Duration::from_millis(20))
    } else {
        (20, Duration::from_millis(25))
    }
}

/// What one client saw.
struct Seen {
    first_echo_at: Instant,
    first_wait: Duration,
    left_at: Instant,
}

impl Experiment for Pool {
    fn id(&self) -> &'static str {
        "pool"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            col("clients", ""),
            col("workers", ""),
            col("queue_max", ""),
            col("queue_wait_max_ms", "ms"),
            col("first_echo_p50_ms", "ms"),
            col("first_echo_max_ms", "ms"),
            col("served_after_another_left", ""),
        ]
    }

    fn steps(&self, short: bool) -> u32 {
        clients(short).len() as u32
    }

    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()> {
        let lab = Lab::new(handle);
        let (lines, pause) = session(short);
        for &c in clients(short) {
            let addr = lab.start(MODEL)?;
            let go = Arc::new(Barrier::new(c));
            let seen: Vec<anyhow::Result<Seen>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..c)
                    .map(|_| {
                        let go = go.clone();
                        s.spawn(move || -> anyhow::Result<Seen> {
                            go.wait();
                            let mut client = Client::connect(addr)?;
                            let first_wait = client.line(LINE)?;
                            let first_echo_at = Instant::now();
                            for _ in 1..lines {
                                std::thread::sleep(pause);
                                client.line(LINE)?;
                            }
                            // Read the clock before closing: a worker freed by this close
                            // serves the next client only after it, so that client's echo is
                            // always later than `left_at`. Read after the close, a busy
                            // machine could run the next client's thread first.
                            let left_at = Instant::now();
                            drop(client);
                            Ok(Seen { first_echo_at, first_wait, left_at })
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a client panicked"))))
                    .collect()
            });
            let seen = seen.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
            let tally = lab.tap.tally(MODEL)?;
            lab.stop(MODEL);
            let mut first = Latencies::default();
            for s in &seen {
                first.add(s.first_wait);
            }
            // A client echoed only after some other client had already left had to wait for
            // a worker to become free.
            let after_another = seen
                .iter()
                .enumerate()
                .filter(|(i, s)| {
                    seen.iter().enumerate().any(|(j, o)| j != *i && o.left_at <= s.first_echo_at)
                })
                .count();
            rows.push(vec![
                num(c as f64),
                num(WORKERS as f64),
                num(f64::from(tally.queue_depth_max)),
                num(tally.queue_wait_max_ns as f64 / 1e6),
                num(first.quantile_us(0.5) / 1e3),
                num(first.quantile_us(1.0) / 1e3),
                num(after_another as f64),
            ]);
        }
        Ok(())
    }
}
