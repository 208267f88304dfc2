//! Every experiment in its short form, as CI runs it: the table is complete and shaped (its
//! columns, one row per measurement, every number finite), and the tutorial's claims that
//! cannot flake hold — counts and causal orders, and CPU compared between two models measured
//! the same way, never a wall-clock time against a constant. Then the same over the
//! WebSocket: rows reach the viewer, bad requests get their reasons, one runs at a time, and
//! the class's models are left alone.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kettle_backend::tools::experiments;
use kettle_shared::{
    Cell, Command, ErrorCode, ExperimentTable, ModelState, Reason, ReplyResult, ServerMsg,
};

/// Held by every test that runs an experiment. An experiment measures this whole process —
/// the threads it has, the CPU it used — as the server runs them, one at a time; tests running
/// beside it in the same process would start and end threads of their own inside its numbers.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `id` short, checks its shape, and returns it.
async fn run_short(id: &'static str) -> ExperimentTable {
    let _alone = ONE_AT_A_TIME.lock().await;
    let handle = tokio::runtime::Handle::current();
    let (table, seen) = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        let table = experiments::run(id, true, &handle, &mut |t| seen.push(t.rows.len()));
        (table.expect("a known experiment"), seen)
    })
    .await
    .unwrap();
    let e = experiments::find(id).unwrap();
    assert_eq!(table.failed, None, "{id} stopped early");
    assert!(table.finished && table.short, "{table:?}");
    assert_eq!(table.columns, e.columns(), "{id}");
    assert_eq!(table.rows.len() as u32, e.steps(true), "{id}: one row per measurement");
    assert_eq!(table.step, table.steps);
    for row in &table.rows {
        assert_eq!(row.len(), table.columns.len(), "{id}: {row:?}");
        for cell in row {
            if let Cell::Num(x) = cell {
                assert!(x.is_finite(), "{id}: {row:?}");
            }
        }
    }
    // Rows streamed one by one: an empty table first, then one more row each time.
    let expected: Vec<usize> = (0..=table.rows.len()).chain([table.rows.len()]).collect();
    assert_eq!(seen, expected, "{id}: tables as the rows came");
    table
}

/// The cell in `column` of the row whose first cell is `first` (and, if given, whose second
/// cell is the number `second`).
fn cell<'t>(t: &'t ExperimentTable, first: &str, second: Option<f64>, column: &str) -> &'t Cell {
    let c = t.columns.iter().position(|c| c.key == column).unwrap_or_else(|| panic!("{column}"));
    let row = t
        .rows
        .iter()
        .find(|r| {
            text_of(&r[0]) == first && second.is_none_or(|n| matches!(r[1], Cell::Num(x) if x == n))
        })
        .unwrap_or_else(|| panic!("no row {first} {second:?} in {t:?}"));
    &row[c]
}

fn text_of(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Num(x) => x.to_string(),
    }
}

