//! How the models that wait in the kernel wait: an idle thread sleeps there, making no calls
//! and using no CPU; a stop wakes an idle wait; one line costs select and poll two calls to
//! receive it (Stevens Fig. 6.3); and a wait with one connection ready among many scans what
//! its API makes it scan — select every bit up to the highest descriptor, poll every entry,
//! epoll only the ready list.
//!
//! Each scenario is written once and run against every model it applies to ([`for_models!`]):
//! a test is named `<scenario>::<Model>`.

#[macro_use]
mod common;
mod echo_checks;

use std::time::Duration;

use common::*;
use echo_checks::OneLine;
use kettle_shared::{BuiltIn, Event, EventKind, ReadyFd, RecvOutcome, WaitApi};

/// A client is served once and then sends nothing: the thread that served it, sampled from
/// `/proc` every 100 ms once it is back in its waiting call, makes no system call and uses
/// (almost) no CPU — it sleeps in the kernel, no polling.
async fn an_idle_thread_sleeps_in_the_kernel_making_no_calls_and_using_no_cpu(model: BuiltIn) {
    let server = kettle(&[model.id()]).await;
    let addr = model_addr(&server, model.id());
    let c = served(addr, b"x");
    let (mut ws, _) = viewer(&server).await;
    // Samples taken after the thread last entered a call: one taken while it was still
    // finishing the echo (its send, the next wait) counts those calls, and on a busy machine
    // that can be the first.
    let idle_samples = |ev: &[Event]| -> Vec<(u64, u64)> {
        let served =
            ev.iter().find(|e| e.conn == Some(1) && matches!(e.kind, EventKind::RecvExit { .. }));
        let Some(thread) = served.map(|e| &e.thread.name) else { return Vec::new() };
        let entered = ev.iter().filter(|e| &e.thread.name == thread);
        let Some(since) =
            entered.filter(|e| e.kind.name().ends_with("_enter")).map(|e| e.t_ns).max()
        else {
            return Vec::new();
        };
        ev.iter()
            .filter(|e| e.t_ns > since && &e.thread.name == thread)
            .filter_map(|e| match e.kind {
                EventKind::ThreadSample { syscalls, cpu_ns, conns: 1, .. } => {
                    Some((syscalls, cpu_ns))
                }
                _ => None,
            })
            .collect()
    };
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| idle_samples(ev).len() >= 6)
        .await;
    let samples = idle_samples(&events);
    assert!(samples.windows(2).all(|w| w[0].0 == w[1].0), "calls made while idle: {samples:?}");
    let used = samples[samples.len() - 1].1 - samples[0].1;
    assert!(used < 50_000_000, "an idle thread used {used} ns of CPU");
    drop(c);
    server.shutdown().await.unwrap();
}

for_models!(an_idle_thread_sleeps_in_the_kernel_making_no_calls_and_using_no_cpu:
    Blocking, ThreadPerConn, Select, Poll, Epoll, EpollEt, Reactor);

/// Stopping an idle model — its thread asleep in its wait with nothing but the listener
/// watched — wakes it: the stop returns within 10 s, and the port is free.
async fn stopping_an_idle_server_wakes_its_wait(model: BuiltIn) {
    let (server, addr, mut ws) = watched(model.id()).await;
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| e.model == model.id() && e.kind.name() == "wait_enter")
    })
    .await;
    stop_within(&server, model.id(), Duration::from_secs(10)).await;
    assert!(std::net::TcpListener::bind(addr).is_ok());
    server.shutdown().await.unwrap();
}

for_models!(stopping_an_idle_server_wakes_its_wait: Select, Poll, Epoll, EpollEt, Reactor);

