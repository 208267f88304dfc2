//! The HTTP front: the built frontend, the JSON API and the event WebSocket.
//!
//! | route | what | module |
//! |---|---|---|
//! | `GET /api/models` | every model (`kettle_shared::ModelInfo`) | [`api`] |
//! | `GET /api/excerpts` | every marked region of the model files (`kettle_shared::recording::CodeExcerpt`), for a recording | [`excerpts`] |
//! | `GET /api/host` | Kettle's version, the kernel, the machine (`kettle_shared::recording::HostInfo`), for a recording's header | [`api`] |
//! | `POST /api/models/{id}/start`, `/stop` | start or stop one; 404 for an unknown id | [`api`] |
//! | `GET /ws` | the viewer WebSocket (protocol in `kettle_shared`) | [`viewer`] |
//! | anything else | the frontend from `dist/`, compressed, with cache headers (`index.html` for unknown paths) | [`assets`] |
//!
//! Every request passes [`guard`] first: the `Host` header must name this server (a
//! DNS-rebinding page cannot talk to it under another name) and an `Origin`, when a browser
//! sends one, must be this server or one given with `--allow-origin` (another site cannot
//! drive it). [`experiments`] runs the tutorial's experiments for every viewer.
//!
//! Connections are accepted by [`http`] (a deadline on request headers, a pause when out of
//! descriptors); what the server admits at once — viewers, echo clients, commands, starts and
//! stops — is [`limits`].
//!
//! In classroom mode ([`classroom`]) the machine's own names and LAN addresses (and
//! `--allow-host` names) are admitted too, and each viewer is a teacher (with the token) or a
//! student; [`roles`] says which commands are the teacher's.

mod api;
mod assets;
pub mod classroom;
mod excerpts;
mod experiments;
mod guard;
mod http;
mod limits;
mod roles;
mod viewer;
mod votes;

pub use http::{AcceptStats, ACCEPT_PAUSE};
pub use limits::Limits;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kettle_shared::MODELS;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::lesson::Lesson;
use crate::models::ModelOptions;
use crate::recorder::Recorder;
use crate::registry::Registry;
use crate::tools::load::Loads;
use crate::trace::filter::Stops;
use api::{list_models, start_model, stop_model};
use experiments::Experiments;
use guard::{allowed_hosts, guard};
use viewer::websocket;

/// How `kettle serve` was asked to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address of the HTTP server.
    pub bind: IpAddr,
    /// Port of the HTTP server; 0 lets the kernel choose.
    pub port: u16,
    /// First model port; 0 lets the kernel choose each model's port.
    pub model_port_base: u16,
    /// Models to start at once (ids, or `all`).
    pub start: Vec<String>,
    /// Extra origins allowed to use the API and WebSocket.
    pub allow_origins: Vec<String>,
    /// The built frontend; found automatically when `None`.
    pub dist: Option<PathBuf>,
    /// Workers of the `thread-pool` model.
    pub pool_workers: usize,
    /// The executable `process-per-conn` runs as its children; `None`: this executable.
    pub child_exe: Option<PathBuf>,
    /// What the server admits at once ([`Limits::default`] unless told otherwise).
    pub limits: Limits,
    /// Classroom mode (`--classroom`): a teacher token, students who only watch and echo, the
    /// machine's names admitted. Without it only a loopback `bind` is accepted.
    pub classroom: bool,
    /// More names (`--allow-host`) admitted as `Host` (and as the host of an `Origin`).
    pub allow_hosts: Vec<String>,
    /// `kettle trace -- PROGRAM`: the program and its arguments, run traced as the model
    /// [`TRACED_MODEL`](kettle_shared::TRACED_MODEL) once the server listens.
    pub trace: Option<Vec<String>>,
    /// Which calls stop the traced program: [`Stops::Drawn`], but to measure the filter
    /// (`kettle trace --stop-every-call`, not for students).
    pub trace_stops: Stops,
}

