//! The thread-per-conn model over real sockets: one blocking thread per client, threads that
//! come and go, their stacks, the cap, and a thread the kernel refuses to create. The echo
//! contract (and the threads a stop ends) is in `echo_contract.rs`, an idle thread's sleep in
//! `waits.rs`.

mod common;
mod echo_checks;

use std::time::Duration;

use common::*;
use echo_checks::*;
use kettle_backend::models::ModelOptions;
use kettle_shared::{BuiltIn, CloseReason, Event, EventKind, Reason};

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
    assert_eq!(names, around_one_line(&["thread_spawned", "thread_stack"], &["thread_exited"]));
    assert!(matches!(worker[1].kind, EventKind::ThreadStack { stack_bytes: 65536 }));
    slept_through_the_pause(worker[4]);
    assert!(matches!(worker[9].kind, EventKind::Close { reason: CloseReason::PeerClosed, .. }));
    assert!(worker.iter().all(|e| e.conn == Some(1)));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn threads_appear_with_clients_and_end_when_they_leave() {
    let (server, addr, mut ws) = watched(ID).await;
    let clients: Vec<_> = (0..3).map(|_| served(addr, b"hi")).collect();
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
    past_the_cap_a_client_is_refused_and_later_ones_are_served(
        ID,
        ModelOptions { max_threads: 2, ..Default::default() },
        2,
        |reason| matches!(reason, Reason::ThreadCapReached { limit: 2 }),
        // The first client's thread has ended: the next one gets a thread.
        |ev| ev.iter().any(|e| e.thread.name == "conn-1" && e.kind.name() == "thread_exited"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thread_the_kernel_cannot_create_refuses_the_client_and_the_acceptor_goes_on() {
    // A stack as large as the whole user address space: `Builder::spawn` genuinely fails (the
    // kernel cannot map it), which is what EAGAIN/ENOMEM from pthread_create look like.
    let options = ModelOptions { thread_stack_bytes: 1 << 47, ..Default::default() };
    let refused = |reason: &Reason| matches!(reason, Reason::CannotCreateThread { .. });
    let events = cannot_create_refuses_the_client_and_goes_on(ID, options, refused).await;
    assert!(events.iter().all(|e| e.thread.name != "conn-1"), "no worker thread ever ran");
}
