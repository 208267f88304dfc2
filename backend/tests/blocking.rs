//! The blocking model, end to end over real sockets: the echo, the events it records, and the
//! lesson it teaches (a second client waits in the backlog). The echo contract (resets,
//! half-close, stop) is in `echo_contract.rs`, an idle thread's sleep in `waits.rs`.

mod common;
mod echo_checks;

use std::io::Write;
use std::time::Duration;

use common::*;
use echo_checks::{around_one_line, slept_through_the_pause, OneLine};
use kettle_shared::{BuiltIn, CloseReason, EventKind, RecvOutcome, SendOutcome};

const MODEL: &str = BuiltIn::Blocking.id();

#[tokio::test(flavor = "multi_thread")]
async fn echo_is_upper_cased_and_byte_exact_for_large_random_payloads() {
    let server = kettle(&[MODEL]).await;
    let addr = model_addr(&server, MODEL);
    tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        c.write_all(b"hello\n").unwrap();
        assert_eq!(read_n(&mut c, 6), b"HELLO\n");
        for (len, seed) in [(1, 1), (1023, 2), (1025, 3), (64 * 1024, 4)] {
            let data = payload(len, seed);
            c.write_all(&data).unwrap();
            assert_eq!(read_n(&mut c, len), data.to_ascii_uppercase(), "payload of {len} bytes");
        }
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_line_records_accept_recv_with_both_phases_send_and_close() {
    let server = kettle(&[MODEL]).await;
    // Sent well after the server entered recv, so phase 1 must be measured as long.
    let told = OneLine::new(MODEL).run(&server).await;
    let conn = steps(&told.events, MODEL);
    let names: Vec<_> = conn.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        // The viewer connected after the thread had entered accept; the replayed history
        // (see the recorder) starts it with the thread's first steps.
        around_one_line(&["thread_spawned", "accept_enter", "accept_exit"], &["accept_enter"]),
        "{names:?}"
    );
    match &conn[2].kind {
        EventKind::AcceptExit { peer, fd: Some(_), error: None } => {
            assert_eq!(peer.as_deref(), Some(told.client.as_str()))
        }
        other => panic!("{other:?}"),
    }
    let (wait, copy) = slept_through_the_pause(conn[5]);
    let copy = copy.expect("phase 2 measured");
    assert!(copy < wait, "phase 2 ({copy} ns) is a copy, far shorter than the wait");
    // The kernel's arrival stamp lies between the call's entry and exit.
    assert!(conn[3].t_ns <= conn[4].t_ns && conn[4].t_ns <= conn[5].t_ns, "{:?}", &conn[3..6]);
    assert!(matches!(
        conn[7].kind,
        EventKind::SendExit { outcome: SendOutcome::Sent { bytes: 5 }, .. }
    ));
    assert!(matches!(conn[9].kind, EventKind::RecvExit { outcome: RecvOutcome::Eof, .. }));
    assert!(matches!(conn[10].kind, EventKind::Close { reason: CloseReason::PeerClosed, .. }));
    assert!(conn.iter().all(|e| e.conn == conn[2].conn || e.conn.is_none()));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_client_waits_in_the_backlog_until_the_first_leaves() {
    let (server, addr, mut ws) = watched(MODEL).await;
    let first = served(addr, b"one");

    let mut second = client(addr);
    second.write_all(b"two").unwrap();
    // The kernel accepted the handshake, but the server is blocked in recv on the first client:
    // nobody reads the second line.
    second.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    let mut buf = [0u8; 3];
    let early = std::io::Read::read(&mut second, &mut buf);
    assert!(early.is_err(), "the second client must not be served yet, got {early:?}");

    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Backlog { queued: 1, .. }))
    })
    .await;

    drop(first);
    second.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(read_n(&mut second, 3), b"TWO");
    events_until(&mut ws, &mut events, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Backlog { queued: 0, .. }))
            && ev.iter().filter(|e| matches!(e.kind, EventKind::AcceptExit { .. })).count() == 2
    })
    .await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_thread_is_sampled_with_its_calls_and_connections() {
    let (server, addr, mut ws) = watched(MODEL).await;
    let mut c = client(addr);
    for _ in 0..3 {
        echoed(&mut c, b"ping");
    }
    let mut events = Vec::new();
    // accept + 4 recv + 3 send = at least 8 calls, one connection held.
    events_until(&mut ws, &mut events, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| {
            e.thread.name == MODEL
                && matches!(e.kind, EventKind::ThreadSample { conns: 1, syscalls, .. } if syscalls >= 8)
        })
    })
    .await;
    server.shutdown().await.unwrap();
}

/// The kernel stamps incoming data only while some socket asks for stamps, and turns stamping
/// on a moment after the first one asks. Kettle keeps it on from the start, so even a line
/// written the instant the connection exists — before the server accepted it and set
/// `SO_TIMESTAMPING` on it — gets its arrival measured.
#[tokio::test(flavor = "multi_thread")]
async fn a_line_sent_before_the_server_accepted_still_has_its_arrival_measured() {
    let (server, addr, mut ws) = watched(MODEL).await;
    tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        c.write_all(b"early\n").unwrap();
        assert_eq!(read_n(&mut c, 6), b"EARLY\n");
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::RecvExit { .. }))
    })
    .await;
    let exit = events.iter().find(|e| matches!(e.kind, EventKind::RecvExit { .. })).unwrap();
    let EventKind::RecvExit { wait_ns, copy_ns, .. } = exit.kind else { unreachable!() };
    assert!(wait_ns.is_some() && copy_ns.is_some(), "phases measured: {:?}", exit.kind);
    assert!(
        events.iter().any(|e| matches!(e.kind, EventKind::DataArrived { .. })),
        "the kernel's receive stamp was recorded"
    );
    server.shutdown().await.unwrap();
}