/// A running Kettle server.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its models.
    pub registry: Registry,
    /// The frontend it serves, if it found one.
    pub dist: Option<PathBuf>,
    /// What its accept loop counted.
    pub accepts: Arc<AcceptStats>,
    /// In classroom mode: the teacher's token and link, and the URLs students type.
    pub classroom: Option<classroom::Classroom>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Stops every model (closing their ports) and the HTTP server.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || registry.stop_all()).await?;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Connections finish their request and viewers close with 1001; give them a moment,
        // then stop.
        match tokio::time::timeout(Duration::from_secs(2), &mut self.task).await {
            Ok(r) => r??,
            Err(_) => self.task.abort(),
        }
        Ok(())
    }
}

#[derive(Clone)]
struct AppState {
    registry: Registry,
    recorder: Recorder,
    /// The lesson's computation ([`Command::Compute`]).
    lesson: Lesson,
    /// The experiment running, if any ([`Command::ExperimentRun`]).
    experiments: Experiments,
    /// The load generator ([`Command::LoadStart`]): one load at a time on the whole server.
    loads: Loads,
    hosts: Arc<Vec<String>>,
    origins: Arc<Vec<String>>,
    /// Seats, echo connections, starts and stops: the server-wide side of [`Limits`].
    gates: limits::Gates,
    /// Turns true when the server shuts down: every viewer closes with 1001.
    going_away: watch::Receiver<bool>,
    /// The teacher's token in classroom mode; `None`: everyone is a teacher.
    token: Option<classroom::TeacherToken>,
    /// What the teacher shows while "follow me" is on
    /// ([`kettle_shared::Command::FollowMe`]); every viewer watches it.
    follow: Arc<tokio::sync::watch::Sender<Option<kettle_shared::TeacherView>>>,
    /// The class's vote on a tour question ([`votes`]).
    ballots: votes::Ballots,
}

/// Binds, starts the requested models and serves until [`Server::shutdown`].
pub async fn serve(config: Config) -> anyhow::Result<Server> {
    let recorder = Recorder::start();
    let options = ModelOptions {
        pool_workers: config.pool_workers,
        child_exe: config.child_exe.clone(),
        ..ModelOptions::default()
    };
    if !config.bind.is_loopback() && !config.classroom {
        anyhow::bail!(
            "--bind {} would let anyone who can reach this machine start and stop its models; \
             add --classroom (students then only watch and echo; the teacher gets a token) \
             or keep the default --bind 127.0.0.1",
            config.bind
        );
    }
    let mut registry = Registry::with_options(recorder.clone(), config.model_port_base, options);
    if let Some(program) = config.trace.clone() {
        registry = registry.with_traced_stopping_at(config.trace_stops, program);
    }
    let listener = tokio::net::TcpListener::bind((config.bind, config.port)).await?;
    let addr = listener.local_addr()?;
    let mut hosts = allowed_hosts(addr);
    let mut names = config.allow_hosts.clone();
    let mut classroom = None;
    if config.classroom {
        let own = classroom::own_names();
        let lan = classroom::lan_addresses();
        let ips: Vec<IpAddr> = lan.iter().map(|a| a.ip).collect();
        hosts.extend(classroom::hosts_for(&own, &ips, addr.port()));
        let token = classroom::TeacherToken::generate()?;
        classroom = Some(classroom::Classroom {
            student_urls: classroom::student_urls(config.bind, addr.port(), &own, &lan),
            teacher_link: classroom::teacher_link(config.bind, addr.port(), &token),
            token,
        });
        names.retain(|n| !own.contains(n));
    }
    hosts.extend(classroom::hosts_for(&names, &[], addr.port()));
    let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}")).collect();
    origins.extend(config.allow_origins.iter().map(|o| o.trim_end_matches('/').to_owned()));

    for id in start_list(&config.start)? {
        registry.start(&id).map_err(|e| anyhow::anyhow!("cannot start {id}: {e}"))?;
    }
    if let Some(traced) = registry.traced() {
        if let Err(e) = traced.start() {
            let why = crate::trace::program::for_people(&e.reason());
            // Nothing is left running: the built-in models started above are stopped.
            let stopping = registry.clone();
            tokio::task::spawn_blocking(move || stopping.stop_all()).await?;
            anyhow::bail!("cannot trace {}: {why}", traced.command_line());
        }
    }

    let dist = find_dist(config.dist.as_deref());
    let (going_away, going_away_rx) = watch::channel(false);
    let header_timeout = config.limits.header_timeout;
    let state = AppState {
        gates: limits::Gates::new(config.limits),
        going_away: going_away_rx,
        lesson: Lesson::new(recorder.clone()),
        experiments: Experiments::new(),
        loads: Loads::new(),
        registry: registry.clone(),
        recorder,
        hosts: Arc::new(hosts),
        origins: Arc::new(origins),
        token: classroom.as_ref().map(|c| c.token.clone()),
        follow: Arc::new(tokio::sync::watch::Sender::new(None)),
        ballots: votes::Ballots::new(),
    };
    let app = router(state, dist.as_deref());
    let (shutdown, rx) = oneshot::channel::<()>();
    let accepts = Arc::new(AcceptStats::default());
    let task =
        tokio::spawn(http::serve(listener, app, header_timeout, accepts.clone(), going_away, rx));
    Ok(Server { addr, registry, dist, accepts, classroom, shutdown: Some(shutdown), task })
}

