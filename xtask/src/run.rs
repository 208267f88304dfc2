//! `cargo xtask run`: install what is missing, build both halves, serve.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use crate::process::{cargo, describe, run_checked, say, timed};
use crate::{precompress, target_dir, tools, Result};

pub fn run(root: &Path, serve_flags: &[String]) -> Result<()> {
    tools::ensure_build_tools(root)?;
    fetch_crates()?;
    if dist_is_fresh(root) {
        say("frontend unchanged since dist/ was built: skipping trunk");
    } else {
        timed("building the frontend into dist/ (trunk build --release)", || {
            run_checked(&mut trunk_build(), "See trunk's message above.")
        })?;
    }
    // Also after a skipped trunk: it only writes the copies that are missing or outdated.
    timed("compressing dist/ (brotli 11 and gzip 9 copies beside each file)", || {
        precompress::precompress(&root.join("dist"))
    })?;
    timed("building the backend (cargo build --release -p kettle-backend)", || {
        run_checked(
            cargo().args(["build", "--release", "-p", "kettle-backend"]),
            "See cargo's message above.",
        )
    })?;
    serve(root, serve_flags)
}

/// Trunk runs cargo with `--offline` (`Trunk.toml`), so every crate must be downloaded first.
pub fn fetch_crates() -> Result<()> {
    timed("fetching crates (cargo fetch; trunk builds offline)", || {
        run_checked(cargo().arg("fetch"), "cargo fetch needs access to crates.io (or its mirror).")
    })
}

/// `trunk build --release`, finding the pinned tools on `PATH` and never phoning home.
pub fn trunk_build() -> Command {
    let mut cmd = Command::new("trunk");
    cmd.args(["build", "--release"]).env("TRUNK_SKIP_VERSION_CHECK", "true");
    cmd
}

/// Whether `dist/index.html` is newer than every input of the trunk build. Trunk itself
/// always reruns wasm-bindgen and wasm-opt (~20 s), which a second `run` should not wait for.
/// (`cargo xtask test` always rebuilds.)
fn dist_is_fresh(root: &Path) -> bool {
    let Some(built) = modified(&root.join("dist").join("index.html")) else {
        return false;
    };
    let inputs = ["frontend", "shared", "static", "Trunk.toml", "Cargo.toml", "Cargo.lock"];
    inputs.iter().all(|input| newest_in(&root.join(input)).is_none_or(|newest| newest < built))
}

/// The newest modification time of a file, or of any file under a directory.
fn newest_in(path: &Path) -> Option<SystemTime> {
    if !path.is_dir() {
        return modified(path);
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| newest_in(&entry.path()))
        .max()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Replaces the xtask with `kettle serve <flags>`, so Ctrl-C and the exit status are the
/// server's own.
fn serve(root: &Path, flags: &[String]) -> Result<()> {
    let mut cmd = Command::new(target_dir(root).join("release").join("kettle"));
    cmd.arg("serve").args(flags).env("KETTLE_DIST", root.join("dist"));
    say(&format!("starting `{}`", describe(&cmd)));
    let error = cmd.exec();
    Err(format!("cannot start `{}`: {error}", cmd.get_program().to_string_lossy()))
}
