//! `kettle bench` in its short form, as CI runs it: every model and both baselines for a
//! fraction of a second, the table complete and every echo checked; and `--traced`, a program
//! of our own three ways and epoll beside a busy loop, with nothing of them left running. No
//! number is judged: performance belongs to the bench's own output (and `docs/bench.md`), not
//! to a test.

use std::time::Duration;

use kettle_backend::proc::process;
use kettle_backend::tools::bench::traced::{self, TracedOptions};
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

#[tokio::test(flavor = "multi_thread")]
async fn the_short_traced_bench_runs_the_program_three_ways_and_leaves_nothing_running() {
    let script = format!("{}/tests/traced/select_server.py", env!("CARGO_MANIFEST_DIR"));
    let options = TracedOptions {
        load: Load { conns: 4, size: 64, duration: Duration::from_millis(600) },
        repeats: 1,
        command: vec!["python3".into(), script],
        busy: true,
        exe: env!("CARGO_BIN_EXE_kettle").into(),
        progress: false,
    };
    let result = tokio::task::spawn_blocking(move || traced::run(&options)).await.unwrap().unwrap();
    let names: Vec<&str> = result.rows.iter().map(|r| r.server.as_str()).collect();
    assert_eq!(
        names,
        [
            "untraced",
            "traced + viewer",
            "every call + viewer",
            "epoll + viewer",
            "epoll + viewer, busy loop untraced",
            "epoll + viewer, busy loop traced",
        ]
    );
    for row in &result.rows {
        assert_eq!((row.mismatches, row.conns_failed), (0, 0), "{row:?}");
        assert!(row.lines_per_s.median > 0.0, "{} echoed nothing: {row:?}", row.server);
        let baseline = matches!(row.server.as_str(), "untraced" | "epoll + viewer");
        assert_eq!(row.vs.is_none(), baseline, "{row:?}");
        assert_eq!(row.viewer.is_none(), row.server == "untraced", "{row:?}");
    }
    // The traced runs were decoded and recorded: the viewer got their events. Stopping on
    // every call, each line cost the program at least its recv and its send; with the filter
    // as much — unless, as root, the busy program was read from the tracepoints instead.
    for traced in &result.rows[1..3] {
        assert!(traced.viewer.is_some_and(|v| v.events > 0), "{traced:?}");
    }
    let stops = |row: usize| result.rows[row].stops_per_line.expect("counted");
    assert!(stops(2) >= 2.0, "{:?}", result.rows[2]);
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } == 0 {
        assert!(stops(1) < stops(2), "{:?}", &result.rows[1..3]);
    } else {
        assert!(stops(1) >= 2.0, "{:?}", result.rows[1]);
    }
    assert!(result.filter_gain.is_some());
    // Python's start is made of calls no figure draws: stopping on every call stops it more.
    let to_listen = |row: usize| result.rows[row].stops_to_listen.expect("counted");
    assert!(to_listen(1) > 0 && to_listen(2) > to_listen(1), "{:?}", &result.rows[1..3]);
    assert!(result.rows[..3].iter().all(|r| r.to_listen_ms.is_some()));
    assert!(traced::all_verified(&result));
    let table = traced::table(&result).to_string();
    assert!(result.rows.iter().all(|r| table.contains(r.server.as_str())), "{table}");
    assert_eq!(traced::verdicts(&result).len(), 4, "{:?}", traced::verdicts(&result));
    serde_json::to_string(&result).unwrap();
    // Nothing the bench started outlived it: not the programs, nor anything in their groups.
    let pids: Vec<u32> = result.runs.iter().filter_map(|r| r.program_pid).collect();
    assert_eq!(pids.len(), 5, "{:?}", result.runs);
    for pid in pids {
        let alive = process::alive_in_group(pid).unwrap();
        assert!(alive.is_empty(), "group {pid} still has {alive:?}");
        let state = process::stat(process::Pid::Id(pid)).map(|s| s.state);
        assert!(state.is_err() || state.is_ok_and(|s| s == 'Z'), "{pid} still runs");
    }
}
