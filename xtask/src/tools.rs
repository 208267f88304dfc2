//! Making sure the pinned tools are installed, installing only what is missing.
//!
//! Every `ensure_*` first asks the tool for its version and does nothing when it already
//! matches, so a second run costs a few milliseconds per tool.
//!
//! # A first run, on a 2-core machine
//!
//! Building trunk and the wasm-bindgen CLI is most of a first run. Two things make it short:
//!
//! - **The tools are built unoptimised** ([`INSTALL_PROFILE`]). Cargo's configuration, here
//!   its environment, overrides the `[profile.release]` of the manifest it installs from:
//!   trunk's own asks for fat LTO and one codegen unit, which made its last crate take ~7
//!   minutes on one core. What the tools do themselves is small (trunk waits for cargo,
//!   wasm-bindgen and wasm-opt; wasm-bindgen reads and writes one file), so their speed does
//!   not show. Measured on this project (CPU = user + sys):
//!
//!   | install | as published | `opt-level = 0`, no LTO, 16 units | its own run |
//!   |---|---|---|---|
//!   | trunk 0.21.14 | 19.6 min CPU (14 min 20 s on a quiet machine) | 4.7 min CPU | `trunk build --release`: no difference (~15 s CPU, nearly all wasm-bindgen and wasm-opt) |
//!   | wasm-bindgen-cli 0.2.130 | 4.2 min CPU | 1.8 min CPU | 1.0 s instead of 0.2 s per call |
//!
//!   (`opt-level = 1` cost 7.5 min of CPU for trunk, 3.8 for wasm-bindgen. Measured on a
//!   machine other builds kept busy, so the CPU times are the ones to compare.)
//! - **Everything that does not wait for something else runs at once**: the four installs
//!   below ([`ensure_build_tools`]), and in `cargo xtask run` the backend's build beside them.
//!   Each `cargo install` keeps its own temporary target directory: of the ~560 crate builds
//!   of trunk and wasm-bindgen-cli only one (`heck`) is the same for both (other versions,
//!   other features), and one directory would make the two cargos wait for each other's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{all_ok, cargo, output_of, run_checked, run_labelled, say, timed, timed_job};
use crate::Result;

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
const TRUNK_VERSION: &str = "0.21.14";
/// npm's `binaryen` package; its `wasm-opt` reports the major version, `version 132`.
const BINARYEN_NPM_VERSION: &str = "132.0.0";
const WASM_OPT_VERSION: &str = "132";
/// Where npm installs binaryen, relative to the workspace root (ignored by git).
const BINARYEN_PREFIX: &str = ".tools/binaryen";

