//! Cycles: every model started and stopped again and again — does anything stay behind?
//!
//! A lesson starts and stops models all the time, and "Stop means stopped" (ARCHITECTURE.md)
//! is a promise about every descriptor, thread, child process and port. Here a `kettle serve`
//! child starts every model it can run, echoes a line through each (the connection is left
//! open, so stopping must close a connection in use), stops each through the HTTP API and
//! times the stop — 50 rounds (3 in the short form) while viewers watch every model. Then
//! `/proc/<pid>` is read again: open descriptors, threads, live and zombie children, resident
//! memory, against the start and against a look taken after ten warm-up rounds (the
//! allocator keeps the arenas it grew in the first rounds, and each model's history of 256
//! steps fills over the first dozen or so: growth once, not a leak — the RSS by round shows
//! it level off; 200 rounds measured here grew 19.4 → 19.8 MiB from round 40 to 200), and
//! every port a model used in the last round must bind.
//!
//! What a student should notice: the numbers come back — threads are joined, descriptors
//! closed, `process-per-conn`'s children reaped — and the slowest stop says which model takes
//! longest to wake from its blocking call.

use std::time::{Duration, Instant};

use anyhow::Context;
use kettle_shared::{Command, ModelState, ServerMsg};

use super::child::{echo_once, port_free, ProcStats, ServeChild};
use super::viewer::{Read, Viewer};
use super::{wait_for, Ctx, Figure};

/// Rounds, warm-up rounds and viewers: the full form, and the short one (CI).
const FULL: (u32, u32, usize) = (50, 10, 4);
const SHORT: (u32, u32, usize) = (3, 1, 2);
/// How long a model has to echo a round's line.
const ECHO_WITHIN: Duration = Duration::from_secs(10);

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Figure>> {
    let (rounds, warm_up, n_viewers) = if ctx.short { SHORT } else { FULL };
    ctx.say("cycles: starting kettle serve");
    let server = ServeChild::spawn(&ctx.exe, &[], None)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    // The viewers watch from the runtime's thread while the rounds run here.
    let viewers = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..n_viewers {
            let mut v = Viewer::connect(server.addr).await?;
            let r = v.ask(Command::Subscribe { models: None, aggregates: None }).await?;
            anyhow::ensure!(matches!(r, ServerMsg::Reply { .. }), "{r:?}");
            tasks.push(tokio::spawn(drain(v)));
        }
        anyhow::Ok(tasks)
    })?;
    let result = rounds_of(ctx, &server, rounds, warm_up);
    let closed = rt.block_on(async {
        let mut closed = 0;
        for t in viewers {
            if t.is_finished() {
                closed += 1;
            }
            t.abort();
        }
        closed
    });
    let mut figures =
        result.with_context(|| format!("the server's last words:\n{}", server.stderr_tail()))?;
    figures.push(Figure::check("viewers closed meanwhile", closed, "= 0", closed == 0));
    Ok(figures)
}

/// What the rounds saw, kept as they go.
#[derive(Debug, Default)]
struct Rounds {
    /// The slowest stop, and whose.
    slowest: (Duration, String),
    echo_failures: Vec<String>,
    /// Models that did not start, and in which round.
    skipped: Vec<String>,
    /// The ports the models used in the last round.
    last_ports: Vec<u16>,
    /// RSS (MiB) after some rounds: growth that levels off is the allocator and the bounded
    /// history filling; growth that goes on is a leak.
    series: Vec<String>,
}

fn rounds_of(
    ctx: &Ctx,
    server: &ServeChild,
    rounds: u32,
    warm_up: u32,
) -> anyhow::Result<Vec<Figure>> {
    let ids: Vec<String> = server
        .models()?
        .into_iter()
        .filter(|m| m.state != ModelState::Unavailable)
        .map(|m| m.id)
        .collect();
    let start = server.stats()?;
    let mut warm = start;
    let mut seen = Rounds::default();
    for round in 1..=rounds {
        ctx.say(format!("cycles: round {round}/{rounds} ({} models)", ids.len()));
        one_round(server, &ids, round, &mut seen)?;
        if round == warm_up {
            warm = settled(server, None)?;
        }
        if round % (rounds / 5).max(1) == 0 || round == 1 {
            seen.series.push(format!("{round}: {:.1}", server.stats()?.rss_kib as f64 / 1024.0));
        }
    }
    let end = settled(server, Some(&warm))?;
    let busy = seen.last_ports.iter().filter(|p| !port_free(**p)).count();
    let looks = [start, warm, end];
    let mut figures = vec![Figure::info(
        "rounds",
        format!("{rounds} (warm-up {warm_up}) × {} models", ids.len()),
    )];
    figures.extend(figures_of(&seen, &looks, busy));
    Ok(figures)
}

