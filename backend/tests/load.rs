//! The load generator from the page (`LoadStart`/`LoadStop` over the WebSocket) and from the
//! command line (`kettle load`), against real models on ephemeral ports: every echo checked
//! byte for byte, reports to every viewer, one load at a time, bad specs and foreign addresses
//! refused with their reasons and nothing started.

mod common;

use common::*;
use kettle_shared::{
    Command, ErrorCode, LoadReport, LoadSpec, Reason, ReplyResult, ServerMsg, MAX_LOAD_CONNS,
};

fn spec(model: &str, conns: u32, rate: Option<u32>, secs: u32) -> LoadSpec {
    LoadSpec { model: model.into(), conns, rate, size: 64, secs }
}

/// Reads until the load's last report, keeping every report.
async fn reports_until_finished(ws: &mut Ws) -> Vec<LoadReport> {
    let mut reports = Vec::new();
    loop {
        if let ServerMsg::Load { report } = next_msg(ws).await {
            let done = report.finished;
            reports.push(report);
            if done {
                return reports;
            }
        }
    }
}

/// Sends a command and returns its reply or error, skipping everything else.
async fn ask(ws: &mut Ws, id: u64, command: Command) -> ServerMsg {
    send_cmd(ws, id, command).await;
    answer(ws, id, &mut Vec::new()).await
}

