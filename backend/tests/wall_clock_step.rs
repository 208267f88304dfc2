//! The end of phase 1 stays right when the wall clock jumps.
//!
//! The kernel stamps arriving data with the wall clock (`CLOCK_REALTIME`); Kettle's events run on
//! the monotonic clock. A wall-clock step (NTP, a teacher setting the time) or a suspend moves
//! one clock and not the other, so a conversion with an offset measured at start would put every
//! later arrival an hour off after a one-hour step: outside the `recv` it ends, phase 1 clamped
//! to nothing or to the whole call. Kettle converts each stamp by its age when its call returns
//! (`backend/src/clock.rs`), which no step since start can move.
//!
//! A real step needs root and moves the whole machine's time, so the test steps the wall clock
//! Kettle sees (`clock::simulate_wall_clock_step`: its own reads and the kernel's stamps alike),
//! and checks on a real server, with a real line, that the recorded arrival lies between the
//! moment the client wrote the line and the moment its echo came back — both read on the same
//! monotonic clock, in this same process — forward and back.

mod common;

use std::time::Duration;

use common::*;
use kettle_backend::clock::{clock, simulate_wall_clock_step};
use kettle_shared::{AsyncOp, Event, EventKind, ModelState, RecvOutcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An hour, in seconds: far more than any call lasts, so a wrong conversion cannot hide inside
/// the clamp of one `recv`.
const HOUR: i64 = 3_600;
/// How long the client waits once the server is waiting for its line, so phase 1 is long.
const PAUSE: Duration = Duration::from_millis(100);

/// Whether this event says the model is now waiting for the connection's next line: the
/// blocking model entered `recv`, io_uring was handed a recv request.
fn waits_for_data(e: &Event) -> bool {
    match &e.kind {
        EventKind::RecvEnter { .. } => e.conn.is_some(),
        EventKind::Submit { op, .. } => matches!(op, AsyncOp::Recv),
        _ => false,
    }
}

/// Sends `line` once `model` is waiting for it (its `waits`-th wait recorded) and `PAUSE` has
/// passed; returns the `data_arrived` event of the line with the monotonic instants just before
/// the write and just after the echo was read.
async fn one_line(
    ws: &mut Ws,
    events: &mut Vec<Event>,
    model: &str,
    c: &mut TcpStream,
    line: &str,
    waits: usize,
) -> (u64, Event, u64) {
    let of_model = |ev: &[Event], what: fn(&Event) -> bool| {
        ev.iter().filter(|e| e.model == model && what(e)).count()
    };
    // Wait for the state, never assume it: the server is inside its wait before we write.
    events_until(ws, events, Duration::from_secs(10), |ev| of_model(ev, waits_for_data) >= waits)
        .await;
    tokio::time::sleep(PAUSE).await;
    let sent_at = clock().now_ns();
    c.write_all(line.as_bytes()).await.unwrap();
    let mut echo = vec![0; line.len()];
    tokio::time::timeout(Duration::from_secs(10), c.read_exact(&mut echo))
        .await
        .expect("the echo within 10 s")
        .unwrap();
    let echoed_at = clock().now_ns();
    assert_eq!(echo, line.to_uppercase().as_bytes(), "{model}");
    let is_arrival: fn(&Event) -> bool = |e| matches!(e.kind, EventKind::DataArrived { .. });
    events_until(ws, events, Duration::from_secs(10), |ev| of_model(ev, is_arrival) >= waits).await;
    let arrived = events
        .iter()
        .filter(|e| e.model == model && is_arrival(e))
        .nth(waits - 1)
        .expect("counted above")
        .clone();
    (sent_at, arrived, echoed_at)
}

/// Three lines on one connection: with the wall clock as it was, an hour ahead, an hour behind.
/// Each line's kernel arrival, converted, lies between its write and its echo.
async fn arrivals_hold_across_steps(server: &kettle_backend::Server, model: &str) {
    let (mut ws, _) = viewer(server).await;
    let mut events = Vec::new();
    let mut c = TcpStream::connect(model_addr(server, model)).await.unwrap();
    c.set_nodelay(true).unwrap();
    for (n, (step, line)) in [(0, "as set"), (HOUR, "an hour ahead"), (-2 * HOUR, "an hour behind")]
        .into_iter()
        .enumerate()
    {
        simulate_wall_clock_step(step);
        let (sent_at, arrived, echoed_at) =
            one_line(&mut ws, &mut events, model, &mut c, line, n + 1).await;
        assert!(
            (sent_at..=echoed_at).contains(&arrived.t_ns),
            "{model}, wall clock {line}: the line was written at {sent_at} ns and echoed at \
             {echoed_at} ns, but its arrival was recorded at {} ns",
            arrived.t_ns
        );
    }
    // Put the wall clock Kettle sees back as it was (an hour behind + an hour).
    simulate_wall_clock_step(HOUR);
    if model == "blocking" {
        // The blocking model's recv waited through the pause: phase 1 is at least that long
        // for every line, and the copy is what is left of the call, far shorter.
        let phases: Vec<(u64, u64)> = events
            .iter()
            .filter(|e| e.model == model)
            .filter_map(|e| match &e.kind {
                EventKind::RecvExit {
                    outcome: RecvOutcome::Data { .. },
                    wait_ns: Some(wait),
                    copy_ns: Some(copy),
                    ..
                } => Some((*wait, *copy)),
                _ => None,
            })
            .collect();
        assert_eq!(phases.len(), 3, "{phases:?}");
        for (wait, copy) in phases {
            assert!(wait >= PAUSE.as_nanos() as u64, "phase 1 {wait} ns, under the pause");
            assert!(copy < wait, "phase 2 {copy} ns, not shorter than phase 1 {wait} ns");
        }
    }
}

// One test, so the two models' steps never overlap (the simulated step is process-wide).
#[tokio::test(flavor = "multi_thread")]
async fn phase_one_ends_between_write_and_echo_after_the_wall_clock_steps_either_way() {
    let server = kettle(&["blocking"]).await;
    arrivals_hold_across_steps(&server, "blocking").await;
    // io_uring reads the same stamp from its completion; skipped where the kernel refuses it.
    let registry = server.registry.clone();
    let uring = registry.get("io-uring").unwrap();
    if uring.state == ModelState::Unavailable {
        eprintln!("io_uring refused here: only the blocking model was checked");
    } else {
        tokio::task::spawn_blocking(move || registry.start("io-uring").unwrap()).await.unwrap();
        arrivals_hold_across_steps(&server, "io-uring").await;
    }
    server.shutdown().await.unwrap();
}
