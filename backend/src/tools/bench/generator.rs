//! The bench's load generator runs in a child process, so the CPU and memory the bench reads
//! from its own process are the server's alone.
//!
//! The child (`kettle bench-load`, hidden) is told only a port; it loads that port only if
//! its parent — the bench — holds the listener there ([`Target::parent_listener`]), or a
//! program the bench started and names (`--holder`, [`Target::sibling_listener`]), and
//! writes each [`LoadReport`] as one JSON line on its standard output. The parent reads them
//! and reaps the child with `wait4`, which also gives the generator's own CPU time, so it can
//! be taken out of what the bench's children used.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use kettle_shared::{LoadReport, LoadSpec};

use crate::tools::load::{engine, raise_nofile_limit, StopToken, Target};

/// The load the bench puts on each server.
#[derive(Debug, Clone)]
pub struct Load {
    /// Connections.
    pub conns: u32,
    /// Bytes per line.
    pub size: u32,
    /// How long each run lasts.
    pub duration: Duration,
}

/// The child's side: load the listener on `port` of the parent (or of `holder`, a program the
/// parent started), one JSON report a line.
pub fn child_main(name: &str, port: u16, holder: Option<u32>, load: &Load) -> anyhow::Result<()> {
    let target = match holder {
        None => Target::parent_listener(name, port),
        Some(pid) => Target::sibling_listener(name, port, pid),
    }
    .map_err(|r| anyhow::anyhow!("{}", crate::failure::for_terminal(&r)))?;
    let spec = LoadSpec {
        model: name.to_owned(),
        conns: load.conns,
        rate: None,
        size: load.size,
        secs: load.duration.as_secs().max(1) as u32,
    };
    crate::tools::load::check_spec(&spec)
        .map_err(|r| anyhow::anyhow!("{}", crate::failure::for_terminal(&r)))?;
    let settings =
        engine::Settings { spec, duration: load.duration, nofile_limit: raise_nofile_limit() };
    let out = std::io::stdout();
    let say = |r: &LoadReport| {
        let mut out = out.lock();
        let _ = serde_json::to_writer(&mut out, r);
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    };
    let last = engine::run(target.addr, &settings, &StopToken::new(), say)?;
    say(&last);
    Ok(())
}

/// What the parent learns from one generator run.
#[derive(Debug)]
pub struct Ran {
    /// The last report.
    pub report: LoadReport,
    /// The generator's pid (to leave it out of the server's children).
    pub pid: u32,
    /// CPU time the generator used, in ns.
    pub cpu_ns: u64,
}

/// Where the generator sends its load.
#[derive(Debug, Clone, Copy)]
pub struct Aim {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The process holding its listener, when it is not this one: a child of this process.
    pub holder: Option<u32>,
}

/// The parent's side: runs `exe bench-load` against `aim`, calling `on_report` with each
/// report as it comes (and the child's pid), and returns the last.
pub fn run(
    exe: &Path,
    name: &str,
    aim: Aim,
    load: &Load,
    mut on_report: impl FnMut(&LoadReport, u32),
) -> anyhow::Result<Ran> {
    let mut command = Command::new(exe);
    command.args(["bench-load", "--name", name, "--port", &aim.port.to_string()]);
    if let Some(pid) = aim.holder {
        command.args(["--holder", &pid.to_string()]);
    }
    let mut child = command
        .args(["--conns", &load.conns.to_string(), "--size", &load.size.to_string()])
        .args(["--millis", &load.duration.as_millis().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot run the generator {}", exe.display()))?;
    let pid = child.id();
    let stdout = child.stdout.take().context("the generator's output")?;
    let mut last = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let report: LoadReport = serde_json::from_str(&line)
            .with_context(|| format!("the generator said something else: {line}"))?;
        on_report(&report, pid);
        last = Some(report);
    }
    // Reap it ourselves: wait4 also says how much CPU it used.
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills; the pid is our own child's.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    anyhow::ensure!(rc == pid as libc::pid_t, "wait4 on the generator failed");
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the generator failed (status {status})"
    );
    // The child is reaped; `Child` must not wait for it again.
    std::mem::forget(child);
    let report = last.context("the generator reported nothing")?;
    Ok(Ran { report, pid, cpu_ns: rusage_ns(&usage) })
}

/// User plus system CPU time of a `rusage`, in ns.
pub fn rusage_ns(u: &libc::rusage) -> u64 {
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    tv(u.ru_utime) + tv(u.ru_stime)
}
