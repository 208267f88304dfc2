//! The level-triggered epoll model over real sockets: the shape of Fig. 6.3 for one line,
//! epoll's cost following the ready set, level-triggered re-reports, and the behaviour every
//! model must have (random payloads, resets, half-close, a client that never reads, stop).

mod common;
mod event_loops;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::*;
use event_loops::*;
use kettle_shared::{CloseReason, EpollOp, EventKind, RecvOutcome, SendOutcome, WaitApi};

const MODEL: &str = "epoll";

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_accepts_until_eagain_then_epoll_wait_returning_the_connection_then_recv_then_send(
) {
    let server = kettle(&[MODEL]).await;
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        // Well after the server went back to epoll_wait with the new connection watched.
        std::thread::sleep(Duration::from_millis(200));
        c.write_all(b"hello").unwrap();
        assert_eq!(read_n(&mut c, 5), b"HELLO");
        c.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut c, &mut rest).unwrap();
        assert!(rest.is_empty());
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), closed_and_waiting_again).await;
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
async fn epoll_wait_scans_only_the_ready_entries_however_many_are_watched() {
    let server = kettle(&[MODEL]).await;
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    let idle: Vec<_> = (0..20).map(|_| client(addr)).collect();
    let mut active = client(addr);
    let mut events = Vec::new();
    // All 21 connections registered: the next wait watches them and the listener.
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter()
            .any(|e| matches!(&e.kind, EventKind::WaitEnter { watched, .. } if watched.len() == 22))
    })
    .await;
    active.write_all(b"ping").unwrap();
    assert_eq!(read_n(&mut active, 4), b"PING");
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::SendExit { .. }))
    })
    .await;
    let steps = steps(&events, MODEL);
    let recv = find(&steps, 0, |e| e.kind.name() == "recv_enter").unwrap();
    let (enter, returned) = (&steps[recv - 2].kind, &steps[recv - 1].kind);
    match (enter, returned) {
        (EventKind::WaitEnter { watched, .. }, EventKind::WaitReturned { ready, scanned, .. }) => {
            assert_eq!(watched.len(), 22);
            assert_eq!((ready.len(), *scanned), (1, 1), "select would scan all 22");
        }
        other => panic!("{other:?}"),
    }
    drop(idle);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn level_triggered_reports_a_socket_again_while_data_is_left() {
    let server = kettle(&[MODEL]).await;
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
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

#[tokio::test(flavor = "multi_thread")]
async fn random_payloads_echo_byte_exact_for_one_client() {
    concurrent_random_echo(MODEL, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn random_payloads_echo_byte_exact_for_ten_concurrent_clients() {
    concurrent_random_echo(MODEL, 10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn random_payloads_echo_byte_exact_for_a_hundred_concurrent_clients() {
    concurrent_random_echo(MODEL, 100).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_client_is_closed_and_others_are_served() {
    reset_client_is_closed_and_others_served(MODEL).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_closed_client_gets_its_full_echo_then_end_of_file() {
    half_close_gets_full_echo_then_eof(MODEL).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_stops_being_read_and_others_are_served() {
    never_reading_client_does_not_block_others(MODEL, |e| {
        matches!(&e.kind, EventKind::EpollCtl { op, events, .. }
            if matches!(op, EpollOp::Mod) && events == "EPOLLOUT")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_with_clients_connected_closes_them_and_frees_the_port() {
    stop_with_clients_frees_port(MODEL).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_an_idle_server_wakes_epoll_wait() {
    stop_wakes_an_idle_epoll_wait(MODEL).await;
}
