//! io_uring (Stevens Fig. 6.5, done by the kernel) over real sockets: requests are submitted,
//! a recv's completion means the data is already in the buffer, and the kernel's receive stamp
//! (`data_arrived`) splits the wait between the two phases the kernel did.
//!
//! Where the kernel refuses io_uring these tests check that the model is listed as
//! unavailable with a reason instead (`common::serving`; the registry's unit test covers that
//! path for sure). The echo contract is in `echo_contract.rs`.

mod common;
mod echo_checks;

use std::io::Write;
use std::time::Duration;

use common::*;
use echo_checks::OneLine;
use kettle_shared::{AsyncOp, BuiltIn, CloseReason, Event, EventKind};

const MODEL: &str = BuiltIn::IoUring.id();

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_submit_recv_then_complete_with_the_data_then_submit_send() {
    let Some(server) = serving(BuiltIn::IoUring).await else { return };
    let events = OneLine::new(MODEL).pause_ms(300).run(&server).await.events;
    // The connection's own requests and completions, in order.
    let conn = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Complete { ref op, result, .. }
                if matches!(op, AsyncOp::Accept) && result >= 0 =>
            {
                e.conn
            }
            _ => None,
        })
        .expect("an accept completed");
    let steps: Vec<String> = events
        .iter()
        .filter(|e| e.model == MODEL && e.conn == Some(conn))
        .map(|e| match &e.kind {
            EventKind::Submit { op, .. } => format!("submit {op}"),
            EventKind::Complete { op, result, .. } => format!("complete {op} {result}"),
            other => other.name().to_owned(),
        })
        .collect();
    assert!(steps[0].starts_with("complete accept "), "{steps:?}");
    assert_eq!(
        steps[1..],
        [
            "submit recv",
            // The kernel's stamp of the data's arrival: the end of phase 1.
            "data_arrived",
            "complete recv 5",
            "submit send",
            "complete send 5",
            "submit recv",
            "complete recv 0",
            "close"
        ],
        "{steps:?}"
    );
    // Between submit and completion the thread slept in io_uring_enter, for every socket at once:
    // the call that handed the recv to the kernel submitted it, and the one that returned with
    // its completion counted it.
    let ring = ring_steps(&events);
    let submit_recv = ring.iter().position(|s| s == "submit recv").unwrap();
    let entered = ring[submit_recv..].iter().find(|s| s.starts_with("ring_enter")).unwrap();
    assert_ne!(entered, "ring_enter 0", "{ring:?}");
    let completed = ring.iter().position(|s| s == "complete recv 5").unwrap();
    let exit = ring[..completed].iter().rposition(|s| s.starts_with("ring_exit")).unwrap();
    assert!(!ring[exit].ends_with("timed out"), "{ring:?}");
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::PeerClosed, .. })));
    server.shutdown().await.unwrap();
}

