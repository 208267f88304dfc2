//! The HTTP front: the built frontend, the JSON API and the event WebSocket.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/models` | every model (`kettle_shared::ModelInfo`) |
//! | `POST /api/models/{id}/start`, `/stop` | start or stop one; 404 for an unknown id |
//! | `GET /ws` | the viewer WebSocket (protocol in `kettle_shared`) |
//! | anything else | the frontend from `dist/` (`index.html` for unknown paths) |
//!
//! Every request passes [`guard`]: the `Host` header must name this server (a DNS-rebinding
//! page cannot talk to it under another name) and an `Origin`, when a browser sends one, must be
//! this server or one given with `--allow-origin` (another site cannot drive it).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kettle_shared::{
    Aggregate, ClientMsg, Clock, Command, ErrorCode, Event, ExperimentTable, Reason, ReplyResult,
    ServerMsg, LESSON_MODEL, MAX_COMMAND_BYTES, MAX_SAMPLED_CONNS, MODELS, PROTOCOL_VERSION,
};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tower_http::services::{ServeDir, ServeFile};

use crate::clock::clock;
use crate::lesson::Lesson;
use crate::load::Loads;
use crate::models::ModelOptions;
use crate::recorder::{Batch, Position, Recorder, Watcher};
use crate::registry::{Registry, RegistryError};
use crate::relay::EchoClients;

/// WebSocket write buffer: beyond this a send fails instead of queueing more.
const WS_MAX_WRITE_BUFFER: usize = 1024 * 1024;
/// A viewer whose socket accepts nothing for this long is disconnected.
const WS_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Replies and echoes waiting for one viewer.
const VIEWER_QUEUE: usize = 256;

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
        // Open WebSockets keep graceful shutdown waiting; give them a moment, then stop.
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
}

/// Binds, starts the requested models and serves until [`Server::shutdown`].
pub async fn serve(config: Config) -> anyhow::Result<Server> {
    let recorder = Recorder::start();
    let options = ModelOptions {
        pool_workers: config.pool_workers,
        child_exe: config.child_exe.clone(),
        ..ModelOptions::default()
    };
    let registry = Registry::with_options(recorder.clone(), config.model_port_base, options);
    let listener = tokio::net::TcpListener::bind((config.bind, config.port)).await?;
    let addr = listener.local_addr()?;
    let hosts = allowed_hosts(addr);
    let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}")).collect();
    origins.extend(config.allow_origins.iter().map(|o| o.trim_end_matches('/').to_owned()));

    for id in start_list(&config.start)? {
        registry.start(&id).map_err(|e| anyhow::anyhow!("cannot start {id}: {e}"))?;
    }

    let dist = find_dist(config.dist.as_deref());
    let state = AppState {
        lesson: Lesson::new(recorder.clone()),
        experiments: Experiments::new(),
        loads: Loads::new(),
        registry: registry.clone(),
        recorder,
        hosts: Arc::new(hosts),
        origins: Arc::new(origins),
    };
    let app = router(state, dist.as_deref());
    let (shutdown, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(Server { addr, registry, dist, shutdown: Some(shutdown), task })
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

/// The `Host` values that name this server.
fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut hosts =
        vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
    let own = match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    };
    if !hosts.contains(&own) && !addr.ip().is_unspecified() {
        hosts.push(own);
    }
    hosts
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
        .route("/api/models/{id}/start", post(start_model))
        .route("/api/models/{id}/stop", post(stop_model))
        .route("/ws", get(websocket));
    let app = match dist {
        Some(dist) => api.fallback_service(
            ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html"))),
        ),
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

/// Rejects requests whose `Host` is not this server, and browser requests from other origins.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !state.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return forbidden(Reason::HostNotAllowed { host: host.to_owned() });
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let sensitive = request.method() != Method::GET || request.uri().path() == "/ws";
        if sensitive && !state.origins.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
            return forbidden(Reason::OriginNotAllowed { origin: origin.to_owned() });
        }
    }
    next.run(request).await
}

fn forbidden(reason: Reason) -> Response {
    (StatusCode::FORBIDDEN, Json(error_body(ErrorCode::BadRequest, reason))).into_response()
}

/// The body of an HTTP error: `{"error": {"code": …, "reason": {"code": …, …}}}`, the same
/// code and reason a WebSocket `error` carries.
fn error_body(code: ErrorCode, reason: Reason) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "reason": reason } })
}

fn registry_error(e: RegistryError) -> Response {
    let status = match e {
        RegistryError::UnknownModel(_) => StatusCode::NOT_FOUND,
        RegistryError::Unavailable(_) | RegistryError::Io(_) => StatusCode::CONFLICT,
    };
    (status, Json(error_body(e.code(), e.reason()))).into_response()
}