fn num(t: &ExperimentTable, first: &str, second: Option<f64>, column: &str) -> f64 {
    match cell(t, first, second, column) {
        Cell::Num(x) => *x,
        other => panic!("{column} of {first}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn starve_the_blocking_server_echoes_b_only_after_a_left() {
    let t = run_short("starve").await;
    let rows: Vec<_> =
        t.rows.iter().map(|r| (text_of(&r[0]), text_of(&r[1]), text_of(&r[4]))).collect();
    assert_eq!(
        rows,
        [
            ("blocking".into(), "idle".into(), "no".into()),
            ("blocking".into(), "gone".into(), "alone".into()),
            ("thread-per-conn".into(), "idle".into(), "yes".into()),
        ],
        "{t:?}"
    );
    // A held on for the whole 300 ms of the short form, and B could not be echoed before.
    assert!(matches!(t.rows[0][3], Cell::Num(ms) if ms >= 300.0), "{t:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn threads_every_idle_client_costs_a_thread() {
    let t = run_short("threads").await;
    for row in &t.rows {
        let (Cell::Num(clients), Cell::Num(model_threads), Cell::Num(added)) =
            (&row[0], &row[1], &row[2])
        else {
            panic!("{row:?}")
        };
        // The acceptor plus one per client.
        assert!(*model_threads >= clients + 1.0, "{row:?}");
        assert!(*added >= *clients, "{row:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pool_clients_beyond_the_workers_wait_for_one_to_leave() {
    let t = run_short("pool").await;
    // 8 clients, 4 workers serving one connection each until it closes: at least 4 clients
    // were first echoed only after another had left.
    assert!(num(&t, "8", None, "served_after_another_left") >= 4.0, "{t:?}");
    assert!(num(&t, "8", None, "queue_max") >= 1.0, "{t:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_loop_burns_cpu_that_the_blocking_model_does_not() {
    let t = run_short("busy-loop").await;
    let busy = num(&t, "nonblocking", None, "cpu_ms");
    let blocking = num(&t, "blocking", None, "cpu_ms");
    assert!(busy > 0.0 && busy > 10.0 * blocking, "{t:?}");
    assert!(num(&t, "nonblocking", None, "eagain_per_s") > 0.0, "{t:?}");
    assert_eq!(num(&t, "blocking", None, "eagain_per_s"), 0.0, "{t:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_conn_blocking_makes_two_calls_per_line_and_the_multiplexers_three() {
    let t = run_short("one-conn").await;
    let calls = |m| num(&t, m, None, "syscalls_per_line");
    assert!((calls("blocking") - 2.0).abs() < 0.05, "{t:?}");
    for m in ["select", "poll", "epoll"] {
        assert!((calls(m) - 3.0).abs() < 0.05, "{m}: {t:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_select_and_poll_scan_every_descriptor_and_epoll_only_the_ready() {
    let t = run_short("scan").await;
    for n in [10.0, 100.0] {
        assert!(num(&t, "epoll", Some(n), "scanned_per_wait") <= 2.0, "{t:?}");
        assert!(num(&t, "select", Some(n), "scanned_per_wait") >= n, "{t:?}");
        assert!(num(&t, "poll", Some(n), "scanned_per_wait") >= n, "{t:?}");
        assert_eq!(num(&t, "select", Some(n), "held"), n, "{t:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigio_work_the_sigio_thread_works_while_it_waits_and_blocking_does_not() {
    let t = run_short("sigio-work").await;
    assert!(num(&t, "sigio", None, "work_units") > 0.0, "{t:?}");
    assert_eq!(num(&t, "blocking", None, "work_units"), 0.0, "{t:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn uring_batching_io_uring_makes_fewer_calls_per_line_than_epoll() {
    let t = run_short("uring-batching").await;
    if matches!(cell(&t, "io-uring", None, "syscalls_per_line"), Cell::Text(_)) {
        eprintln!("io_uring is unavailable here: only the shape was checked");
        return;
    }
    let uring = num(&t, "io-uring", None, "syscalls_per_line");
    let epoll = num(&t, "epoll", None, "syscalls_per_line");
    assert!(uring > 0.0 && uring < epoll, "{t:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn c10k_says_why_a_model_cannot_try_and_counts_every_connection() {
    let t = run_short("c10k").await;
    for (model, why) in [
        ("blocking", "one_at_a_time"),
        ("thread-pool", "pool_ceiling"),
        ("select", "above_fd_setsize"),
        ("process-per-conn", "process_per_conn"),
    ] {
        assert_eq!(text_of(cell(&t, model, None, "note")), why, "{t:?}");
    }
    // Connections either held to the end or counted as failed; epoll served lines.
    for model in ["epoll", "io-uring", "thread-per-conn"] {
        if matches!(cell(&t, model, None, "held"), Cell::Text(_)) {
            continue; // unavailable here
        }
        let (held, failed) = (num(&t, model, None, "held"), num(&t, model, None, "failed"));
        assert_eq!(held + failed, num(&t, model, None, "conns"), "{model}: {t:?}");
    }
    assert!(num(&t, "epoll", None, "lines_per_s") > 0.0, "{t:?}");
}

/// Reads messages until a finished table of `id`; every table on the way is of `id` too.
async fn until_finished(ws: &mut Ws, id: &str) -> Vec<ExperimentTable> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tables = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no finished table; got {tables:?}");
        if let ServerMsg::Experiment { table } = next_msg(ws).await {
            assert_eq!(table.experiment, id);
            let done = table.finished;
            tables.push(table);
            if done {
                return tables;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_experiment_runs_from_the_websocket_one_at_a_time_and_leaves_the_class_models_alone() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = kettle(&[]).await;
    let (mut ws, _) = viewer(&server).await;
    let (mut other, _) = viewer(&server).await;
    let mut ev = Vec::new();

    send_cmd(&mut ws, 1, Command::ExperimentRun { name: "nope".into(), short: true }).await;
    match answer(&mut ws, 1, &mut ev).await {
        ServerMsg::Error {
            code: ErrorCode::BadRequest,
            reason: Reason::NoSuchExperiment { name, known },
            ..
        } => {
            assert_eq!(name, "nope");
            assert_eq!(known, kettle_shared::EXPERIMENTS);
        }
        other => panic!("{other:?}"),
    }

    send_cmd(&mut ws, 2, Command::ExperimentRun { name: "busy-loop".into(), short: true }).await;
    assert_eq!(
        answer(&mut ws, 2, &mut ev).await,
        ServerMsg::Reply {
            id: 2,
            result: ReplyResult::ExperimentStarted { name: "busy-loop".into(), short: true }
        }
    );
    // Busy-loop's first measurement alone takes half a second: this one is refused.
    send_cmd(&mut ws, 3, Command::ExperimentRun { name: "one-conn".into(), short: true }).await;
    match answer(&mut ws, 3, &mut ev).await {
        ServerMsg::Error {
            code: ErrorCode::Limit,
            reason: Reason::ExperimentRunning { name },
            ..
        } => {
            assert_eq!(name, "busy-loop")
        }
        other => panic!("{other:?}"),
    }

    // Every viewer gets the rows, the last table finished with both rows.
    for ws in [&mut ws, &mut other] {
        let tables = until_finished(ws, "busy-loop").await;
        let last = tables.last().unwrap();
        assert_eq!(last.rows.len(), 2, "{last:?}");
        assert_eq!(last.failed, None);
    }
    // The experiment ran its own models: the server's stayed stopped.
    assert!(
        server.registry.list().iter().all(|m| m.state != ModelState::Running),
        "{:?}",
        server.registry.list()
    );
    // Finished: the next one may start.
    send_cmd(&mut ws, 4, Command::ExperimentRun { name: "starve".into(), short: true }).await;
    assert!(matches!(answer(&mut ws, 4, &mut ev).await, ServerMsg::Reply { id: 4, .. }));
    until_finished(&mut ws, "starve").await;
    server.shutdown().await.unwrap();
}
