//! Faults on purpose: the things that go wrong in a classroom, done to a real Kettle.
//!
//! - **A viewer that never reads** (a tab in the background of a frozen laptop): its socket's
//!   receive buffer is made tiny and nothing is read. The server must drop it — its write
//!   buffer full or its send timed out — without its memory growing, while another viewer
//!   keeps being served. Seen in `/proc/net/tcp` as the server's end of the connection
//!   leaving `ESTABLISHED`: the server closed it.
//! - **A client that resets mid-line** (a lid closed while typing): half a line, then
//!   `SO_LINGER` 0 and `close`, so the kernel sends RST. Every model must serve the next
//!   client.
//! - **A model thread that panics** (a bug in Kettle): armed with
//!   [`crate::fault::arm_model_panic`] in a server of this process. The model must go
//!   `unavailable` with [`kettle_shared::Reason::Panicked`], told to viewers, its port freed,
//!   and the other models keep serving.
//! - **`EMFILE` at the web front**: a `kettle serve` child whose `RLIMIT_NOFILE` is small,
//!   its descriptor table filled with idle connections. While full it must not spin (its CPU
//!   is measured); once they close it must serve again.
//! - **`SIGTERM` under load**: the child must stop every model, exit with status 0 promptly,
//!   and free every port.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::Context;
use kettle_shared::{Command, LoadSpec, ModelState, Reason, ServerMsg};

use super::child::{cpu_percent, echo_once, port_free, ServeChild};
use super::viewer::{Read, Viewer};
use super::{ms, wait_for, Ctx, Figure};
use crate::proc::net::{TcpTable, TCP_ESTABLISHED};
use crate::tools::load::{self, StopToken, Target};

/// Runs the scenario: each fault in turn, its figures prefixed with its name.
pub fn run(ctx: &Ctx) -> anyhow::Result<Vec<Figure>> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut figures = Vec::new();
    let mut part = |name: &str, r: anyhow::Result<Vec<Figure>>| match r {
        Ok(fs) => figures.extend(fs.into_iter().map(|mut f| {
            f.name = format!("{name}: {}", f.name);
            f
        })),
        Err(e) => figures.push(Figure::check(name, format!("could not run: {e:#}"), "runs", false)),
    };
    ctx.say("faults: a client that resets mid-line, on every model");
    let mut server = ServeChild::spawn(&ctx.exe, &["all"], None)?;
    part("reset mid-line", reset_mid_line(&server));
    // The busy loop would take a core from everything that follows.
    let _ = server.model("nonblocking", "stop");
    ctx.say("faults: a viewer that never reads");
    part("viewer never reads", rt.block_on(never_reads(ctx, &server)));
    ctx.say("faults: a model thread that panics");
    part("model panics", rt.block_on(panics(ctx)));
    ctx.say("faults: EMFILE at the web front");
    part("EMFILE at the web front", emfile(ctx));
    ctx.say("faults: SIGTERM under load");
    part("SIGTERM under load", rt.block_on(sigterm(&mut server)));
    Ok(figures)
}

fn reset_mid_line(server: &ServeChild) -> anyhow::Result<Vec<Figure>> {
    let running: Vec<_> = server
        .models()?
        .into_iter()
        .filter(|m| m.state == ModelState::Running)
        .filter_map(|m| Some((m.id, m.port?)))
        .collect();
    let mut failed = Vec::new();
    for (id, port) in &running {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, *port))?;
        s.write_all(b"half a li")?;
        // Let the model take the half line in before the reset tears the connection down.
        std::thread::sleep(Duration::from_millis(50));
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        nix::sys::socket::setsockopt(&s.as_fd(), nix::sys::socket::sockopt::Linger, &linger)?;
        drop(s);
        if let Err(e) = echo_once(*port, "the next client\n", Duration::from_secs(10)) {
            failed.push(format!("{id}: {e:#}"));
        }
    }
    let mut figures = vec![Figure::check(
        "models serving the next client",
        format!("{}/{}", running.len() - failed.len(), running.len()),
        "all",
        failed.is_empty() && !running.is_empty(),
    )];
    figures.extend(failed.into_iter().map(|f| Figure::info("failed", f)));
    Ok(figures)
}

/// Whether the server closed its end of our connection `local`: its socket (local address
/// the server's, remote ours) in `/proc/net/tcp` is no longer `ESTABLISHED` (`01`) — after
/// `close` with data still queued for a peer that reads nothing it sits in `FIN_WAIT1`, its
/// FIN behind the data, so our end never learns of it.
fn server_closed(server: SocketAddr, local: SocketAddr) -> bool {
    let Ok(table) = TcpTable::read() else { return false };
    let (ours, theirs) = (loopback(server.port()), loopback(local.port()));
    table.connection(ours, theirs).map(|s| s.state) != Some(TCP_ESTABLISHED)
}

fn loopback(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
}