async fn list_models(State(state): State<AppState>) -> Response {
    Json(state.registry.list()).into_response()
}

async fn start_model(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> Response {
    lifecycle(state.registry, move |r| r.start(&id)).await
}

async fn stop_model(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> Response {
    lifecycle(state.registry, move |r| r.stop(&id)).await
}

/// Runs a start or stop off the async workers (a stop joins threads) and answers with the
/// model's new state.
async fn lifecycle<F>(registry: Registry, f: F) -> Response
where
    F: FnOnce(&Registry) -> Result<kettle_shared::ModelInfo, RegistryError> + Send + 'static,
{
    match tokio::task::spawn_blocking(move || f(&registry)).await {
        Ok(Ok(info)) => Json(info).into_response(),
        Ok(Err(e)) => registry_error(e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn websocket(
    State(state): State<AppState>,
    _headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(MAX_COMMAND_BYTES)
        .max_frame_size(MAX_COMMAND_BYTES)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| Viewer::new(state).run(socket))
}

/// One browser tab connected to `/ws`.
struct Viewer {
    state: AppState,
    /// `None`: every model.
    subscription: Option<Vec<String>>,
    /// Where this viewer is in the batch stream: which seqs it has had (the history included)
    /// and how many it lost, counted from the holes.
    position: Position,
    /// Replies and echoes; the sending side lives in `echo`.
    out_rx: mpsc::Receiver<ServerMsg>,
    echo: EchoClients,
    /// Whose aggregates it receives and which connections it spotlit, told to the recorder.
    watcher: Watcher,
}

/// What goes out next: a message, or a batch already encoded from the shared events (no
/// copy of them per viewer).
enum Outgoing {
    Msg(Box<ServerMsg>),
    Text(String),
}

/// [`ServerMsg::Batch`] written from borrowed events: the same JSON.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename = "batch")]
struct BatchOut<'a> {
    events: Vec<&'a Event>,
    dropped: u64,
}

/// Why a viewer's loop ended.
enum End {
    Closed,
    Close(u16, &'static str),
}

impl Viewer {
    fn new(state: AppState) -> Viewer {
        let (out_tx, out_rx) = mpsc::channel(VIEWER_QUEUE);
        let echo = EchoClients::new(state.registry.clone(), state.recorder.clone(), out_tx);
        let watcher = state.recorder.watcher();
        Viewer { state, subscription: None, position: Position::after(0), out_rx, echo, watcher }
    }

    async fn run(mut self, mut socket: WebSocket) {
        let mut batches = self.state.recorder.subscribe();
        let mut aggregates = self.state.recorder.subscribe_aggregates();
        let mut changes = self.state.registry.changes();
        let mut tables = self.state.experiments.tables.subscribe();
        let mut loads = self.state.loads.subscribe();
        let hello = ServerMsg::Hello {
            protocol_version: PROTOCOL_VERSION,
            models: self.state.registry.list(),
            clock: Clock { start_unix_ms: clock().start_unix_ms(), now_ns: clock().now_ns() },
        };
        let end = match self.greet(&mut socket, &hello).await {
            Ok(()) => {
                self.serve(
                    &mut socket,
                    &mut batches,
                    &mut aggregates,
                    &mut changes,
                    &mut loads,
                    &mut tables,
                )
                .await
            }
            Err(end) => end,
        };
        if let End::Close(code, reason) = end {
            let frame = CloseFrame { code, reason: reason.into() };
            let _ = tokio::time::timeout(WS_SEND_TIMEOUT, socket.send(Message::Close(Some(frame))))
                .await;
        }
    }

    /// Hello, then the recent history as a first batch (subscribe to batches before calling).
    async fn greet(&mut self, socket: &mut WebSocket, hello: &ServerMsg) -> Result<(), End> {
        send(socket, hello).await?;
        // The experiment running or last run, so a page opened meanwhile shows it too.
        if let Some(table) = self.state.experiments.last() {
            send(socket, &ServerMsg::Experiment { table }).await?;
        }
        let (history, through) = self.state.recorder.history();
        // Losses are counted from here: what happened before this viewer came is not its loss.
        self.position = Position::after(through);
        if history.is_empty() {
            return Ok(());
        }
        send(socket, &ServerMsg::Batch { events: history, dropped: 0 }).await
    }

    async fn serve(
        &mut self,
        socket: &mut WebSocket,
        batches: &mut broadcast::Receiver<Arc<Batch>>,
        aggregates: &mut broadcast::Receiver<Arc<[Aggregate]>>,
        changes: &mut broadcast::Receiver<kettle_shared::ModelInfo>,
        loads: &mut broadcast::Receiver<kettle_shared::LoadReport>,
        tables: &mut broadcast::Receiver<ExperimentTable>,
    ) -> End {
        loop {
            let outgoing = tokio::select! {
                incoming = socket.recv() => match incoming {
                    None => return End::Closed,
                    Some(Err(e)) => return read_error(e),
                    Some(Ok(Message::Text(text))) => Some(Outgoing::Msg(Box::new(self.command(text.as_str()).await))),
                    Some(Ok(Message::Binary(_))) => Some(Outgoing::Msg(Box::new(error(None, ErrorCode::BadRequest, Reason::BinaryFrame)))),
                    Some(Ok(Message::Close(_))) => return End::Closed,
                    Some(Ok(_)) => None,
                },
                batch = batches.recv() => match batch {
                    Ok(batch) => match self.filter(&batch) {
                        Ok(text) => text.map(Outgoing::Text),
                        Err(end) => return end,
                    },
                    // Whole batches were overwritten before we read them. Nothing to count here:
                    // their seqs are a hole that the next batch we read reveals, exactly.
                    Err(broadcast::error::RecvError::Lagged(_)) => None,
                    Err(broadcast::error::RecvError::Closed) => return End::Close(1001, "server shutting down"),
                },
                cut = aggregates.recv() => match cut {
                    Ok(cut) => self.aggregates(&cut).map(|m| Outgoing::Msg(Box::new(m))),
                    // Counts of an interval this viewer was too slow for: the next ones come.
                    Err(broadcast::error::RecvError::Lagged(_)) => None,
                    Err(broadcast::error::RecvError::Closed) => return End::Close(1001, "server shutting down"),
                },
                change = changes.recv() => match change {
                    Ok(model) => Some(Outgoing::Msg(Box::new(ServerMsg::Model { model }))),
                    Err(broadcast::error::RecvError::Lagged(_)) => None,
                    Err(broadcast::error::RecvError::Closed) => return End::Close(1001, "server shutting down"),
                },
                table = tables.recv() => match table {
                    Ok(table) => Some(Outgoing::Msg(Box::new(ServerMsg::Experiment { table }))),
                    // Each table holds every row so far: the next one makes up for those skipped.
                    Err(broadcast::error::RecvError::Lagged(_)) => None,
                    Err(broadcast::error::RecvError::Closed) => return End::Close(1001, "server shutting down"),
                },
                report = loads.recv() => match report {
                    Ok(report) => Some(Outgoing::Msg(Box::new(ServerMsg::Load { report }))),
                    // Each report is the whole picture so far: a skipped one loses nothing.
                    Err(broadcast::error::RecvError::Lagged(_)) => None,
                    Err(broadcast::error::RecvError::Closed) => return End::Close(1001, "server shutting down"),
                },
                Some(msg) = self.out_rx.recv() => Some(Outgoing::Msg(Box::new(msg))),
            };
            let sent = match outgoing {
                None => Ok(()),
                Some(Outgoing::Msg(msg)) => send(socket, &msg).await,
                Some(Outgoing::Text(text)) => send_text(socket, text).await,
            };
            if let Err(end) = sent {
                return end;
            }
        }
    }

    /// The part of a batch this viewer subscribed to, with what it lost since the last one:
    /// the holes in the seqs of the whole batch stream, counted before the subscription
    /// filter (a lost event's model is unknown). The lesson's computation is not a model one
    /// can subscribe to: its events go to every viewer.
    fn filter(&mut self, batch: &Batch) -> Result<Option<String>, End> {
        let (fresh, dropped) = self.position.take(batch);
        let wanted = |model: &String| {
            model == LESSON_MODEL
                || self.subscription.as_ref().is_none_or(|ids| ids.contains(model))
        };
        let events: Vec<&Event> = fresh.iter().filter(|e| wanted(&e.model)).collect();
        if events.is_empty() && dropped == 0 {
            return Ok(None);
        }
        let text = serde_json::to_string(&BatchOut { events, dropped })
            .map_err(|_| End::Close(1011, "cannot encode"))?;
        Ok(Some(text))
    }

    /// The aggregates of one cut that this viewer subscribed to.
    fn aggregates(&self, cut: &[Aggregate]) -> Option<ServerMsg> {
        let aggregates: Vec<Aggregate> =
            cut.iter().filter(|a| self.watcher.wants_aggregates_of(&a.model)).cloned().collect();
        (!aggregates.is_empty()).then_some(ServerMsg::Aggregates { aggregates })
    }

    /// Parses and carries out one command. Every failure is an `Error` reply; nothing else
    /// happens for a bad command.
    async fn command(&mut self, text: &str) -> ServerMsg {
        let msg: ClientMsg = match serde_json::from_str(text) {
            Ok(msg) => msg,
            Err(e) => return parse_error(text, e),
        };
        let id = msg.id;
        let result = match msg.command {
            Command::Subscribe { models, aggregates } => self.subscribe(models, aggregates),
            Command::Spotlight { model, sample } => self.spotlight(&model, sample),
            Command::LoadStart { spec } => self
                .state
                .loads
                .start(&self.state.registry, spec.clone())
                .map(|()| ReplyResult::LoadStarted { spec }),
            Command::LoadStop => self.state.loads.stop().map(|()| ReplyResult::LoadStopped),
            Command::ExperimentRun { name, short } => self
                .state
                .experiments
                .start(&name, short)
                .map(|()| ReplyResult::ExperimentStarted { name, short }),
            Command::Start { model } => self.registry(move |r| r.start(&model)).await,
            Command::Stop { model } => self.registry(move |r| r.stop(&model)).await,
            Command::EchoOpen { model } => self
                .echo
                .open(&model)
                .await
                .map(|(client, local)| ReplyResult::EchoOpened { client, model, local }),
            Command::EchoSend { client, text } => self
                .echo
                .send(client, &text)
                .await
                .map(|bytes| ReplyResult::EchoSent { client, bytes }),
            Command::EchoClose { client } => {
                self.echo.close(client).map(|()| ReplyResult::EchoClosed { client })
            }
            Command::Compute { ms } => {
                self.state.lesson.compute(ms).map(|thread| ReplyResult::Computing { thread, ms })
            }
        };
        match result {
            Ok(result) => ServerMsg::Reply { id, result },
            Err((code, reason)) => error(Some(id), code, reason),
        }
    }

    /// Which models' steps and which models' aggregates this viewer receives. Every id is
    /// checked before anything changes.
    fn subscribe(
        &mut self,
        models: Option<Vec<String>>,
        aggregates: Option<Vec<String>>,
    ) -> Result<ReplyResult, (ErrorCode, Reason)> {
        for ids in [&models, &aggregates].into_iter().flatten() {
            if let Some(bad) = ids.iter().find(|id| kettle_shared::model(id).is_none()) {
                return Err((ErrorCode::UnknownModel, Reason::NoSuchModel { model: bad.clone() }));
            }
        }
        let listed =
            models.clone().unwrap_or_else(|| MODELS.iter().map(|m| m.id.to_owned()).collect());
        self.subscription = models;
        self.watcher.set_aggregates(aggregates.as_deref());
        Ok(ReplyResult::Subscribed { models: listed })
    }

    /// Follows `sample` of the model's connections in detail for this viewer.
    fn spotlight(&mut self, model: &str, sample: u32) -> Result<ReplyResult, (ErrorCode, Reason)> {
        let Some(descriptor) = kettle_shared::model(model) else {
            return Err((ErrorCode::UnknownModel, Reason::NoSuchModel { model: model.to_owned() }));
        };
        if sample > MAX_SAMPLED_CONNS {
            let field = "sample".to_owned();
            let (value, max) = (sample as u64, MAX_SAMPLED_CONNS as u64);
            return Err((ErrorCode::Limit, Reason::OutOfRange { field, value, min: 0, max }));
        }
        self.watcher.spotlight(descriptor.id, sample);
        Ok(ReplyResult::Spotlit { model: descriptor.id.to_owned(), sample })
    }

    async fn registry<F>(&self, f: F) -> Result<ReplyResult, (ErrorCode, Reason)>
    where
        F: FnOnce(&Registry) -> Result<kettle_shared::ModelInfo, RegistryError> + Send + 'static,
    {
        let registry = self.state.registry.clone();
        match tokio::task::spawn_blocking(move || f(&registry)).await {
            Ok(Ok(model)) => Ok(ReplyResult::Model { model }),
            Ok(Err(e)) => Err((e.code(), e.reason())),
            // The panic hook printed the message on the backend's terminal.
            Err(_) => Err((ErrorCode::Io, Reason::Panicked { thread: "registry".into() })),
        }
    }
}

/// The experiments of this server: one runs at a time, in a lab of its own (its own models on
/// ports of their own: the class's models are not touched), on a blocking thread; every
/// table it produces goes to every viewer.
#[derive(Clone)]
struct Experiments {
    /// The id of the one running.
    running: Arc<std::sync::Mutex<Option<String>>>,
    /// The latest table (of the one running, or the last one run).
    last: Arc<std::sync::Mutex<Option<ExperimentTable>>>,
    tables: broadcast::Sender<ExperimentTable>,
}

impl Experiments {
    fn new() -> Experiments {
        let (tables, _) = broadcast::channel(16);
        Experiments { running: Arc::default(), last: Arc::default(), tables }
    }

    fn last(&self) -> Option<ExperimentTable> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Starts experiment `name`, unless it does not exist or another one runs.
    fn start(&self, name: &str, short: bool) -> Result<(), (ErrorCode, Reason)> {
        if crate::experiments::find(name).is_none() {
            let known = crate::experiments::ids();
            return Err((
                ErrorCode::BadRequest,
                Reason::NoSuchExperiment { name: name.into(), known },
            ));
        }
        {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(other) = running.as_ref() {
                return Err((ErrorCode::Limit, Reason::ExperimentRunning { name: other.clone() }));
            }
            *running = Some(name.to_owned());
        }
        let this = self.clone();
        let name = name.to_owned();
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            // Cleared however the run ends (a panic included), so the next one can start.
            struct Done(Experiments);
            impl Drop for Done {
                fn drop(&mut self) {
                    *self.0.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
            }
            let done = Done(this);
            crate::experiments::run(&name, short, &handle, &mut |table| {
                *done.0.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(table.clone());
                if table.finished {
                    // A viewer told it finished may start the next one at once.
                    *done.0.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
                let _ = done.0.tables.send(table.clone());
            });
        });
        Ok(())
    }
}

fn error(id: Option<u64>, code: ErrorCode, reason: Reason) -> ServerMsg {
    ServerMsg::Error { id, code, reason }
}

/// A command that did not parse: say whether the op is unknown or the shape is wrong, and echo
/// its id when it had one.
fn parse_error(text: &str, e: serde_json::Error) -> ServerMsg {
    let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let id = value.as_ref().and_then(|v| v.get("id")).and_then(|v| v.as_u64());
    let op = value.as_ref().and_then(|v| v.get("op")).and_then(|v| v.as_str());
    match op {
        Some(op) if !KNOWN_OPS.contains(&op) => {
            let known = KNOWN_OPS.iter().map(|&k| k.to_owned()).collect();
            error(id, ErrorCode::UnknownOp, Reason::UnknownOp { op: op.to_owned(), known })
        }
        _ => error(id, ErrorCode::BadRequest, Reason::NotACommand { detail: e.to_string() }),
    }
}

/// The `op` values of [`Command`], for error messages.
const KNOWN_OPS: &[&str] = kettle_shared::COMMAND_OPS;

async fn send(socket: &mut WebSocket, msg: &ServerMsg) -> Result<(), End> {
    let text = serde_json::to_string(msg).map_err(|_| End::Close(1011, "cannot encode"))?;
    send_text(socket, text).await
}

async fn send_text(socket: &mut WebSocket, text: String) -> Result<(), End> {
    match tokio::time::timeout(WS_SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Closed),
        // The viewer stopped reading: drop it rather than let its buffers grow.
        Err(_) => Err(End::Close(1008, "viewer too slow")),
    }
}

/// A read error: an over-long message gets close code 1009, anything else just ends.
fn read_error(e: axum::Error) -> End {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e.into_inner().downcast_ref::<WsError>() {
        Some(WsError::Capacity(_)) => End::Close(1009, "message too big"),
        _ => End::Closed,
    }
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

    #[test]
    fn allowed_hosts_cover_loopback_names_and_the_bound_address() {
        let hosts = allowed_hosts("10.1.2.3:7878".parse().unwrap());
        for h in ["127.0.0.1:7878", "localhost:7878", "[::1]:7878", "10.1.2.3:7878"] {
            assert!(hosts.iter().any(|x| x == h), "{h} missing from {hosts:?}");
        }
        assert!(!allowed_hosts("0.0.0.0:1".parse().unwrap())
            .iter()
            .any(|h| h.starts_with("0.0.0.0")));
    }

    #[test]
    fn parse_errors_name_unknown_ops_and_keep_the_id() {
        match parse_error(
            r#"{"id":4,"op":"reboot"}"#,
            serde_json::from_str::<ClientMsg>("{").unwrap_err(),
        ) {
            ServerMsg::Error { id, code, .. } => {
                assert_eq!(id, Some(4));
                assert_eq!(code, ErrorCode::UnknownOp);
            }
            other => panic!("{other:?}"),
        }
    }
}