/// One line, sent well after the connection was accepted, is echoed with the Fig. 6.3
/// sequence: the wait returns the connection readable, then `recv` (which finds the data
/// already there: no phase 1 inside it), then `send` — select + recv to receive it (the
/// blocking model needs recv alone), three calls with the send; at its end a wait reports end
/// of file, recv reads it, the connection is closed.
async fn one_line_is_the_wait_then_recv_then_send_two_calls_to_receive_it(model: BuiltIn) {
    let api = wait_api(model).expect("a model that waits for readiness");
    let server = kettle(&[model.id()]).await;
    let events = OneLine::new(model.id()).run(&server).await.events;
    let steps = steps(&events, model.id());
    let names: Vec<_> = steps.iter().map(|e| e.kind.name()).collect();
    let fd = steps
        .iter()
        .find_map(|e| match e.kind {
            EventKind::AcceptExit { fd: Some(fd), .. } => Some(fd),
            _ => None,
        })
        .expect("an accept");
    // The message: from the wait that reported the connection readable with data.
    let start = steps
        .iter()
        .position(|e| {
            matches!(&e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. })
        })
        .expect("a recv with data")
        - 4;
    let message: Vec<_> = names[start..start + 8].to_vec();
    assert_eq!(
        message,
        [
            "wait_enter",
            "wait_returned",
            "recv_enter",
            "data_arrived",
            "recv_exit",
            "send_enter",
            "send_exit",
            "wait_enter"
        ],
        "{names:?}"
    );
    match &steps[start].kind {
        EventKind::WaitEnter { api: a, watched } => {
            assert_eq!(*a, api);
            assert!(watched.contains(&fd) && watched.len() == 2, "{watched:?}");
        }
        other => panic!("{other:?}"),
    }
    match &steps[start + 1].kind {
        EventKind::WaitReturned { api: a, ready, scanned } => {
            assert_eq!(*a, api);
            assert_eq!(ready, &[ReadyFd { fd, readable: true, writable: false }]);
            assert!(*scanned >= 2, "{scanned}");
        }
        other => panic!("{other:?}"),
    }
    // Phase 1 happened in the wait: the data was there when recv was called.
    assert!(
        steps[start + 3].t_ns <= steps[start + 2].t_ns + 1_000_000,
        "data arrived during the wait"
    );
    match &steps[start + 4].kind {
        EventKind::RecvExit { outcome: RecvOutcome::Data { bytes: 5, .. }, wait_ns, .. } => {
            assert!(wait_ns.is_none_or(|w| w < 5_000_000), "recv waited {wait_ns:?}")
        }
        other => panic!("{other:?}"),
    }
    let tail: Vec<_> = names[start + 7..].to_vec();
    assert_eq!(
        &tail[..5],
        ["wait_enter", "wait_returned", "recv_enter", "recv_exit", "close"],
        "{names:?}"
    );
    // Calls for one message: the wait, the recv and the send (not the next wait).
    let calls = message[..7].iter().filter(|n| n.ends_with("_enter")).count();
    assert_eq!(calls, 3);
    server.shutdown().await.unwrap();
}

for_models!(one_line_is_the_wait_then_recv_then_send_two_calls_to_receive_it: Select, Poll);

/// How many entries a wait in `api` looks at to return `ready` out of `watched`: select every
/// bit up to the highest descriptor, poll every entry of the array it was passed, epoll only
/// the ready list the kernel kept.
fn scanned_by(api: WaitApi, watched: &[i32], ready: &[ReadyFd]) -> u32 {
    match api {
        WaitApi::Select => *watched.iter().max().unwrap() as u32 + 1,
        WaitApi::Poll => watched.len() as u32,
        WaitApi::Epoll | WaitApi::EpollEt => ready.len() as u32,
    }
}

/// Twenty idle connections and one active: the wait that returns the active one watched the
/// listener and 21 connections and found one ready, and scanned what its API scans
/// ([`scanned_by`]) — however few are ready.
async fn a_wait_with_one_ready_among_many_scans_what_its_api_scans(model: BuiltIn) {
    let api = wait_api(model).expect("a model that waits for readiness");
    let (server, addr, mut ws) = watched(model.id()).await;
    // Each idle client is served once, so that all are accepted and watched before the line.
    let idle: Vec<_> = (0..20).map(|_| served(addr, b"x")).collect();
    let active = served(addr, b"ping");
    let is_ping = |e: &Event| {
        matches!(&e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { preview, .. }, .. }
            if preview == "ping")
    };
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| ev.iter().any(is_ping)).await;
    let steps = steps(&events, model.id());
    let recv = steps.iter().position(|e| is_ping(e)).unwrap();
    let returned = steps[..recv].iter().rposition(|e| e.kind.name() == "wait_returned").unwrap();
    let (EventKind::WaitEnter { watched, .. }, EventKind::WaitReturned { ready, scanned, .. }) =
        (&steps[returned - 1].kind, &steps[returned].kind)
    else {
        panic!("{:?}", kinds(&events));
    };
    assert_eq!(watched.len(), 22, "{watched:?}");
    assert_eq!(ready.len(), 1, "{ready:?}");
    assert_eq!(*scanned, scanned_by(api, watched, ready), "{watched:?}");
    drop((idle, active));
    server.shutdown().await.unwrap();
}

for_models!(a_wait_with_one_ready_among_many_scans_what_its_api_scans: Select, Poll, Epoll);
