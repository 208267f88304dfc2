//! Measures what each model costs, from its own threads' samples (CPU clock, system calls):
//! idle CPU share and system calls while idle, and system calls per echoed message. Prints the
//! table (run with `--nocapture`) and checks the tutorial's claims that do not depend on the
//! machine's speed: the busy loop burns CPU while idle and the sleeping models do not; select,
//! poll and epoll need one more system call per message than blocking recv.
//!
//! `#[ignore]`d in a plain `cargo test` (it takes ~40 s); `cargo xtask test` runs it.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use common::*;
use kettle_shared::{EventKind, ServerMsg};

/// (cpu_ns, syscalls) summed over the model's sampled threads, each at its latest sample.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    t_ns: u64,
    cpu_ns: u64,
    syscalls: u64,
}

/// Reads events for `window`, keeping each thread's latest sample; returns the totals over the
/// threads of `model`.
async fn totals_after(
    ws: &mut Ws,
    model: &str,
    window: Duration,
    latest: &mut HashMap<u32, (u64, u64, u64)>,
) -> Totals {
    let deadline = tokio::time::Instant::now() + window;
    while tokio::time::Instant::now() < deadline {
        let Ok(msg) = tokio::time::timeout(Duration::from_millis(100), next_msg(ws)).await else {
            continue;
        };
        if let ServerMsg::Batch { events, .. } = msg {
            for e in events.iter().filter(|e| e.model == model) {
                if let EventKind::ThreadSample { cpu_ns, syscalls, .. } = e.kind {
                    latest.insert(e.thread.id, (e.t_ns, cpu_ns, syscalls));
                }
            }
        }
    }
    latest.values().fold(Totals::default(), |acc, &(t, c, s)| Totals {
        t_ns: acc.t_ns.max(t),
        cpu_ns: acc.cpu_ns + c,
        syscalls: acc.syscalls + s,
    })
}

#[derive(Debug)]
struct Row {
    model: &'static str,
    idle_cpu_percent: f64,
    idle_syscalls_per_s: f64,
    syscalls_per_message: f64,
}

const MESSAGES: u64 = 200;

async fn measure(model: &'static str) -> Row {
    let (server, addr, mut ws) = watched(model).await;
    let mut c = served(addr, b"warm up");
    let mut latest = HashMap::new();
    let idle0 = totals_after(&mut ws, model, Duration::from_millis(600), &mut latest).await;
    let idle1 = totals_after(&mut ws, model, Duration::from_secs(2), &mut latest).await;
    let idle_s = (idle1.t_ns - idle0.t_ns) as f64 / 1e9;
    let idle_cpu_percent =
        (idle1.cpu_ns - idle0.cpu_ns) as f64 / (idle1.t_ns - idle0.t_ns) as f64 * 100.0;
    let idle_syscalls_per_s = (idle1.syscalls - idle0.syscalls) as f64 / idle_s;

    let started = idle1;
    let c = tokio::task::spawn_blocking(move || {
        for i in 0..MESSAGES {
            let line = format!("message {i:04}\n");
            c.write_all(line.as_bytes()).unwrap();
            read_n(&mut c, line.len());
        }
        c
    })
    .await
    .unwrap();
    let done = totals_after(&mut ws, model, Duration::from_millis(600), &mut latest).await;
    let busy_s = (done.t_ns - started.t_ns) as f64 / 1e9;
    // What the thread does anyway (the busy loop's EAGAINs, sigio's naps) is not the message's.
    let background = idle_syscalls_per_s * busy_s;
    let syscalls_per_message =
        ((done.syscalls - started.syscalls) as f64 - background).max(0.0) / MESSAGES as f64;
    drop(c);
    server.shutdown().await.unwrap();
    Row { model, idle_cpu_percent, idle_syscalls_per_s, syscalls_per_message }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "takes ~40 s: run `cargo xtask test`, or this test with --ignored --nocapture"]
async fn measured_costs_match_the_tutorials_claims() {
    let mut rows = Vec::new();
    for m in kettle_shared::MODELS {
        rows.push(measure(m.id).await);
    }
    println!("\n| model | idle CPU | idle syscalls/s | syscalls per echoed message |");
    println!("|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.1} % | {:.0} | {:.1} |",
            r.model, r.idle_cpu_percent, r.idle_syscalls_per_s, r.syscalls_per_message
        );
    }
    let row = |id: &str| rows.iter().find(|r| r.model == id).unwrap();
    // The busy loop burns CPU while nobody talks to it; the sleeping models do not.
    assert!(row("nonblocking").idle_cpu_percent > 20.0, "{:?}", row("nonblocking"));
    for id in [
        "blocking",
        "thread-per-conn",
        "thread-pool",
        "select",
        "poll",
        "epoll",
        "epoll-et",
        "reactor",
    ] {
        assert!(row(id).idle_cpu_percent < 5.0, "{:?}", row(id));
        assert!(row(id).idle_cpu_percent * 10.0 < row("nonblocking").idle_cpu_percent);
    }
    // select/poll/epoll: a readiness call, then recv — one more call than blocking recv.
    for id in ["select", "poll", "epoll"] {
        assert!(
            row(id).syscalls_per_message >= row("blocking").syscalls_per_message + 0.9,
            "{id}: {:?} vs blocking {:?}",
            row(id),
            row("blocking")
        );
    }
}
