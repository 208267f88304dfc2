//! `cargo xtask test`: every check CI runs, as named, timed stages.
//!
//! | stage         | command                                                                  |
//! |---------------|--------------------------------------------------------------------------|
//! | fmt           | `cargo fmt --all -- --check`                                             |
//! | clippy        | `cargo clippy --workspace --all-targets -- -D warnings`                  |
//! | clippy wasm   | `cargo clippy -p kettle-frontend --all-targets --target wasm32-… -- -D warnings` |
//! | trunk build   | `trunk build --release` (the end-to-end tests serve `dist/`)             |
//! | precompress   | `cargo xtask precompress`: `dist/*.br`, `dist/*.gz` beside every file    |
//! | unit+integ    | `cargo test --workspace --no-fail-fast`, [`UNIT_TEST_THREADS`] at a time |
//! | wasm tests    | `cargo test -p kettle-frontend --target wasm32-unknown-unknown`          |
//! | e2e + strace  | `cargo test --workspace --no-fail-fast -- --ignored --test-threads=1`    |
//!
//! `--quick` skips the last two, the trunk build and precompress, and does not need chromium.
//! Native builds always use `--workspace` so cargo unifies features the same way every
//! time; switching between `-p` and `--workspace` costs a ~55 s rebuild. For the same reason the
//! e2e stage selects its tests with `--ignored` (only the browser tests are ignored) rather
//! than `--test e2e`, which would build a different package set and rebuild dependencies.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{cargo, describe, format_duration, run_teed, say};
use crate::run::{fetch_crates, trunk_build};
use crate::summary::{all_green, render, stage_counts, Counts, StageReport};
use crate::tools::{self, CHROMEDRIVER, CHROMIUM};
use crate::Result;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Tests run at once in each test binary of the unit+integ stage (`RUST_TEST_THREADS`, unless
/// it is set already). Most integration tests wait on the kernel and the clock — a stop, a
/// timeout, a client that never reads — not on the CPU, so more than one per core pays:
/// `echo_contract` took 62 s with 2 and 26 s with 6 on 2 cores, for the same CPU. Tests that
/// change or measure something process-wide (`RLIMIT_NOFILE`, the soak, the experiments) hold a
/// lock of their own.
const UNIT_TEST_THREADS: &str = "6";

/// A named command; its output is scanned for `test result:` lines.
struct Stage {
    name: &'static str,
    command: Command,
}

pub fn test(root: &Path, args: &[String]) -> Result<()> {
    let quick = match args {
        [] => false,
        [flag] if flag == "--quick" => true,
        _ => return Err(format!("`cargo xtask test` takes only `--quick`, not {args:?}")),
    };
    let start = Instant::now();
    let prepared = prepare(root, quick);
    let mut reports = vec![StageReport {
        name: "tools + fetch".into(),
        succeeded: prepared.is_ok(),
        counts: Counts { passed: 0, failed: u64::from(prepared.is_err()) },
        took: start.elapsed(),
    }];
    match prepared {
        Ok(()) => reports.extend(stages(root, quick).into_iter().map(run_stage)),
        // Without the tools no stage can run; still end with the summary line.
        Err(message) => eprintln!("xtask: error: {message}"),
    }
    println!("\n{}", render(&reports));
    if all_green(&reports) {
        Ok(())
    } else {
        Err(String::new())
    }
}

/// The tools every stage needs, installed if missing, and the crates downloaded.
fn prepare(root: &Path, quick: bool) -> Result<()> {
    tools::ensure_build_tools(root)?;
    if !quick {
        tools::ensure_browser_tools(root)?;
    }
    fetch_crates()
}

fn stages(root: &Path, quick: bool) -> Vec<Stage> {
    let mut stages = vec![
        Stage { name: "fmt", command: cargo_with(&["fmt", "--all", "--", "--check"]) },
        Stage {
            name: "clippy",
            command: cargo_with(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        },
        Stage {
            name: "clippy wasm",
            command: cargo_with(&[
                "clippy",
                "-p",
                "kettle-frontend",
                "--all-targets",
                "--target",
                WASM_TARGET,
                "--",
                "-D",
                "warnings",
            ]),
        },
    ];
    if !quick {
        stages.push(Stage { name: "trunk build", command: trunk_build() });
        stages.push(Stage { name: "precompress", command: precompress_stage() });
    }
    // --no-fail-fast: one failing test binary must not hide the results of the others.
    let mut unit = cargo_with(&["test", "--workspace", "--no-fail-fast"]);
    if std::env::var_os("RUST_TEST_THREADS").is_none() {
        unit.env("RUST_TEST_THREADS", UNIT_TEST_THREADS);
    }
    stages.push(Stage { name: "unit+integ", command: unit });
    if quick {
        return stages;
    }
    let mut wasm = cargo_with(&["test", "-p", "kettle-frontend", "--target", WASM_TARGET]);
    wasm.env("CHROMEDRIVER", CHROMEDRIVER);
    stages.push(Stage { name: "wasm tests", command: wasm });
    let mut e2e = cargo_with(&["test", "--workspace", "--no-fail-fast", "--"]);
    e2e.args(["--ignored", "--test-threads=1"])
        .env("KETTLE_DIST", root.join("dist"))
        .env("CHROMEDRIVER", CHROMEDRIVER)
        .env("CHROMIUM", CHROMIUM)
        .env("KETTLE_AXE", tools::axe_script(root));
    stages.push(Stage { name: "e2e + strace", command: e2e });
    stages
}

/// This xtask again, as `precompress`: a stage like the others (named, timed, in the summary).
fn precompress_stage() -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "xtask".into());
    let mut cmd = Command::new(exe);
    cmd.arg("precompress");
    cmd
}

fn cargo_with(args: &[&str]) -> Command {
    let mut cmd = cargo();
    cmd.args(args);
    cmd
}

fn run_stage(mut stage: Stage) -> StageReport {
    say(&format!("stage {}: `{}`", stage.name, describe(&stage.command)));
    let start = Instant::now();
    let (succeeded, output) = run_teed(&mut stage.command);
    let took: Duration = start.elapsed();
    let counts = stage_counts(succeeded, &output);
    let verdict = if succeeded { "ok" } else { "FAILED" };
    say(&format!(
        "stage {}: {verdict} in {} ({} passed, {} failed)",
        stage.name,
        format_duration(took),
        counts.passed,
        counts.failed
    ));
    StageReport { name: stage.name.to_string(), succeeded, counts, took }
}
