//! `kettle record` and `kettle export`: a lesson kept as a file, from the terminal.
//!
//! `kettle record --url http://127.0.0.1:7878 --model select,blocking --secs 10 --out FILE`
//! watches a running Kettle as a page does — one WebSocket viewer of `/ws`
//! ([`crate::tools::soak::viewer`]), subscribed to those models — and keeps what it receives:
//! the models' history the server sends every new viewer, then every event for `--secs`
//! seconds. The header's `kernel` and `machine` come from the server's `GET /api/host`, its
//! models from the `Hello`, the model files' marked regions (for the code panel) from
//! `GET /api/excerpts`. A progress line on stderr says how long, how many events, how many
//! lost. The file is [`kettle_shared::recording`]'s format, written under a temporary name and
//! renamed into place, so a failed run never leaves half a file under the name asked for.
//!
//! `kettle export --chrome-trace IN OUT` reads a recording (whole, or it says exactly why not,
//! writing nothing) and writes [`kettle_shared::chrome_trace::export`]'s JSON for Perfetto.

use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use kettle_shared::recording::{self, CodeExcerpt, HostInfo, Recording};
use kettle_shared::{Command, Event, ModelInfo, ServerMsg};

use crate::tools::http;
use crate::tools::soak::viewer::{Read, Viewer};

/// The most events one `kettle record` keeps (about 300 MB of memory at worst); reaching it
/// ends the recording early, and says so.
pub const MAX_EVENTS: usize = 1_000_000;

/// The most seconds one `kettle record` runs.
pub const MAX_SECS: u32 = 24 * 3600;

/// How long the server has to answer the API and the handshake.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What `kettle record` was asked.
#[derive(Debug, Clone)]
pub struct RecordArgs {
    /// The running Kettle, `http://HOST:PORT`.
    pub url: String,
    /// Model ids (each may itself be `a,b`).
    pub models: Vec<String>,
    /// Seconds to record.
    pub secs: u32,
    /// The file to write.
    pub out: PathBuf,
}

/// `host:port` of a `http://HOST:PORT` URL.
fn authority(url: &str) -> anyhow::Result<&str> {
    let authority = url
        .strip_prefix("http://")
        .with_context(|| format!("--url must be http://HOST:PORT, not {url}"))?
        .trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') || !authority.contains(':') {
        bail!("--url must be http://HOST:PORT, not {url}");
    }
    Ok(authority)
}

/// `GET path` of the running Kettle as JSON.
async fn get_json<T: serde::de::DeserializeOwned>(url: &str, path: &str) -> anyhow::Result<T> {
    let authority = authority(url)?;
    let answer = http::send(authority, "GET", path, &[("Host", authority)], ANSWER_WITHIN)
        .await
        .with_context(|| format!("cannot reach Kettle at {url}: is `kettle serve` running?"))?;
    if answer.status != 200 {
        bail!("{url}{path} answered {}: {}", answer.status, answer.text());
    }
    answer.json().with_context(|| format!("{url}{path}: not the answer expected"))
}

