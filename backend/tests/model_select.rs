//! The select model (Stevens Fig. 6.3) over real sockets: one thread blocked in `select(2)`
//! serves every client; two system calls per message; the O(n) scan; no busy waiting.
//! The FD_SETSIZE refusal and EMFILE are in `multiplex_limits.rs` (they change the process's
//! descriptor table).

mod common;
mod event_loops;
mod multiplex_common;

use std::io::Write;
use std::time::Duration;

use common::*;
use event_loops::{
    concurrent_random_echo, half_close_gets_full_echo_then_eof,
    reset_client_is_closed_and_others_served,
};
use kettle_shared::{Event, EventKind, WaitApi};
use multiplex_common::*;

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_select_then_recv_then_send_two_calls_to_receive_it() {
    let calls = one_line_is_wait_then_recv_then_send("select", WaitApi::Select).await;
    // select + recv to receive it (the blocking model needs recv alone), + send to echo it.
    assert_eq!(calls, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_is_byte_exact_for_1_10_and_100_concurrent_clients() {
    for clients in [1, 10, 100] {
        concurrent_random_echo("select", clients).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_client_is_closed_and_the_others_are_served() {
    reset_client_is_closed_and_others_served("select").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_closed_client_gets_its_whole_echo_then_end_of_file() {
    half_close_gets_full_echo_then_eof("select").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_costs_bounded_memory_and_blocks_no_one() {
    a_client_that_never_reads_is_bounded_and_others_are_served("select").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_with_clients_connected_wakes_select_closes_them_and_frees_the_port() {
    stopping_with_clients_closes_them_and_frees_the_port("select").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_select_scans_up_to_nfds_however_few_are_ready() {
    let server = kettle(&["select"]).await;
    let addr = model_addr(&server, "select");
    let (mut ws, _) = viewer(&server).await;
    let mut idle: Vec<_> = (0..5).map(|_| client(addr)).collect();
    let mut active = client(addr);
    // Each idle client is served once so that all are accepted before the measured line.
    for c in idle.iter_mut() {
        c.write_all(b"x").unwrap();
        assert_eq!(read_n(c, 1), b"X");
    }
    active.write_all(b"ping").unwrap();
    assert_eq!(read_n(&mut active, 4), b"PING");
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| matches!(&e.kind, EventKind::RecvExit { outcome: kettle_shared::RecvOutcome::Data { preview, .. }, .. } if preview == "ping"))
    })
    .await;
    let steps = steps(&events, "select");
    let recv = steps
        .iter()
        .position(|e| matches!(&e.kind, EventKind::RecvExit { outcome: kettle_shared::RecvOutcome::Data { preview, .. }, .. } if preview == "ping"))
        .unwrap();
    let (EventKind::WaitEnter { watched, .. }, EventKind::WaitReturned { ready, scanned, .. }) =
        (&steps[recv - 4].kind, &steps[recv - 3].kind)
    else {
        panic!("{:?}", kinds(&events));
    };
    // The listener and six connections were passed; one was ready; every bit up to the highest
    // descriptor was looked at.
    assert_eq!(watched.len(), 7, "{watched:?}");
    assert_eq!(ready.len(), 1, "{ready:?}");
    assert_eq!(*scanned as i32, watched.iter().max().unwrap() + 1);
    drop(idle);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_select_thread_sleeps_in_the_kernel_making_no_calls() {
    let server = kettle(&["select"]).await;
    let addr = model_addr(&server, "select");
    let mut c = client(addr);
    c.write_all(b"x").unwrap();
    assert_eq!(read_n(&mut c, 1), b"X");
    let (mut ws, _) = viewer(&server).await;
    // Five samples (over a second) with a client connected and nothing to do, taken after the
    // thread went back into select: a sample taken while it was still finishing the echo (its
    // send, the next select) counts those calls, and on a busy machine that can be the first.
    let idle_since = |ev: &[Event]| {
        ev.iter()
            .filter(|e| e.thread.name == "select" && e.kind.name() == "wait_enter")
            .map(|e| e.t_ns)
            .max()
    };
    let idle_samples = |ev: &[Event]| -> Vec<u64> {
        let Some(since) = idle_since(ev) else { return Vec::new() };
        ev.iter()
            .filter(|e| e.t_ns > since && e.thread.name == "select")
            .filter_map(|e| match e.kind {
                EventKind::ThreadSample { syscalls, conns: 1, .. } => Some(syscalls),
                _ => None,
            })
            .collect()
    };
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| idle_samples(ev).len() >= 5)
        .await;
    let calls = idle_samples(&events);
    assert!(calls.len() >= 4 && calls.windows(2).all(|w| w[0] == w[1]), "{calls:?}");
    server.shutdown().await.unwrap();
}
