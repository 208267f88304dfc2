//! The server under test as a process of its own, and what the kernel says about it.
//!
//! A server measured inside the harness would share its descriptors, threads, CPU time and
//! memory with the viewers measuring it. So `kettle soak` runs `kettle serve` as a child on
//! port 0 and reads the child's own `/proc/<pid>/`: `fd/` (open descriptors), `status`
//! (`Threads`, `VmRSS`, `VmHWM`), `stat` (user + system CPU ticks), and every process whose
//! parent it is (`process-per-conn`'s children; a `Z` state is a zombie nobody reaped), all
//! through [`crate::proc::process`]. Requests to it go through the tools' HTTP client
//! ([`crate::tools::http`]) with the `Host` header its guard checks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kettle_shared::ModelInfo;

use crate::proc::process::{self, Pid};
use crate::tools::http::{self, Answer};

/// Lines of the child's stderr kept for an error message.
const STDERR_KEPT: usize = 40;

/// A `kettle serve` child process.
#[derive(Debug)]
pub struct ServeChild {
    child: Child,
    /// The web server's address.
    pub addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl ServeChild {
    /// Starts `exe serve --port 0 --model-port-base 0 [--start …]`, with `RLIMIT_NOFILE` set
    /// to `nofile` when given, and waits for its "running at" line.
    pub fn spawn(exe: &Path, start: &[&str], nofile: Option<u64>) -> anyhow::Result<ServeChild> {
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--port", "0", "--model-port-base", "0"]);
        if !start.is_empty() {
            cmd.arg("--start").args(start);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(limit) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec only setrlimit runs, which is async-signal-safe
            // and allocates nothing.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = cmd.spawn().with_context(|| format!("cannot run {}", exe.display()))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let err_pipe = child.stderr.take().context("stderr piped")?;
        let kept = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                if kept.len() == STDERR_KEPT {
                    kept.remove(0);
                }
                kept.push(line);
            }
        });
        let mut out = BufReader::new(child.stdout.take().context("stdout piped")?);
        let mut line = String::new();
        let addr = loop {
            line.clear();
            if out.read_line(&mut line)? == 0 {
                let _ = child.wait();
                let err = stderr.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
                bail!("kettle serve ended before it ran:\n{err}");
            }
            if let Some(rest) = line.split("running at http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("");
                break addr
                    .parse::<SocketAddr>()
                    .with_context(|| format!("address in {line:?}"))?;
            }
        };
        // Keep draining stdout so the child never blocks writing to it.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
        });
        Ok(ServeChild { child, addr, stderr })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the child wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
    }

    /// `method path` with an empty body and the `Host` the server checks; fails when no
    /// whole answer came within `timeout`. Blocks (also when called from async code).
    pub fn request(&self, method: &str, path: &str, timeout: Duration) -> anyhow::Result<Answer> {
        let host = self.addr.to_string();
        http::send_blocking(&host, method, path, &[("Host", &host)], timeout)
    }

    /// Every model as the server lists it.
    pub fn models(&self) -> anyhow::Result<Vec<ModelInfo>> {
        self.ok_json("GET", "/api/models", Duration::from_secs(10))
    }

    /// Starts or stops a model through the HTTP API (`verb`: "start" or "stop").
    pub fn model(&self, id: &str, verb: &str) -> anyhow::Result<ModelInfo> {
        self.ok_json("POST", &format!("/api/models/{id}/{verb}"), Duration::from_secs(30))
    }

    /// The body of a `200` answer as JSON; any other answer is an error saying what came.
    fn ok_json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        timeout: Duration,
    ) -> anyhow::Result<T> {
        let answer = self.request(method, path, timeout)?;
        if answer.status != 200 {
            bail!("{method} {path} answered {}: {}", answer.status, answer.text());
        }
        answer.json().with_context(|| format!("{method} {path}"))
    }

    /// Sends `signal` to the child.
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> anyhow::Result<()> {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        nix::sys::signal::kill(pid, signal)?;
        Ok(())
    }

    /// Waits at most `limit` for the child to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What `/proc` says about the child now.
    pub fn stats(&self) -> anyhow::Result<ProcStats> {
        ProcStats::of(self.pid())
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One look at a process in `/proc`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProcStats {
    /// Open descriptors.
    pub fds: u64,
    /// Threads.
    pub threads: u64,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// The most resident memory so far, KiB.
    pub hwm_kib: u64,
    /// User + system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Live children.
    pub children: u64,
    /// Children that ended and were not reaped.
    pub zombies: u64,
}

impl ProcStats {
    /// Reads them for `pid`.
    pub fn of(pid: u32) -> anyhow::Result<ProcStats> {
        let status = process::status(Pid::Id(pid))?;
        let stat = process::stat(Pid::Id(pid))?;
        let (zombies, children): (Vec<_>, Vec<_>) =
            process::children(pid)?.into_iter().partition(|(_, child)| child.state == 'Z');
        Ok(ProcStats {
            fds: process::open_fds(Pid::Id(pid))?,
            threads: status.threads,
            rss_kib: status.rss_kib,
            hwm_kib: status.hwm_kib,
            cpu_ticks: stat.cpu_ticks(),
            children: children.len() as u64,
            zombies: zombies.len() as u64,
        })
    }
}

/// CPU share of one core, in %, between two looks `wall` apart.
pub fn cpu_percent(before: &ProcStats, after: &ProcStats, wall: Duration) -> f64 {
    let secs = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / process::ticks_per_s();
    100.0 * secs / wall.as_secs_f64().max(1e-9)
}

/// Whether `port` on 127.0.0.1 can be bound now (nobody listens on it any more).
pub fn port_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Sends one line to a model and waits for its echo (every model echoes it upper-cased).
/// Returns the connection, still open, for a caller that wants to hold it.
pub fn echo_once(port: u16, line: &str, timeout: Duration) -> anyhow::Result<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(line.as_bytes())?;
    let want = line.to_ascii_uppercase();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() < want.len() {
        let n = s.read(&mut buf).with_context(|| format!("echo from port {port}"))?;
        if n == 0 {
            bail!("port {port} closed before echoing");
        }
        got.extend_from_slice(&buf[..n]);
    }
    if got != want.as_bytes() {
        bail!("port {port} echoed {:?}, not {want:?}", String::from_utf8_lossy(&got));
    }
    Ok(s)
}
