//! Signal-driven I/O (Stevens Fig. 6.4) over real sockets: the signal names the socket, the
//! thread works meanwhile, and recv finds the data already there. The echo contract is in
//! `echo_contract.rs`; a full signal queue in `model_sigio_overflow.rs`.

mod common;
mod echo_checks;

use std::time::Duration;

use common::*;
use echo_checks::OneLine;
use kettle_shared::{BuiltIn, CloseReason, EventKind, RecvOutcome};

const MODEL: &str = BuiltIn::Sigio.id();

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_signal_work_then_deliver_signal_then_recv_with_the_data_already_there() {
    let server = kettle(&[MODEL]).await;
    // A pause long enough for the thread to be seen working before the line comes.
    let events = OneLine::new(MODEL).pause_ms(700).run(&server).await.events;
    let s = steps(&events, MODEL);
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
    let s = steps(&events, MODEL);
    let first_work = s.iter().position(|e| e.kind.name() == "work_done").unwrap();
    assert!(s[first_work..].iter().all(|e| !matches!(
        e.kind,
        EventKind::RecvEnter { .. } | EventKind::AcceptEnter | EventKind::WaitEnter { .. }
    )));
    server.shutdown().await.unwrap();
}
