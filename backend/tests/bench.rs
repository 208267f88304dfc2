//! `kettle bench` in its short form, as CI runs it: every model and both baselines for a
//! fraction of a second, the table complete and every echo checked. No number is judged:
//! performance belongs to the bench's own output (and `docs/bench.md`), not to a test.

use std::time::Duration;

use kettle_backend::tools::bench::{self, generator::Load, BenchOptions};
use kettle_shared::MODELS;

#[tokio::test(flavor = "multi_thread")]
async fn the_short_bench_runs_every_server_and_verifies_every_echo() {
    let options = BenchOptions {
        load: Load { conns: 4, size: 64, duration: Duration::from_millis(600) },
        repeats: 1,
        models: None,
        exe: env!("CARGO_BIN_EXE_kettle").into(),
        progress: false,
    };
    let result = tokio::task::spawn_blocking(move || bench::run(&options)).await.unwrap().unwrap();
    // Every model has a row or says why it was skipped; both baselines and the watched
    // epoll run are there.
    let mut names: Vec<&str> = result.rows.iter().map(|r| r.server.as_str()).collect();
    names.extend(result.skipped.iter().map(|(id, _)| id.as_str()));
    for expected in MODELS.iter().map(|m| m.id).chain(["plain epoll", "tokio", "epoll + viewer"]) {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(result.skipped.iter().all(|(_, why)| !why.is_empty()), "{:?}", result.skipped);
    for row in &result.rows {
        assert_eq!(row.mismatches, 0, "{row:?}");
        assert_eq!(row.conns_failed, 0, "{row:?}");
        assert!(row.lines_per_s.median > 0.0, "{} echoed nothing: {row:?}", row.server);
        assert!(row.vs_plain_epoll.is_some() && row.vs_tokio.is_some(), "{row:?}");
    }
    let watched = result.rows.iter().find(|r| r.server == "epoll + viewer").unwrap();
    assert!(watched.viewer.is_some_and(|v| v.events > 0), "{watched:?}");
    assert!(bench::all_verified(&result));
    // The table has a line per row (and the JSON every run).
    let table = bench::table(&result).to_string();
    assert!(result.rows.iter().all(|r| table.contains(&r.server)), "{table}");
    assert_eq!(result.runs.len(), result.rows.len());
    serde_json::to_string(&result).unwrap();
}