fn assert_byte_exact(last: &LoadReport, conns: u32) {
    assert!(last.finished, "{last:?}");
    assert_eq!(last.mismatches, 0, "{last:?}");
    assert_eq!(last.conns_failed, 0, "{last:?}");
    assert_eq!(last.conns_open, conns, "{last:?}");
    assert!(last.lines > 0, "{last:?}");
    assert_eq!(last.bytes, last.lines * u64::from(last.spec.size), "every line counted whole");
    assert!(last.latency.p50_us > 0 && last.latency.p50_us <= last.latency.max_us, "{last:?}");
    assert!(last.nofile_limit > u64::from(conns), "{last:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_and_open_loop_loads_are_echoed_byte_exact_and_reported_to_every_viewer() {
    let server = kettle(&["epoll", "select"]).await;
    let (mut ws, _) = viewer(&server).await;
    let (mut other, _) = viewer(&server).await;

    // Closed loop on epoll: 8 connections, each sending its next line when the last is back.
    let closed = spec("epoll", 8, None, 1);
    match ask(&mut ws, 1, Command::LoadStart { spec: closed.clone() }).await {
        ServerMsg::Reply { result: ReplyResult::LoadStarted { spec }, .. } => {
            assert_eq!(spec, closed)
        }
        other => panic!("{other:?}"),
    }
    let reports = reports_until_finished(&mut ws).await;
    let last = reports.last().unwrap();
    assert_byte_exact(last, 8);
    assert_eq!(last.ended_by, None, "it ran its time");
    // Every connection was served (epoll serves them all), and the counts add up.
    assert!(last.fairness.0 > 0, "{last:?}");
    // The other viewer heard the same last report.
    assert_eq!(reports_until_finished(&mut other).await.last(), Some(last));

    // Open loop on select: 200 lines a second over 4 connections, for 1 s.
    let open = spec("select", 4, Some(200), 1);
    assert!(matches!(
        ask(&mut ws, 2, Command::LoadStart { spec: open }).await,
        ServerMsg::Reply { result: ReplyResult::LoadStarted { .. }, .. }
    ));
    let reports = reports_until_finished(&mut ws).await;
    let last = reports.last().unwrap();
    assert_byte_exact(last, 4);
    // The schedule caps what is sent: no more than 200 lines fall due in one second.
    assert!(last.lines <= 201, "{last:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_loads_are_refused_with_their_reason_and_nothing_starts() {
    let server = kettle(&["epoll"]).await;
    let (mut ws, _) = viewer(&server).await;
    let refusals = [
        (spec("epoll", 0, None, 1), ErrorCode::Limit, "conns"),
        (spec("epoll", MAX_LOAD_CONNS + 1, None, 1), ErrorCode::Limit, "conns"),
        (spec("epoll", 1, None, 0), ErrorCode::Limit, "secs"),
        (LoadSpec { size: 1, ..spec("epoll", 1, None, 1) }, ErrorCode::Limit, "size"),
        (spec("epoll", 1, Some(0), 1), ErrorCode::Limit, "rate"),
    ];
    for (i, (bad, code, field)) in refusals.into_iter().enumerate() {
        match ask(&mut ws, i as u64, Command::LoadStart { spec: bad }).await {
            ServerMsg::Error { code: c, reason: Reason::OutOfRange { field: f, .. }, .. } => {
                assert_eq!((c, f.as_str()), (code, field))
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    match ask(&mut ws, 10, Command::LoadStart { spec: spec("nope", 1, None, 1) }).await {
        ServerMsg::Error { code: ErrorCode::UnknownModel, reason, .. } => {
            assert_eq!(reason, Reason::NoSuchModel { model: "nope".into() })
        }
        other => panic!("{other:?}"),
    }
    match ask(&mut ws, 11, Command::LoadStart { spec: spec("select", 1, None, 1) }).await {
        ServerMsg::Error { code: ErrorCode::NotRunning, reason, .. } => {
            assert_eq!(reason, Reason::NotRunning { model: "select".into() })
        }
        other => panic!("{other:?}"),
    }
    // Nothing started: there is no load to stop.
    match ask(&mut ws, 12, Command::LoadStop).await {
        ServerMsg::Error { reason: Reason::NoLoadRunning, .. } => {}
        other => panic!("{other:?}"),
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_load_at_a_time_and_load_stop_ends_it() {
    let server = kettle(&["epoll", "poll"]).await;
    let (mut ws, _) = viewer(&server).await;
    let long = spec("epoll", 4, None, 60);
    assert!(matches!(
        ask(&mut ws, 1, Command::LoadStart { spec: long }).await,
        ServerMsg::Reply { result: ReplyResult::LoadStarted { .. }, .. }
    ));
    match ask(&mut ws, 2, Command::LoadStart { spec: spec("poll", 1, None, 1) }).await {
        ServerMsg::Error { code: ErrorCode::Limit, reason, .. } => {
            assert_eq!(reason, Reason::LoadRunning { model: "epoll".into() })
        }
        other => panic!("{other:?}"),
    }
    // Wait until it has echoed something, then stop it.
    loop {
        if let ServerMsg::Load { report } = next_msg(&mut ws).await {
            if report.lines > 0 {
                break;
            }
        }
    }
    assert!(matches!(
        ask(&mut ws, 3, Command::LoadStop).await,
        ServerMsg::Reply { result: ReplyResult::LoadStopped, .. }
    ));
    let last = reports_until_finished(&mut ws).await.pop().unwrap();
    assert_eq!(last.ended_by, Some(Reason::StoppedOnRequest), "{last:?}");
    assert_eq!(last.mismatches, 0);
    assert!(last.elapsed_ms < 60_000);
    // The slot is free again.
    assert!(matches!(
        ask(&mut ws, 4, Command::LoadStart { spec: spec("poll", 2, None, 1) }).await,
        ServerMsg::Reply { result: ReplyResult::LoadStarted { .. }, .. }
    ));
    let last = reports_until_finished(&mut ws).await.pop().unwrap();
    assert_byte_exact(&last, 2);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_stopped_under_load_ends_the_load_and_says_so() {
    let server = kettle(&["thread-per-conn"]).await;
    let (mut ws, _) = viewer(&server).await;
    assert!(matches!(
        ask(&mut ws, 1, Command::LoadStart { spec: spec("thread-per-conn", 4, None, 60) }).await,
        ServerMsg::Reply { result: ReplyResult::LoadStarted { .. }, .. }
    ));
    loop {
        if let ServerMsg::Load { report } = next_msg(&mut ws).await {
            if report.lines > 0 {
                break;
            }
        }
    }
    // The stop runs beside the viewer's stream: its reply and the load's last report come in
    // either order.
    send_cmd(&mut ws, 2, Command::Stop { model: "thread-per-conn".into() }).await;
    let (mut stopped, mut last) = (false, None);
    while !stopped || last.is_none() {
        match next_msg(&mut ws).await {
            ServerMsg::Reply { id: 2, .. } => stopped = true,
            ServerMsg::Error { id: Some(2), reason, .. } => panic!("the stop failed: {reason:?}"),
            ServerMsg::Load { report } if report.finished => last = Some(report),
            _ => {}
        }
    }
    let last = last.unwrap();
    assert_eq!(last.ended_by, Some(Reason::NotRunning { model: "thread-per-conn".into() }));
    assert_eq!(last.mismatches, 0);
    server.shutdown().await.unwrap();
}

/// Runs `kettle load` against `server`; returns (success, stdout, stderr).
fn kettle_load(server: &kettle_backend::Server, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kettle"))
        .arg("load")
        .args(["--server", &format!("http://127.0.0.1:{}", server.addr.port())])
        .args(args)
        .output()
        .expect("kettle runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn kettle_load_loads_a_model_of_the_running_server_and_nothing_else() {
    let server = kettle(&["epoll"]).await;
    let port = server.registry.running_port("epoll").unwrap();
    let web = server.addr.port();
    let (server, results) = tokio::task::spawn_blocking(move || {
        let by_id = kettle_load(&server, &["--model", "epoll", "--conns", "4", "--secs", "1"]);
        let by_addr = format!("127.0.0.1:{port}");
        let by_addr = kettle_load(&server, &["--addr", &by_addr, "--conns", "2", "--secs", "1"]);
        let refused: Vec<_> =
            [format!("127.0.0.1:{web}"), "10.0.0.1:80".into(), "127.0.0.1:22".into()]
                .iter()
                .map(|a| (a.clone(), kettle_load(&server, &["--addr", a, "--secs", "1"])))
                .collect();
        let stopped = kettle_load(&server, &["--model", "select", "--secs", "1"]);
        (server, (by_id, by_addr, refused, stopped))
    })
    .await
    .unwrap();
    let (by_id, by_addr, refused, stopped) = results;
    for (ok, stdout, stderr) in [&by_id, &by_addr] {
        assert!(ok, "{stdout}\n{stderr}");
        assert!(stderr.contains("RLIMIT_NOFILE"), "says what limit it got: {stderr}");
        let mismatches = stdout.lines().find(|l| l.contains("mismatches")).unwrap_or_default();
        assert!(mismatches.contains(" 0 "), "{stdout}");
    }
    for (addr, (ok, stdout, stderr)) in refused {
        assert!(!ok, "{addr} was loaded: {stdout}");
        assert!(stderr.contains("not_a_model_port"), "{addr}: {stderr}");
        assert!(!stdout.contains("lines echoed"), "{addr}: nothing ran: {stdout}");
    }
    assert!(!stopped.0 && stopped.2.contains("not_running"), "{stopped:?}");
    server.shutdown().await.unwrap();
}
