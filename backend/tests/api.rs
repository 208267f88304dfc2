//! The HTTP API and the WebSocket protocol, including every bad-input rule of GUIDE §5:
//! wrong Host or Origin, oversized messages, malformed commands, unknown ids, absurd values,
//! and a viewer that never reads.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use kettle_backend::proc::process::{self, Pid};
use kettle_shared::{
    Command, ErrorCode, ModelInfo, ModelState, Reason, ReplyResult, ServerMsg, PROTOCOL_VERSION,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread")]
async fn models_are_listed_started_and_stopped_over_http() {
    let server = kettle(&[]).await;
    let addr = server.addr;
    let h = host(&server);
    let (list, started, again, stopped, unknown) = tokio::task::spawn_blocking(move || {
        let hdr = [("Host", h.as_str())];
        (
            http(addr, "GET", "/api/models", &hdr),
            http(addr, "POST", "/api/models/blocking/start", &hdr),
            http(addr, "GET", "/api/models", &hdr),
            http(addr, "POST", "/api/models/blocking/stop", &hdr),
            http(addr, "POST", "/api/models/no-such-model/start", &hdr),
        )
    })
    .await
    .unwrap();

    assert_eq!(list.0, 200);
    let models: Vec<ModelInfo> = serde_json::from_str(&list.1).unwrap();
    assert_eq!(models[0].id, "blocking");
    assert_eq!(models[0].state, ModelState::Stopped);
    assert!(list.1.contains(r#""reason":null"#), "reason must be present: {}", list.1);

    assert_eq!(started.0, 200, "{}", started.1);
    let m: ModelInfo = serde_json::from_str(&started.1).unwrap();
    assert_eq!(m.state, ModelState::Running);
    assert!(m.port.is_some_and(|p| p != 0));
    let models: Vec<ModelInfo> = serde_json::from_str(&again.1).unwrap();
    assert_eq!(models[0].state, ModelState::Running);

    assert_eq!(stopped.0, 200);
    assert_eq!(serde_json::from_str::<ModelInfo>(&stopped.1).unwrap().state, ModelState::Stopped);

    assert_eq!(unknown.0, 404);
    let body: serde_json::Value = serde_json::from_str(&unknown.1).unwrap();
    assert_eq!(body["error"]["code"], "unknown_model");
    assert_eq!(body["error"]["reason"]["code"], "no_such_model");
    assert_eq!(body["error"]["reason"]["model"], "no-such-model");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_code_panel_gets_a_models_excerpt_and_an_unknown_one_is_a_404_that_names_it() {
    let server = kettle(&[]).await;
    let addr = server.addr;
    let h = host(&server);
    let (found, unknown, outside) = tokio::task::spawn_blocking(move || {
        let hdr = [("Host", h.as_str())];
        (
            http(addr, "GET", "/api/excerpts/select.rs/select-wait", &hdr),
            http(addr, "GET", "/api/excerpts/select.rs/no-such-region", &hdr),
            http(addr, "GET", "/api/excerpts/..%2F..%2FCargo.toml/x", &hdr),
        )
    })
    .await
    .unwrap();
    assert_eq!(found.0, 200, "{}", found.1);
    let x: kettle_shared::excerpt::ExcerptText = serde_json::from_str(&found.1).unwrap();
    assert!(x.text.contains("select"), "{}", x.text);
    let src = include_str!("../src/models/select.rs");
    assert_eq!(src.lines().nth(x.first - 1), x.text.lines().next(), "the file's own line numbers");
    for (answer, file, name) in
        [(unknown, "select.rs", "no-such-region"), (outside, "../../Cargo.toml", "x")]
    {
        assert_eq!(answer.0, 404, "{}", answer.1);
        let body: serde_json::Value = serde_json::from_str(&answer.1).unwrap();
        assert_eq!(body["error"]["reason"]["code"], "no_such_excerpt");
        assert_eq!(body["error"]["reason"]["file"], file);
        assert_eq!(body["error"]["reason"]["name"], name);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_host_is_refused_with_403() {
    let server = kettle(&[]).await;
    let addr = server.addr;
    let (status, body) = tokio::task::spawn_blocking(move || {
        http(addr, "GET", "/api/models", &[("Host", "evil.example:7878")])
    })
    .await
    .unwrap();
    assert_eq!(status, 403, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["reason"]["code"], "host_not_allowed", "{body}");
    assert_eq!(body["error"]["reason"]["host"], "evil.example:7878", "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_origin_cannot_open_the_websocket_or_post() {
    let server = kettle(&[]).await;
    let refused = connect_ws(&server, Some("http://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    let own = format!("http://{}", host(&server));
    assert!(connect_ws(&server, Some(&own)).await.is_ok(), "the page's own origin must work");

    let addr = server.addr;
    let h = host(&server);
    let (status, _) = tokio::task::spawn_blocking(move || {
        http(
            addr,
            "POST",
            "/api/models/blocking/start",
            &[("Host", &h), ("Origin", "http://evil.example")],
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 403);
    assert_eq!(server.registry.running_port("blocking"), None, "nothing was started");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hello_comes_first_then_batches_of_events() {
    let server = kettle(&["blocking"]).await;
    let (mut ws, hello) = viewer(&server).await;
    match hello {
        ServerMsg::Hello { protocol_version, models, clock, role, classroom } => {
            assert_eq!(protocol_version, PROTOCOL_VERSION);
            assert_eq!(role, kettle_shared::Role::Teacher, "without --classroom, a teacher");
            assert!(!classroom);
            assert_eq!(models[0].state, ModelState::Running);
            assert!(clock.start_unix_ms > 1_600_000_000_000);
        }
        other => panic!("first message must be hello, got {other:?}"),
    }
    let addr = model_addr(&server, "blocking");
    tokio::task::spawn_blocking(move || served(addr, b"hi")).await.unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| e.kind.name() == "send_exit")
    })
    .await;
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq), "seq increases: {:?}", kinds(&events));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_commands_get_error_replies_and_the_server_keeps_serving() {
    let server = kettle(&[]).await;
    let (mut ws, _) = viewer(&server).await;
    let mut ev = Vec::new();

    let raw = |t: &str| Message::Text(t.to_owned().into());
    ws.send(raw("this is not json")).await.unwrap();
    assert!(matches!(
        answer(&mut ws, 0, &mut ev).await,
        ServerMsg::Error { id: None, code: ErrorCode::BadRequest, .. }
    ));

    ws.send(raw(r#"{"id":1,"op":"rm_rf"}"#)).await.unwrap();
    assert!(matches!(
        answer(&mut ws, 1, &mut ev).await,
        ServerMsg::Error {
            code: ErrorCode::UnknownOp,
            reason: Reason::UnknownOp { op, known },
            ..
        } if op == "rm_rf" && known.iter().any(|k| k == "echo_send")
    ));

    ws.send(raw(r#"{"id":2,"op":"start"}"#)).await.unwrap();
    assert!(matches!(
        answer(&mut ws, 2, &mut ev).await,
        ServerMsg::Error { code: ErrorCode::BadRequest, .. }
    ));

    let limit = kettle_shared::MAX_ECHO_TEXT_BYTES;
    let cases: Vec<(Command, ErrorCode, Reason)> = vec![
        (
            Command::Start { model: "../../etc/passwd".into() },
            ErrorCode::UnknownModel,
            Reason::NoSuchModel { model: "../../etc/passwd".into() },
        ),
        (
            Command::Subscribe { models: Some(vec!["nope".into()]), aggregates: None },
            ErrorCode::UnknownModel,
            Reason::NoSuchModel { model: "nope".into() },
        ),
        (
            Command::EchoOpen { model: "blocking".into(), port: None },
            ErrorCode::NotRunning,
            Reason::NotRunning { model: "blocking".into() },
        ),
        (
            Command::EchoSend { client: 4_000_000_000, text: "x".into() },
            ErrorCode::UnknownClient,
            Reason::NoSuchClient { client: 4_000_000_000 },
        ),
        (
            Command::EchoSend { client: 1, text: "x".repeat(limit + 1) },
            ErrorCode::Limit,
            Reason::LineTooLong { limit: limit as u32 },
        ),
        (
            Command::EchoClose { client: 77 },
            ErrorCode::UnknownClient,
            Reason::NoSuchClient { client: 77 },
        ),
        (
            Command::Compute { ms: 0 },
            ErrorCode::Limit,
            Reason::ComputeOutOfRange { ms: 0, max: kettle_shared::MAX_COMPUTE_MS },
        ),
        (
            Command::Compute { ms: kettle_shared::MAX_COMPUTE_MS + 1 },
            ErrorCode::Limit,
            Reason::ComputeOutOfRange {
                ms: kettle_shared::MAX_COMPUTE_MS + 1,
                max: kettle_shared::MAX_COMPUTE_MS,
            },
        ),
    ];
    for (i, (cmd, code, reason)) in cases.into_iter().enumerate() {
        let id = 10 + i as u64;
        send_cmd(&mut ws, id, cmd.clone()).await;
        match answer(&mut ws, id, &mut ev).await {
            ServerMsg::Error { code: got, reason: said, .. } => {
                assert_eq!(got, code, "{cmd:?}: {said:?}");
                assert_eq!(said, reason, "{cmd:?}");
            }
            other => panic!("{cmd:?} should fail, got {other:?}"),
        }
    }
    // Nothing was started by any of that, and good commands still work on the same socket.
    assert_eq!(server.registry.running_port("blocking"), None);
    send_cmd(&mut ws, 99, Command::Start { model: "blocking".into() }).await;
    match answer(&mut ws, 99, &mut ev).await {
        ServerMsg::Reply { result: ReplyResult::Model { model }, .. } => {
            assert_eq!(model.state, ModelState::Running)
        }
        other => panic!("{other:?}"),
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_echo_client_relays_a_line_and_the_second_client_waits() {
    let server = kettle(&["blocking"]).await;
    let (mut ws, _) = viewer(&server).await;
    let mut ev = Vec::new();
    send_cmd(&mut ws, 1, Command::EchoOpen { model: "blocking".into(), port: None }).await;
    let first = match answer(&mut ws, 1, &mut ev).await {
        ServerMsg::Reply { result: ReplyResult::EchoOpened { client, .. }, .. } => client,
        other => panic!("{other:?}"),
    };
    send_cmd(&mut ws, 2, Command::EchoOpen { model: "blocking".into(), port: None }).await;
    let second = match answer(&mut ws, 2, &mut ev).await {
        ServerMsg::Reply { result: ReplyResult::EchoOpened { client, .. }, .. } => client,
        other => panic!("{other:?}"),
    };
    send_cmd(&mut ws, 3, Command::EchoSend { client: first, text: "hello\n".into() }).await;
    send_cmd(&mut ws, 4, Command::EchoSend { client: second, text: "world\n".into() }).await;
    let mut echoes = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
    while tokio::time::Instant::now() < deadline {
        if let Ok(ServerMsg::Echo { client, text }) =
            tokio::time::timeout(Duration::from_millis(100), next_msg(&mut ws)).await
        {
            echoes.push((client, text));
        }
    }
    assert_eq!(echoes, vec![(first, "HELLO\n".to_owned())], "only the first client is served");

    send_cmd(&mut ws, 5, Command::EchoClose { client: first }).await;
    let mut second_reply = None;
    while second_reply.is_none() {
        match next_msg(&mut ws).await {
            ServerMsg::Echo { client, text } if client == second => second_reply = Some(text),
            _ => {}
        }
    }
    assert_eq!(second_reply.as_deref(), Some("WORLD\n"));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_message_closes_the_socket_with_1009() {
    let server = kettle(&[]).await;
    let (mut ws, _) = viewer(&server).await;
    let big = "x".repeat(kettle_shared::MAX_COMMAND_BYTES + 1);
    let _ = ws.send(Message::Text(big.into())).await;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), futures_util::StreamExt::next(&mut ws))
            .await
        {
            Ok(Some(Ok(Message::Close(Some(frame))))) => break Some(frame.code),
            Ok(Some(Ok(_))) => continue,
            _ => break None,
        }
    };
    assert_eq!(code, Some(CloseCode::Size));
    // The server itself is fine.
    let (_ws2, hello) = viewer(&server).await;
    assert!(matches!(hello, ServerMsg::Hello { .. }));
    server.shutdown().await.unwrap();
}

/// Resident memory of this test process (the server runs in it), in KiB.
fn rss_kib() -> u64 {
    process::status(Pid::Own).unwrap().rss_kib
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_that_never_reads_keeps_memory_bounded_and_others_keep_receiving() {
    let server = kettle(&["blocking"]).await;
    // The stalled viewer: connected, never read again.
    let stalled = connect_ws(&server, None).await.unwrap();
    let (mut live, _) = viewer(&server).await;
    // So much traffic crowds the model: the live viewer follows the one connection, so every
    // step of it is still sent (and the stalled viewer is sent it all too).
    let spotlight = Command::Spotlight { model: "blocking".into(), sample: 1 };
    send_cmd(&mut live, 1, spotlight).await;
    assert!(matches!(answer(&mut live, 1, &mut Vec::new()).await, ServerMsg::Reply { .. }));
    let addr = model_addr(&server, "blocking");
    // Five rounds of the same traffic, ~9 events per line: 50 000 lines ≈ 450 000 events ≈
    // 100 MB of JSON each if it were all kept. The first rounds bring memory to what the
    // bounded paths hold in flight at this rate (the queue and one tick's intake, the ring,
    // each viewer's buffers) plus the allocator's slack, which settles over a few rounds
    // (glibc keeps freed memory per thread arena); the last must hardly add to it.
    let mut seen = 0usize;
    let mut grown_mib = Vec::new();
    for round in 0..5 {
        let before = rss_kib();
        let traffic = tokio::task::spawn_blocking(move || {
            let mut c = client(addr);
            for i in 0..50_000u32 {
                let line = format!("line {round}-{i:06} with a little padding to make it longer\n");
                c.write_all(line.as_bytes()).unwrap();
                read_n(&mut c, line.len());
            }
        });
        // The live viewer keeps receiving while the stalled one is stuck.
        while !traffic.is_finished() {
            if let Ok(ServerMsg::Batch { events, .. }) =
                tokio::time::timeout(Duration::from_millis(200), next_msg(&mut live)).await
            {
                seen += events.len();
            }
        }
        traffic.await.unwrap();
        grown_mib.push(rss_kib().saturating_sub(before) / 1024);
    }
    eprintln!("memory grown per round: {grown_mib:?} MiB");
    assert!(seen > 10_000, "the live viewer saw only {seen} events");
    let last = grown_mib[grown_mib.len() - 1];
    assert!(last < 48, "memory grew by {grown_mib:?} MiB per round with a stalled viewer");
    drop(stalled);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_built_frontend_the_page_says_how_to_build_it() {
    let config = kettle_backend::Config {
        dist: Some(std::env::temp_dir().join("kettle-no-such-dist")),
        child_exe: None,
        ..config(&[])
    };
    let server = kettle_backend::serve(config).await.unwrap();
    assert_eq!(server.dist, None);
    let addr = server.addr;
    let h = host(&server);
    let (status, body) =
        tokio::task::spawn_blocking(move || http(addr, "GET", "/", &[("Host", &h)])).await.unwrap();
    assert_eq!(status, 503);
    assert!(body.contains("has not been built") && body.contains("cargo xtask run"), "{body}");
    server.shutdown().await.unwrap();
}
