//! Under load: every event is counted, detail goes where a viewer looks.
//!
//! Real models on port 0, a real viewer on `/ws`, and — for the crowd — a plain closed-loop
//! client of the test's own on several connections. Every test waits for the state it
//! asserts (an aggregate saying the model is crowded, the echo client's steps arriving).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use kettle_shared::{
    Aggregate, Command, ErrorCode, Event, EventKind, Reason, RecvOutcome, ReplyResult, ServerMsg,
};

/// The steps of a connection's story, compared one for one between detail and aggregates.
const STORY: &[&str] = &[
    "accept_enter",
    "accept_exit",
    "recv_enter",
    "data_arrived",
    "recv_exit",
    "send_enter",
    "send_exit",
    "close",
    "wait_enter",
    "wait_returned",
    "epoll_ctl",
];

/// What one model did, summed: from the events sent in detail, or from its aggregates.
#[derive(Debug, Default, PartialEq, Eq)]
struct Sums {
    kinds: BTreeMap<&'static str, u64>,
    inputs: u64,
    bytes_received: u64,
    bytes_sent: u64,
    accepts: u64,
    closes: u64,
}

fn detail_sums(events: &[Event], model: &str) -> Sums {
    let mut s = Sums::default();
    for e in events.iter().filter(|e| e.model == model) {
        if STORY.contains(&e.kind.name()) {
            *s.kinds.entry(e.kind.name()).or_default() += 1;
        }
        match &e.kind {
            EventKind::RecvExit { outcome: RecvOutcome::Data { bytes, .. }, .. } => {
                s.inputs += 1;
                s.bytes_received += *bytes as u64
            }
            EventKind::SendExit { outcome: kettle_shared::SendOutcome::Sent { bytes }, .. } => {
                s.bytes_sent += *bytes as u64
            }
            EventKind::AcceptExit { fd: Some(_), .. } => s.accepts += 1,
            EventKind::Close { .. } => s.closes += 1,
            _ => {}
        }
    }
    s
}

fn aggregate_sums(aggregates: &[Aggregate], model: &str) -> Sums {
    let mut s = Sums::default();
    for a in aggregates.iter().filter(|a| a.model == model) {
        for (name, n) in &a.events {
            if let Some(k) = STORY.iter().find(|k| *k == name) {
                *s.kinds.entry(k).or_default() += n;
            }
        }
        s.inputs += a.inputs;
        s.bytes_received += a.bytes_received;
        s.bytes_sent += a.bytes_sent;
        s.accepts += a.accepts;
        s.closes += a.closes;
    }
    s
}

