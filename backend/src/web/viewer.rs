//! One browser tab on `/ws`: the hello and the recent history, then every batch, aggregate,
//! model change, load report and experiment table it subscribed to, interleaved with the
//! replies to its commands. A batch is encoded once per viewer straight from the shared
//! events; a viewer too slow to take its messages is disconnected rather than buffered.
//!
//! The loop itself never waits for a command: starts, stops, echo opens and sends run in tasks
//! of their own and answer through the viewer's queue, so a stop that takes seconds (io_uring
//! draining its ring) or a connect stuck behind a full listen backlog leaves the stream
//! flowing. Each command first passes the viewer's [`CommandGate`] (its rate, its commands in
//! flight); a viewer beyond the server's seats is told so and closed with 1013 ("try again
//! later").

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use kettle_shared::{
    Aggregate, ClientMsg, Clock, Command, ErrorCode, Event, ExperimentTable, Reason, ReplyResult,
    Role, ServerMsg, TeacherView, LESSON_MODEL, MAX_COMMAND_BYTES, MAX_SAMPLED_CONNS, MODELS,
    PROTOCOL_VERSION,
};
use tokio::sync::{broadcast, mpsc, watch, OwnedSemaphorePermit};

use super::limits::CommandGate;
use super::{classroom, roles, AppState};
use crate::clock::clock;
use crate::recorder::{Batch, Position, Watcher};
use crate::registry::{Registry, RegistryError};
use crate::relay::{EchoClients, EchoSlots};

/// WebSocket write buffer: beyond this a send fails instead of queueing more.
const WS_MAX_WRITE_BUFFER: usize = 1024 * 1024;
/// A viewer whose socket accepts nothing for this long is disconnected.
const WS_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the close frame may take. Short: a viewer dropped for not reading will not read
/// it either, and waiting the whole send timeout again only held its task and buffers longer
/// (measured by `kettle soak`: dropped 22 s after it stopped reading, 13 s with this).
const WS_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Replies and echoes waiting for one viewer.
const VIEWER_QUEUE: usize = 256;

/// `/ws?token=…`: the teacher's page brings the token it was opened with.
#[derive(Debug, serde::Deserialize)]
pub(super) struct WsQuery {
    token: Option<String>,
}

pub(super) async fn websocket(
    State(state): State<AppState>,
    _headers: HeaderMap,
    Query(query): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    // The role is decided once, here, for the viewer's whole life.
    let (role, refused) = classroom::role_of(state.token.as_ref(), query.token.as_deref());
    // Taken before the upgrade, so a crowd arriving at once cannot overshoot the seats.
    let seat = state.gates.seat();
    ws.max_message_size(MAX_COMMAND_BYTES)
        .max_frame_size(MAX_COMMAND_BYTES)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| async move {
            match seat {
                Ok(seat) => Viewer::new(state, seat, role, refused).run(socket).await,
                Err(reason) => turn_away(socket, reason).await,
            }
        })
}

