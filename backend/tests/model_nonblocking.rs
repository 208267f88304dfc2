//! The non-blocking busy loop (Stevens Fig. 6.2) over real sockets: one thread serves every
//! client by asking every socket again and again; the EAGAINs are counted in bursts, and the
//! thread never sleeps. The echo contract is in `echo_contract.rs`, EMFILE in
//! `out_of_descriptors.rs`.

mod common;
mod echo_checks;

use std::time::Duration;

use common::*;
use echo_checks::OneLine;
use kettle_shared::{BuiltIn, EventKind, RecvOutcome, SendOutcome};

const MODEL: &str = BuiltIn::Nonblocking.id();

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_eagains_then_a_recv_that_finds_data_then_send() {
    let server = kettle(&[MODEL]).await;
    let events = OneLine::new(MODEL).pause_ms(300).run(&server).await.events;
    let steps = steps(&events, MODEL);
    let names: Vec<_> = steps.iter().map(|e| e.kind.name()).collect();
    let accepted = names.iter().position(|n| *n == "accept_exit").expect("accepted");
    // Only calls that did something are recorded one by one; between them, bursts of EAGAIN
    // from recv (the connection had no data yet) and accept (nobody connecting).
    let calls: Vec<_> =
        names[accepted + 1..].iter().filter(|n| **n != "would_block_burst").collect();
    assert_eq!(
        calls,
        [
            &"recv_enter",
            &"data_arrived",
            &"recv_exit",
            &"send_enter",
            &"send_exit",
            &"recv_enter",
            &"recv_exit",
            &"close"
        ],
        "{names:?}"
    );
    let hello =
        accepted + 1 + names[accepted + 1..].iter().position(|n| *n == "recv_enter").unwrap();
    let bursts_before: Vec<_> = steps[accepted..hello]
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::WouldBlockBurst { call, count } if call == "recv" => Some(*count),
            _ => None,
        })
        .collect();
    // 300 ms of asking: at least a couple of 100 ms windows, each with many EAGAINs.
    assert!(bursts_before.len() >= 2, "{names:?}");
    assert!(bursts_before.iter().sum::<u64>() > 10, "{bursts_before:?}");
    match &steps[hello + 2].kind {
        EventKind::RecvExit { outcome: RecvOutcome::Data { bytes: 5, .. }, .. } => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        steps[hello + 4].kind,
        EventKind::SendExit { outcome: SendOutcome::Sent { bytes: 5 }, .. }
    ));
    // No EAGAIN was recorded one by one.
    assert!(!steps.iter().any(|e| matches!(
        e.kind,
        EventKind::RecvExit { outcome: RecvOutcome::WouldBlock, .. }
            | EventKind::SendExit { outcome: SendOutcome::WouldBlock, .. }
    )));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_busy_loop_never_sleeps_its_cpu_time_and_calls_keep_growing() {
    let server = kettle(&[MODEL]).await;
    let (mut ws, _) = viewer(&server).await;
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().filter(|e| e.thread.name == MODEL && e.kind.name() == "thread_sample").count()
            >= 5
    })
    .await;
    let samples: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::ThreadSample { cpu_ns, syscalls, .. } if e.thread.name == MODEL => {
                Some((cpu_ns, syscalls))
            }
            _ => None,
        })
        .collect();
    // With no client at all, every sample finds more CPU time used and more calls made (how
    // much depends on the machine's load, so only growth is asserted).
    assert!(samples.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1), "{samples:?}");
    let accept_bursts = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::WouldBlockBurst { call, count } if call == "accept" && *count > 0))
        .count();
    assert!(accept_bursts >= 3, "{:?}", kinds(&events));
    server.shutdown().await.unwrap();
}
