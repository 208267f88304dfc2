//! `cargo xtask run`: install what is missing, build both halves, serve.
//!
//! The two halves are built side by side: the backend needs none of the page's tools, so it is
//! fetched and built on one thread while the other installs the tools, then builds the page
//! (trunk) and compresses it. On a fresh machine that keeps both cores busy through the tools'
//! installs and through the page's single-threaded link; on a second run both take seconds.
//! The two cargos share the target directory without waiting for each other: cargo locks a
//! build directory per profile, and the page is built with its own (`wasm-release`, see
//! `Cargo.toml`), the backend with `release`.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::SystemTime;

use crate::process::{all_ok, cargo, describe, run_labelled, say, timed_job};
use crate::{precompress, target_dir, tools, Result};

pub fn run(root: &Path, serve_flags: &[String]) -> Result<()> {
    // Trunk builds offline: the page waits until the backend's side has fetched every crate.
    let (fetched, when_fetched) = mpsc::channel::<bool>();
    let results = std::thread::scope(|scope| {
        let backend = scope.spawn(move || {
            let fetch = fetch_crates();
            let _ = fetched.send(fetch.is_ok());
            fetch?;
            build_backend()
        });
        let page = build_page(root, || when_fetched.recv().unwrap_or(false));
        [page, backend.join().unwrap_or_else(|_| Err("the backend's build panicked".into()))]
    });
    all_ok(results)?;
    serve(root, serve_flags)
}

/// The page into `dist/`: the tools, then trunk (unless `dist/` is up to date; `fetched` says
/// whether the crates are all here), then the compressed copies.
fn build_page(root: &Path, fetched: impl FnOnce() -> bool) -> Result<()> {
    tools::ensure_build_tools(root)?;
    if !fetched() {
        return Err("the page was not built: trunk builds offline, after `cargo fetch`".into());
    }
    if dist_is_fresh(root) {
        say("frontend unchanged since dist/ was built: skipping trunk");
    } else {
        timed_job("page", "building the frontend into dist/ (trunk build --release)", || {
            run_labelled(&mut trunk_build(), "page", "See trunk's message above.")
        })?;
    }
    // Also after a skipped trunk: it only writes the copies that are missing or outdated.
    timed_job(
        "precompress",
        "compressing dist/ (brotli 11 and gzip 9 copies beside each file)",
        || precompress::precompress(&root.join("dist")),
    )
}

fn build_backend() -> Result<()> {
    timed_job(
        "backend",
        "building the backend (cargo build --release -p kettle-backend), beside the page",
        || {
            run_labelled(
                cargo().args(["build", "--release", "-p", "kettle-backend"]),
                "backend",
                "See cargo's message above.",
            )
        },
    )
}

/// Trunk runs cargo with `--offline` (`Trunk.toml`), so every crate must be downloaded first.
pub fn fetch_crates() -> Result<()> {
    timed_job("fetch", "fetching crates (cargo fetch; trunk builds offline)", || {
        run_labelled(
            cargo().arg("fetch"),
            "fetch",
            "cargo fetch needs access to crates.io (or its mirror).",
        )
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

/// The newest modification time of a file, or of any file under a directory (through
/// symbolic links; what cannot be read does not count).
fn newest_in(path: &Path) -> Option<SystemTime> {
    walkdir::WalkDir::new(path)
        .follow_links(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| entry.metadata().ok()?.modified().ok())
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

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_newest_file_anywhere_under_a_directory_counts() {
        let dir = std::env::temp_dir().join(format!("xtask-newest-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src/components")).unwrap();
        fs::write(dir.join("Cargo.toml"), "").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        fs::write(dir.join("src/components/deep.rs"), "").unwrap();
        let deep = modified(&dir.join("src/components/deep.rs"));
        assert!(deep.is_some());
        assert_eq!(newest_in(&dir), deep);
        // A single file is its own newest; a missing path has none.
        assert_eq!(newest_in(&dir.join("Cargo.toml")), modified(&dir.join("Cargo.toml")));
        assert_eq!(newest_in(&dir.join("missing")), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
