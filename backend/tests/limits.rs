//! The server's limits, each met for real: a real Kettle on port 0, real WebSocket viewers,
//! real TCP clients. Every refusal is an `error` with its `Reason`, and a refused command
//! changes nothing.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use kettle_backend::proc::net::TcpTable;
use kettle_backend::Limits;
use kettle_shared::{Command, ModelState, ReplyResult, ServerMsg};
use kettle_shared::{ErrorCode, Reason};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// Sends one command and waits for its answer.
async fn ask(ws: &mut Ws, id: u64, command: Command) -> ServerMsg {
    send_cmd(ws, id, command).await;
    answer(ws, id, &mut Vec::new()).await
}

fn reason_of(msg: &ServerMsg) -> Option<&Reason> {
    match msg {
        ServerMsg::Error { reason, .. } => Some(reason),
        _ => None,
    }
}

fn opened(msg: &ServerMsg) -> u32 {
    match msg {
        ServerMsg::Reply { result: ReplyResult::EchoOpened { client, .. }, .. } => *client,
        other => panic!("expected echo_opened, got {other:?}"),
    }
}

/// The answers to commands `ids`, in the order they came, with whatever else arrived.
async fn answers(ws: &mut Ws, ids: &[u64]) -> Vec<ServerMsg> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < ids.len() {
        assert!(Instant::now() < deadline, "answers so far: {got:?}");
        match next_msg(ws).await {
            m @ ServerMsg::Reply { id, .. } if ids.contains(&id) => got.push(m),
            m @ ServerMsg::Error { id: Some(id), .. } if ids.contains(&id) => got.push(m),
            _ => {}
        }
    }
    got
}

fn answer_id(msg: &ServerMsg) -> u64 {
    match msg {
        ServerMsg::Reply { id, .. } | ServerMsg::Error { id: Some(id), .. } => *id,
        other => panic!("not an answer: {other:?}"),
    }
}

/// Fills `addr`'s accept queue (the blocking model serves one client and accepts no other),
/// so that the kernel drops every further SYN and a new `connect` hangs. Full is read from the
/// kernel, not guessed from a slow handshake: `/proc/net/tcp` gives a listening socket's
/// accept queue as its `rx_queue`, and the queue is full once it holds more than the backlog.
/// Returns the connections, which must stay open.
fn fill_backlog(addr: SocketAddr) -> Vec<TcpStream> {
    // A backlog's worth of descriptors and then some: more than a default soft limit.
    kettle_backend::tools::load::raise_nofile_limit();
    let mut held = vec![client(addr)];
    // The first is the one being served; every later one waits in the queue. The queue
    // cannot be over the backlog before that many have connected, so the kernel's table (a
    // line per connection, read whole) is only read from then on.
    let backlog = kettle_backend::models::LISTEN_BACKLOG as usize;
    for _ in 0..backlog + 64 {
        if held.len() > backlog && accept_queue(addr.port()) > backlog as u64 {
            return held;
        }
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("connect: {e}"),
        }
    }
    panic!("the accept queue never filled: {} connections", held.len());
}