async fn never_reads(ctx: &Ctx, server: &ServeChild) -> anyhow::Result<Vec<Figure>> {
    let mut reader = Viewer::connect(server.addr).await?;
    reader.ask(Command::Subscribe { models: None, aggregates: None }).await?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    // A tiny receive window: the server's buffers for us fill at once.
    socket.set_recv_buffer_size(4096)?;
    let stream = socket.connect(server.addr).await?;
    let local = stream.local_addr()?;
    let mut stalled = Viewer::over(server.addr, stream).await?;
    stalled.ask(Command::Subscribe { models: None, aggregates: None }).await?;
    stalled.ask(Command::Spotlight { model: "epoll".into(), sample: 4 }).await?;
    // From here on `stalled` is never read.

    let listing = server.models()?;
    let target = Target::from_listing(&listing, Some("epoll"), None)
        .map_err(|r| anyhow::anyhow!("{}", crate::failure::for_terminal(&r)))?;
    let spec = LoadSpec { model: "epoll".into(), conns: 20, rate: Some(5_000), size: 64, secs: 60 };
    let stop = StopToken::new();
    let load = load::spawn(target, spec, Duration::from_secs(60), stop.clone(), |_| {})?;
    let before = server.stats()?;
    let began = Instant::now();
    let mut peak = before.rss_kib;
    let mut read_meanwhile = 0u64;
    let mut reader_closed = false;
    let mut dropped_after = None;
    // The send timeout is 10 s; a write buffer that fills first drops it sooner.
    while began.elapsed() < Duration::from_secs(45) {
        match reader.read(Duration::from_millis(100)).await? {
            Read::Msg(..) => read_meanwhile += 1,
            Read::Closed(_) => {
                reader_closed = true;
                break;
            }
            Read::Quiet => {}
        }
        if let Ok(s) = server.stats() {
            peak = peak.max(s.rss_kib);
        }
        if dropped_after.is_none() && server_closed(server.addr, local) {
            dropped_after = Some(began.elapsed());
            ctx.say(format!(
                "faults: the stalled viewer was dropped after {}",
                ms(began.elapsed())
            ));
        }
        // Keep reading a moment after the drop: the others must still be served.
        if dropped_after.is_some_and(|d| began.elapsed() > d + Duration::from_secs(1)) {
            break;
        }
    }
    stop.stop(Reason::StoppedOnRequest);
    let _ = tokio::task::spawn_blocking(move || load.join()).await;
    drop(stalled);
    let growth_mib = peak.saturating_sub(before.rss_kib) as f64 / 1024.0;
    Ok(vec![
        Figure::check(
            "dropped by the server after",
            dropped_after.map_or("never (45 s)".to_owned(), ms),
            "≤ 45 s",
            dropped_after.is_some(),
        ),
        Figure::check(
            "server RSS growth meanwhile",
            format!("{growth_mib:.1} MiB"),
            "≤ 64 MiB",
            growth_mib <= 64.0,
        ),
        Figure::check(
            "messages to a reading viewer meanwhile",
            read_meanwhile,
            "> 0, not closed",
            read_meanwhile > 0 && !reader_closed,
        ),
    ])
}

async fn panics(ctx: &Ctx) -> anyhow::Result<Vec<Figure>> {
    let config = crate::Config {
        bind: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        model_port_base: 0,
        start: vec!["epoll".into(), "poll".into()],
        allow_origins: vec![],
        dist: None,
        pool_workers: 4,
        child_exe: Some(ctx.exe.clone()),
        limits: crate::Limits::default(),
        classroom: false,
        allow_hosts: vec![],
        trace: None,
        trace_stops: Default::default(),
    };
    let server = crate::serve(config).await?;
    let result = panics_in(&server).await;
    server.shutdown().await?;
    result
}

async fn panics_in(server: &crate::Server) -> anyhow::Result<Vec<Figure>> {
    let mut viewer = Viewer::connect(server.addr).await?;
    let epoll = server.registry.running_port("epoll").context("epoll running")?;
    let poll = server.registry.running_port("poll").context("poll running")?;
    eprintln!("kettle soak: arming a panic in the epoll model's thread: its message is expected");
    crate::fault::arm_model_panic("epoll");
    // The model's next recorded step (its accept of this client) panics.
    let _ = tokio::task::spawn_blocking(move || echo_once(epoll, "boom\n", Duration::from_secs(2)))
        .await;
    let unavailable = wait_for(Duration::from_secs(10), || {
        let m = server.registry.get("epoll").ok()?;
        (m.state == ModelState::Unavailable).then_some(m.reason)
    });
    let reason_ok = matches!(unavailable, Some(Some(Reason::Panicked { .. })));
    let mut told = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !told && Instant::now() < deadline {
        if let Read::Msg(msg, _) = viewer.read(Duration::from_millis(200)).await? {
            if let ServerMsg::Model { model } = *msg {
                told |= model.id == "epoll" && model.state == ModelState::Unavailable;
            }
        }
    }
    let others = tokio::task::spawn_blocking(move || {
        echo_once(poll, "still here\n", Duration::from_secs(10)).map(drop)
    })
    .await?;
    let restart = viewer.ask(Command::Start { model: "epoll".into() }).await?;
    Ok(vec![
        Figure::check(
            "epoll's state",
            match &unavailable {
                Some(Some(r)) => format!("unavailable: {}", crate::failure::for_terminal(r)),
                Some(None) => "unavailable, no reason".into(),
                None => "not unavailable after 10 s".into(),
            },
            "unavailable (panicked)",
            reason_ok,
        ),
        Figure::check("viewers told", if told { "yes" } else { "no" }, "yes", told),
        Figure::check(
            "epoll's port freed",
            if port_free(epoll) { "yes" } else { "no" },
            "yes",
            port_free(epoll),
        ),
        Figure::check(
            "poll still echoes",
            others.as_ref().map_or_else(|e| format!("no: {e:#}"), |()| "yes".into()),
            "yes",
            others.is_ok(),
        ),
        Figure::check(
            "starting epoll again",
            match &restart {
                ServerMsg::Error { code, .. } => format!("refused ({code:?})"),
                other => format!("{other:?}"),
            },
            "refused: unavailable",
            matches!(restart, ServerMsg::Error { .. }),
        ),
    ])
}

