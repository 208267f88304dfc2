//! A quick C10K check of one model's port: `n` clients connect at once, each sends one line and
//! waits for its echo; then, all connected, each sends a line and waits for its echo, again and
//! again (a closed loop), for the same number of seconds.
//!
//! ```text
//! cargo build --release -p kettle-backend --examples
//! target/release/kettle serve --start io-uring --model-port-base 19000 &
//! target/release/examples/c10k 127.0.0.1:19011 10000 5
//! ```
//!
//! A client of its own process (the server and its 10 000 descriptors live in another), on one
//! thread, so the server keeps the other core. It raises its descriptor limit to the hard
//! limit and says what it got. For each round it prints how many connections were echoed
//! within the deadline and the latency percentiles of those that were: for the first round
//! from the start of `connect` to the last byte of the echo (what a client waiting for the
//! server to accept it sees), for the second from each `send` to its echo, with how many lines
//! each connection got through: a server that starves some connections shows it there.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

/// 64 bytes, like the issue's load generator.
const LINE: &[u8; 64] = b"the quick brown fox jumps over the lazy dog, and again, and ok.\n";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().unwrap_or("127.0.0.1:19011".into()).parse()?;
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10_000);
    let secs: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let (soft, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)?;
    eprintln!("RLIMIT_NOFILE {soft} → {hard}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(run(addr, n, Duration::from_secs(secs)))
}

async fn run(addr: SocketAddr, n: usize, deadline: Duration) -> anyhow::Result<()> {
    let barrier = std::sync::Arc::new(Barrier::new(n + 1));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let began = Instant::now();
            let first = tokio::time::timeout(deadline, async {
                let mut s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                echo(&mut s).await?;
                anyhow::Ok(s)
            })
            .await;
            let (first, stream) = match first {
                Ok(Ok(s)) => (Some(began.elapsed()), Some(s)),
                _ => (None, None),
            };
            // Every task reaches the barrier, served or not, so the second round starts once
            // all first rounds have ended.
            barrier.wait().await;
            // Round 2, closed loop: send a line, wait for its echo, again, until the deadline.
            let mut lines = Vec::new();
            if let Some(mut s) = stream {
                let until = Instant::now() + deadline;
                while Instant::now() < until {
                    let sent = Instant::now();
                    match tokio::time::timeout_at(until.into(), echo(&mut s)).await {
                        Ok(Ok(())) => lines.push(sent.elapsed()),
                        _ => break,
                    }
                }
            }
            (first, lines)
        }));
    }
    barrier.wait().await;
    eprintln!("round 1 over after {:.2} s", start.elapsed().as_secs_f64());
    let mut firsts = Vec::new();
    let mut all = Vec::new();
    let mut per_conn = Vec::new();
    for t in tasks {
        let (a, lines) = t.await?;
        firsts.extend(a);
        per_conn.push(lines.len());
        all.extend(lines);
    }
    report("connect + first echo", n, firsts);
    let served = per_conn.iter().filter(|&&l| l > 0).count();
    per_conn.sort();
    println!(
        "closed loop {:.0} s: {served}/{n} connections echoed, {} lines ({:.0}/s), lines per \
         connection min {} median {} max {}",
        deadline.as_secs_f64(),
        all.len(),
        all.len() as f64 / deadline.as_secs_f64(),
        per_conn[0],
        per_conn[n / 2],
        per_conn[n - 1]
    );
    report("closed loop, each echo", all.len(), all);
    Ok(())
}

/// Sends [`LINE`] and reads its upper-cased echo back, byte-exact.
async fn echo(s: &mut TcpStream) -> anyhow::Result<()> {
    s.write_all(LINE).await?;
    let mut back = [0u8; LINE.len()];
    s.read_exact(&mut back).await?;
    anyhow::ensure!(back == LINE.to_ascii_uppercase()[..], "echo differs");
    Ok(())
}

fn report(what: &str, n: usize, mut lat: Vec<Duration>) {
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{what}: served {}/{n}, p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
        lat.len(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        pct(1.0)
    );
}