/// The connections waiting in the accept queue of the listener on 127.0.0.1:`port`.
fn accept_queue(port: u16) -> u64 {
    let table = TcpTable::read().unwrap();
    let listener = table.listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    u64::from(listener.expect("the model's listening socket").rx_queue)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_beyond_the_seats_is_told_why_and_closed_with_1013() {
    let server = kettle_with(&[], Limits { max_viewers: 2, ..Limits::default() }).await;
    let (_a, hello) = viewer(&server).await;
    assert!(matches!(hello, ServerMsg::Hello { .. }));
    let (b, _) = viewer(&server).await;

    let mut third = connect_ws(&server, None).await.expect("the upgrade itself succeeds");
    let refusal = next_msg(&mut third).await;
    assert_eq!(
        refusal,
        ServerMsg::Error {
            id: None,
            code: ErrorCode::Limit,
            reason: Reason::TooManyViewers { max: 2 }
        }
    );
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(10), third.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame with a code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1013);

    // A viewer leaving gives its seat back.
    drop(b);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut ws = connect_ws(&server, None).await.unwrap();
        if matches!(next_msg(&mut ws).await, ServerMsg::Hello { .. }) {
            break;
        }
        assert!(Instant::now() < deadline, "the seat never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_clients_over_the_servers_total_are_refused_across_viewers() {
    let limits = Limits { echo_clients_total: 3, ..Limits::default() };
    let server = kettle_with(&["epoll"], limits).await;
    let (mut a, _) = viewer(&server).await;
    let (mut b, _) = viewer(&server).await;
    let open = || Command::EchoOpen { model: "epoll".into(), port: None };
    let first = opened(&ask(&mut a, 1, open()).await);
    opened(&ask(&mut a, 2, open()).await);
    opened(&ask(&mut b, 1, open()).await);

    let refused = ask(&mut b, 2, open()).await;
    assert_eq!(
        refused,
        ServerMsg::Error {
            id: Some(2),
            code: ErrorCode::Limit,
            reason: Reason::TooManyRelayedConnections { max: 3 }
        }
    );
    // The refused open made no connection: a closes one, and b's next open takes its place.
    assert!(matches!(
        ask(&mut a, 3, Command::EchoClose { client: first }).await,
        ServerMsg::Reply { result: ReplyResult::EchoClosed { .. }, .. }
    ));
    opened(&ask(&mut b, 3, open()).await);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_beyond_the_rate_are_refused_and_start_nothing() {
    let limits = Limits { commands_per_second: 1, command_burst: 3, ..Limits::default() };
    let server = kettle_with(&[], limits).await;
    let (mut ws, _) = viewer(&server).await;
    let models = ["blocking", "thread-per-conn", "thread-pool", "select", "poll", "epoll"];
    for (i, model) in models.iter().enumerate() {
        send_cmd(&mut ws, i as u64 + 1, Command::Start { model: (*model).into() }).await;
    }
    let ids: Vec<u64> = (1..=models.len() as u64).collect();
    let got = answers(&mut ws, &ids).await;
    let mut started = BTreeSet::new();
    let mut refused = 0;
    for msg in &got {
        match msg {
            ServerMsg::Reply { result: ReplyResult::Model { model }, .. } => {
                assert_eq!(model.state, ModelState::Running);
                started.insert(model.id.clone());
            }
            ServerMsg::Error { reason: Reason::TooManyCommands { per_second: 1 }, .. } => {
                refused += 1
            }
            other => panic!("{other:?}"),
        }
    }
    // The burst passes (one more if the rate refilled meanwhile); the rest is refused.
    assert!((3..=4).contains(&started.len()), "{got:?}");
    assert_eq!(started.len() + refused, models.len());
    let running: BTreeSet<String> = server
        .registry
        .list()
        .into_iter()
        .filter(|m| m.state == ModelState::Running)
        .map(|m| m.id)
        .collect();
    assert_eq!(running, started, "a refused start started something");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_in_flight_beyond_the_cap_are_refused_at_once() {
    let limits = Limits { commands_in_flight: 2, ..Limits::default() };
    let server = kettle_with(&["blocking", "epoll"], limits).await;
    let _held = fill_backlog(model_addr(&server, "blocking"));
    let (mut ws, _) = viewer(&server).await;
    for id in 1..=3 {
        send_cmd(&mut ws, id, Command::EchoOpen { model: "blocking".into(), port: None }).await;
    }
    let got = answers(&mut ws, &[1, 2, 3]).await;
    // The third is refused while the first two still wait for their handshake.
    assert_eq!(answer_id(&got[0]), 3, "{got:?}");
    assert_eq!(reason_of(&got[0]), Some(&Reason::TooManyInFlight { max: 2 }));
    for stuck in &got[1..] {
        assert!(
            matches!(reason_of(stuck), Some(Reason::ConnectTimedOut { .. })),
            "the open was stuck for real: {stuck:?}"
        );
    }
    // Their slots are free again.
    opened(&ask(&mut ws, 4, Command::EchoOpen { model: "epoll".into(), port: None }).await);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_keeps_its_stream_while_its_own_echo_open_is_stuck() {
    let server = kettle(&["blocking", "epoll"]).await;
    let _held = fill_backlog(model_addr(&server, "blocking"));
    let (mut ws, _) = viewer(&server).await;
    let subscribe = Command::Subscribe { models: Some(vec!["epoll".into()]), aggregates: None };
    assert!(matches!(ask(&mut ws, 1, subscribe).await, ServerMsg::Reply { .. }));

    // A busy epoll model: one client echoing a line every 10 ms.
    let epoll = model_addr(&server, "epoll");
    let busy = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(epoll).await.unwrap();
        let mut buf = [0u8; 64];
        loop {
            s.write_all(b"tick\n").await.unwrap();
            let _ = s.read(&mut buf).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });

    send_cmd(&mut ws, 2, Command::EchoOpen { model: "blocking".into(), port: None }).await;
    let asked = Instant::now();
    let (mut batches, mut last, mut longest_gap) = (0, Instant::now(), Duration::ZERO);
    let answer = loop {
        match next_msg(&mut ws).await {
            ServerMsg::Batch { events, .. } if events.iter().any(|e| e.model == "epoll") => {
                batches += 1;
                longest_gap = longest_gap.max(last.elapsed());
                last = Instant::now();
            }
            m @ ServerMsg::Error { id: Some(2), .. } | m @ ServerMsg::Reply { id: 2, .. } => {
                break m
            }
            _ => {}
        }
    };
    busy.abort();
    assert!(
        matches!(reason_of(&answer), Some(Reason::ConnectTimedOut { .. })),
        "the open was stuck behind the full backlog: {answer:?}"
    );
    // Old behaviour: not one batch until the open gave up.
    assert!(batches >= 3, "only {batches} batches while the open was stuck");
    eprintln!(
        "measured: open stuck {:?}; {batches} epoll batches meanwhile, longest gap {longest_gap:?}",
        asked.elapsed()
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_echo_client_closed_by_its_server_is_forgotten_and_frees_its_slot() {
    let limits = Limits { echo_clients_per_viewer: 2, ..Limits::default() };
    let server = kettle_with(&["blocking"], limits).await;
    let (mut ws, _) = viewer(&server).await;
    let open = || Command::EchoOpen { model: "blocking".into(), port: None };
    let old = [opened(&ask(&mut ws, 1, open()).await), opened(&ask(&mut ws, 2, open()).await)];
    assert_eq!(
        reason_of(&ask(&mut ws, 3, open()).await),
        Some(&Reason::TooManyClients { limit: 2 })
    );

    // Stopping the model closes both connections on the server's side.
    send_cmd(&mut ws, 4, Command::Stop { model: "blocking".into() }).await;
    let mut closed = BTreeSet::new();
    let mut stopped = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(stopped && closed.len() == 2) {
        assert!(Instant::now() < deadline, "closed {closed:?}, stopped {stopped}");
        match next_msg(&mut ws).await {
            ServerMsg::EchoClosed { client, reason } => {
                assert!(
                    matches!(reason, Reason::ServerClosed | Reason::ConnectionError { .. }),
                    "{reason:?}"
                );
                closed.insert(client);
            }
            ServerMsg::Reply { id: 4, .. } => stopped = true,
            ServerMsg::Error { id: Some(4), .. } => panic!("the stop failed"),
            _ => {}
        }
    }
    assert_eq!(closed, old.into_iter().collect());

    // Forgotten: a send is told it is closed, a close has nothing to do.
    assert_eq!(
        reason_of(&ask(&mut ws, 5, Command::EchoSend { client: old[0], text: "x\n".into() }).await),
        Some(&Reason::ClientAlreadyClosed { client: old[0] })
    );
    assert!(matches!(
        ask(&mut ws, 6, Command::EchoClose { client: old[1] }).await,
        ServerMsg::Reply { result: ReplyResult::EchoClosed { .. }, .. }
    ));
    // And their slots are free: two new clients (the old code refused them: still 2 held).
    assert!(matches!(
        ask(&mut ws, 7, Command::Start { model: "blocking".into() }).await,
        ServerMsg::Reply { .. }
    ));
    opened(&ask(&mut ws, 8, open()).await);
    opened(&ask(&mut ws, 9, open()).await);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_sends_of_one_client_are_answered_in_order_by_its_writer() {
    let server = kettle(&["epoll"]).await;
    let (mut ws, _) = viewer(&server).await;
    let client =
        opened(&ask(&mut ws, 1, Command::EchoOpen { model: "epoll".into(), port: None }).await);
    let ids: Vec<u64> = (10..30).collect();
    for &id in &ids {
        send_cmd(&mut ws, id, Command::EchoSend { client, text: format!("line {id}\n") }).await;
    }
    let got = answers(&mut ws, &ids).await;
    let order: Vec<u64> = got.iter().map(answer_id).collect();
    assert_eq!(order, ids, "one writer per client keeps the page's order");
    assert!(got.iter().all(|m| matches!(m, ServerMsg::Reply { .. })), "{got:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn starts_and_stops_beyond_the_lifecycle_slots_wait_their_turn_and_all_finish() {
    let limits = Limits { lifecycle_at_once: 1, ..Limits::default() };
    let server = kettle_with(&[], limits).await;
    let (mut ws, _) = viewer(&server).await;
    let models = ["blocking", "thread-per-conn", "thread-pool", "select", "poll", "epoll"];
    for (i, model) in models.iter().enumerate() {
        send_cmd(&mut ws, i as u64 + 1, Command::Start { model: (*model).into() }).await;
    }
    let got = answers(&mut ws, &(1..=models.len() as u64).collect::<Vec<_>>()).await;
    assert!(got.iter().all(|m| matches!(m, ServerMsg::Reply { .. })), "{got:?}");
    for (i, model) in models.iter().enumerate() {
        send_cmd(&mut ws, i as u64 + 11, Command::Stop { model: (*model).into() }).await;
    }
    let got = answers(&mut ws, &(11..11 + models.len() as u64).collect::<Vec<_>>()).await;
    assert!(got.iter().all(|m| matches!(m, ServerMsg::Reply { .. })), "{got:?}");
    assert!(server.registry.list().iter().all(|m| m.state != ModelState::Running));
    server.shutdown().await.unwrap();
}

/// Reads until the server closes the connection; returns what it sent.
fn read_until_closed(mut s: TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the slow client was not dropped: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_loris_client_is_dropped_while_others_are_served() {
    let limits = Limits { header_timeout: Duration::from_secs(1), ..Limits::default() };
    let server = kettle_with(&[], limits).await;
    let addr = server.addr;
    let host = host(&server);
    let started = Instant::now();
    // One says nothing at all; one starts a WebSocket handshake and never finishes it.
    let silent = TcpStream::connect(addr).unwrap();
    let mut partial = TcpStream::connect(addr).unwrap();
    write!(partial, "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n").unwrap();

    let (status, body) = tokio::task::spawn_blocking(move || {
        http(addr, "GET", "/api/models", &[("Host", host.as_str())])
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");

    let (silent, partial) = tokio::task::spawn_blocking(move || {
        let silent = read_until_closed(silent);
        let partial = read_until_closed(partial);
        (silent, partial)
    })
    .await
    .unwrap();
    // Dropped, perhaps with a 408 first; never with a WebSocket.
    for got in [&silent, &partial] {
        let text = String::from_utf8_lossy(got);
        assert!(got.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    eprintln!("measured: both slow clients dropped {:?} after connecting", started.elapsed());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_closes_open_viewers_with_1001() {
    let server = kettle(&[]).await;
    let (mut ws, _) = viewer(&server).await;
    let shutdown = tokio::spawn(server.shutdown());
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame with a code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1001);
    shutdown.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_commands_at_the_default_limits_is_answered_command_by_command() {
    let server = kettle(&[]).await;
    let (mut ws, _) = viewer(&server).await;
    let ids: Vec<u64> = (1..=300).collect();
    for &id in &ids {
        let subscribe = Command::Subscribe { models: Some(vec!["epoll".into()]), aggregates: None };
        send_cmd(&mut ws, id, subscribe).await;
    }
    let got = answers(&mut ws, &ids).await;
    let done = got.iter().filter(|m| matches!(m, ServerMsg::Reply { .. })).count();
    let refused = got
        .iter()
        .filter(|m| matches!(reason_of(m), Some(Reason::TooManyCommands { per_second: 50 })))
        .count();
    // Every command is answered, either way: the burst (plus what the rate refills while they
    // arrive) is carried out, the rest refused.
    assert_eq!(done + refused, ids.len(), "{got:?}");
    assert!(done >= Limits::default().command_burst as usize, "{done} done");
    assert!(refused > 0, "300 at once, none refused");
    eprintln!("measured: 300 commands at once: {done} done, {refused} refused");
    server.shutdown().await.unwrap();
}