/// The io-uring thread's ring calls and requests, as words: `ring_enter <submitted>`,
/// `ring_exit <completions>[ timed out]`, `submit <op>`, `complete <op> <result>`.
fn ring_steps(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.model == MODEL && e.thread.name == MODEL)
        .filter_map(|e| match &e.kind {
            EventKind::RingEnter { submitted, wait_for } => {
                assert_eq!(*wait_for, 1);
                Some(format!("ring_enter {submitted}"))
            }
            EventKind::RingExit { completions, timed_out } => Some(format!(
                "ring_exit {completions}{}",
                if *timed_out { " timed out" } else { "" }
            )),
            EventKind::Submit { op, .. } => Some(format!("submit {op}")),
            EventKind::Complete { op, result, .. } => Some(format!("complete {op} {result}")),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_ring_enter_submits_the_queued_requests_and_each_ring_exit_counts_the_completions() {
    let Some(server) = serving(BuiltIn::IoUring).await else { return };
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    tokio::task::spawn_blocking(move || {
        let mut clients: Vec<_> = (0..3).map(|_| client(addr)).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            let line = format!("line {i}");
            c.write_all(line.as_bytes()).unwrap();
            assert_eq!(read_n(c, line.len()), line.to_uppercase().as_bytes());
        }
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    // Wait for the three closes, and for an idle wait that ends on the 250 ms stop check.
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        let closes = ev.iter().filter(|e| matches!(e.kind, EventKind::Close { .. })).count();
        let idle = ev.iter().any(|e| matches!(e.kind, EventKind::RingExit { timed_out: true, .. }));
        closes == 3 && idle
    })
    .await;
    let steps = ring_steps(&events);
    // Cut the thread's story at each ring_enter: the SQEs queued since the previous call are
    // what it submits, and its ring_exit counts the completions reaped right after it.
    let starts: Vec<usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.starts_with("ring_enter"))
        .map(|(i, _)| i)
        .collect();
    assert!(starts.len() >= 4, "{steps:?}");
    for pair in starts.windows(2) {
        let (enter, next) = (pair[0], pair[1]);
        let exit = enter + 1;
        assert!(steps[exit].starts_with("ring_exit"), "{:?}", &steps[enter..next]);
        let completions: usize =
            steps[exit]["ring_exit ".len()..].split(' ').next().unwrap().parse().unwrap();
        let completes = steps[exit..next].iter().filter(|s| s.starts_with("complete")).count();
        assert_eq!(completions, completes, "{:?}", &steps[enter..next]);
        // The requests queued while reaping are what the next call submits.
        let submits = steps[exit..next].iter().filter(|s| s.starts_with("submit")).count();
        assert_eq!(steps[next], format!("ring_enter {submits}"), "{:?}", &steps[enter..=next]);
        // An idle wait that ended on the stop-check timeout found nothing.
        if steps[exit].ends_with("timed out") {
            assert_eq!(completions, 0, "{:?}", &steps[enter..next]);
        }
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accept_completion_names_the_client_it_accepted() {
    let Some(server) = serving(BuiltIn::IoUring).await else { return };
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    let clients: Vec<_> = (0..2).map(|_| client(addr)).collect();
    let locals: Vec<String> = clients.iter().map(|c| c.local_addr().unwrap().to_string()).collect();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        let accepted = ev.iter().filter(|e| {
            matches!(&e.kind, EventKind::Complete { op, result, .. } if matches!(op, AsyncOp::Accept) && *result >= 0)
        });
        accepted.count() == 2
    })
    .await;
    let mut peers: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Complete { op, result, peer, .. }
                if matches!(op, AsyncOp::Accept) && *result >= 0 =>
            {
                Some(peer.clone().expect("a successful accept names its peer"))
            }
            _ => None,
        })
        .collect();
    peers.sort();
    let mut expected = locals.clone();
    expected.sort();
    assert_eq!(peers, expected, "each accept names the client it accepted");
    drop(clients);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_sent_200_ms_after_the_recv_was_submitted_shows_200_ms_of_phase_1() {
    let Some(server) = serving(BuiltIn::IoUring).await else { return };
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    let mut c = client(addr);
    let local = c.local_addr().unwrap().to_string();
    let mut events = Vec::new();
    // Wait until the recv for this client is submitted: the accept that names it, then its recv.
    let conn_of = |ev: &[Event]| {
        ev.iter().find_map(|e| match &e.kind {
            EventKind::Complete { op, peer: Some(p), .. }
                if matches!(op, AsyncOp::Accept) && *p == local =>
            {
                e.conn
            }
            _ => None,
        })
    };
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        conn_of(ev).is_some_and(|conn| {
            ev.iter().any(|e| {
                e.conn == Some(conn)
                    && matches!(&e.kind, EventKind::Submit { op, .. } if matches!(op, AsyncOp::Recv))
            })
        })
    })
    .await;
    let conn = conn_of(&events).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reply = tokio::task::spawn_blocking(move || {
        c.write_all(b"late").unwrap();
        read_n(&mut c, 4)
    });
    assert_eq!(reply.await.unwrap(), b"LATE");
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| {
            e.conn == Some(conn)
                && matches!(&e.kind, EventKind::Complete { op, .. } if matches!(op, AsyncOp::Recv))
        })
    })
    .await;
    let ours: Vec<&Event> = events.iter().filter(|e| e.conn == Some(conn)).collect();
    let submit = ours
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Submit { op, .. } if matches!(op, AsyncOp::Recv)))
        .unwrap();
    let arrived = ours
        .iter()
        .position(|e| matches!(e.kind, EventKind::DataArrived { .. }))
        .expect("the kernel's receive stamp came with the completion");
    // Recorded before the completion it came with, and (clocks converted) no later than it.
    let complete = &ours[arrived + 1];
    assert!(
        matches!(&complete.kind, EventKind::Complete { op, result: 4, .. } if matches!(op, AsyncOp::Recv)),
        "{:?}",
        kinds(&events)
    );
    let arrived = ours[arrived];
    assert!(arrived.t_ns <= complete.t_ns + 1_000_000);
    // Phase 1, waited for in the kernel, ends when the line reached the socket.
    let phase_1_ms = (arrived.t_ns.saturating_sub(submit.t_ns)) / 1_000_000;
    assert!(phase_1_ms >= 150, "phase 1 lasted only {phase_1_ms} ms");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_multishot_accept_brings_every_client_and_stays_armed() {
    let Some(server) = serving(BuiltIn::IoUring).await else { return };
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    let clients: Vec<_> = (0..3).map(|_| client(addr)).collect();
    let mut events = Vec::new();
    let accepted = |ev: &[Event]| {
        ev.iter()
            .filter(|e| {
                matches!(&e.kind, EventKind::Complete { op, result, .. } if matches!(op, AsyncOp::Accept) && *result >= 0)
            })
            .count()
    };
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| accepted(ev) == 3).await;
    let steps = ring_steps(&events);
    let accepts: Vec<&String> = steps.iter().filter(|s| s.contains(" accept")).collect();
    if accepts.iter().any(|s| *s == "complete accept -22") {
        // A kernel before 5.19: it refused the multishot flag, and single accepts took over.
        eprintln!("no multishot accept here: {accepts:?}");
        assert!(
            accepts.iter().filter(|s| s.as_str() == "submit accept").count() > 1,
            "{accepts:?}"
        );
        return;
    }
    assert_eq!(accepts[0], "submit accept", "{accepts:?}");
    assert_eq!(accepts.iter().filter(|s| s.as_str() == "submit accept").count(), 1, "{accepts:?}");
    // Each completion says the request is still in the kernel, waiting for the next client.
    let more: Vec<bool> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Complete { op: AsyncOp::Accept, more, .. } => Some(*more),
            _ => None,
        })
        .collect();
    assert_eq!(more, [true, true, true]);
    drop(clients);
    server.shutdown().await.unwrap();
}

