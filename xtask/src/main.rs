//! Kettle's task runner: the one command for local runs and CI.
//!
//! ```text
//! cargo xtask run [-- <kettle serve flags>]   build everything, then serve it
//! cargo xtask test [--quick]                  every check CI runs, with a summary
//! cargo xtask precompress [DIR]               a .br and a .gz beside every file of dist/ (or DIR)
//! ```
//!
//! `run` installs the pinned tools (below) when they are missing, builds the Yew frontend
//! into `dist/` with trunk, builds the backend in release mode and execs
//! `kettle serve <flags>` (it prints its URL, by default <http://127.0.0.1:7878>). After trunk,
//! [`precompress`] writes a brotli and a gzip copy of every file in `dist/`, which the server
//! hands to browsers that accept them. The backend is built beside the tools' installs and the
//! page (see [`run`]); the tools are installed side by side and unoptimised (see [`tools`]),
//! which is what makes a first run short. A second
//! run installs nothing, skips trunk when no frontend input is newer than `dist/index.html`
//! and rebuilds the backend incrementally, so the page is up in seconds.
//!
//! `test` makes the same checks, plus Debian's chromium, chromedriver and strace and npm's
//! axe-core (the browser tests' accessibility rules, into `.tools/axe-core`), then runs
//! the stages in [`test`] one after the other, continuing past failures so the summary is
//! complete. Its last line is always `N passed, M failed`; it exits non-zero if anything
//! failed. `--quick` skips the browser stages (trunk build, wasm-bindgen tests, end-to-end)
//! and does not need chromium.
//!
//! # Why the tools are pinned
//!
//! - **trunk 0.21.14**: the version `Trunk.toml` was written for; installed `--locked` so
//!   every machine builds the same binary (0.22 needs a newer rustc).
//! - **wasm-bindgen CLI = Cargo.lock's `wasm-bindgen`**: the CLI and the library must agree
//!   to the patch version or the generated glue is rejected. `Trunk.toml` names the same
//!   version so trunk never downloads its own; the xtask checks the two agree.
//! - **wasm-opt (binaryen) 132** from npm, installed into `.tools/binaryen`: Debian's
//!   binaryen 108 fails on current wasm (`invalid code after misc prefix`).
//!
//! Trunk runs cargo offline (`[build] offline = true`), so the xtask runs `cargo fetch`
//! first. Nothing here downloads from GitHub: crates.io, npm and apt are all it needs.

mod precompress;
mod process;
mod run;
mod summary;
mod test;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Errors are messages for a human: each says what failed and what to do about it.
pub type Result<T, E = String> = std::result::Result<T, E>;

const USAGE: &str = "\
usage:
  cargo xtask run [-- <kettle serve flags>]   install pinned tools, build, serve
  cargo xtask run -- trace [flags] -- PROGRAM [ARGS]
                                              the same, serving with PROGRAM traced
  cargo xtask test [--quick]                  fmt, clippy, build, all tests; `--quick`
                                              skips the browser stages
  cargo xtask precompress [DIR]               write dist/*.br and dist/*.gz (or DIR's; run
                                              and test do it after trunk)
  cargo xtask help                            this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Where the command was typed: `kettle trace -- python3 my_server.py` finds the program
    // (and `--dist` its directory) from there, as the person typing it expects.
    let typed_in = std::env::current_dir().unwrap_or_default();
    let result = prepare_environment().and_then(|root| match args.first().map(String::as_str) {
        Some("run") => run::run(&root, &typed_in, serve_flags(&args[1..])),
        Some("test") => test::test(&root, &args[1..]),
        Some("precompress") => match &args[1..] {
            [] => precompress::precompress(&root.join("dist")),
            [dir] => precompress::precompress(Path::new(dir)),
            more => {
                Err(format!("`cargo xtask precompress` takes at most a directory, not {more:?}"))
            }
        },
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n{USAGE}")),
        None => Err(USAGE.to_string()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // An empty message: the command has already reported (the test summary).
            if !message.is_empty() {
                eprintln!("xtask: error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The flags after `run`, without a leading `--` separator.
fn serve_flags(args: &[String]) -> &[String] {
    match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    }
}

/// Moves to the workspace root and fixes up the environment every child process inherits:
/// absolute `CARGO_TARGET_DIR`, `KETTLE_FIGURES` and `KETTLE_SCREENSHOT` (if given) and a
/// `PATH` that finds the pinned tools before any system copy. Returns the workspace root.
fn prepare_environment() -> Result<PathBuf> {
    let root = workspace_root();
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    // Paths given relative to where the command was typed; the tests run in `backend/`, so
    // they get them absolute (`KETTLE_FIGURES=docs/figures` means the repository's docs).
    for var in ["CARGO_TARGET_DIR", "KETTLE_FIGURES", "KETTLE_SCREENSHOT"] {
        if let Some(path) = std::env::var_os(var) {
            std::env::set_var(var, cwd.join(path));
        }
    }
    std::env::set_current_dir(&root)
        .map_err(|e| format!("cannot enter the workspace root {}: {e}", root.display()))?;
    tools::put_tools_first_on_path(&root)?;
    Ok(root)
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Cargo's output directory: `CARGO_TARGET_DIR` if set (made absolute at start-up),
/// else `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}
