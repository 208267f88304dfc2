//! Signal-driven I/O (Stevens Fig. 6.4) over real sockets: the signal names the socket, the
//! thread works meanwhile, and recv finds the data already there.

mod common;
mod echo_checks;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::*;
use echo_checks::*;
use kettle_shared::{CloseReason, Event, EventKind, RecvOutcome};

const MODEL: &str = "sigio";

fn steps(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| e.model == MODEL && e.thread.name == MODEL && e.kind.name() != "thread_sample")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_signal_work_then_deliver_signal_then_recv_with_the_data_already_there() {
    let server = kettle(&[MODEL]).await;
    let addr = model_addr(&server, MODEL);
    let (mut ws, _) = viewer(&server).await;
    tokio::task::spawn_blocking(move || {
        let mut c = client(addr);
        // Long enough for the thread to be seen working before the line comes.
        std::thread::sleep(Duration::from_millis(700));
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
    let s = steps(&events);
    let names: Vec<_> = s.iter().map(|e| e.kind.name()).collect();
    // The handler is established first, for the realtime signal and for plain SIGIO.
    assert_eq!(names[..3], ["thread_spawned", "signal_handler", "signal_handler"], "{names:?}");
    // Named as a program would write them: the realtime one counted from glibc's SIGRTMIN().
    let rt = libc::SIGRTMIN() + 2;
    assert_eq!(s[1].kind, EventKind::SignalHandler { signo: rt, name: "SIGRTMIN+2".into() });
    assert_eq!(s[2].kind, EventKind::SignalHandler { signo: libc::SIGIO, name: "SIGIO".into() });
    let fd = s
        .iter()
        .find_map(|e| match e.kind {
            EventKind::AcceptExit { fd: Some(fd), .. } => Some(fd),
            _ => None,
        })
        .expect("accepted");
    // The line's own steps: the work done until the signal, the signal naming the socket,
    // then recv (data already there) and send.
    let data_recv = s
        .iter()
        .position(|e| {
            matches!(e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. })
        })
        .expect("a recv with data");
    assert_eq!(
        names[data_recv - 4..=data_recv + 2],
        [
            "work_done",
            "signal_delivered",
            "recv_enter",
            "data_arrived",
            "recv_exit",
            "send_enter",
            "send_exit",
        ],
        "{names:?}"
    );
    assert_eq!(
        s[data_recv - 3].kind,
        EventKind::SignalDelivered { signo: rt, name: "SIGRTMIN+2".into(), fd: Some(fd) },
        "the signal says which socket"
    );
    match s[data_recv - 4].kind {
        EventKind::WorkDone { units } => assert!(units > 0),
        ref other => panic!("{other:?}"),
    }
    match &s[data_recv].kind {
        EventKind::RecvExit { wait_ns: Some(wait), .. } => {
            assert!(*wait < 50_000_000, "the data was already there; phase 1 was {wait} ns")
        }
        other => panic!("{other:?}"),
    }
    // While the client paused, the thread kept working (several reports, not one blocked call).
    let accepted = s.iter().position(|e| matches!(e.kind, EventKind::AcceptExit { .. })).unwrap();
    let work_between =
        s[accepted..data_recv].iter().filter(|e| e.kind.name() == "work_done").count();
    assert!(work_between >= 1, "{names:?}");
    assert!(s
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
async fn stopping_with_clients_connected_closes_them_and_frees_the_port() {
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
    assert!(events.iter().any(|e| e.thread.name == MODEL && e.kind == EventKind::ThreadExited));
    for c in &mut clients {
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(c, &mut buf).unwrap(), 0);
    }
    assert!(std::net::TcpListener::bind(addr).is_ok(), "port still in use");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_thread_keeps_doing_its_own_work_and_little_else() {
    let server = kettle(&[MODEL]).await;
    let (mut ws, _) = viewer(&server).await;
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().filter(|e| e.kind.name() == "work_done").count() >= 3
    })
    .await;
    // No I/O call while idle (after the first look at the listener): only work, and the naps
    // between units of it.
    let s = steps(&events);
    let first_work = s.iter().position(|e| e.kind.name() == "work_done").unwrap();
    assert!(s[first_work..].iter().all(|e| !matches!(
        e.kind,
        EventKind::RecvEnter { .. } | EventKind::AcceptEnter | EventKind::WaitEnter { .. }
    )));
    server.shutdown().await.unwrap();
}