/// Raises this process's soft descriptor limit to at least `want` (as far as the hard limit
/// allows) and returns what it is now.
fn raise_nofile(want: u64) -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let soft = soft.max(want.min(hard));
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    soft
}

/// Percentile `p` (0..=1) of sorted durations, in ms.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_connections_each_get_their_line_echoed() {
    const CONNS: usize = 1_000;
    // The clients' descriptors and the server's live in this one process.
    let limit = raise_nofile(3 * CONNS as u64);
    assert!(limit >= 2 * CONNS as u64 + 100, "RLIMIT_NOFILE only {limit}: cannot open {CONNS}");
    let Some(server) = serving(BuiltIn::IoUring).await else { return };
    let addr = model_addr(&server, MODEL);
    // All connect at once (the listen queue overflows and the kernel retries some SYNs: the
    // accepts must keep up), then, all connected, each sends one line at the same moment.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(CONNS));
    let tasks: Vec<_> = (0..CONNS)
        .map(|i| {
            let start = start.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                start.wait().await;
                let line = format!("line {i:05} of many\n");
                let sent = std::time::Instant::now();
                s.write_all(line.as_bytes()).await.unwrap();
                let mut back = vec![0u8; line.len()];
                s.read_exact(&mut back).await.unwrap();
                assert_eq!(back, line.to_uppercase().as_bytes(), "connection {i}");
                sent.elapsed()
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        let echoed = tokio::time::timeout(Duration::from_secs(120), t).await;
        latencies.push(echoed.expect("every connection is echoed").unwrap());
    }
    latencies.sort();
    eprintln!(
        "{CONNS} connections, one line each, echo latency: p50 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.999),
        percentile_ms(&latencies, 1.0)
    );
    server.shutdown().await.unwrap();
}