/// The profile `cargo install` builds trunk and the wasm-bindgen CLI with, set through cargo's
/// environment: no optimisation, no LTO, 16 codegen units (see the module documentation for
/// what each costs). Only the installs get it; the project's own builds keep their profiles.
pub const INSTALL_PROFILE: [(&str, &str); 3] = [
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
    ("CARGO_PROFILE_RELEASE_LTO", "off"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
];

/// axe-core, the accessibility rules the browser tests run on the page (WCAG 2 A and AA), from
/// npm into `.tools/axe-core`, project-local like binaryen.
const AXE_NPM_VERSION: &str = "4.14.1";
const AXE_PREFIX: &str = ".tools/axe-core";

/// The file the browser tests inject into the page (`KETTLE_AXE` points the tests at it).
pub fn axe_script(root: &Path) -> PathBuf {
    root.join(AXE_PREFIX).join("node_modules/axe-core/axe.min.js")
}

/// What the browser tests need, as (Debian package, file): chromium and chromedriver, strace,
/// and a CJK font so the Chinese page (and its screenshots) show characters, not boxes.
pub const BROWSER_PACKAGES: [(&str, &str); 4] = [
    ("chromium", "/usr/lib/chromium/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("strace", "/usr/bin/strace"),
    ("fonts-noto-cjk", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
];
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// Puts the project-local binaryen first on `PATH` (so Debian's old `wasm-opt` is never
/// used), then cargo's bin directory (where `cargo install` puts trunk and wasm-bindgen).
/// Every child process inherits this `PATH`.
pub fn put_tools_first_on_path(root: &Path) -> Result<()> {
    let mut dirs = vec![binaryen_bin(root), cargo_home().join("bin")];
    if let Some(path) = std::env::var_os("PATH") {
        let ours = dirs.clone();
        dirs.extend(std::env::split_paths(&path).filter(|dir| !ours.contains(dir)));
    }
    let path = std::env::join_paths(dirs).map_err(|e| format!("cannot build PATH: {e}"))?;
    std::env::set_var("PATH", path);
    Ok(())
}

/// Everything needed to build the frontend: the wasm target, trunk, the wasm-bindgen CLI
/// and wasm-opt, each at its pinned version. The four are independent, so what is missing is
/// installed side by side, each install's output marked with its name; a failure of one does
/// not stop the others, and every failure is reported.
pub fn ensure_build_tools(root: &Path) -> Result<()> {
    // Before installing anything: a lock file and Trunk.toml that disagree stop the run now,
    // not after the other installs.
    let wasm_bindgen = wasm_bindgen_version(root)?;
    let results: [Result<()>; 4] = std::thread::scope(|scope| {
        [
            scope.spawn(ensure_wasm_target),
            scope.spawn(ensure_trunk),
            scope.spawn(|| ensure_wasm_bindgen(&wasm_bindgen)),
            scope.spawn(|| ensure_wasm_opt(root)),
        ]
        .map(|install| install.join().unwrap_or_else(|_| Err("an install panicked".into())))
    });
    all_ok(results)
}

fn ensure_wasm_target() -> Result<()> {
    let installed = output_of("rustup", &["target", "list", "--installed"]).ok_or(
        "`rustup target list --installed` failed: the xtask needs rustup (https://rustup.rs)",
    )?;
    if lists_wasm_target(&installed) {
        say(&format!("rust target {WASM_TARGET}: installed"));
        return Ok(());
    }
    timed_job("rustup", &format!("adding rust target {WASM_TARGET} (rustup, ~1 min)"), || {
        run_labelled(
            Command::new("rustup").args(["target", "add", WASM_TARGET]),
            "rustup",
            "rustup needs to reach static.rust-lang.org.",
        )
    })
}

/// Whether rustup has the wasm target already (no message, nothing installed).
pub fn has_wasm_target() -> bool {
    output_of("rustup", &["target", "list", "--installed"]).is_some_and(|l| lists_wasm_target(&l))
}

fn lists_wasm_target(installed: &str) -> bool {
    installed.lines().any(|line| line.trim() == WASM_TARGET)
}

fn ensure_trunk() -> Result<()> {
    if reports_version(output_of("trunk", &["--version"]), TRUNK_VERSION) {
        say(&format!("trunk {TRUNK_VERSION}: installed"));
        return Ok(());
    }
    timed_job(
        "trunk",
        &format!("installing trunk {TRUNK_VERSION} (cargo install, unoptimised: ~5 min of CPU)"),
        || cargo_install("trunk", &["trunk", "--locked", "--version", TRUNK_VERSION]),
    )
}

fn ensure_wasm_bindgen(version: &str) -> Result<()> {
    if reports_version(output_of("wasm-bindgen", &["--version"]), version) {
        say(&format!("wasm-bindgen CLI {version}: installed"));
        return Ok(());
    }
    // Not `--locked`: one dependency pinned in its lock file is gone from the registry.
    timed_job(
        "wasm-bindgen",
        &format!(
            "installing wasm-bindgen CLI {version} (cargo install, unoptimised: ~2 min of CPU)"
        ),
        || cargo_install("wasm-bindgen", &["wasm-bindgen-cli", "--version", version]),
    )
}

/// The `wasm-bindgen` version in Cargo.lock, checked against `Trunk.toml`'s pin.
fn wasm_bindgen_version(root: &Path) -> Result<String> {
    let lock = read(&root.join("Cargo.lock"))?;
    let version = lock_version(&lock, "wasm-bindgen")?;
    let trunk_toml = read(&root.join("Trunk.toml"))?;
    match toml_string(&trunk_toml, "tools", "wasm_bindgen")
        .map_err(|e| format!("Trunk.toml: {e}"))?
    {
        Some(pinned) if pinned == version => Ok(version),
        Some(pinned) => Err(format!(
            "Trunk.toml pins wasm_bindgen = \"{pinned}\" but Cargo.lock has wasm-bindgen \
             {version}; set `[tools] wasm_bindgen = \"{version}\"` in Trunk.toml"
        )),
        None => Err(format!(
            "Trunk.toml has no `[tools] wasm_bindgen`; add `wasm_bindgen = \"{version}\"` so \
             trunk uses the installed CLI instead of downloading one"
        )),
    }
}

fn ensure_wasm_opt(root: &Path) -> Result<()> {
    let local = binaryen_bin(root).join("wasm-opt");
    if !reports_version(output_of(&local, &["--version"]), WASM_OPT_VERSION) {
        ensure_npm()?;
        timed_job(
            "npm",
            &format!("installing wasm-opt (npm binaryen@{BINARYEN_NPM_VERSION} into {BINARYEN_PREFIX}, ~10 s)"),
            || {
                run_labelled(
                    Command::new("npm").args([
                        "install",
                        "--prefix",
                        BINARYEN_PREFIX,
                        "--no-audit",
                        "--no-fund",
                        &format!("binaryen@{BINARYEN_NPM_VERSION}"),
                    ]),
                    "npm",
                    "npm needs to reach registry.npmjs.org.",
                )
            },
        )?;
    }
    // What trunk will find on PATH, not just what npm installed.
    let found = output_of("wasm-opt", &["--version"]);
    if reports_version(found.clone(), WASM_OPT_VERSION) {
        say(&format!("wasm-opt {WASM_OPT_VERSION}: installed in {BINARYEN_PREFIX}"));
        Ok(())
    } else {
        Err(format!(
            "`wasm-opt --version` should report version {WASM_OPT_VERSION} but says {:?}; \
             expected {} first on PATH",
            found.unwrap_or_default().trim(),
            local.display()
        ))
    }
}

fn ensure_npm() -> Result<()> {
    if output_of("npm", &["--version"]).is_some() {
        return Ok(());
    }
    timed("installing node and npm (apt-get, ~1 min)", || apt_install(&["nodejs", "npm"]))
}

/// chromium, chromedriver, strace and a CJK font for the browser tests, from Debian; and
/// axe-core from npm.
pub fn ensure_browser_tools(root: &Path) -> Result<()> {
    let missing: Vec<&str> = BROWSER_PACKAGES
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        say("chromium, chromedriver, strace, fonts-noto-cjk: installed");
    } else {
        timed(&format!("installing {} (apt-get, ~2 min)", missing.join(" ")), || {
            apt_install(&missing)
        })?;
    }
    ensure_axe(root)
}

fn ensure_axe(root: &Path) -> Result<()> {
    let package = root.join(AXE_PREFIX).join("node_modules/axe-core/package.json");
    let installed = std::fs::read_to_string(&package)
        .is_ok_and(|text| text.contains(&format!("\"version\": \"{AXE_NPM_VERSION}\"")));
    if installed && axe_script(root).exists() {
        say(&format!("axe-core {AXE_NPM_VERSION}: installed in {AXE_PREFIX}"));
        return Ok(());
    }
    ensure_npm()?;
    timed(&format!("installing axe-core@{AXE_NPM_VERSION} (npm, into {AXE_PREFIX}, ~5 s)"), || {
        run_checked(
            Command::new("npm").args([
                "install",
                "--prefix",
                AXE_PREFIX,
                "--no-audit",
                "--no-fund",
                &format!("axe-core@{AXE_NPM_VERSION}"),
            ]),
            "npm needs to reach registry.npmjs.org.",
        )
    })
}

/// `apt-get update && apt-get install -y <packages>` as root; otherwise a clear error with
/// the command to run.
fn apt_install(packages: &[&str]) -> Result<()> {
    let list = packages.join(" ");
    if !is_root() {
        return Err(format!(
            "missing Debian packages: {list}. Install them, then run the xtask again:\n    \
             sudo apt-get update && sudo apt-get install -y {list}"
        ));
    }
    let hint = "apt-get needs to reach the Debian mirrors.";
    run_checked(Command::new("apt-get").arg("update"), hint)?;
    run_checked(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        hint,
    )
}

fn is_root() -> bool {
    output_of("id", &["-u"]).is_some_and(|uid| uid.trim() == "0")
}

/// `cargo install <args>` with [`INSTALL_PROFILE`], its output marked with `label`.
fn cargo_install(label: &str, args: &[&str]) -> Result<()> {
    let mut cmd = cargo();
    // A temporary build directory, as plain `cargo install` would use: the project's
    // target dir stays the project's.
    cmd.arg("install").args(args).env_remove("CARGO_TARGET_DIR").envs(INSTALL_PROFILE);
    run_labelled(
        &mut cmd,
        label,
        "Installing needs network access to crates.io (or its mirror) and a C compiler; \
         rerun the command above by hand to see the full error.",
    )
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cargo")
    })
}

