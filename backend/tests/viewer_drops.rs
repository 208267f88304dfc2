//! A viewer that stops reading for a while is told, exactly, how many events it missed: the
//! backend counts the holes in the seqs it did not ship to that viewer, nothing is estimated.
//!
//! Its own test binary (so its own process): it ships tens of megabytes of events, which would
//! upset the memory measurements of the other API tests running beside it.

mod common;

use std::time::Duration;

use common::*;
use kettle_shared::{EventKind, Reason, ServerMsg};

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_that_pauses_is_told_exactly_how_many_events_it_missed() {
    // No model runs, so the test's own events are the only ones recorded: seqs 1..=total.
    let server = kettle(&[]).await;
    let (mut ws, _) = viewer(&server).await;
    let recorder = server.registry.recorder().clone();
    // About half a megabyte of JSON per tick (one message, within the WebSocket's write buffer)
    // for three seconds: far more than the socket buffers and the broadcast ring hold while the
    // viewer is not reading.
    let total = 120 * 2000;
    let flood = std::thread::spawn(move || {
        let t = recorder.tracer("blocking", "flood");
        // Any reason will do: its free-text detail is what gives each event its weight.
        let detail = "a detail long enough to make each event weigh about 250 bytes ".repeat(2);
        let reason = Reason::NotACommand { detail };
        for i in 0..total {
            t.emit(None, EventKind::Refused { reason: reason.clone() });
            if i % 2000 == 1999 {
                std::thread::sleep(Duration::from_millis(25));
            }
        }
    });
    // The viewer does not read while the flood lasts, or for 5 s if a busy machine makes it
    // last longer: a viewer whose socket takes nothing for 10 s is disconnected, rightly.
    let paused = std::time::Instant::now();
    while !flood.is_finished() && paused.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut received, mut dropped, mut last_seq) = (0u64, 0u64, 0u64);
    while received + dropped < total {
        if let ServerMsg::Batch { events, dropped: d } = next_msg(&mut ws).await {
            for e in &events {
                assert!(e.seq > last_seq, "seq {} after {last_seq}", e.seq);
                last_seq = e.seq;
            }
            received += events.len() as u64;
            dropped += d;
        }
    }
    flood.join().unwrap();
    assert!(dropped > 0, "the viewer was meant to miss events ({received} received)");
    assert!(received > 0);
    assert_eq!(received + dropped, total, "{received} received + {dropped} dropped");
    // Nothing more is claimed afterwards (the model's counts go on arriving as aggregates).
    let quiet = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            if let msg @ ServerMsg::Batch { .. } = next_msg(&mut ws).await {
                return msg;
            }
        }
    });
    if let Ok(msg) = quiet.await {
        panic!("after the flood: {msg:?}");
    }
    server.shutdown().await.unwrap();
}