/// The descriptor limit of the `EMFILE` child.
const EMFILE_LIMIT: u64 = 64;

fn emfile(ctx: &Ctx) -> anyhow::Result<Vec<Figure>> {
    let server = ServeChild::spawn(&ctx.exe, &[], Some(EMFILE_LIMIT))?;
    let at_start = server.stats()?.fds;
    // More connections than the table has room for: the rest wait in the listen backlog.
    let mut idle = Vec::new();
    for _ in 0..2 * EMFILE_LIMIT {
        idle.push(TcpStream::connect(server.addr)?);
    }
    let full = wait_for(Duration::from_secs(10), || {
        let s = server.stats().ok()?;
        (s.fds >= EMFILE_LIMIT - 1).then_some(s.fds)
    });
    let before = server.stats()?;
    let t = Instant::now();
    let while_full = server.request("GET", "/api/models", Duration::from_secs(2)).ok();
    std::thread::sleep(Duration::from_secs(2).saturating_sub(t.elapsed()));
    let cpu = cpu_percent(&before, &server.stats()?, t.elapsed());
    drop(idle);
    let t = Instant::now();
    let again = wait_for(Duration::from_secs(15), || {
        let answer = server.request("GET", "/api/models", Duration::from_secs(2)).ok()?;
        (answer.status == 200).then(|| t.elapsed())
    });
    Ok(vec![
        Figure::info("descriptor limit", format!("{EMFILE_LIMIT} ({at_start} open at start)")),
        Figure::check(
            "descriptor table filled",
            full.map_or("no".into(), |n| format!("yes ({n} open)")),
            "yes",
            full.is_some(),
        ),
        Figure::info(
            "a request while full",
            match while_full {
                Some(answer) => format!("answered {}", answer.status),
                None => "waits in the backlog".into(),
            },
        ),
        Figure::check(
            "server CPU while full",
            format!("{cpu:.0} %"),
            "< 50 % (no busy loop)",
            cpu < 50.0,
        ),
        Figure::check(
            "serves again after the connections close",
            again.map_or("no (15 s)".into(), |d| format!("yes, after {}", ms(d))),
            "yes",
            again.is_some(),
        ),
    ])
}

async fn sigterm(server: &mut ServeChild) -> anyhow::Result<Vec<Figure>> {
    let listing = server.models()?;
    let mut ports: Vec<u16> =
        listing.iter().filter(|m| m.state == ModelState::Running).filter_map(|m| m.port).collect();
    ports.push(server.addr.port());
    let mut viewer = Viewer::connect(server.addr).await?;
    viewer.ask(Command::Subscribe { models: None, aggregates: None }).await?;
    let target = Target::from_listing(&listing, Some("epoll"), None)
        .map_err(|r| anyhow::anyhow!("{}", crate::failure::for_terminal(&r)))?;
    let spec = LoadSpec { model: "epoll".into(), conns: 50, rate: None, size: 64, secs: 30 };
    let stop = StopToken::new();
    let load = load::spawn(target, spec, Duration::from_secs(30), stop.clone(), |_| {})?;
    // Under load for a second (the viewer reading), then the signal.
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        let _ = viewer.read(Duration::from_millis(50)).await?;
    }
    let t = Instant::now();
    server.signal(nix::sys::signal::Signal::SIGTERM)?;
    let status = server.wait_exit(Duration::from_secs(30));
    let took = t.elapsed();
    stop.stop(Reason::StoppedOnRequest);
    let _ = tokio::task::spawn_blocking(move || load.join()).await;
    let freed =
        wait_for(Duration::from_secs(2), || ports.iter().all(|p| port_free(*p)).then_some(()));
    Ok(vec![
        Figure::check(
            "exit status",
            status.map_or("still running after 30 s".into(), |s| s.to_string()),
            "0",
            status.is_some_and(|s| s.success()),
        ),
        Figure::info("exit took", ms(took)),
        Figure::check(
            "ports freed (web + models)",
            if freed.is_some() { format!("all {}", ports.len()) } else { "no".into() },
            "all",
            freed.is_some(),
        ),
    ])
}