fn binaryen_bin(root: &Path) -> PathBuf {
    root.join(BINARYEN_PREFIX).join("node_modules").join(".bin")
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Whether a `--version` output names `version` as one of its words:
/// `trunk 0.21.14`, `wasm-bindgen 0.2.130`, `wasm-opt version 132 (version_132)`.
fn reports_version(output: Option<String>, version: &str) -> bool {
    output.is_some_and(|text| text.split_whitespace().any(|word| word == version))
}

/// The single version of package `name` in a Cargo.lock (its `[[package]]` tables). Two
/// versions of wasm-bindgen would need two CLIs, so more than one is an error.
pub fn lock_version(lock: &str, name: &str) -> Result<String> {
    let lock: toml::Table =
        lock.parse().map_err(|e| format!("Cargo.lock is not valid TOML: {e}"))?;
    let packages = match lock.get("package") {
        Some(toml::Value::Array(packages)) => packages.as_slice(),
        Some(_) => return Err("Cargo.lock: `package` is not a list of `[[package]]` tables".into()),
        None => &[],
    };
    fn field<'v>(package: &'v toml::Value, key: &str) -> Option<&'v str> {
        package.get(key).and_then(toml::Value::as_str)
    }
    let versions: Vec<&str> = packages
        .iter()
        .filter(|package| field(package, "name") == Some(name))
        .filter_map(|package| field(package, "version"))
        .collect();
    match versions.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!("Cargo.lock has no `{name}` package")),
        many => Err(format!("Cargo.lock has several `{name}` versions: {}", many.join(", "))),
    }
}