/// Starts every model, echoes a line through each and holds that connection open, then stops
/// each (timing it) with the connection still open.
fn one_round(
    server: &ServeChild,
    ids: &[String],
    round: u32,
    seen: &mut Rounds,
) -> anyhow::Result<()> {
    let mut running = Vec::new();
    for id in ids {
        let info = server.model(id, "start")?;
        match (info.state, info.port) {
            (ModelState::Running, Some(port)) => running.push((id.clone(), port)),
            _ => seen.skipped.push(format!("{id} in round {round}: {:?}", info.state)),
        }
    }
    // One client per model, echoed once and held open across the stop.
    let mut held = Vec::new();
    for (id, port) in &running {
        match echo_once(*port, &format!("cycle {round} of {id}\n"), ECHO_WITHIN) {
            Ok(s) => held.push(s),
            Err(e) => seen.echo_failures.push(format!("{id} round {round}: {e:#}")),
        }
    }
    for (id, _) in &running {
        let t = Instant::now();
        server.model(id, "stop")?;
        let took = t.elapsed();
        if took > seen.slowest.0 {
            seen.slowest = (took, id.clone());
        }
    }
    drop(held);
    seen.last_ports = running.iter().map(|(_, p)| *p).collect();
    Ok(())
}

/// The figures of the rounds: `looks` are the server's stats at the start, after the
/// warm-up and at the end; `busy` the last round's ports still bound.
fn figures_of(seen: &Rounds, looks: &[ProcStats; 3], busy: usize) -> Vec<Figure> {
    let [start, warm, end] = looks;
    let within = |after: u64, base: u64| after * 10 <= base * 11;
    const MUST: &str = "end ≤ warm-up + 10 % (start → warm-up → end)";
    let row = |name: &str, f: fn(&ProcStats) -> u64| {
        let (s, w, e) = (f(start), f(warm), f(end));
        Figure::check(name, format!("{s} → {w} → {e}"), MUST, within(e, w))
    };
    let mib = |k: u64| format!("{:.1}", k as f64 / 1024.0);
    let (failures, skipped, ports) = (&seen.echo_failures, &seen.skipped, seen.last_ports.len());
    vec![
        Figure::check("echo failures", failures.len(), "= 0", failures.is_empty()),
        Figure::check("models that did not start", skipped.len(), "= 0", skipped.is_empty()),
        row("open descriptors", |s| s.fds),
        row("threads", |s| s.threads),
        Figure::check(
            "RSS, MiB",
            format!("{} → {} → {}", mib(start.rss_kib), mib(warm.rss_kib), mib(end.rss_kib)),
            MUST,
            within(end.rss_kib, warm.rss_kib),
        ),
        Figure::info("RSS by round, MiB", seen.series.join(", ")),
        Figure::check("children left", end.children, "= 0", end.children == 0),
        Figure::check("zombies", end.zombies, "= 0", end.zombies == 0),
        Figure::info("slowest stop", format!("{} ({})", super::ms(seen.slowest.0), seen.slowest.1)),
        Figure::check(
            "model ports free after the last stop",
            format!("{}/{ports}", ports - busy),
            "all",
            busy == 0,
        ),
    ]
    .into_iter()
    .chain(failures.iter().take(3).map(|e| Figure::info("echo failure", e)))
    .chain(skipped.iter().take(3).map(|e| Figure::info("did not start", e)))
    .collect()
}

/// The server's stats once its children are gone and (given a baseline) its descriptors and
/// threads are back to it, or after 3 s, whichever comes first: a child's exit and a joined
/// thread take a moment to show in `/proc`.
fn settled(server: &ServeChild, base: Option<&ProcStats>) -> anyhow::Result<ProcStats> {
    let calm = wait_for(Duration::from_secs(3), || {
        let s = server.stats().ok()?;
        let back = base.is_none_or(|b| s.fds <= b.fds && s.threads <= b.threads);
        (s.children == 0 && s.zombies == 0 && back).then_some(s)
    });
    match calm {
        Some(s) => Ok(s),
        None => server.stats(),
    }
}

/// Reads a viewer's messages until the server closes it (which would be a failure here).
async fn drain(mut v: Viewer) {
    loop {
        match v.read(Duration::from_secs(3600)).await {
            Ok(Read::Msg(..)) | Ok(Read::Quiet) => {}
            Ok(Read::Closed(_)) | Err(_) => return,
        }
    }
}
