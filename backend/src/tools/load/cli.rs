//! `kettle load`: a load on a model of a running Kettle, from the terminal.
//!
//! It asks the running server which models run where (`GET /api/models`, with the `Host`
//! header the server checks), so it can only aim at one of them ([`Target::from_listing`]);
//! then it runs the generator here, in this process, showing progress as it goes and a summary
//! at the end. The exit status says whether every echo was right and every connection served.

use std::time::Duration;

use anyhow::{bail, Context};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use indicatif::{ProgressBar, ProgressStyle};
use kettle_shared::{LoadReport, LoadSpec, ModelInfo};

use super::{check_spec, raise_nofile_limit, spawn, StopToken, Target};
use crate::failure::for_terminal;
use crate::tools::http;

/// How long the running server has to list its models.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What `kettle load` was asked.
#[derive(Debug, Clone)]
pub struct LoadArgs {
    /// The running Kettle, `http://HOST:PORT`.
    pub server: String,
    /// The model to load.
    pub model: Option<String>,
    /// Or the model listening here (must be one of the server's model ports).
    pub addr: Option<String>,
    /// Connections.
    pub conns: u32,
    /// Lines a second (open loop), or closed loop.
    pub rate: Option<u32>,
    /// Bytes per line.
    pub size: u32,
    /// Seconds.
    pub secs: u32,
}

/// Runs `kettle load`; returns whether the load was clean (no mismatch, no failed connection).
pub async fn main(args: LoadArgs) -> anyhow::Result<bool> {
    let models = fetch_models(&args.server).await?;
    let target = Target::from_listing(&models, args.model.as_deref(), args.addr.as_deref())
        .map_err(|r| refused(&r, &models, &args.server))?;
    let spec = LoadSpec {
        model: target.model.clone(),
        conns: args.conns,
        rate: args.rate,
        size: args.size,
        secs: args.secs,
    };
    check_spec(&spec).map_err(|r| anyhow::anyhow!("kettle load: {}", for_terminal(&r)))?;
    let limit = raise_nofile_limit();
    eprintln!(
        "kettle load: {} at {} — {} connections, {}, {}-byte lines, {} s; descriptor limit \
         (RLIMIT_NOFILE) raised to {limit}",
        target.model,
        target.addr,
        spec.conns,
        spec.rate.map_or("closed loop".to_owned(), |r| format!("{r} lines/s (open loop)")),
        spec.size,
        spec.secs,
    );
    if u64::from(spec.conns) + 16 > limit {
        eprintln!("kettle load: {} connections need more descriptors than {limit}: some will fail with EMFILE", spec.conns);
    }

    let stop = StopToken::new();
    let (tx, rx) = std::sync::mpsc::channel::<LoadReport>();
    let thread =
        spawn(target, spec.clone(), Duration::from_secs(spec.secs.into()), stop.clone(), {
            move |r: &LoadReport| {
                let _ = tx.send(r.clone());
            }
        })?;
    let interrupt = {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.stop(kettle_shared::Reason::StoppedOnRequest);
            }
        })
    };
    let secs = spec.secs;
    let progress = tokio::task::spawn_blocking(move || show_progress(secs, rx));
    let last = tokio::task::spawn_blocking(move || thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the load thread panicked"))??;
    progress.await?;
    interrupt.abort();
    println!("{}", summary(&last));
    Ok(last.mismatches == 0 && last.conns_failed == 0)
}

/// Why `kettle load` will not load that target, with the models it could load.
fn refused(why: &kettle_shared::Reason, models: &[ModelInfo], server: &str) -> anyhow::Error {
    let running: Vec<String> = models
        .iter()
        .filter(|m| m.state == kettle_shared::ModelState::Running)
        .filter_map(|m| Some(format!("{} 127.0.0.1:{}", m.id, m.port?)))
        .collect();
    let running = if running.is_empty() { "none".to_owned() } else { running.join(", ") };
    anyhow::anyhow!(
        "kettle load refused: {} — it only loads a running model of the server at {server} \
         (running: {running})",
        for_terminal(why),
    )
}

/// A progress bar over the run's `secs`, with the reports' rates, until the reports end.
fn show_progress(secs: u32, reports: std::sync::mpsc::Receiver<LoadReport>) {
    let bar = ProgressBar::new(u64::from(secs) * 1000);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut previous: Option<LoadReport> = None;
    for r in reports {
        bar.set_position(r.elapsed_ms);
        // The rate over the last interval, beside the average since the start.
        let now_rate = previous.as_ref().map_or(r.lines_per_s, |p| {
            let ms = r.elapsed_ms.saturating_sub(p.elapsed_ms).max(1);
            (r.lines - p.lines) * 1000 / ms
        });
        bar.set_message(format!(
            "{now_rate:>8} lines/s  p50 {:>6} µs  p99 {:>7} µs  {} open  {} failed  {} mismatches",
            r.latency.p50_us, r.latency.p99_us, r.conns_open, r.conns_failed, r.mismatches
        ));
        previous = Some(r);
    }
    bar.finish_and_clear();
}

/// The final report as a table.
pub fn summary(r: &LoadReport) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["", ""]);
    let rows: Vec<(&str, String)> = vec![
        ("model", r.spec.model.clone()),
        (
            "load",
            format!(
                "{} conns, {}, {} B lines, {} s",
                r.spec.conns,
                r.spec.rate.map_or("closed loop".to_owned(), |x| format!("{x} lines/s")),
                r.spec.size,
                r.spec.secs
            ),
        ),
        ("ran", format!("{:.1} s", r.elapsed_ms as f64 / 1000.0)),
        ("connections open at the end", r.conns_open.to_string()),
        ("connections failed", r.conns_failed.to_string()),
        ("descriptor limit (RLIMIT_NOFILE)", r.nofile_limit.to_string()),
        ("lines echoed", r.lines.to_string()),
        ("lines/s", r.lines_per_s.to_string()),
        ("bytes echoed", r.bytes.to_string()),
        ("mismatches", r.mismatches.to_string()),
        (
            "latency p50 / p99 / p99.9 / max",
            format!(
                "{} / {} / {} / {} µs",
                r.latency.p50_us, r.latency.p99_us, r.latency.p999_us, r.latency.max_us
            ),
        ),
        ("lines per connection (least, most)", format!("{} – {}", r.fairness.0, r.fairness.1)),
        ("ended early", r.ended_by.as_ref().map_or("no".to_owned(), for_terminal)),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_owned(), v]);
    }
    t
}

/// `GET /api/models` from a running Kettle at `server` (`http://HOST:PORT`), with the `Host`
/// header it checks.
pub async fn fetch_models(server: &str) -> anyhow::Result<Vec<ModelInfo>> {
    let authority = server
        .strip_prefix("http://")
        .context("--server must be http://HOST:PORT")?
        .trim_end_matches('/');
    if authority.contains('/') || !authority.contains(':') {
        bail!("--server must be http://HOST:PORT, not {server}");
    }
    let answer = http::send(authority, "GET", "/api/models", &[("Host", authority)], ANSWER_WITHIN)
        .await
        .with_context(|| format!("cannot reach Kettle at {server}: is `kettle serve` running?"))?;
    if answer.status != 200 {
        bail!("{server}/api/models answered {}: {}", answer.status, answer.text());
    }
    answer.json().with_context(|| format!("{server}/api/models: not a model list"))
}
