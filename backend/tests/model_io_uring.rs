//! io_uring (Stevens Fig. 6.5, done by the kernel) over real sockets: requests are submitted,
//! and a recv's completion means the data is already in the buffer.
//!
//! Where the kernel refuses io_uring these tests check that the model is listed as
//! unavailable with a reason instead (the registry's unit test covers that path for sure).

mod common;
mod echo_checks;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::*;
use echo_checks::*;
use kettle_shared::{CloseReason, EventKind, ModelState};

const MODEL: &str = "io-uring";

/// A Kettle with io-uring running, or `None` (after checking it is reported unavailable with a
/// reason) when this kernel refuses io_uring.
async fn kettle_with_io_uring() -> Option<kettle_backend::Server> {
    let server = kettle(&[]).await;
    let info = server.registry.get(MODEL).unwrap();
    if info.state == ModelState::Unavailable {
        assert!(info.reason.is_some_and(|r| !r.is_empty()));
        eprintln!("io_uring refused here: the unavailable path was checked instead");
        return None;
    }
    let registry = server.registry.clone();
    tokio::task::spawn_blocking(move || registry.start(MODEL).unwrap()).await.unwrap();
    Some(server)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_submit_recv_then_complete_with_the_data_then_submit_send() {
    let Some(server) = kettle_with_io_uring().await else { return };
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        std::thread::sleep(Duration::from_millis(300));
        c.write_all(b"hello").unwrap();
        assert_eq!(read_n(&mut c, 5), b"HELLO");
        c.shutdown(Shutdown::Write).unwrap();
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Close { .. }))
    })
    .await;
    // The connection's own requests and completions, in order.
    let conn = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Complete { ref op, result, .. } if op == "accept" && result >= 0 => e.conn,
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
            "complete recv 5",
            "submit send",
            "complete send 5",
            "submit recv",
            "complete recv 0",
            "close"
        ],
        "{steps:?}"
    );
    // Between submit and completion the thread slept in io_uring_enter, for every socket at once.
    assert!(events.iter().any(|e| e.model == MODEL
        && matches!(&e.kind, EventKind::ThreadBlocked { on } if on == "io_uring_enter")));
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::PeerClosed, .. })));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_is_byte_exact_for_1_10_and_100_concurrent_clients_in_random_pieces() {
    echo_1_10_100_concurrent_clients(MODEL).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_half_close_and_a_never_reading_client_leave_others_served() {
    reset_half_close_never_reader_then_stop(MODEL).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_with_clients_connected_completes_their_requests_and_frees_the_port() {
    let Some(server) = kettle_with_io_uring().await else { return };
    let addr = model_addr(&server, MODEL);
    let mut clients: Vec<_> = (0..3).map(|_| client(addr)).collect();
    for c in &mut clients {
        c.write_all(b"x").unwrap();
        assert_eq!(read_n(c, 1), b"X");
    }
    let (mut ws, _) = viewer(&server).await;
    let registry = server.registry.clone();
    tokio::task::spawn_blocking(move || registry.stop(MODEL).unwrap()).await.unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Stopped { .. }))
    })
    .await;
    let closes = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::Stopped, .. }))
        .count();
    assert_eq!(closes, 3, "{:?}", kinds(&events));
    assert!(events.iter().any(|e| e.model == MODEL && e.kind == EventKind::ThreadExited));
    for c in &mut clients {
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(c, &mut buf).unwrap(), 0);
    }
    assert!(std::net::TcpListener::bind(addr).is_ok(), "port still in use");
    server.shutdown().await.unwrap();
}
