//! The level-triggered epoll model over real sockets: the shape of Fig. 6.3 for one line, and
//! level-triggered re-reports. What it shares with other models (the echo contract, scans,
//! idle waits) is in `echo_contract.rs` and `waits.rs`.

mod common;
mod echo_checks;
mod event_loops;

use std::io::Write;
use std::time::Duration;

use common::*;
use echo_checks::OneLine;
use event_loops::*;
use kettle_shared::{BuiltIn, CloseReason, EpollOp, EventKind, RecvOutcome, SendOutcome, WaitApi};

const MODEL: &str = BuiltIn::Epoll.id();

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_accepts_until_eagain_then_epoll_wait_returning_the_connection_then_recv_then_send(
) {
    let server = kettle(&[MODEL]).await;
    let events = OneLine::new(MODEL).until(closed_and_waiting_again).run(&server).await.events;
    let steps = steps(&events, MODEL);
    let names: Vec<_> = steps.iter().map(|e| e.kind.name()).collect();
    let accepted = names.iter().position(|n| *n == "accept_exit").expect("accepted");
    assert_eq!(
        names[accepted..],
        [
            "accept_exit",
            "epoll_ctl",
            "accept_enter",
            "accept_exit",
            "wait_enter",
            "wait_returned",
            "recv_enter",
            "data_arrived",
            "recv_exit",
            "send_enter",
            "send_exit",
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
    let EventKind::AcceptExit { fd: Some(fd), .. } = s[0].kind else { panic!("{:?}", s[0]) };
    assert!(matches!(&s[1].kind, EventKind::EpollCtl { op, fd: f, events, error: None }
        if matches!(op, EpollOp::Add) && *f == fd && events == "EPOLLIN"));
    // The next accept finds the queue empty: the report's accepts end there.
    assert!(
        matches!(s[3].kind, EventKind::AcceptExit { fd: None, .. }),
        "the second accept should say EAGAIN: {:?}",
        s[3]
    );
    let s = &s[2..];
    match &s[2].kind {
        EventKind::WaitEnter { api: WaitApi::Epoll, watched } => assert!(watched.contains(&fd)),
        other => panic!("{other:?}"),
    }
    match &s[3].kind {
        EventKind::WaitReturned { api: WaitApi::Epoll, ready, scanned: 1 } => {
            assert_eq!(ready.len(), 1);
            assert!(ready[0].fd == fd && ready[0].readable);
        }
        other => panic!("{other:?}"),
    }
    // Phase 1 was spent in epoll_wait: the data was there before recv was called.
    match &s[6].kind {
        EventKind::RecvExit { outcome: RecvOutcome::Data { bytes: 5, .. }, wait_ns, .. } => {
            assert_eq!(*wait_ns, Some(0))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s[8].kind,
        EventKind::SendExit { outcome: SendOutcome::Sent { bytes: 5 }, .. }
    ));
    assert!(matches!(s[12].kind, EventKind::RecvExit { outcome: RecvOutcome::Eof, .. }));
    assert!(matches!(s[13].kind, EventKind::Close { reason: CloseReason::PeerClosed, .. }));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn level_triggered_reports_a_socket_again_while_data_is_left() {
    let (server, addr, mut ws) = watched(MODEL).await;
    tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        let data = payload(3000, 11);
        c.write_all(&data).unwrap();
        assert_eq!(read_n(&mut c, 3000), data.to_ascii_uppercase());
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().filter(|e| recv_data(e)).count() >= 3
    })
    .await;
    let steps = steps(&events, MODEL);
    let recvs: Vec<usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind.name() == "recv_enter")
        .map(|(i, _)| i)
        .collect();
    // One recv per report: between two recvs, epoll_wait reported the socket again.
    for pair in recvs.windows(2) {
        assert!(
            steps[pair[0]..pair[1]].iter().any(|e| e.kind.name() == "wait_returned"),
            "{:?}",
            kinds(&events)
        );
    }
    assert!(!steps.iter().any(|e| recv_would_block(e)), "level-triggered needs no EAGAIN");
    server.shutdown().await.unwrap();
}