/// The model ids asked for, `a,b` split, each checked against the server's list.
fn chosen_models(asked: &[String], listed: &[ModelInfo]) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    for id in asked.iter().flat_map(|a| a.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
        if !listed.iter().any(|m| m.id == id) {
            let known: Vec<&str> = listed.iter().map(|m| m.id.as_str()).collect();
            bail!("no model `{id}` on this server; its models are: {}", known.join(", "));
        }
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
    if ids.is_empty() {
        bail!("say which models to record: --model ID[,ID…]");
    }
    Ok(ids)
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Runs `kettle record`: returns the number of events written.
pub async fn record(args: RecordArgs) -> anyhow::Result<usize> {
    if args.secs == 0 || args.secs > MAX_SECS {
        bail!("--secs must be 1 to {MAX_SECS}, not {}", args.secs);
    }
    let host: HostInfo = get_json(&args.url, "/api/host").await?;
    let listed: Vec<ModelInfo> = get_json(&args.url, "/api/models").await?;
    let code: Vec<CodeExcerpt> = get_json(&args.url, "/api/excerpts").await?;
    let ids = chosen_models(&args.models, &listed)?;
    let addr: SocketAddr = authority(&args.url)?
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {}", args.url))?
        .next()
        .with_context(|| format!("{} names no address", args.url))?;
    let mut viewer = Viewer::connect(addr).await.context("the WebSocket /ws")?;
    let start_unix_ms = unix_ms();
    viewer
        .command(Command::Subscribe { models: Some(ids.clone()), aggregates: Some(Vec::new()) })
        .await?;

    let mut events: Vec<Event> = Vec::new();
    let mut lost = 0u64;
    let mut models: Vec<ModelInfo> =
        viewer.models.iter().filter(|m| ids.contains(&m.id)).cloned().collect();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(u64::from(args.secs));
    let tty = std::io::stderr().is_terminal();
    let mut shown = Instant::now();
    let mut full = false;
    while Instant::now() < deadline && !full {
        let left = deadline.saturating_duration_since(Instant::now());
        match viewer.read(left.min(Duration::from_millis(250))).await? {
            Read::Msg(msg, _) => match *msg {
                ServerMsg::Batch { events: batch, dropped } => {
                    lost += dropped;
                    events.extend(batch.into_iter().filter(|e| ids.contains(&e.model)));
                    if events.len() >= MAX_EVENTS {
                        events.truncate(MAX_EVENTS);
                        full = true;
                    }
                }
                ServerMsg::Model { model } => {
                    if let Some(m) = models.iter_mut().find(|m| m.id == model.id) {
                        *m = model;
                    }
                }
                _ => {}
            },
            Read::Closed(code) => {
                bail!(
                    "the server closed the WebSocket (code {code:?}) after {} events",
                    events.len()
                )
            }
            Read::Quiet => {}
        }
        if shown.elapsed() >= Duration::from_millis(if tty { 200 } else { 1000 }) {
            progress(tty, started.elapsed(), args.secs, events.len(), lost);
            shown = Instant::now();
        }
    }
    progress(tty, started.elapsed(), args.secs, events.len(), lost);
    if tty {
        eprintln!();
    }
    if full {
        eprintln!("kettle record: stopped early at the bound of {MAX_EVENTS} events");
    }
    let _ = viewer.ws.close(None).await;

    let mut header = Recording::header(&host, models, start_unix_ms);
    header.t0_unix_ms = viewer.clock.start_unix_ms;
    header.history_bound = MAX_EVENTS as u32;
    header.lost = lost;
    header.code = code;
    let count = events.len();
    let recording = Recording { header, events };
    write_whole(&args.out, &recording::encode(&recording))?;
    eprintln!(
        "kettle record: wrote {count} events of {} to {} ({} lost)",
        ids.join(", "),
        args.out.display(),
        lost
    );
    Ok(count)
}

fn progress(tty: bool, elapsed: Duration, secs: u32, events: usize, lost: u64) {
    let line = format!(
        "kettle record: {:.1} s of {secs} s, {events} events, {lost} lost",
        elapsed.as_secs_f64().min(f64::from(secs))
    );
    if tty {
        eprint!("\r{line}   ");
    } else {
        eprintln!("{line}");
    }
}

/// Writes `bytes` to `path` whole or not at all: into a temporary file beside it, then
/// renamed over it (a rename within one directory is atomic).
pub fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path.file_name().with_context(|| format!("{} names no file", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.partial", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// Runs `kettle export --chrome-trace IN OUT`: returns the number of trace events written.
pub fn export_chrome_trace(input: &Path, output: &Path) -> anyhow::Result<usize> {
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let recording =
        recording::decode(&bytes).with_context(|| format!("cannot open {}", input.display()))?;
    let trace = kettle_shared::chrome_trace::export(&recording);
    write_whole(output, trace.as_bytes())?;
    Ok(recording.events.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_must_be_http_host_port() {
        assert_eq!(authority("http://127.0.0.1:7878/").unwrap(), "127.0.0.1:7878");
        for bad in ["127.0.0.1:7878", "https://x:1", "http://host", "http://h:1/api"] {
            assert!(authority(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn models_are_split_at_commas_and_checked_against_the_server() {
        let listed: Vec<ModelInfo> = serde_json::from_str(
            r#"[{"id":"select","title":"","title_zh":"","figure":"","family":null,"port":null,"state":"running","reason":null},
                {"id":"blocking","title":"","title_zh":"","figure":"","family":null,"port":null,"state":"running","reason":null}]"#,
        )
        .unwrap();
        let asked = vec!["select,blocking".to_owned(), "select".to_owned()];
        assert_eq!(chosen_models(&asked, &listed).unwrap(), ["select", "blocking"]);
        let err = chosen_models(&["epol".to_owned()], &listed).unwrap_err().to_string();
        assert!(err.contains("no model `epol`") && err.contains("select, blocking"), "{err}");
        assert!(chosen_models(&[",".to_owned()], &listed).is_err());
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("kettle-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("no-such-dir").join("out.json");
        assert!(write_whole(&missing, b"x").is_err());
        let ok = dir.join("out.json");
        write_whole(&ok, b"whole").unwrap();
        assert_eq!(std::fs::read(&ok).unwrap(), b"whole");
        let left: Vec<_> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from("out.json")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
