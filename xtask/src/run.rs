//! `cargo xtask run`: install what is missing, build both halves, serve.
//!
//! Two threads. One installs the tools, then runs trunk and compresses `dist/`. The other
//! fetches the crates, builds the backend, then compiles the page's crates for wasm: the very
//! `cargo build` trunk runs, so that trunk's own cargo finds them built and only wasm-bindgen
//! and wasm-opt are left once trunk is installed. On a fresh machine that keeps both cores
//! busy while trunk installs (the longest step, ~5 min of CPU); on a second run everything
//! takes seconds. The two cargos share the target directory without waiting for each other:
//! cargo locks a build directory per profile, and the page has its own (`wasm-release`, see
//! `Cargo.toml`), the backend `release`.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::SystemTime;

use crate::process::{all_ok, cargo, describe, run_labelled, say, timed_job};
use crate::tools::WASM_TARGET;
use crate::{precompress, target_dir, tools, Result};

/// The profile the page is built with: `data-cargo-profile-release` in `frontend/index.html`.
const PAGE_PROFILE: &str = "wasm-release";

pub fn run(root: &Path, typed_in: &Path, serve_flags: &[String]) -> Result<()> {
    let page_is_fresh = dist_is_fresh(root);
    // Trunk builds offline: the page waits until the other thread has fetched every crate.
    let (fetched, when_fetched) = mpsc::channel::<bool>();
    let results = std::thread::scope(|scope| {
        let crates = scope.spawn(move || {
            let fetch = fetch_crates();
            let _ = fetched.send(fetch.is_ok());
            fetch?;
            let backend = build_backend();
            // Only when trunk will run, and when the target is there (rustup may still be
            // adding it on the other thread; then trunk compiles them itself).
            let ahead = if page_is_fresh || !tools::has_wasm_target() {
                Ok(())
            } else {
                build_page_crates()
            };
            all_ok([backend, ahead])
        });
        let page = build_page(root, page_is_fresh, || when_fetched.recv().unwrap_or(false));
        [page, crates.join().unwrap_or_else(|_| Err("the backend's build panicked".into()))]
    });
    all_ok(results)?;
    serve(root, typed_in, serve_flags)
}

/// The page into `dist/`: the tools, then trunk (unless `dist/` was up to date at the start;
/// `fetched` says whether the crates are all here), then the compressed copies.
fn build_page(root: &Path, fresh: bool, fetched: impl FnOnce() -> bool) -> Result<()> {
    tools::ensure_build_tools(root)?;
    if !fetched() {
        return Err("the page was not built: trunk builds offline, after `cargo fetch`".into());
    }
    if fresh {
        say("frontend unchanged since dist/ was built: skipping trunk");
    } else {
        timed_job("page", "building the frontend into dist/ (trunk build --release)", || {
            run_labelled(&mut trunk_build(), "page", "See trunk's message above.")
        })?;
    }
    // Also after a skipped trunk: it only writes the copies that are missing or outdated.
    timed_job(
        "precompress",
        "compressing dist/ (brotli 11 and zopfli gzip copies beside each file)",
        || precompress::precompress(&root.join("dist")),
    )
}

/// `cargo build` of the page exactly as trunk runs it (same profile, target, binary and
/// `--offline`, so trunk's cargo then finds everything fresh), while trunk may still be
/// installing. If trunk starts first, its cargo waits for this one's lock, then has nothing
/// left to do.
fn build_page_crates() -> Result<()> {
    timed_job(
        "page crates",
        &format!("compiling the page's crates ahead of trunk (cargo build --profile {PAGE_PROFILE} --target {WASM_TARGET})"),
        || {
            run_labelled(
                cargo().args(["build", "--target", WASM_TARGET]).args([
                    "--manifest-path",
                    "frontend/Cargo.toml",
                    "--profile",
                    PAGE_PROFILE,
                    "--offline",
                    "--bin",
                    "kettle-frontend",
                ]),
                "page crates",
                "See cargo's message above.",
            )
        },
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

/// Replaces the xtask with `kettle serve <flags>` (or `kettle trace <flags> -- PROGRAM`), run
/// where the command was typed, so Ctrl-C and the exit status are the server's own and a
/// traced program's relative path means what it meant there.
fn serve(root: &Path, typed_in: &Path, flags: &[String]) -> Result<()> {
    let mut cmd = Command::new(target_dir(root).join("release").join("kettle"));
    if flags.first().map(String::as_str) != Some("trace") {
        cmd.arg("serve");
    }
    cmd.args(flags).env("KETTLE_DIST", root.join("dist")).current_dir(typed_in);
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
    fn the_page_crates_are_built_with_the_profile_trunk_uses() {
        let root = crate::workspace_root();
        let html = fs::read_to_string(root.join("frontend/index.html")).unwrap();
        assert!(html.contains(&format!("data-cargo-profile-release=\"{PAGE_PROFILE}\"")));
        let manifest: toml::Table =
            fs::read_to_string(root.join("Cargo.toml")).unwrap().parse().unwrap();
        assert!(manifest["profile"].get(PAGE_PROFILE).is_some(), "no [profile.{PAGE_PROFILE}]");
    }

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