/// Echoes `lines` lines of `text` on a new connection to `model`, then closes it.
fn echo_lines(server: &kettle_backend::Server, model: &str, lines: usize, text: &str) {
    let mut c = client(model_addr(server, model));
    for _ in 0..lines {
        c.write_all(text.as_bytes()).unwrap();
        assert_eq!(read_n(&mut c, text.len()), text.to_ascii_uppercase().as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_equal_the_sum_of_detail_when_everything_is_followed() {
    let server = kettle(&[]).await;
    let (mut ws, _) = viewer(&server).await;
    let (mut events, mut aggregates) = (Vec::new(), Vec::new());
    // Started after the viewer came: everything they record is counted for it and sent to it.
    for (id, model) in [(1, "blocking"), (2, "epoll")] {
        send_cmd(&mut ws, id, Command::Start { model: model.into() }).await;
        assert!(matches!(answer(&mut ws, id, &mut events).await, ServerMsg::Reply { .. }));
    }
    let s = Arc::new(server);
    let clients = {
        let s = s.clone();
        tokio::task::spawn_blocking(move || {
            for model in ["blocking", "epoll"] {
                echo_lines(&s, model, 3, "a few words\n");
                echo_lines(&s, model, 2, "more\n");
            }
        })
    };
    // A few lines each: quiet models, so every event is sent in detail, and the sums of
    // their aggregates must come out the same — per kind, bytes, accepts, closes.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match next_msg(&mut ws).await {
            ServerMsg::Batch { events: batch, dropped } => {
                assert_eq!(dropped, 0, "nothing is lost in a small run");
                events.extend(batch);
            }
            ServerMsg::Aggregates { aggregates: cut } => {
                assert!(cut.iter().all(|a| !a.crowded), "{cut:?}");
                aggregates.extend(cut);
            }
            _ => {}
        }
        let done = clients.is_finished()
            && ["blocking", "epoll"].iter().all(|m| {
                let d = detail_sums(&events, m);
                d.closes == 2 && d == aggregate_sums(&aggregates, m)
            });
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "blocking: detail {:?} vs aggregates {:?}\nepoll: detail {:?} vs aggregates {:?}",
            detail_sums(&events, "blocking"),
            aggregate_sums(&aggregates, "blocking"),
            detail_sums(&events, "epoll"),
            aggregate_sums(&aggregates, "epoll"),
        );
    }
    clients.await.unwrap();
    for model in ["blocking", "epoll"] {
        let d = detail_sums(&events, model);
        assert_eq!(d.accepts, 2, "{model}");
        assert_eq!(d.bytes_received, 3 * 12 + 2 * 5, "{model}");
        assert_eq!(d.bytes_sent, d.bytes_received, "{model}");
        // Each aggregate's `detailed` counts exactly the events of the model that were sent.
        let sent = events.iter().filter(|e| e.model == model).count() as u64;
        let detailed: u64 =
            aggregates.iter().filter(|a| a.model == model).map(|a| a.detailed).sum();
        assert!(detailed >= sent, "{model}: {detailed} detailed, {sent} received");
    }
    let server = Arc::into_inner(s).expect("the clients are done");
    server.shutdown().await.unwrap();
}