/// The string value of `key` in `[table]` of a TOML file: `None` if either is missing, an
/// error if the text is not TOML or the value is not a string.
pub fn toml_string(text: &str, table: &str, key: &str) -> Result<Option<String>> {
    let document: toml::Table = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    match document.get(table).and_then(|t| t.get(key)) {
        None => Ok(None),
        Some(toml::Value::String(value)) => Ok(Some(value.clone())),
        Some(other) => {
            Err(format!("`[{table}] {key}` should be a string, not a TOML {}", other.type_str()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "wasm-bindgen-macro"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "cfg-if",
 "wasm-bindgen-macro",
]

[[package]]
name = "yew"
version = "0.23.0"
"#;

    #[test]
    fn finds_the_locked_version_of_exactly_that_package() {
        assert_eq!(lock_version(LOCK, "wasm-bindgen").unwrap(), "0.2.130");
        assert_eq!(lock_version(LOCK, "yew").unwrap(), "0.23.0");
    }

    #[test]
    fn a_missing_or_duplicated_package_is_an_error() {
        assert!(lock_version(LOCK, "trunk").unwrap_err().contains("no `trunk`"));
        let twice = format!("{LOCK}\n[[package]]\nname = \"yew\"\nversion = \"0.21.0\"\n");
        assert!(lock_version(&twice, "yew").unwrap_err().contains("0.23.0, 0.21.0"));
    }

    #[test]
    fn the_lock_is_read_as_toml_whatever_its_layout() {
        // Keys in another order, single quotes, an inline comment: the same table to TOML.
        let lock = "version = 4\n[[package]]\nversion = '0.2.130' # the CLI must match\nname = 'wasm-bindgen'\n";
        assert_eq!(lock_version(lock, "wasm-bindgen").unwrap(), "0.2.130");
        assert!(lock_version("version = 4\n", "yew").unwrap_err().contains("no `yew`"));
        let broken = lock_version("[[package]\nname = \"yew\"", "yew").unwrap_err();
        assert!(broken.starts_with("Cargo.lock is not valid TOML"), "{broken}");
    }

    #[test]
    fn reads_the_pin_from_the_right_trunk_toml_table() {
        let trunk = "[build]\nwasm_bindgen = \"no\"\n\n[tools]\n# pinned\nwasm_bindgen = \"0.2.130\"\nwasm_opt = \"version_132\"\n";
        let pin = |key| toml_string(trunk, "tools", key).unwrap();
        assert_eq!(pin("wasm_bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(pin("wasm_opt").as_deref(), Some("version_132"));
        assert_eq!(pin("sass"), None);
        assert_eq!(toml_string(trunk, "serve", "port").unwrap(), None);
    }

    #[test]
    fn a_trunk_toml_that_is_not_toml_or_pins_a_number_is_an_error() {
        let number = toml_string("[tools]\nwasm_bindgen = 2\n", "tools", "wasm_bindgen");
        assert!(number.unwrap_err().contains("should be a string, not a TOML integer"));
        let broken = toml_string("[tools\nwasm_bindgen = \"0.2.130\"\n", "tools", "wasm_bindgen");
        assert!(broken.unwrap_err().starts_with("not valid TOML"));
    }

    #[test]
    fn the_real_lock_file_and_trunk_toml_agree() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        assert!(wasm_bindgen_version(root).is_ok());
    }

    #[test]
    fn version_outputs_are_matched_word_by_word() {
        let said = |s: &str| Some(s.to_string());
        assert!(reports_version(said("trunk 0.21.14\n"), "0.21.14"));
        assert!(!reports_version(said("trunk 0.21.1\n"), "0.21.14"));
        assert!(reports_version(said("wasm-opt version 132 (version_132)\n"), "132"));
        assert!(!reports_version(said("wasm-opt version 108\n"), "132"));
        assert!(!reports_version(None, "132"));
    }
}
