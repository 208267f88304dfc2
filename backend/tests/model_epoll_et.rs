//! The edge-triggered epoll model over real sockets: one report, a drain loop ending in
//! EAGAIN (for recv and for accept). What it shares with other models (the echo contract —
//! where a missed edge would leave one of a hundred clients waiting —, idle waits) is in
//! `echo_contract.rs` and `waits.rs`.

mod common;
mod echo_checks;
mod event_loops;

use std::io::Write;
use std::time::Duration;

use common::*;
use echo_checks::OneLine;
use event_loops::*;
use kettle_shared::{BuiltIn, CloseReason, EpollOp, EventKind, RecvOutcome, WaitApi};

const MODEL: &str = BuiltIn::EpollEt.id();

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_one_edge_then_recv_until_eagain() {
    let server = kettle(&[MODEL]).await;
    let events = OneLine::new(MODEL)
        // The end of file is sent only after the drain found the socket empty (EAGAIN).
        .once_echoed(|ev| ev.iter().any(|e| e.model == MODEL && recv_would_block(e)))
        .until(closed_and_waiting_again)
        .run(&server)
        .await
        .events;
    let steps = steps(&events, MODEL);
    let names: Vec<_> = steps.iter().map(|e| e.kind.name()).collect();
    let accepted = names.iter().position(|n| *n == "accept_exit").expect("accepted");
    assert_eq!(
        names[accepted..],
        [
            "accept_exit",
            "epoll_ctl",
            // The accept drain: the next accept says no connection is left.
            "accept_enter",
            "accept_exit",
            "wait_enter",
            "wait_returned",
            "recv_enter",
            "data_arrived",
            "recv_exit",
            "send_enter",
            "send_exit",
            // The recv drain: the socket is empty, the edge is used up.
            "recv_enter",
            "recv_exit",
            "wait_enter",
            "wait_returned",
            "recv_enter",
            "recv_exit",
            "close",
            "wait_enter"
        ],
        "{names:?}"
    );
    let s = &steps[accepted..];
    assert!(matches!(&s[1].kind, EventKind::EpollCtl { op, events, .. }
        if matches!(op, EpollOp::Add) && events == "EPOLLIN|EPOLLET"));
    assert!(
        matches!(&s[3].kind, EventKind::AcceptExit { error: Some(e), .. } if e.errno == "EAGAIN")
    );
    assert!(matches!(s[4].kind, EventKind::WaitEnter { api: WaitApi::EpollEt, .. }));
    assert!(matches!(s[5].kind, EventKind::WaitReturned { api: WaitApi::EpollEt, scanned: 1, .. }));
    assert!(recv_would_block(s[12]));
    assert!(matches!(s[16].kind, EventKind::RecvExit { outcome: RecvOutcome::Eof, .. }));
    assert!(matches!(s[17].kind, EventKind::Close { reason: CloseReason::PeerClosed, .. }));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_edge_for_several_pieces_is_drained_with_several_recvs_ending_in_eagain() {
    let (server, addr, mut ws) = watched(MODEL).await;
    // Kept open until the end: a FIN arriving during the drain would end it with end of
    // file instead of EAGAIN.
    let _open = tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        std::thread::sleep(Duration::from_millis(100));
        let data = payload(3000, 11);
        c.write_all(&data).unwrap();
        assert_eq!(read_n(&mut c, 3000), data.to_ascii_uppercase());
        c
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().filter(|e| recv_data(e)).count() >= 3
            && ev.iter().any(|e| e.model == MODEL && recv_would_block(e))
    })
    .await;
    let steps = steps(&events, MODEL);
    let first = find(&steps, 0, |e| e.kind.name() == "recv_enter").unwrap();
    let next_wait = find(&steps, first, |e| e.kind.name() == "wait_enter").unwrap();
    let drain = &steps[first..next_wait];
    let data = drain.iter().filter(|e| recv_data(e)).count();
    assert!(data >= 3, "3000 bytes in one edge are 3 recvs of at most 1024: {:?}", kinds(&events));
    assert!(recv_would_block(drain[drain.len() - 1]), "the drain ends with EAGAIN");
    assert_eq!(drain.iter().filter(|e| recv_would_block(e)).count(), 1);
    server.shutdown().await.unwrap();
}
