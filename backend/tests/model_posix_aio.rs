//! POSIX aio (Stevens Fig. 6.5, as glibc does it) over real sockets: aio_read returns at once,
//! and the completion is reported by a different thread, one glibc created.

mod common;
mod echo_checks;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::*;
use echo_checks::*;
use kettle_shared::{CloseReason, EventKind};

const MODEL: &str = "posix-aio";

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_submit_then_complete_on_a_glibc_thread_then_send_and_resubmit() {
    let server = kettle(&[MODEL]).await;
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
    let ours: Vec<_> =
        events.iter().filter(|e| e.model == MODEL && e.kind.name() != "thread_sample").collect();
    let submitter = ours.iter().find(|e| e.thread.name == MODEL).unwrap().thread.id;
    // The accepting thread submits the first read and goes back to accept at once.
    let names: Vec<_> =
        ours.iter().filter(|e| e.thread.id == submitter).map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        ["thread_spawned", "accept_enter", "accept_exit", "submit", "accept_enter"],
        "{names:?}"
    );
    // The completion of that read comes on another thread, created for it.
    let complete = ours
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Complete { op, result: 5, .. } if op == "aio_read"))
        .expect("the read completed with 5 bytes");
    assert_ne!(complete.thread.id, submitter);
    assert!(complete.thread.name.starts_with("aio-notify "), "{}", complete.thread.name);
    let notify: Vec<_> =
        ours.iter().filter(|e| e.thread.id == complete.thread.id).map(|e| e.kind.name()).collect();
    assert_eq!(
        notify,
        ["thread_spawned", "complete", "send_enter", "send_exit", "submit", "thread_exited"],
        "{notify:?}"
    );
    // The end of file is a completion too (result 0), then the close.
    assert!(ours.iter().any(|e| matches!(&e.kind, EventKind::Complete { result: 0, .. })));
    assert!(ours
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
async fn stopping_with_clients_connected_completes_their_reads_and_frees_the_port() {
    let server = kettle(&[MODEL]).await;
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
    // Each outstanding read ended with a completion (the shut-down socket's read returned 0).
    let completions =
        events.iter().filter(|e| matches!(&e.kind, EventKind::Complete { result: 0, .. })).count();
    assert_eq!(completions, 3, "{:?}", kinds(&events));
    for c in &mut clients {
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(c, &mut buf).unwrap(), 0);
    }
    assert!(std::net::TcpListener::bind(addr).is_ok(), "port still in use");
    server.shutdown().await.unwrap();
}
