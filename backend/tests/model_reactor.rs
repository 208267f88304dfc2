//! The selectors-style reactor over real sockets: callbacks registered per descriptor and
//! called by the loop (accept registers read; read switches to write when the kernel takes
//! only part of a reply), and the behaviour every model must have.

mod common;
mod event_loops;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::*;
use event_loops::*;
use kettle_shared::{CloseReason, EpollOp, EventKind, RecvOutcome};

const MODEL: &str = "reactor";

#[tokio::test(flavor = "multi_thread")]
async fn one_line_runs_the_accept_callback_then_the_read_callback_registered_by_it() {
    let server = kettle(&[MODEL]).await;
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        std::thread::sleep(Duration::from_millis(200));
        c.write_all(b"hello").unwrap();
        assert_eq!(read_n(&mut c, 5), b"HELLO");
        c.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut c, &mut rest).unwrap();
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), closed_and_waiting_again).await;
    let steps = steps(&events, MODEL);
    let names: Vec<_> = steps.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        [
            "thread_spawned",
            // sel.register(server, EVENT_READ, accept)
            "register",
            "epoll_ctl",
            "wait_enter",
            "wait_returned",
            "callback",
            "accept_enter",
            "accept_exit",
            // sel.register(conn, EVENT_READ, read), inside accept
            "register",
            "epoll_ctl",
            "wait_enter",
            "wait_returned",
            "callback",
            "recv_enter",
            "data_arrived",
            "recv_exit",
            "send_enter",
            "send_exit",
            "wait_enter",
            "wait_returned",
            "callback",
            "recv_enter",
            "recv_exit",
            // sel.unregister(conn); conn.close()
            "unregister",
            "epoll_ctl",
            "close",
            "wait_enter"
        ],
        "{names:?}"
    );
    let listener = match &steps[1].kind {
        EventKind::Register { fd, interest, callback } => {
            assert_eq!((interest.as_str(), callback.as_str()), ("read", "accept"));
            *fd
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(steps[5].kind, EventKind::Callback { name: "accept".into(), fd: listener });
    let EventKind::AcceptExit { fd: Some(conn), .. } = steps[7].kind else { panic!() };
    assert_eq!(
        steps[8].kind,
        EventKind::Register { fd: conn, interest: "read".into(), callback: "read".into() }
    );
    assert!(
        matches!(&steps[9].kind, EventKind::EpollCtl { op, fd, .. } if matches!(op, EpollOp::Add) && *fd == conn)
    );
    assert_eq!(steps[12].kind, EventKind::Callback { name: "read".into(), fd: conn });
    assert_eq!(steps[20].kind, EventKind::Callback { name: "read".into(), fd: conn });
    assert!(matches!(steps[22].kind, EventKind::RecvExit { outcome: RecvOutcome::Eof, .. }));
    assert_eq!(steps[23].kind, EventKind::Unregister { fd: conn });
    assert!(
        matches!(&steps[24].kind, EventKind::EpollCtl { op, fd, .. } if matches!(op, EpollOp::Del) && *fd == conn)
    );
    assert!(matches!(steps[25].kind, EventKind::Close { reason: CloseReason::PeerClosed, .. }));
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
async fn a_partly_sent_reply_switches_the_connection_to_the_write_callback_and_back() {
    // The client that never reads: its reply waits, the connection is re-registered for
    // writing (it is not read meanwhile), others are served, and reading resumes later.
    never_reading_client_does_not_block_others(MODEL, |e| {
        matches!(&e.kind, EventKind::Register { interest, callback, .. }
            if interest == "write" && callback == "write")
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
