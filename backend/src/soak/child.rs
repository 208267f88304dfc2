//! The server under test as a process of its own, and what the kernel says about it.
//!
//! A server measured inside the harness would share its descriptors, threads, CPU time and
//! memory with the viewers measuring it. So `kettle soak` runs `kettle serve` as a child on
//! port 0 and reads the child's own `/proc/<pid>/`: `fd/` (open descriptors), `status`
//! (`Threads`, `VmRSS`, `VmHWM`), `stat` (user + system CPU ticks), and every process whose
//! parent it is (`process-per-conn`'s children; a `Z` state is a zombie nobody reaped).
//! Requests to it are plain HTTP/1.1 with the `Host` header its guard checks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kettle_shared::ModelInfo;

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

    /// `method path` with an empty body; returns status and body. `None` when no answer came
    /// within `timeout`.
    pub fn request(&self, method: &str, path: &str, timeout: Duration) -> Option<(u16, String)> {
        http(self.addr, method, path, timeout)
    }

    /// Every model as the server lists it.
    pub fn models(&self) -> anyhow::Result<Vec<ModelInfo>> {
        match self.request("GET", "/api/models", Duration::from_secs(10)) {
            Some((200, body)) => Ok(serde_json::from_str(&body)?),
            other => bail!("GET /api/models answered {other:?}"),
        }
    }

    /// Starts or stops a model through the HTTP API (`verb`: "start" or "stop").
    pub fn model(&self, id: &str, verb: &str) -> anyhow::Result<ModelInfo> {
        let path = format!("/api/models/{id}/{verb}");
        match self.request("POST", &path, Duration::from_secs(30)) {
            Some((200, body)) => Ok(serde_json::from_str(&body)?),
            other => bail!("POST {path} answered {other:?}"),
        }
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
        let dir = format!("/proc/{pid}");
        let fds = std::fs::read_dir(format!("{dir}/fd"))?.count() as u64;
        let status = std::fs::read_to_string(format!("{dir}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
        let after_name = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        // Fields after the name, from 3 (state): utime is field 14, stime 15.
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let tick = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let (mut children, mut zombies) = (0, 0);
        for entry in std::fs::read_dir("/proc")?.flatten() {
            let name = entry.file_name();
            let Some(n) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else {
                continue;
            };
            let Ok(s) = std::fs::read_to_string(format!("/proc/{n}/stat")) else { continue };
            let Some((_, rest)) = s.rsplit_once(')') else { continue };
            let mut f = rest.split_whitespace();
            let state = f.next().unwrap_or("");
            if f.next().and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
                if state == "Z" {
                    zombies += 1;
                } else {
                    children += 1;
                }
            }
        }
        Ok(ProcStats {
            fds,
            threads: field("Threads:"),
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
            cpu_ticks: tick(14) + tick(15),
            children,
            zombies,
        })
    }
}

/// Clock ticks a second (`sysconf(_SC_CLK_TCK)`), for CPU time from `/proc/<pid>/stat`.
pub fn ticks_per_s() -> f64 {
    // SAFETY: sysconf only reads a constant of the system.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// CPU share of one core, in %, between two looks `wall` apart.
pub fn cpu_percent(before: &ProcStats, after: &ProcStats, wall: Duration) -> f64 {
    let secs = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / ticks_per_s();
    100.0 * secs / wall.as_secs_f64().max(1e-9)
}

/// One HTTP/1.1 request with the `Host` header of `addr`; `None` if no whole answer came in
/// `timeout`.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    timeout: Duration,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    Some((status, if chunked { unchunk(body) } else { body.to_owned() }))
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
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
