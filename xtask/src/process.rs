//! Running child processes: announcing, timing and explaining their failures.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Result;

/// Prints one line for a step, runs it, then prints how long it took.
pub fn timed<T>(what: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
    say(&format!("{what}…"));
    let start = Instant::now();
    let result = step();
    let took = format_duration(start.elapsed());
    match &result {
        Ok(_) => say(&format!("  done in {took}")),
        Err(_) => say(&format!("  failed after {took}")),
    }
    result
}

/// Like [`timed`], for a step that runs beside others: its last line names it, since other
/// steps' lines come in between (`trunk: done in 4m 12s`).
pub fn timed_job<T>(name: &str, what: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
    say(&format!("{what}…"));
    let start = Instant::now();
    let result = step();
    let took = format_duration(start.elapsed());
    match &result {
        Ok(_) => say(&format!("  {name}: done in {took}")),
        Err(_) => say(&format!("  {name}: failed after {took}")),
    }
    result
}

/// One line of xtask progress, told apart from the tools' own output by its prefix.
pub fn say(line: &str) {
    println!("xtask: {line}");
    let _ = std::io::stdout().flush();
}

/// `cargo`, the same one that runs the xtask when there is one.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd` with the terminal as its output. On failure the error names the command
/// and adds `hint` (what the machine needs, what to try).
pub fn run_checked(cmd: &mut Command, hint: &str) -> Result<()> {
    let line = describe(cmd);
    let status = cmd.status().map_err(|e| format!("could not start `{line}`: {e}. {hint}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed ({status}). {hint}"))
    }
}

/// Like [`run_checked`], for a command that runs beside others: every line it prints, on
/// stdout or stderr, goes to the same stream with `label | ` in front, so the interleaved output
/// of two builds can still be told apart. Cargo colours its messages when the xtask's own
/// stderr is a terminal, as it would if it wrote there itself.
pub fn run_labelled(cmd: &mut Command, label: &str, hint: &str) -> Result<()> {
    let line = describe(cmd);
    if std::io::stderr().is_terminal() && std::env::var_os("CARGO_TERM_COLOR").is_none() {
        cmd.env("CARGO_TERM_COLOR", "always");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start `{line}`: {e}. {hint}"))?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    std::thread::scope(|scope| {
        if let Some(out) = stdout {
            scope.spawn(|| copy_lines(out, label, |text| println!("{text}")));
        }
        if let Some(err) = stderr {
            scope.spawn(|| copy_lines(err, label, |text| eprintln!("{text}")));
        }
    });
    let status = child.wait().map_err(|e| format!("`{line}` vanished: {e}. {hint}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed ({status}). {hint}"))
    }
}

/// Every line of `from` (lossily decoded), given to `print` whole with `label | ` in front:
/// one line per call, so lines of two children never mix within a line.
fn copy_lines(from: impl Read, label: &str, print: impl Fn(&str)) {
    let mut reader = BufReader::new(from);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
        let text = String::from_utf8_lossy(&line);
        print(&format!("{label} | {}", text.trim_end_matches(['\n', '\r'])));
        line.clear();
    }
}

/// `Ok` if every step succeeded; otherwise every failure's message, one per line, so a step
/// that failed beside another is not hidden by it.
pub fn all_ok(results: impl IntoIterator<Item = Result<()>>) -> Result<()> {
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// Runs `cmd`, echoing its stdout line by line while keeping a copy (stderr goes straight
/// to the terminal). Returns whether it succeeded and the stdout it printed.
pub fn run_teed(cmd: &mut Command) -> (bool, String) {
    let line = describe(cmd);
    let mut child = match cmd.stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => {
            say(&format!("could not start `{line}`: {e}"));
            return (false, String::new());
        }
    };
    let mut captured = String::new();
    if let Some(stdout) = child.stdout.take() {
        for text in BufReader::new(stdout).lines().map_while(std::io::Result::ok) {
            println!("{text}");
            captured.push_str(&text);
            captured.push('\n');
        }
    }
    let ok = child.wait().is_ok_and(|status| status.success());
    (ok, captured)
}

/// The stdout and stderr of `program args` if it ran and succeeded; `None` if it is
/// missing or failed. Used to ask tools for their version.
pub fn output_of(program: impl AsRef<OsStr>, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).stdin(Stdio::null()).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Some(text)
}

/// The command as a shell line, for messages: `cargo install trunk --locked`.
pub fn describe(cmd: &Command) -> String {
    let program = cmd.get_program().to_string_lossy();
    let program = program.rsplit('/').next().unwrap_or(&program).to_string();
    std::iter::once(program)
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `0.4s`, `12.3s`, `9m 41s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(400)), "0.4s");
        assert_eq!(format_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(format_duration(Duration::from_secs(581)), "9m 41s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m 00s");
    }

    #[test]
    fn every_failure_of_steps_side_by_side_is_reported() {
        assert_eq!(all_ok([Ok(()), Ok(())]), Ok(()));
        let both = all_ok([Err("trunk failed".into()), Ok(()), Err("npm failed".into())]);
        assert_eq!(both, Err("trunk failed\nnpm failed".into()));
    }

    #[test]
    fn commands_are_described_as_shell_lines() {
        let mut cmd = Command::new("/usr/bin/cargo");
        cmd.args(["install", "trunk", "--locked"]);
        assert_eq!(describe(&cmd), "cargo install trunk --locked");
    }
}