/// Expands `--start`: model ids, or `all`. Unknown ids are an error, not ignored.
fn start_list(requested: &[String]) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for r in requested {
        if r == "all" {
            ids.extend(MODELS.iter().map(|m| m.id.to_owned()));
        } else if kettle_shared::model(r).is_some() {
            ids.push(r.clone());
        } else {
            let known: Vec<_> = MODELS.iter().map(|m| m.id).collect();
            anyhow::bail!("--start {r}: no such model (known: {}, or all)", known.join(", "));
        }
    }
    Ok(ids)
}

/// Where the built frontend is: `explicit`, `$KETTLE_DIST`, `./dist`, next to the binary's
/// workspace (`target/release/kettle` → `dist/`), or the source tree's `dist/`.
/// An explicit directory that holds no `index.html` is not second-guessed: `None`, so the
/// page says the frontend is missing instead of silently serving another build.
pub fn find_dist(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        let built = dir.join("index.html").is_file();
        return if built { dir.canonicalize().ok() } else { None };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    candidates.extend(std::env::var_os("KETTLE_DIST").map(PathBuf::from));
    candidates.push(PathBuf::from("dist"));
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).take(4).map(|d| d.join("dist")));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist"));
    candidates
        .into_iter()
        .find(|d| d.join("index.html").is_file())
        .and_then(|d| d.canonicalize().ok())
}

fn router(state: AppState, dist: Option<&Path>) -> Router {
    let api = Router::new()
        .route("/api/models", get(list_models))
        .route("/api/host", get(api::host))
        .route("/api/models/{id}/start", post(start_model))
        .route("/api/models/{id}/stop", post(stop_model))
        .route("/api/excerpts", get(excerpts::list_excerpts))
        .route("/api/excerpts/{file}/{name}", get(excerpts::get_excerpt))
        .route("/ws", get(websocket));
    let app = match dist {
        Some(dist) => api.fallback_service(assets::service(dist)),
        None => api.fallback(frontend_missing),
    };
    app.layer(middleware::from_fn_with_state(state.clone(), guard)).with_state(state)
}

async fn frontend_missing() -> Response {
    let page = "<!doctype html><meta charset=utf-8><title>Kettle: frontend not built</title>\
        <h1>Kettle's frontend has not been built</h1>\
        <p>The backend is running, but it found no <code>dist/index.html</code>.</p>\
        <p>Build and run everything with <code>cargo xtask run</code>, or build the frontend with \
        <code>trunk build --release</code> and restart, or point <code>--dist</code> at it.</p>";
    (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_list_expands_all_and_rejects_unknown_ids() {
        assert_eq!(start_list(&["all".into()]).unwrap().len(), MODELS.len());
        assert_eq!(start_list(&["blocking".into()]).unwrap(), vec!["blocking".to_owned()]);
        let err = start_list(&["nope".into()]).unwrap_err().to_string();
        assert!(err.contains("no such model"), "{err}");
    }
}
