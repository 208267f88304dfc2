//! Fan-out: one server, a room of viewers, four models under load — does every viewer get
//! what it asked for, how late, and what does it cost the server?
//!
//! A teacher's laptop serving forty students is one recorder feeding forty WebSockets. Here
//! 100 viewers (10 in the short form) connect to a `kettle serve` child, subscribe to every
//! model's steps and aggregates and spotlight one connection of each loaded model; then
//! Kettle's own load generator ([`crate::tools::load`], which only connects to the server's model
//! ports) echoes 1 000 lines a second on each of four models. Under that load every model is
//! *crowded* (over [`kettle_shared::DETAIL_BUDGET_PER_S`]), so what a viewer asked for is the
//! spotlit connections' steps in detail, the lifecycle and thread steps, and every model's
//! [`kettle_shared::Aggregate`] every 100 ms — and that is what is counted.
//!
//! What a student should notice: the recorder sends each event once into a shared ring and
//! every viewer encodes it from there, so a viewer costs the server the encoding of what it
//! watches, not a copy of the stream; the delivery delay (the step's `t_ns` to its decoding
//! here, on the one `CLOCK_MONOTONIC` both processes share) is mostly the 25 ms batch
//! interval; and a viewer loses events only where it shows a count of them (`dropped`), which
//! must be 0 while the detail stays within the budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use kettle_shared::{Command, LoadSpec, ServerMsg};

use super::child::{cpu_percent, ProcStats, ServeChild};
use super::viewer::{mono_ns, Viewer};
use super::{Ctx, Figure};
use crate::tools::load::{self, StopToken, Target};

/// The loaded models: a thread per connection and three readiness calls.
const MODELS: [&str; 4] = ["thread-per-conn", "select", "poll", "epoll"];
/// Lines a second offered to each model (open loop).
const RATE: u32 = 1_000;
/// Connections of the load on each model.
const CONNS: u32 = 10;
/// Connections of each loaded model every viewer follows in detail.
const SAMPLE: u32 = 1;
/// Bytes per line of the load.
const LINE_BYTES: u32 = 64;
/// Viewers and seconds of load: the full form, and the short one (CI).
const FULL: (usize, u32) = (100, 20);
const SHORT: (usize, u32) = (10, 3);
/// How often the server's memory is read while the load runs.
const RSS_EVERY: Duration = Duration::from_millis(250);
/// How long the viewers keep reading after the load: the window's last batches are at most
/// 25 ms behind, the margin is for a machine busy with 100 viewers.
const LAST_BATCHES: Duration = Duration::from_millis(1500);

/// What one viewer received.
#[derive(Debug)]
struct Tally {
    /// Events stamped since the load began, per model.
    in_window: HashMap<String, u64>,
    /// Every event received, counted per [`BIN_NS`] of its `t_ns`: the window's whole bins
    /// are then compared across viewers, whenever each read them.
    bins: HashMap<u64, u64>,
    /// Every event received.
    events: u64,
    /// `Batch::dropped`, summed.
    dropped: u64,
    /// Aggregates received per loaded model.
    aggregates: HashMap<String, u64>,
    /// Delivery delay of the window's events, µs.
    delay_us: Histogram<u64>,
    /// Closed by the server, with this code.
    closed: Option<Option<u16>>,
}

/// The fields of a [`ServerMsg::Batch`] the tally needs.
#[derive(serde::Deserialize)]
struct LightBatch {
    events: Vec<LightEvent>,
    dropped: u64,
}

#[derive(serde::Deserialize)]
struct LightEvent {
    t_ns: u64,
    model: String,
}

/// The fields of a [`ServerMsg::Aggregates`] the tally needs.
#[derive(serde::Deserialize)]
struct LightAggregates {
    aggregates: Vec<LightAggregate>,
}

#[derive(serde::Deserialize)]
struct LightAggregate {
    model: String,
}

/// The width of the bins events are counted in, ns.
const BIN_NS: u64 = 100_000_000;

/// The load window on the server's `t_ns` axis (set when the load starts).
#[derive(Debug, Default)]
struct Window {
    from: std::sync::atomic::AtomicU64,
}

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Figure>> {
    let (n_viewers, secs) = if ctx.short { SHORT } else { FULL };
    ctx.say(format!("fan_out: starting kettle serve with {}", MODELS.join(", ")));
    let server = ServeChild::spawn(&ctx.exe, &MODELS, None)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(measure(ctx, &server, n_viewers, secs))
        .with_context(|| format!("the server's last words:\n{}", server.stderr_tail()))
}

