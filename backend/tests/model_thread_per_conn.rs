//! The thread-per-conn model over real sockets: one blocking thread per client, threads that
//! come and go, their stacks, the cap, and a thread the kernel refuses to create. The echo
//! contract (and the threads a stop ends) is in `echo_contract.rs`, an idle thread's sleep in
//! `waits.rs`.

mod common;
mod echo_checks;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use echo_checks::*;
use kettle_backend::models::ModelOptions;
use kettle_shared::{BuiltIn, CloseReason, Event, EventKind, Reason, RecvOutcome};

const ID: &str = BuiltIn::ThreadPerConn.id();

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_accepted_by_the_acceptor_and_echoed_by_its_own_thread_as_fig_6_1() {
    let server = kettle(&[ID]).await;
    let events = OneLine::new(ID)
        .until(|ev| {
            ev.iter().any(|e| e.thread.name == "conn-1" && e.kind.name() == "thread_exited")
        })
        .run(&server)
        .await
        .events;
    let acceptor: Vec<_> =
        steps_of(&events, ID, "acceptor").iter().map(|e| e.kind.name()).collect();
    assert_eq!(acceptor[..3], ["thread_spawned", "accept_enter", "accept_exit"], "{acceptor:?}");
    let worker = steps_of(&events, ID, "conn-1");
    let names: Vec<_> = worker.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        [
            "thread_spawned",
            "thread_stack",
            "recv_enter",
            "data_arrived",
            "recv_exit",
            "send_enter",
            "send_exit",
            "recv_enter",
            "recv_exit",
            "close",
            "thread_exited"
        ]
    );
    assert!(matches!(worker[1].kind, EventKind::ThreadStack { stack_bytes: 65536 }));
    match &worker[4].kind {
        EventKind::RecvExit {
            outcome: RecvOutcome::Data { bytes: 5, .. },
            wait_ns: Some(w),
            ..
        } => {
            assert!(*w >= 150_000_000, "phase 1 covers the client's 200 ms pause, was {w} ns")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(worker[9].kind, EventKind::Close { reason: CloseReason::PeerClosed, .. }));
    assert!(worker.iter().all(|e| e.conn == Some(1)));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn threads_appear_with_clients_and_end_when_they_leave() {
    let server = kettle(&[ID]).await;
    let addr = model_addr(&server, ID);
    let (mut ws, _) = viewer(&server).await;
    let mut clients: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    for c in clients.iter_mut() {
        c.write_all(b"hi").unwrap();
        assert_eq!(read_n(c, 2), b"HI");
    }
    let mut events = Vec::new();
    let count = |ev: &[Event], kind: &str| {
        ev.iter().filter(|e| e.thread.name.starts_with("conn-") && e.kind.name() == kind).count()
    };
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        count(ev, "thread_spawned") == 3
    })
    .await;
    assert_eq!(count(&events, "thread_exited"), 0, "{:?}", names(&events));
    // Three threads, each holding one connection.
    let threads: std::collections::HashSet<_> = events
        .iter()
        .filter(|e| e.kind.name() == "thread_spawned" && e.thread.name.starts_with("conn-"))
        .map(|e| e.thread.id)
        .collect();
    assert_eq!(threads.len(), 3);
    drop(clients);
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        count(ev, "thread_exited") == 3
    })
    .await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_thread_cap_a_client_is_refused_and_later_ones_are_served() {
    let (registry, mut rx) = registry_with(ModelOptions { max_threads: 2, ..Default::default() });
    registry.start(ID).unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], registry.running_port(ID).unwrap()));
    let (first, second) = tokio::task::spawn_blocking(move || {
        let mut a = connect(addr);
        let mut b = connect(addr);
        for c in [&mut a, &mut b] {
            c.write_all(b"ok").unwrap();
            assert_eq!(read_n(c, 2), b"OK");
        }
        // The third is over the cap: refused and closed without an echo.
        let mut third = connect(addr);
        let _ = third.write_all(b"no");
        let mut buf = Vec::new();
        let _ = third.read_to_end(&mut buf);
        assert!(buf.is_empty(), "a refused client gets nothing back, got {buf:?}");
        (a, b)
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    recorded_until(&mut rx, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::Refused, .. }))
    })
    .await;
    assert!(events.iter().any(|e| e.conn == Some(3)
        && matches!(
            &e.kind,
            EventKind::Refused { reason: Reason::ThreadCapReached { limit: 2 } }
        )));
    // One leaves; its thread ends, and the next client gets a thread.
    drop(first);
    recorded_until(&mut rx, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| e.thread.name == "conn-1" && e.kind.name() == "thread_exited")
    })
    .await;
    tokio::task::spawn_blocking(move || echo_one(addr, 7, Duration::from_secs(20))).await.unwrap();
    drop(second);
    tokio::task::spawn_blocking(move || registry.stop(ID).unwrap()).await.unwrap();
    assert!(port_is_free(addr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thread_the_kernel_cannot_create_refuses_the_client_and_the_acceptor_goes_on() {
    // A stack as large as the whole user address space: `Builder::spawn` genuinely fails (the
    // kernel cannot map it), which is what EAGAIN/ENOMEM from pthread_create look like.
    let options = ModelOptions { thread_stack_bytes: 1 << 47, ..Default::default() };
    let (registry, mut rx) = registry_with(options);
    registry.start(ID).unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], registry.running_port(ID).unwrap()));
    tokio::task::spawn_blocking(move || {
        for _ in 0..2 {
            let mut c = connect(addr);
            let mut buf = Vec::new();
            let _ = c.read_to_end(&mut buf);
            assert!(buf.is_empty());
        }
    })
    .await
    .unwrap();
    let mut events = Vec::new();
    recorded_until(&mut rx, &mut events, Duration::from_secs(10), |ev| {
        ev.iter()
            .filter(|e| {
                matches!(&e.kind, EventKind::Refused { reason: Reason::CannotCreateThread { .. } })
            })
            .count()
            == 2
    })
    .await;
    assert!(events.iter().all(|e| e.thread.name != "conn-1"), "no worker thread ever ran");
    assert_eq!(registry.get(ID).unwrap().state, kettle_shared::ModelState::Running);
    tokio::task::spawn_blocking(move || registry.stop(ID).unwrap()).await.unwrap();
    assert!(port_is_free(addr));
}