/// Clients of the test's own: `conns` connections, each sending a line and reading it back as
/// fast as the model answers, until `stop`.
fn crowd(
    addr: std::net::SocketAddr,
    conns: usize,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<u64>> {
    (0..conns)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = client(addr);
                let (line, mut buf, mut lines) = (b"load line 0123\n", [0u8; 15], 0u64);
                while !stop.load(Ordering::Relaxed) {
                    c.write_all(line).unwrap();
                    c.read_exact(&mut buf).unwrap();
                    lines += 1;
                }
                lines
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowded_model_sends_every_step_of_an_echo_client_and_only_the_spotlit_others() {
    let server = kettle(&["epoll"]).await;
    let (mut ws, _) = viewer(&server).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = crowd(model_addr(&server, "epoll"), 6, stop.clone());
    let mut events = Vec::new();

    // Wait for the pump to call the model crowded.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the epoll model never became crowded");
        if let ServerMsg::Aggregates { aggregates } = next_msg(&mut ws).await {
            if aggregates.iter().any(|a| a.model == "epoll" && a.crowded) {
                break;
            }
        }
    }

    // The echo client's connection: every step of it, however crowded the model.
    send_cmd(&mut ws, 1, Command::EchoOpen { model: "epoll".into(), port: None }).await;
    let local = match answer(&mut ws, 1, &mut events).await {
        ServerMsg::Reply { result: ReplyResult::EchoOpened { local, client, .. }, .. } => {
            send_cmd(&mut ws, 2, Command::EchoSend { client, text: "spotlit line\n".into() }).await;
            local
        }
        other => panic!("{other:?}"),
    };
    let mut counted = Vec::new();
    let mut conn = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "the echo client's steps never all came: {:?}",
            kinds(&events)
        );
        match next_msg(&mut ws).await {
            ServerMsg::Batch { events: batch, .. } => events.extend(batch),
            ServerMsg::Aggregates { aggregates } => counted.extend(aggregates),
            _ => {}
        }
        conn = conn.or_else(|| {
            events.iter().find_map(|e| match &e.kind {
                EventKind::AcceptExit { peer: Some(p), .. } if *p == local => e.conn,
                _ => None,
            })
        });
        let Some(c) = conn else { continue };
        let of = |name: &str| {
            events.iter().filter(|e| e.conn == Some(c) && e.kind.name() == name).count()
        };
        let echoed = events.iter().any(|e| {
            e.conn == Some(c)
                && matches!(&e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { preview, .. }, .. } if preview == "spotlit line\n")
        });
        if echoed && of("recv_enter") >= 1 && of("send_enter") >= 1 && of("send_exit") >= 1 {
            break;
        }
    }
    let c = conn.unwrap();
    // The wait that reported the echo client's descriptor ready was sent with it, entry first.
    assert!(events.iter().any(|e| e.model == "epoll" && e.kind.name() == "wait_enter"));

    // Others are counted, and only a few sent: the crowd's recv_exits in detail are far fewer
    // than the ones its aggregates count over the same time.
    let from = events.len();
    counted.clear();
    let crowd_detail = |events: &[Event]| {
        events
            .iter()
            .filter(|e| e.conn.is_some_and(|x| x != c) && e.kind.name() == "recv_exit")
            .count() as u64
    };
    while counted.iter().filter(|a: &&Aggregate| a.model == "epoll").count() < 5 {
        match next_msg(&mut ws).await {
            ServerMsg::Batch { events: batch, .. } => events.extend(batch),
            ServerMsg::Aggregates { aggregates } => counted.extend(aggregates),
            _ => {}
        }
    }
    let recvs: u64 = counted
        .iter()
        .filter(|a| a.model == "epoll")
        .map(|a| a.events.get("recv_exit").copied().unwrap_or(0))
        .sum();
    let sent = crowd_detail(&events[from..]);
    assert!(recvs > 100, "the crowd made {recvs} recvs in five intervals");
    assert!(sent * 10 < recvs, "{sent} of the crowd's {recvs} recv_exits were sent in detail");

    // A spotlight follows two of the crowd's connections, no more.
    send_cmd(&mut ws, 3, Command::Spotlight { model: "epoll".into(), sample: 2 }).await;
    match answer(&mut ws, 3, &mut events).await {
        ServerMsg::Reply { result: ReplyResult::Spotlit { model, sample: 2 }, .. } => {
            assert_eq!(model, "epoll")
        }
        other => panic!("{other:?}"),
    }
    let from = events.len();
    let spotlit = |events: &[Event]| -> BTreeSet<u64> {
        events
            .iter()
            .filter(|e| e.model == "epoll" && e.kind.name() == "recv_exit")
            .filter_map(|e| e.conn)
            .filter(|&x| x != c)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while spotlit(&events[from..]).len() < 2 {
        assert!(Instant::now() < deadline, "the spotlight followed {:?}", spotlit(&events[from..]));
        if let ServerMsg::Batch { events: batch, .. } = next_msg(&mut ws).await {
            events.extend(batch);
        }
    }
    // Out of range: an error, and nothing changes — still the same two connections.
    send_cmd(&mut ws, 4, Command::Spotlight { model: "epoll".into(), sample: 9 }).await;
    match answer(&mut ws, 4, &mut events).await {
        ServerMsg::Error {
            code: ErrorCode::Limit,
            reason: Reason::OutOfRange { field, value: 9, max: 4, .. },
            ..
        } => {
            assert_eq!(field, "sample")
        }
        other => panic!("{other:?}"),
    }
    let followed = spotlit(&events[from..]);
    let later = events.len();
    let mut cuts = 0;
    while cuts < 3 {
        match next_msg(&mut ws).await {
            ServerMsg::Batch { events: batch, .. } => events.extend(batch),
            ServerMsg::Aggregates { .. } => cuts += 1,
            _ => {}
        }
    }
    let after = spotlit(&events[later..]);
    assert!(after.is_subset(&followed), "followed {followed:?}, then {after:?}");
    assert_eq!(followed.len(), 2, "{followed:?}");

    stop.store(true, Ordering::Relaxed);
    let lines: u64 = load.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(lines > 0);
    server.shutdown().await.unwrap();
}