async fn measure(
    ctx: &Ctx,
    server: &ServeChild,
    n_viewers: usize,
    secs: u32,
) -> anyhow::Result<Vec<Figure>> {
    ctx.say(format!("fan_out: connecting {n_viewers} viewers"));
    let viewers = connect_viewers(server, n_viewers).await?;
    // The server's start, from the Hello that travelled fastest (before any load).
    let start_mono = viewers.iter().map(|v| v.start_mono_ns).min().unwrap_or(0);
    let window = Arc::new(Window::default());
    window.from.store(u64::MAX, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = viewers
        .into_iter()
        .map(|v| tokio::spawn(watch(v, start_mono, window.clone(), stop.clone())))
        .collect();

    ctx.say(format!(
        "fan_out: {} models × {RATE} lines/s for {secs} s, {n_viewers} viewers watching",
        MODELS.len()
    ));
    let loaded = load_every_model(server, secs, start_mono, &window).await?;
    tokio::time::sleep(LAST_BATCHES).await;
    stop.store(true, Ordering::Relaxed);
    let mut tallies = Vec::new();
    for t in tasks {
        tallies.push(t.await??);
    }
    let received = Received::of(&tallies, loaded.from..loaded.to)?;
    Ok(figures(n_viewers, secs, &loaded, &received))
}

/// `n` viewers, each subscribed to every model's steps and aggregates and following
/// [`SAMPLE`] connections of each loaded model.
async fn connect_viewers(server: &ServeChild, n: usize) -> anyhow::Result<Vec<Viewer>> {
    let mut viewers = Vec::with_capacity(n);
    for _ in 0..n {
        let mut v = Viewer::connect(server.addr).await?;
        let subscribed = v.ask(Command::Subscribe { models: None, aggregates: None }).await?;
        anyhow::ensure!(matches!(subscribed, ServerMsg::Reply { .. }), "{subscribed:?}");
        for model in MODELS {
            let spot = v.ask(Command::Spotlight { model: model.into(), sample: SAMPLE }).await?;
            anyhow::ensure!(matches!(spot, ServerMsg::Reply { .. }), "{spot:?}");
        }
        viewers.push(v);
    }
    Ok(viewers)
}

/// What the load did, and what the server had and spent meanwhile.
#[derive(Debug)]
struct Loaded {
    /// The load's window on the server's `t_ns` axis.
    from: u64,
    to: u64,
    wall: Duration,
    lines: u64,
    mismatches: u64,
    /// The worst of the loads' p99 latencies, µs.
    p99_us: u64,
    before: ProcStats,
    after: ProcStats,
    peak_rss_kib: u64,
}

/// Runs Kettle's load generator on every loaded model at once (open loop, [`RATE`] lines a
/// second each) for `secs`, reading the server's memory as it goes; sets the viewers'
/// `window` when it starts.
async fn load_every_model(
    server: &ServeChild,
    secs: u32,
    start_mono: u64,
    window: &Window,
) -> anyhow::Result<Loaded> {
    let listing = server.models()?;
    let before = server.stats()?;
    let began = Instant::now();
    let from = mono_ns().saturating_sub(start_mono);
    window.from.store(from, Ordering::Relaxed);
    let mut loads = Vec::new();
    for model in MODELS {
        let target = Target::from_listing(&listing, Some(model), None)
            .map_err(|r| anyhow::anyhow!("{}", crate::failure::for_terminal(&r)))?;
        let spec = LoadSpec {
            model: model.into(),
            conns: CONNS,
            rate: Some(RATE),
            size: LINE_BYTES,
            secs,
        };
        let duration = Duration::from_secs(secs.into());
        loads.push(load::spawn(target, spec, duration, StopToken::new(), |_| {})?);
    }
    let mut peak_rss_kib = before.rss_kib;
    while loads.iter().any(|l| !l.is_finished()) {
        tokio::time::sleep(RSS_EVERY).await;
        if let Ok(s) = server.stats() {
            peak_rss_kib = peak_rss_kib.max(s.rss_kib);
        }
    }
    let wall = began.elapsed();
    let after = server.stats()?;
    let to = mono_ns().saturating_sub(start_mono);
    let (mut lines, mut mismatches, mut p99_us) = (0, 0, 0);
    for l in loads {
        let report = l.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        lines += report.lines;
        mismatches += report.mismatches;
        p99_us = p99_us.max(report.latency.p99_us);
    }
    Ok(Loaded { from, to, wall, lines, mismatches, p99_us, before, after, peak_rss_kib })
}

/// What the viewers received, all together.
#[derive(Debug)]
struct Received {
    /// Delivery delay of the window's events, µs.
    delay: Histogram<u64>,
    dropped: u64,
    /// Viewers the server closed.
    closed: usize,
    events: u64,
    /// The fewest and the most events of the window's whole bins one viewer received.
    window_least: u64,
    window_most: u64,
    every_model_seen: bool,
    /// The fewest aggregates one viewer received for one model.
    aggregates_least: u64,
}

impl Received {
    fn of(tallies: &[Tally], window: std::ops::Range<u64>) -> anyhow::Result<Received> {
        let mut delay = Histogram::<u64>::new(3)?;
        for t in tallies {
            delay.add(&t.delay_us)?;
        }
        // The bins wholly inside the load's window.
        let bins = (window.start / BIN_NS + 1)..(window.end / BIN_NS);
        let window_counts: Vec<u64> = tallies
            .iter()
            .map(|t| bins.clone().map(|b| t.bins.get(&b).copied().unwrap_or(0)).sum())
            .collect();
        let count = |t: &HashMap<String, u64>, m: &str| t.get(m).copied().unwrap_or(0);
        Ok(Received {
            delay,
            dropped: tallies.iter().map(|t| t.dropped).sum(),
            closed: tallies.iter().filter(|t| t.closed.is_some()).count(),
            events: tallies.iter().map(|t| t.events).sum(),
            window_least: window_counts.iter().copied().min().unwrap_or(0),
            window_most: window_counts.iter().copied().max().unwrap_or(0),
            every_model_seen: tallies
                .iter()
                .all(|t| MODELS.iter().all(|m| count(&t.in_window, m) > 0)),
            aggregates_least: tallies
                .iter()
                .map(|t| MODELS.iter().map(|m| count(&t.aggregates, m)).min().unwrap_or(0))
                .min()
                .unwrap_or(0),
        })
    }
}

/// The scenario's figures, each with the property it must hold.
fn figures(n_viewers: usize, secs: u32, loaded: &Loaded, got: &Received) -> Vec<Figure> {
    let (min_w, max_w) = (got.window_least, got.window_most);
    // Aggregates come every 100 ms: at least half of them over the load, per model and viewer.
    let aggregates_due = u64::from(secs) * 10 / 2;
    let ms = |us: u64| format!("{:.1} ms", us as f64 / 1000.0);
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let cpu = cpu_percent(&loaded.before, &loaded.after, loaded.wall);
    vec![
        Figure::info("viewers", n_viewers),
        Figure::info("models loaded", MODELS.join(", ")),
        Figure::info("lines/s offered", format!("{} ({} × {RATE})", RATE * 4, MODELS.len())),
        Figure::info(
            "lines/s echoed",
            format!("{:.0}", loaded.lines as f64 / loaded.wall.as_secs_f64()),
        ),
        Figure::check("echoes that differ", loaded.mismatches, "= 0", loaded.mismatches == 0),
        Figure::info("load latency p99", ms(loaded.p99_us)),
        Figure::info("events received, all viewers", got.events),
        Figure::info("events of the window per viewer", format!("{min_w} … {max_w}")),
        Figure::check(
            "every viewer got the same events",
            yes_no(min_w == max_w),
            "yes (when nothing dropped)",
            min_w == max_w || got.dropped > 0,
        ),
        Figure::check(
            "every viewer got detail of every model",
            yes_no(got.every_model_seen),
            "yes",
            got.every_model_seen,
        ),
        Figure::check(
            "aggregates per model per viewer (fewest)",
            got.aggregates_least,
            &format!("≥ {aggregates_due}"),
            got.aggregates_least >= aggregates_due,
        ),
        Figure::check("dropped (Batch.dropped, all viewers)", got.dropped, "= 0", got.dropped == 0),
        Figure::check("viewers closed by the server", got.closed, "= 0", got.closed == 0),
        Figure::info("delivery delay p50", ms(got.delay.value_at_quantile(0.5))),
        Figure::info("delivery delay p99", ms(got.delay.value_at_quantile(0.99))),
        Figure::info("delivery delay max", ms(got.delay.max())),
        Figure::info("server CPU (% of one core)", format!("{cpu:.0} %")),
        Figure::info("server RSS before", mib(loaded.before.rss_kib)),
        Figure::info("server RSS peak", mib(loaded.peak_rss_kib)),
        Figure::info("server threads", loaded.after.threads),
    ]
}

/// Reads one viewer's messages until `stop`, counting what it asked for.
async fn watch(
    mut v: Viewer,
    start_mono: u64,
    window: Arc<Window>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Tally> {
    let mut t = Tally {
        in_window: HashMap::new(),
        bins: HashMap::new(),
        events: 0,
        dropped: 0,
        aggregates: HashMap::new(),
        delay_us: Histogram::new(3)?,
        closed: None,
    };
    while !stop.load(Ordering::Relaxed) {
        let (text, at) = match v.read_text(Duration::from_millis(200)).await? {
            Ok(Some(got)) => got,
            Ok(None) => continue,
            Err(code) => {
                t.closed = Some(code);
                break;
            }
        };
        // A hundred viewers decoding every event in full would measure this process, not the
        // server: only the fields counted are decoded (serde skips the rest).
        if text.starts_with(r#"{"type":"batch""#) {
            let batch: LightBatch = serde_json::from_str(&text)?;
            t.dropped += batch.dropped;
            t.events += batch.events.len() as u64;
            let from = window.from.load(Ordering::Relaxed);
            for e in batch.events {
                *t.bins.entry(e.t_ns / BIN_NS).or_default() += 1;
                if e.t_ns >= from {
                    *t.in_window.entry(e.model).or_default() += 1;
                    let late = at.saturating_sub(start_mono + e.t_ns) / 1000;
                    t.delay_us.record(late.max(1))?;
                }
            }
        } else if text.starts_with(r#"{"type":"aggregates""#) {
            let cut: LightAggregates = serde_json::from_str(&text)?;
            for a in cut.aggregates {
                if MODELS.contains(&a.model.as_str()) {
                    *t.aggregates.entry(a.model).or_default() += 1;
                }
            }
        }
    }
    Ok(t)
}