/// Every seat is taken: say why, then close with 1013 (try again later).
async fn turn_away(mut socket: WebSocket, reason: Reason) {
    let _ = send(&mut socket, &error(None, ErrorCode::Limit, reason)).await;
    let frame = CloseFrame { code: 1013, reason: "too many viewers".into() };
    let _ = tokio::time::timeout(WS_SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

/// One browser tab connected to `/ws`.
struct Viewer {
    state: AppState,
    /// `None`: every model.
    subscription: Option<Vec<String>>,
    /// Where this viewer is in the batch stream: which seqs it has had (the history included)
    /// and how many it lost, counted from the holes.
    position: Position,
    /// Replies and echoes; the sending side is `out` (and the relay's tasks).
    out_rx: mpsc::Receiver<ServerMsg>,
    /// Where a command running beside the loop puts its answer.
    out: mpsc::Sender<ServerMsg>,
    echo: EchoClients,
    /// This viewer's command rate and commands in flight.
    gate: CommandGate,
    /// True once the server shuts down.
    going_away: watch::Receiver<bool>,
    /// Its place among the server's viewers, given back when it leaves.
    _seat: OwnedSemaphorePermit,
    /// Whose aggregates it receives and which connections it spotlit, told to the recorder.
    watcher: Watcher,
    /// Teacher or student, decided when the WebSocket opened.
    role: Role,
    /// It brought a teacher token that is not this server's (told after the hello).
    token_refused: bool,
    /// "Follow me": what the teacher shows, relayed to this viewer on every change.
    follow: watch::Receiver<Option<TeacherView>>,
    /// The class's vote changed (a counter; the vote itself is read from `state.ballots`).
    ballots: watch::Receiver<u64>,
    /// This viewer's anonymous number among the voters.
    voter: u64,
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
    fn new(state: AppState, seat: OwnedSemaphorePermit, role: Role, token_refused: bool) -> Viewer {
        let (out, out_rx) = mpsc::channel(VIEWER_QUEUE);
        let limits = &state.gates.limits;
        let slots = EchoSlots {
            per_viewer: Arc::new(tokio::sync::Semaphore::new(limits.echo_clients_per_viewer)),
            per_viewer_max: limits.echo_clients_per_viewer,
            total: state.gates.echo_total.clone(),
            total_max: limits.echo_clients_total,
        };
        let echo =
            EchoClients::new(state.registry.clone(), state.recorder.clone(), slots, out.clone());
        let watcher = state.recorder.watcher();
        let follow = state.follow.subscribe();
        let ballots = state.ballots.subscribe();
        let voter = state.ballots.voter();
        Viewer {
            gate: state.gates.commands(),
            going_away: state.going_away.clone(),
            state,
            subscription: None,
            position: Position::after(0),
            out_rx,
            out,
            echo,
            watcher,
            _seat: seat,
            role,
            token_refused,
            follow,
            ballots,
            voter,
        }
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
            role: self.role,
            classroom: self.state.token.is_some(),
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
            let _ =
                tokio::time::timeout(WS_CLOSE_TIMEOUT, socket.send(Message::Close(Some(frame))))
                    .await;
        }
    }

    /// Hello, then the recent history as a first batch (subscribe to batches before calling).
    async fn greet(&mut self, socket: &mut WebSocket, hello: &ServerMsg) -> Result<(), End> {
        send(socket, hello).await?;
        if self.token_refused {
            send(socket, &error(None, ErrorCode::Forbidden, Reason::TokenRefused)).await?;
        }
        // A student who comes late follows the teacher at once.
        let following = self.follow.borrow_and_update().clone();
        if following.is_some() {
            send(socket, &ServerMsg::Follow { view: following }).await?;
        }
        // A late student can still vote on the question being asked.
        self.ballots.borrow_and_update();
        if let Some(ballot) = self.state.ballots.ballot_for(self.role) {
            send(socket, &ServerMsg::Ballot { ballot: Some(ballot) }).await?;
        }
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
        let mut going_away = self.going_away.clone();
        loop {
            let outgoing = tokio::select! {
                incoming = socket.recv() => match incoming {
                    None => return End::Closed,
                    Some(Err(e)) => return read_error(e),
                    Some(Ok(Message::Text(text))) => self.command(text.as_str()).map(|m| Outgoing::Msg(Box::new(m))),
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
                changed = self.follow.changed() => match changed {
                    // Only the newest view matters: one skipped while we were busy is gone.
                    Ok(()) => Some(Outgoing::Msg(Box::new(ServerMsg::Follow { view: self.follow.borrow_and_update().clone() }))),
                    Err(_) => return End::Close(1001, "server shutting down"),
                },
                changed = self.ballots.changed() => match changed {
                    // Only the newest vote matters: changes while we were busy are summed up.
                    Ok(()) => {
                        self.ballots.borrow_and_update();
                        Some(Outgoing::Msg(Box::new(ServerMsg::Ballot { ballot: self.state.ballots.ballot_for(self.role) })))
                    }
                    Err(_) => return End::Close(1001, "server shutting down"),
                },
                Some(msg) = self.out_rx.recv() => Some(Outgoing::Msg(Box::new(msg))),
                _ = going_away.wait_for(|gone| *gone) => return End::Close(1001, "server shutting down"),
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

    /// Parses and carries out one command, or starts it beside the loop. Every failure is an
    /// `Error` reply; nothing else happens for a bad or refused command. `None`: the answer
    /// will come through the viewer's queue.
    fn command(&mut self, text: &str) -> Option<ServerMsg> {
        // Counted before parsing: a flood of garbage costs its sender the same.
        if let Err((code, reason)) = self.gate.admit() {
            return Some(error(command_id(text), code, reason));
        }
        let msg: ClientMsg = match serde_json::from_str(text) {
            Ok(msg) => msg,
            Err(e) => return Some(parse_error(text, e)),
        };
        let id = msg.id;
        if let Err(reason) = roles::allowed(self.role, &msg.command) {
            return Some(error(Some(id), ErrorCode::Forbidden, reason));
        }
        // `Ok(None)`: started beside the loop, it answers through the queue.
        let result: Result<Option<ReplyResult>, (ErrorCode, Reason)> = match msg.command {
            Command::Subscribe { models, aggregates } => {
                self.subscribe(models, aggregates).map(Some)
            }
            Command::Spotlight { model, sample } => self.spotlight(&model, sample).map(Some),
            Command::LoadStart { spec } => self
                .state
                .loads
                .start(&self.state.registry, spec.clone())
                .map(|()| Some(ReplyResult::LoadStarted { spec })),
            Command::LoadStop => self.state.loads.stop().map(|()| Some(ReplyResult::LoadStopped)),
            Command::ExperimentRun { name, short } => self
                .state
                .experiments
                .start(&name, short)
                .map(|()| Some(ReplyResult::ExperimentStarted { name, short })),
            Command::Start { model } => self.lifecycle(id, move |r| r.start(&model)).map(|()| None),
            Command::Stop { model } => self.lifecycle(id, move |r| r.stop(&model)).map(|()| None),
            Command::EchoOpen { model, port } => self.gate.in_flight().map(|slot| {
                let open = self.echo.relay().open(id, model, port);
                tokio::spawn(async move {
                    open.await;
                    drop(slot);
                });
                None
            }),
            Command::EchoSend { client, text } => self
                .gate
                .in_flight()
                .and_then(|slot| self.echo.send(id, client, text, slot))
                .map(|()| None),
            Command::EchoClose { client } => {
                self.echo.close(client).map(|()| Some(ReplyResult::EchoClosed { client }))
            }
            Command::Compute { ms } => self
                .state
                .lesson
                .compute(ms)
                .map(|thread| Some(ReplyResult::Computing { thread, ms })),
            Command::FollowMe { view } => self.follow_me(view).map(Some),
            Command::Ask { question } => self.state.ballots.ask(question).map(Some),
            Command::Vote { question, choice } => {
                self.state.ballots.vote(self.voter, &question, choice).map(Some)
            }
            Command::Reveal { question, conn, after_seq } => {
                let recorder = &self.state.recorder;
                self.state
                    .ballots
                    .reveal(&question, |q| {
                        // The backend's own record: the events every viewer was sent.
                        let (events, _) = recorder.history();
                        let model = q.model.id();
                        let events: Vec<Event> =
                            events.into_iter().filter(|e| e.model == model).collect();
                        kettle_shared::judge(q, &events, conn, after_seq)
                    })
                    .map(Some)
            }
        };
        match result {
            Ok(result) => result.map(|result| ServerMsg::Reply { id, result }),
            Err((code, reason)) => Some(error(Some(id), code, reason)),
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
            if let Some(bad) = ids.iter().find(|id| self.state.registry.known(id).is_none()) {
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
        let Some(id) = self.state.registry.known(model) else {
            return Err((ErrorCode::UnknownModel, Reason::NoSuchModel { model: model.to_owned() }));
        };
        if sample > MAX_SAMPLED_CONNS {
            let field = "sample".to_owned();
            let (value, max) = (sample as u64, MAX_SAMPLED_CONNS as u64);
            return Err((ErrorCode::Limit, Reason::OutOfRange { field, value, min: 0, max }));
        }
        self.watcher.spotlight(id, sample);
        Ok(ReplyResult::Spotlit { model: id.to_owned(), sample })
    }

    /// The teacher leads (or stops leading) the class: every viewer is told, once per change.
    fn follow_me(&self, view: Option<TeacherView>) -> Result<ReplyResult, (ErrorCode, Reason)> {
        if let Some(model) = view.as_ref().and_then(|v| v.model.as_ref()) {
            if self.state.registry.known(model).is_none() {
                return Err((
                    ErrorCode::UnknownModel,
                    Reason::NoSuchModel { model: model.clone() },
                ));
            }
        }
        let on = view.is_some();
        self.state.follow.send_if_modified(|now| {
            let changed = *now != view;
            *now = view;
            changed
        });
        Ok(ReplyResult::FollowMe { on })
    }

    /// A start or stop, beside the loop: it waits for a turn among the server's starts and
    /// stops, runs on a blocking thread (a stop joins the model's threads) and answers through
    /// the viewer's queue.
    fn lifecycle<F>(&self, id: u64, f: F) -> Result<(), (ErrorCode, Reason)>
    where
        F: FnOnce(&Registry) -> Result<kettle_shared::ModelInfo, RegistryError> + Send + 'static,
    {
        let slot = self.gate.in_flight()?;
        let (gates, registry, out) =
            (self.state.gates.clone(), self.state.registry.clone(), self.out.clone());
        tokio::spawn(async move {
            let result = match gates.lifecycle_turn().await {
                Err(refusal) => Err(refusal),
                Ok(turn) => match tokio::task::spawn_blocking(move || {
                    let _turn = turn;
                    f(&registry)
                })
                .await
                {
                    Ok(Ok(model)) => Ok(ReplyResult::Model { model }),
                    Ok(Err(e)) => Err((e.code(), e.reason())),
                    // The panic hook printed the message on the backend's terminal.
                    Err(_) => Err((ErrorCode::Io, Reason::Panicked { thread: "registry".into() })),
                },
            };
            let msg = match result {
                Ok(result) => ServerMsg::Reply { id, result },
                Err((code, reason)) => error(Some(id), code, reason),
            };
            let _ = out.send(msg).await;
            drop(slot);
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

/// The `id` of a command refused before it was parsed, if it has one.
fn command_id(text: &str) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("id")?.as_u64()
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

/// A read error: an over-long message gets close code 1009, a text frame that is not UTF-8
/// 1007 (RFC 6455 §7.4.1: data inconsistent with the message's type), anything else just ends.
fn read_error(e: axum::Error) -> End {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e.into_inner().downcast_ref::<WsError>() {
        Some(WsError::Capacity(_)) => End::Close(1009, "message too big"),
        Some(WsError::Utf8(_)) => End::Close(1007, "text frame is not UTF-8"),
        _ => End::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
