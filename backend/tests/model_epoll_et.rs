//! The edge-triggered epoll model over real sockets: one report, a drain loop ending in
//! EAGAIN (for recv and for accept), and the behaviour every model must have (random payloads
//! with 100 clients — a missed edge would hang one —, resets, half-close, a client that never
//! reads, stop).

mod common;
mod event_loops;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::*;
use event_loops::*;
use kettle_shared::{CloseReason, EpollOp, EventKind, RecvOutcome, WaitApi};

const MODEL: &str = "epoll-et";

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_one_edge_then_recv_until_eagain() {
    let server = kettle(&[MODEL]).await;
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    let mut c = client(addr);
    std::thread::sleep(Duration::from_millis(200));
    c.write_all(b"hello").unwrap();
    assert_eq!(read_n(&mut c, 5), b"HELLO");
    let mut events = Vec::new();
    // The end of file is sent only after the drain found the socket empty (EAGAIN).
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| e.model == MODEL && recv_would_block(e))
    })
    .await;
    c.shutdown(Shutdown::Write).unwrap();
    events_until(&mut ws, &mut events, Duration::from_secs(10), closed_and_waiting_again).await;
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
    let server = kettle(&[MODEL]).await;
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
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

#[tokio::test(flavor = "multi_thread")]
async fn random_payloads_echo_byte_exact_for_one_client() {
    concurrent_random_echo(MODEL, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn random_payloads_echo_byte_exact_for_ten_concurrent_clients() {
    concurrent_random_echo(MODEL, 10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn random_payloads_echo_byte_exact_for_a_hundred_concurrent_clients_with_no_missed_edge() {
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
            if matches!(op, EpollOp::Mod) && events == "EPOLLOUT|EPOLLET")
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
