//! What recording costs, measured: `cargo bench -p kettle-backend --bench recorder`.
//!
//! - `record/counted`: one event of a crowded model's connection nobody follows — counted in
//!   the model's tally, not sent (the cost every call of a loaded server pays);
//! - `record/detail`: one event sent in detail — counted, given its seq, queued;
//! - `encode/batch_2048`: a batch of 2048 typical events written as JSON (per event);
//! - then, not criterion's: the recorder's sustained rate with a viewer reading every batch,
//!   offered 0.5 to 2 million events a second for 2 s each, with the drops counted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use kettle_backend::recorder::{Detail, Position, Recorder, BATCH_INTERVAL};
use kettle_shared::{Event, EventKind, RecvOutcome, SendOutcome, ThreadRef};

fn recv_exit() -> EventKind {
    EventKind::RecvExit {
        fd: 7,
        outcome: RecvOutcome::Data { bytes: 15, preview: String::new() },
        wait_ns: Some(12_000),
        copy_ns: Some(800),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    // As `kettle serve` runs on this machine: one worker per core.
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn record(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("record");

    // Crowded: the pump calls a model crowded after an interval over its budget.
    let rec = rt.block_on(async { Recorder::start() });
    let t = rec.tracer("epoll", "bench");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rec.crowded("epoll") {
        assert!(Instant::now() < deadline, "the model never became crowded");
        for _ in 0..10_000 {
            t.emit(Some(1), recv_exit());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    group.bench_function("counted", |b| {
        // The event is built outside the timing: the model builds it either way.
        b.iter_batched(recv_exit, |k| t.emit(Some(1), k), BatchSize::SmallInput)
    });

    // Detail: every event queued. Timed in runs the queue holds, with a pause between runs
    // for the pump to drain it, so no event is dropped (checked below).
    let rec = rt.block_on(async { Recorder::start_with(Detail::Everything) });
    let _viewer = rec.subscribe();
    let t = rec.tracer("epoll", "bench");
    group.bench_function("detail", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let run = left.min(20_000);
                let kinds: Vec<_> = (0..run).map(|_| recv_exit()).collect();
                let start = Instant::now();
                for k in kinds {
                    t.emit(Some(1), k);
                }
                spent += start.elapsed();
                left -= run;
                std::thread::sleep(BATCH_INTERVAL * 2);
            }
            spent
        })
    });
    assert_eq!(rec.dropped_total(), 0, "detail was measured with drops");
    group.finish();
}

fn encode(c: &mut Criterion) {
    let thread = ThreadRef { id: 3, name: "epoll".into() };
    let kinds = [
        EventKind::WaitEnter { api: kettle_shared::WaitApi::Epoll, watched: vec![3, 5, 6, 7] },
        EventKind::RecvEnter { fd: 7, len: 1024 },
        EventKind::DataArrived { fd: 7, stamp: None },
        EventKind::RecvExit {
            fd: 7,
            outcome: RecvOutcome::Data { bytes: 15, preview: "load line 0123\n".into() },
            wait_ns: Some(12_000),
            copy_ns: Some(800),
        },
        EventKind::SendEnter { fd: 7, bytes: 15 },
        EventKind::SendExit { fd: 7, outcome: SendOutcome::Sent { bytes: 15 } },
    ];
    let events: Vec<Event> = (0..2048)
        .map(|i| Event {
            seq: 1_000_000 + i as u64,
            t_ns: 5_000_000_000 + 1_000 * i as u64,
            model: "epoll".into(),
            thread: thread.clone(),
            conn: Some(12),
            kind: kinds[i % kinds.len()].clone(),
        })
        .collect();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("batch_2048", |b| b.iter(|| serde_json::to_string(black_box(&events))));
    group.finish();
}

/// Offers `rate` events a second for `secs` from two threads; a viewer reads every batch.
/// Returns (received, lost).
fn offer(rate: u64, secs: u64) -> (u64, u64) {
    let rt = runtime();
    let rec = rt.block_on(async { Recorder::start_with(Detail::Everything) });
    let mut rx = rec.subscribe();
    let total = rate * secs;
    let producers: Vec<_> = (0..2)
        .map(|i| {
            let t = rec.tracer("epoll", format!("producer {i}"));
            std::thread::spawn(move || {
                // In steps of 1 ms, each thread its half.
                let per_ms = rate / 2 / 1000;
                let start = Instant::now();
                for ms in 0..secs * 1000 {
                    for _ in 0..per_ms {
                        t.emit(Some(1), recv_exit());
                    }
                    let next = start + Duration::from_millis(ms + 1);
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            })
        })
        .collect();
    let viewer = rt.spawn(async move {
        let mut position = Position::after(0);
        let (mut received, mut lost) = (0u64, 0u64);
        while received + lost < total {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                Ok(Ok(batch)) => {
                    let (fresh, missed) = position.take(&batch);
                    received += fresh.len() as u64;
                    lost += missed;
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                _ => break,
            }
        }
        (received, lost)
    });
    for p in producers {
        p.join().unwrap();
    }
    drop(rec);
    rt.block_on(viewer).unwrap()
}

fn sustained() {
    println!("\nsustained: a viewer reading every batch (Position), two producer threads");
    for rate in [500_000u64, 1_000_000, 1_500_000, 2_000_000] {
        let start = Instant::now();
        let (received, lost) = offer(rate, 2);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "  offered {:>9}/s: received {received:>9}, lost {lost:>7} ({:.0} events/s over {secs:.2} s)",
            rate,
            received as f64 / secs
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = record, encode
}

fn main() {
    benches();
    sustained();
    Criterion::default().configure_from_args().final_summary();
}
