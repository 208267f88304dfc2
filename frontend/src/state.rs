//! The page's whole state and the one place that changes it (a yew `Reducible`).
//!
//! Everything the WebSocket says and everything the user does becomes an [`Action`]; the
//! reducer is pure (no DOM, no sockets), so it is unit-tested natively. Sending commands is
//! the service's job: it reports each sent command back as [`Action::Sent`] so replies and
//! errors can be matched to what was asked.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use kettle_shared::{
    AsyncOp, Command, ErrorCode, Event, EventKind, LoadReport, LoadSpec, ModelInfo, Reason,
    ReplyResult, ServerMsg, PROTOCOL_VERSION,
};
use yew::Reducible;

use crate::compare::Comparison;
use crate::i18n::Lang;
use crate::playback::{Playback, Track};
use crate::store::ModelStore;
use crate::tour::{ClientView, Effect, Scene, Tour, World, STOPS};
use crate::view::View;

/// Most events kept for the event log (all models); older ones are trimmed (and counted).
/// The figures do not use it: each model has its own [`ModelStore`].
pub const MAX_EVENTS: usize = 2_000;
/// Most echo lines kept per client.
pub const MAX_REPLIES_PER_CLIENT: usize = 200;
/// Most errors shown at once; the oldest go first.
pub const MAX_ERRORS: usize = 20;
/// How many accepted peer addresses are remembered to match late-opened echo clients.
const MAX_ACCEPTED_PEERS: usize = 512;
/// Commands awaiting a reply; an answer the backend never sends must not grow memory.
const MAX_PENDING: usize = 64;

/// The event log's events (all models, thread samples left out), bounded.
///
/// Equality is by [`EventStore::revision`] only: components take the store as a prop, and
/// comparing a revision number is what lets the event log skip re-rendering on every
/// playback tick.
#[derive(Debug, Clone, Default)]
pub struct EventStore {
    events: VecDeque<Rc<Event>>,
    trimmed: u64,
    revision: u64,
}

impl PartialEq for EventStore {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision
    }
}

impl EventStore {
    fn push(&mut self, event: Rc<Event>) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
            self.trimmed += 1;
        }
        self.events.push_back(event);
        self.revision += 1;
    }

    /// Events, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Rc<Event>> {
        self.events.iter()
    }

    /// How many events are kept.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// How many events were trimmed locally to stay under [`MAX_EVENTS`].
    pub fn trimmed(&self) -> u64 {
        self.trimmed
    }

    /// Changes whenever an event is added.
    pub fn revision(&self) -> u64 {
        self.revision
    }
}

/// The page's WebSocket connection to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnStatus {
    /// The first attempt is under way.
    Connecting,
    /// Open.
    Connected,
    /// Closed; the next attempt comes after `delay_ms`.
    Reconnecting {
        /// Attempts so far.
        attempt: u32,
        /// Backoff before the next one.
        delay_ms: u32,
    },
}

impl ConnStatus {
    /// The machine-readable word (`data-status`).
    pub fn id(self) -> &'static str {
        match self {
            ConnStatus::Connecting => "connecting",
            ConnStatus::Connected => "connected",
            ConnStatus::Reconnecting { .. } => "reconnecting",
        }
    }
}

/// Why an echo client's connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedReason {
    /// The relay reported `client_closed` with this reason.
    Relay(Reason),
    /// This page asked for it.
    ByYou,
    /// The page's WebSocket to Kettle was lost, which ends every relay of this viewer.
    ConnectionLost,
}

/// One browser echo client (relayed by the backend to a model's TCP port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoClient {
    /// The backend's client id.
    pub id: u32,
    /// The model it is connected to.
    pub model: String,
    /// The relay's local address: the server sees it as the peer.
    pub local: String,
    /// The model's server returned from `accept` with this client as the peer (an
    /// `accept_exit`, or an io_uring accept completion), naming this connection.
    pub accepted: Option<u64>,
    /// The connection waits in the thread pool's queue (accepted, no worker yet).
    pub queued: bool,
    /// Set once the connection ended.
    pub closed: Option<ClosedReason>,
    /// Echoed text, one entry per `echo` message, as received.
    pub replies: Vec<String>,
}

/// What an echo client's status line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientStatus<'a> {
    /// Connected by the kernel, but the server has not called `accept` for it.
    WaitingInBacklog,
    /// Accepted, but waiting in the thread pool's queue for a free worker.
    Queued,
    /// The server accepted it.
    Accepted,
    /// The connection ended.
    Closed(&'a ClosedReason),
}

impl EchoClient {
    /// The status line's meaning.
    pub fn status(&self) -> ClientStatus<'_> {
        match (&self.closed, self.accepted, self.queued) {
            (Some(reason), _, _) => ClientStatus::Closed(reason),
            (None, Some(_), true) => ClientStatus::Queued,
            (None, Some(_), false) => ClientStatus::Accepted,
            (None, None, _) => ClientStatus::WaitingInBacklog,
        }
    }
}

/// A command sent and not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The command id.
    pub id: u64,
    /// What was asked.
    pub command: Command,
}

/// An error shown in `#errors` until dismissed. Kept as data, not text: it is worded when
/// drawn (`crate::reasons::error_note`), so switching the language re-words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorNote {
    /// Stable key for dismissing it.
    pub key: u64,
    /// The command that failed, when the error answers one.
    pub command: Option<Command>,
    /// What went wrong.
    pub problem: Problem,
}

/// What went wrong, for an [`ErrorNote`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The backend answered with an `error`.
    Backend {
        /// The kind of failure (`data-code`).
        code: ErrorCode,
        /// What exactly failed.
        reason: Reason,
    },
    /// The command could not be sent: the WebSocket is not open.
    NotConnected,
    /// Something on the WebSocket this page could not use.
    Garbled(Garble),
}

/// A WebSocket problem that is not a protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Garble {
    /// The WebSocket to this URL could not even be created (a malformed URL).
    CannotOpen {
        /// The URL.
        url: String,
    },
    /// A binary frame came; the protocol is text.
    Binary,
    /// A text frame that is not a message of this protocol.
    Unreadable {
        /// The JSON parser's words, for `data-detail`.
        detail: String,
    },
    /// The browser would not send a command on the open socket.
    SendRefused,
}

/// Everything that can change the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The WebSocket opened, closed or is retrying.
    Connection(ConnStatus),
    /// A message from the backend.
    Server(ServerMsg),
    /// Events of a batch that this page could not read (newer protocol).
    Unreadable(u64),
    /// A frame that was not a protocol message at all, or a socket that could not be used.
    Garbled(Garble),
    /// The service sent a command with this id.
    Sent {
        /// The command id.
        id: u64,
        /// The command.
        command: Command,
    },
    /// A command could not be sent (the socket is not open).
    SendFailed(Command),
    /// Show this model's lesson, events and figure.
    Select(String),
    /// English ↔ Chinese.
    ToggleLang,
    /// Hide an error.
    DismissError(u64),
    /// Remove a closed echo client from the panel.
    RemoveClient(u32),
    /// Show every model's events in the log, or only the selected one's.
    ToggleLogAllModels,
    /// Screen time passed.
    Tick {
        /// Milliseconds since the previous tick.
        dt_ms: f64,
    },
    /// Space.
    TogglePause,
    /// →: one event forward.
    Step,
    /// Jump to the newest event.
    Live,
    /// `+`.
    Faster,
    /// `-`.
    Slower,
    /// Pick a speed from `playback::SPEEDS`.
    SetSpeed(usize),
    /// The screen: presenter mode (key `F`), the theme, the side panel, the model picker,
    /// the stage's echo client.
    Screen(crate::screen::ScreenAction),
    /// Tick or untick a model for the Fig. 6.6 comparison.
    CompareToggle(String),
    /// Send one line through one client on each ticked model.
    CompareSend(String),
    /// The commands of the outbox up to this generation were sent.
    OutboxSent(u64),
    // -- time travel ----------------------------------------------------------------------
    /// ←: one step back (pauses).
    StepBack,
    /// The scrub bar: show this step of the selected model's kept history (pauses).
    Seek(usize),
    /// Show where the story of the last line the selected model echoed begins (pauses).
    JumpToLastEcho,
    // -- views and links ------------------------------------------------------------------
    /// Show this panel in the figure column (a tab, or a story case's model link).
    SetView(View),
    // -- the guided tour ------------------------------------------------------------------
    /// Go to this stop of the guided tour (and start the tour if it is not running).
    TourGo(usize),
    /// `→` during the tour: the next stop (after the last, the tour ends); starts the tour
    /// when it is not running.
    TourNext,
    /// The previous stop.
    TourBack,
    /// Leave the tour; everything it started stays as it is, to explore.
    TourLeave,
    /// Hide the report of a load that has finished.
    DismissLoad,
    /// Show this experiment in the experiments view.
    ExperimentShow(String),
    // -- classroom ------------------------------------------------------------------------
    /// The teacher's "Follow me" button: lead the class, or stop leading.
    FollowMeToggle,
    /// A student follows the teacher again (`true`) or looks on their own (`false`).
    Follow(bool),
    /// The page asked the server to run this experiment (shown at once as running).
    ExperimentAsked(String),
}

/// The load on the server, as this page knows it: asked for, running, or over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadView {
    /// What load.
    pub spec: LoadSpec,
    /// The newest report; `None` until the first comes.
    pub report: Option<LoadReport>,
}

impl LoadView {
    /// The load still runs (started, and no final report yet).
    pub fn running(&self) -> bool {
        !self.report.as_ref().is_some_and(|r| r.finished)
    }
}

/// The page's state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct State {
    /// The page language.
    pub lang: Lang,
    /// The WebSocket's state; `None` before the first attempt.
    pub conn: Option<ConnStatus>,
    /// The backend's protocol version, when it differs from ours.
    pub version_mismatch: Option<u32>,
    /// Every model, as the backend last described it.
    pub models: Vec<ModelInfo>,
    /// The model whose lesson, events and figure are shown.
    pub selected: Option<String>,
    /// The event log's events (all models).
    pub events: Rc<EventStore>,
    /// Each model's events and figure steps (with the relay's events of its echo clients).
    pub stores: BTreeMap<String, Rc<ModelStore>>,
    /// Events the backend reported as lost (`batch.dropped`: sequence gaps), summed.
    pub dropped_by_backend: u64,
    /// Events left out because this page could not read them.
    pub unreadable: u64,
    /// Echo clients, oldest first.
    pub clients: Vec<EchoClient>,
    /// Commands awaiting an answer.
    pub pending: Vec<Pending>,
    /// Errors to show.
    pub errors: Vec<ErrorNote>,
    next_error_key: u64,
    /// `(model, peer, conn)` of recent successful accepts.
    accepted_peers: VecDeque<(String, String, u64)>,
    /// `(model, conn)` of connections waiting in the thread pool's queue.
    queued_conns: Vec<(String, u64)>,
    /// The figure's playback.
    pub playback: Playback,
    /// The log shows every model, not only the selected one.
    pub log_all_models: bool,
    /// CPU share, connections and calls of each sampled thread.
    pub threads: crate::threads::ThreadLoads,
    /// The screen: presenter mode, theme, the side column's panel, the model picker.
    pub screen: crate::screen::Screen,
    /// The Fig. 6.6 comparison.
    pub compare: Comparison,
    /// Commands the reducer wants sent (the app sends them when the generation changes).
    pub outbox: Rc<Vec<Command>>,
    /// Changes whenever `outbox` gets new commands.
    pub outbox_gen: u64,
    // -- views and links ------------------------------------------------------------------
    /// The panel the figure column shows.
    pub view: View,
    // -- the guided tour ------------------------------------------------------------------
    /// The guided tour, while it runs.
    pub tour: Option<Tour>,
    /// Every model's recent aggregates and the crowd's rates derived from them.
    pub crowd: crate::crowd::Crowd,
    /// How many connections of each model the backend follows for this page besides its echo
    /// clients, as it confirmed ([`ReplyResult::Spotlit`]).
    pub spotlight: BTreeMap<String, u32>,
    /// The load, once one was started or reported.
    pub load: Option<LoadView>,
    /// The experiments' latest tables, and which one is shown.
    pub experiments: crate::experiments::Experiments,
    /// Classroom mode: this page's role, and "follow me".
    pub classroom: crate::classroom::Classroom,
}

/// `[::ffff:127.0.0.1]:5000` and `127.0.0.1:5000` are the same peer: the relay and the
/// server may print an IPv4 peer in either form.
pub fn canonical_addr(addr: &str) -> String {
    if let Some((ip, port)) = addr.strip_prefix("[::ffff:").and_then(|r| r.split_once("]:")) {
        return format!("{ip}:{port}");
    }
    addr.to_owned()
}

fn same_addr(a: &str, b: &str) -> bool {
    canonical_addr(a) == canonical_addr(b)
}

impl State {
    /// The store of the selected model, if it has events.
    pub fn selected_store(&self) -> Option<&Rc<ModelStore>> {
        self.stores.get(self.selected.as_deref()?)
    }

    /// A model's store, if it has events.
    pub fn store(&self, model: &str) -> Option<&Rc<ModelStore>> {
        self.stores.get(model)
    }

    /// Where playback is in the selected model's steps.
    pub fn position(&self) -> Option<crate::playback::Position> {
        self.playback.position(self.selected_store()?.steps().track())
    }

    /// The model being shown.
    pub fn selected_model(&self) -> Option<&ModelInfo> {
        let id = self.selected.as_ref()?;
        self.models.iter().find(|m| &m.id == id)
    }

    /// The client ids this page owns for a model.
    pub fn client_ids_of(&self, model: &str) -> Vec<u32> {
        self.clients.iter().filter(|c| c.model == model).map(|c| c.id).collect()
    }

    /// The echo clients that are open and accepted by their server (the comparison sends only
    /// through those).
    fn accepted_clients(&self) -> Vec<u32> {
        self.clients
            .iter()
            .filter(|c| c.closed.is_none() && c.accepted.is_some())
            .map(|c| c.id)
            .collect()
    }

    /// Echo opens sent and not yet answered.
    pub fn echo_opens_pending(&self) -> usize {
        self.pending.iter().filter(|p| matches!(p.command, Command::EchoOpen { .. })).count()
    }

    fn push_error(&mut self, command: Option<Command>, problem: Problem) {
        if self.errors.len() == MAX_ERRORS {
            self.errors.remove(0);
        }
        self.next_error_key += 1;
        self.errors.push(ErrorNote { key: self.next_error_key, command, problem });
    }

    fn upsert_model(&mut self, model: ModelInfo) {
        match self.models.iter_mut().find(|m| m.id == model.id) {
            Some(slot) => *slot = model,
            None => self.models.push(model),
        }
    }

    fn take_pending(&mut self, id: u64) -> Option<Pending> {
        let at = self.pending.iter().position(|p| p.id == id)?;
        Some(self.pending.remove(at))
    }

    fn accepted_conn(&self, model: &str, local: &str) -> Option<u64> {
        self.accepted_peers
            .iter()
            .rev()
            .find(|(m, p, _)| m == model && same_addr(p, local))
            .map(|(_, _, conn)| *conn)
    }

    fn on_accepted(&mut self, model: &str, peer: &str, conn: u64) {
        if self.accepted_peers.len() == MAX_ACCEPTED_PEERS {
            self.accepted_peers.pop_front();
        }
        self.accepted_peers.push_back((model.to_owned(), peer.to_owned(), conn));
        for c in &mut self.clients {
            if c.model == model && same_addr(&c.local, peer) {
                c.accepted = Some(conn);
            }
        }
        let accepted = self.accepted_clients();
        let sends = self.compare.accepted(&|id| accepted.contains(&id));
        self.send_later(sends);
    }

    fn set_queued(&mut self, model: &str, conn: u64, queued: bool) {
        self.queued_conns.retain(|(m, c)| !(m == model && *c == conn));
        if queued {
            if self.queued_conns.len() == MAX_ACCEPTED_PEERS {
                self.queued_conns.remove(0);
            }
            self.queued_conns.push((model.to_owned(), conn));
        }
        for c in &mut self.clients {
            if c.model == model && c.accepted == Some(conn) {
                c.queued = queued;
            }
        }
    }

    fn on_event(&mut self, event: &Event) {
        self.threads.observe(event);
        match (&event.kind, event.conn) {
            (EventKind::AcceptExit { peer: Some(peer), .. }, Some(conn)) => {
                self.on_accepted(&event.model, peer, conn)
            }
            (EventKind::Complete { op: AsyncOp::Accept, peer: Some(peer), .. }, Some(conn)) => {
                self.on_accepted(&event.model, peer, conn)
            }
            (EventKind::ConnQueued { .. }, Some(conn)) => self.set_queued(&event.model, conn, true),
            (EventKind::ConnDequeued { .. }, Some(conn)) => {
                self.set_queued(&event.model, conn, false)
            }
            (EventKind::ClientClosed { client, reason }, _) => {
                if let Some(c) = self.clients.iter_mut().find(|c| c.id == *client) {
                    c.closed.get_or_insert_with(|| ClosedReason::Relay(reason.clone()));
                }
            }
            _ => {}
        }
    }

    /// Queues commands for the app to send.
    fn send_later(&mut self, commands: Vec<Command>) {
        if commands.is_empty() {
            return;
        }
        Rc::make_mut(&mut self.outbox).extend(commands);
        self.outbox_gen += 1;
    }

    fn on_server(&mut self, msg: ServerMsg) {
        match msg {
            ServerMsg::Hello { protocol_version, models, role, classroom, .. } => {
                self.version_mismatch =
                    (protocol_version != PROTOCOL_VERSION).then_some(protocol_version);
                // The server tells "follow me" again after the hello if it is on; a leading
                // teacher's page then sends its view afresh.
                self.classroom.on = classroom;
                self.classroom.role = role;
                self.classroom.leading = None;
                self.classroom.sent = None;
                self.models = models;
                // A new WebSocket means the backend closed every relay of the old one.
                for c in &mut self.clients {
                    c.closed.get_or_insert(ClosedReason::ConnectionLost);
                }
                self.pending.clear();
                // The history that follows replaces what this page kept: adding it again would
                // show every step twice.
                self.events = Rc::default();
                self.stores.clear();
                self.threads = Default::default();
                self.accepted_peers.clear();
                self.queued_conns.clear();
                self.compare.forget_clients();
                // A new connection is a new viewer: followed by nobody, counted afresh.
                self.crowd.clear();
                self.spotlight.clear();
                self.playback = Playback { anchor: None, elapsed_ms: 0.0, ..self.playback.clone() };
                let still_there = |id: &String| self.models.iter().any(|m| &m.id == id);
                if !self.selected.as_ref().is_some_and(still_there) {
                    self.selected = self.models.first().map(|m| m.id.clone());
                }
            }
            ServerMsg::Batch { events, dropped } => {
                self.dropped_by_backend += dropped;
                let events: Vec<Rc<Event>> = events.into_iter().map(Rc::new).collect();
                let log = Rc::make_mut(&mut self.events);
                let mut by_model: BTreeMap<&str, Vec<Rc<Event>>> = BTreeMap::new();
                for event in &events {
                    if crate::store::is_kept(&event.kind) {
                        log.push(event.clone());
                    }
                    by_model.entry(event.model.as_str()).or_default().push(event.clone());
                }
                for (model, events) in by_model {
                    let store = self.stores.entry(model.to_owned()).or_default();
                    Rc::make_mut(store).extend(events);
                }
                for event in &events {
                    self.on_event(event);
                }
            }
            ServerMsg::Model { model } => self.upsert_model(model),
            ServerMsg::Echo { client, text } => {
                if let Some(c) = self.clients.iter_mut().find(|c| c.id == client) {
                    if c.replies.len() == MAX_REPLIES_PER_CLIENT {
                        c.replies.remove(0);
                    }
                    c.replies.push(text);
                }
            }
            // The relay forgot it (its server closed it): the page may remove it, and it no
            // longer counts against the page's echo clients.
            ServerMsg::EchoClosed { client, reason } => {
                if let Some(c) = self.clients.iter_mut().find(|c| c.id == client) {
                    c.closed.get_or_insert(ClosedReason::Relay(reason));
                }
            }
            ServerMsg::Reply { id, result } => {
                self.take_pending(id);
                self.on_reply(result);
            }
            ServerMsg::Error { id, code, reason } => {
                let failed = id.and_then(|id| self.take_pending(id));
                if let Some(Pending { command: Command::EchoOpen { model }, .. }) = &failed {
                    let accepted = self.accepted_clients();
                    let sends = self.compare.open_failed(model, &|id| accepted.contains(&id));
                    self.send_later(sends);
                }
                if let Some(Pending { command: Command::ExperimentRun { name, .. }, .. }) = &failed
                {
                    self.experiments.refused(name);
                }
                self.push_error(failed.map(|p| p.command), Problem::Backend { code, reason });
            }
            ServerMsg::Aggregates { aggregates } => self.crowd.observe(aggregates),
            ServerMsg::Load { report } => {
                self.load = Some(LoadView { spec: report.spec.clone(), report: Some(report) })
            }
            ServerMsg::Experiment { table } => self.experiments.update(table),
            ServerMsg::Follow { view } => {
                if view.is_none() {
                    self.classroom.leader = false;
                }
                self.classroom.leading = view;
                self.follow_teacher();
            }
        }
    }

    /// What this page shows, as "follow me" sends it.
    pub fn teacher_view(&self) -> kettle_shared::TeacherView {
        crate::classroom::view_of(self.selected.as_deref(), self.view.panel(), &self.playback)
    }

    /// A following student's page shows what the teacher's shows.
    fn follow_teacher(&mut self) {
        if !self.classroom.follows_now() {
            return;
        }
        let Some(view) = self.classroom.leading.clone() else { return };
        if let Some(model) = view.model {
            if self.models.is_empty() || self.models.iter().any(|m| m.id == model) {
                self.selected = Some(model);
            }
        }
        self.view = View::of_panel(view.panel);
        // The tour would move the page on its own.
        self.tour = None;
        self.playback = crate::classroom::playback_of(&view.playback);
    }

    /// A leading teacher's page sends its view when it changed (after every action but the
    /// playback clock's ticks).
    fn lead_class(&mut self) {
        if !self.classroom.leads() {
            return;
        }
        let now = self.teacher_view();
        if crate::classroom::needs_sending(&now, self.classroom.sent.as_ref()) {
            self.classroom.sent = Some(now.clone());
            self.send_later(vec![Command::FollowMe { view: Some(now) }]);
        }
    }

    /// A student's own choice of what to look at ends following until they ask again (a
    /// click on the model already shown is no such choice).
    fn looks_elsewhere(&self, action: &Action) -> bool {
        match action {
            Action::Select(id) => self.selected.as_ref() != Some(id),
            Action::SetView(view) => self.view != *view,
            other => State::moves_playback(other),
        }
    }

    /// The actions that move playback or start the tour.
    fn moves_playback(action: &Action) -> bool {
        matches!(
            action,
            Action::TogglePause
                | Action::Step
                | Action::StepBack
                | Action::Seek(_)
                | Action::JumpToLastEcho
                | Action::Live
                | Action::Faster
                | Action::Slower
                | Action::SetSpeed(_)
                | Action::TourGo(_)
                | Action::TourNext
        )
    }

    fn on_reply(&mut self, result: ReplyResult) {
        match result {
            ReplyResult::Model { model } => self.upsert_model(model),
            ReplyResult::EchoOpened { client, model, local } => {
                let accepted = self.accepted_conn(&model, &local);
                let queued = accepted.is_some_and(|conn| {
                    self.queued_conns.iter().any(|(m, c)| *m == model && *c == conn)
                });
                self.clients.retain(|c| c.id != client);
                self.clients.push(EchoClient {
                    id: client,
                    model: model.clone(),
                    local,
                    accepted,
                    queued,
                    closed: None,
                    replies: Vec::new(),
                });
                let accepted = self.accepted_clients();
                let sends = self.compare.opened(&model, client, &|id| accepted.contains(&id));
                self.send_later(sends);
            }
            ReplyResult::EchoClosed { client } => {
                if let Some(c) = self.clients.iter_mut().find(|c| c.id == client) {
                    c.closed.get_or_insert(ClosedReason::ByYou);
                }
            }
            // The computation shows itself through its thread's samples.
            ReplyResult::Subscribed { .. }
            | ReplyResult::EchoSent { .. }
            | ReplyResult::Computing { .. } => {}
            ReplyResult::Spotlit { model, sample } => {
                self.spotlight.insert(model, sample);
            }
            ReplyResult::LoadStarted { spec } => self.load = Some(LoadView { spec, report: None }),
            // The load's last report (`finished`, ended by the stop) follows.
            ReplyResult::LoadStopped => {}
            // Every viewer, this one too, is told by a `follow` message.
            ReplyResult::FollowMe { .. } => {}
            // Its tables follow; it was shown as running when asked.
            ReplyResult::ExperimentStarted { .. } => {}
        }
    }

    /// Sends one line through one client on each ticked running model (Fig. 6.6).
    fn compare_send(&mut self, text: String) {
        let running: Vec<String> = self
            .models
            .iter()
            .filter(|m| m.state == kettle_shared::ModelState::Running)
            .map(|m| m.id.clone())
            .collect();
        let open: Vec<(String, u32)> = self
            .clients
            .iter()
            .filter(|c| c.closed.is_none())
            .map(|c| (c.model.clone(), c.id))
            .collect();
        let accepted = self.accepted_clients();
        let commands = self.compare.start(text, &running, &open, &|id| accepted.contains(&id));
        self.send_later(commands);
    }

    /// Moves the guided tour on as far as the state allows (after every action).
    fn drive_tour(&mut self) {
        // Before `hello` the tour knows no model's state, and nothing can be sent yet.
        if self.models.is_empty() {
            return;
        }
        let Some(mut tour) = self.tour.take() else { return };
        let model = tour.current().model;
        let store = model.and_then(|m| self.stores.get(m));
        let models: Vec<(String, kettle_shared::ModelState)> =
            self.models.iter().map(|m| (m.id.clone(), m.state)).collect();
        let clients: Vec<ClientView<'_>> = self
            .clients
            .iter()
            .map(|c| ClientView {
                id: c.id,
                model: &c.model,
                accepted: c.accepted,
                open: c.closed.is_none(),
            })
            .collect();
        let world = World {
            models: &models,
            clients: &clients,
            compare: &self.compare.ticked,
            steps: store.map(|s| &**s.steps()),
            newest_seq: store.and_then(|s| s.events().iter().map(|e| e.seq).max()).unwrap_or(0),
        };
        let effects = tour.drive(&world);
        let on_screen = model.is_some() && self.selected.as_deref() == model;
        self.tour = Some(tour);
        for effect in effects {
            match effect {
                Effect::Send(command) => self.send_later(vec![command]),
                Effect::CompareSend(text) => self.compare_send(text),
                // Only while the teacher still looks at the stop's model: a key of one model's
                // steps means nothing on another's.
                Effect::PauseAt(key) if on_screen => {
                    self.playback = Playback {
                        anchor: Some(key),
                        elapsed_ms: 0.0,
                        paused: true,
                        ..self.playback.clone()
                    };
                }
                Effect::PauseAt(_) => {}
            }
        }
    }

    /// Goes to a stop of the tour: its model on screen, playing live until its moment.
    pub(crate) fn tour_go(&mut self, stop: usize) {
        let tour = Tour::at(stop);
        if let Some(model) = tour.current().model {
            self.selected = Some(model.to_owned());
            self.playback = self.with_playback(|p, track| p.live(track));
            self.playback.paused = false;
        }
        self.view = match tour.current().scene {
            Scene::Figure => View::Figure,
            Scene::Compare => View::Compare,
            Scene::Story => View::Story,
        };
        self.tour = Some(tour);
        // Every stop is about a step and the line of code that made it.
        self.screen.side = crate::screen::Side::Code;
    }

    fn with_playback(&self, f: impl FnOnce(&Playback, Track<'_>) -> Playback) -> Playback {
        match self.selected_store() {
            Some(store) => f(&self.playback, store.steps().track()),
            None => f(&self.playback, Track { keys: &[], times_ns: &[] }),
        }
    }

    fn apply(&mut self, action: Action) {
        if self.classroom.follows_now() && self.looks_elsewhere(&action) {
            self.classroom.following = false;
        }
        match action {
            Action::Connection(status) => self.conn = Some(status),
            Action::Server(msg) => self.on_server(msg),
            Action::Unreadable(n) => self.unreadable += n,
            Action::Garbled(what) => self.push_error(None, Problem::Garbled(what)),
            Action::Sent { id, command } => {
                if self.pending.len() == MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push(Pending { id, command });
            }
            Action::SendFailed(command) => self.push_error(Some(command), Problem::NotConnected),
            Action::Select(id) => {
                self.selected = Some(id);
                self.screen.picker_open = false;
                // Start at the newest step of the newly selected model, then follow live.
                self.playback = self.with_playback(|p, track| p.live(track));
                if self.playback.anchor.is_none() {
                    self.playback.elapsed_ms = 0.0;
                }
            }
            Action::Screen(action) => self.screen.apply(action),
            Action::CompareToggle(model) => self.compare.toggle(&model),
            Action::CompareSend(text) => self.compare_send(text),
            Action::OutboxSent(generation) => {
                if generation == self.outbox_gen {
                    self.outbox = Rc::default();
                }
            }
            Action::ToggleLang => self.lang = self.lang.toggled(),
            Action::DismissError(key) => self.errors.retain(|e| e.key != key),
            Action::RemoveClient(id) => self.clients.retain(|c| c.id != id || c.closed.is_none()),
            Action::ToggleLogAllModels => self.log_all_models = !self.log_all_models,
            Action::Tick { .. } => {} // handled in `reduce` without cloning
            Action::TogglePause => self.playback = self.playback.toggle_pause(),
            Action::Step => {
                let mut p = self.with_playback(|p, track| p.step(track));
                p.paused = true; // stepping is for reading; keep the picture still
                self.playback = p;
            }
            Action::Live => self.playback = self.with_playback(Playback::go_live),
            Action::Faster => self.playback = self.with_playback(|p, t| p.change_speed(t, -1)),
            Action::Slower => self.playback = self.with_playback(|p, t| p.change_speed(t, 1)),
            Action::SetSpeed(i) => self.playback = self.with_playback(|p, t| p.set_speed(t, i)),
            // -- time travel ------------------------------------------------------------------
            // Going back in time is for reading: each of these pauses, like a step forward.
            Action::StepBack => {
                self.playback = Playback { paused: true, ..self.with_playback(Playback::step_back) }
            }
            Action::Seek(index) => {
                let p = self.with_playback(|p, track| p.seek(track, index));
                self.playback = Playback { paused: true, ..p };
            }
            Action::JumpToLastEcho => {
                let start = self.selected.as_deref().zip(self.selected_store()).and_then(
                    |(model, store)| {
                        crate::playback::last_echo_start(
                            &store.steps().list,
                            crate::figures::family_of(model),
                        )
                    },
                );
                if let Some(index) = start {
                    let p = self.with_playback(|p, track| p.seek(track, index));
                    self.playback = Playback { paused: true, ..p };
                }
            }

            // -- views and links --------------------------------------------------------------
            Action::SetView(view) => self.view = view,
            // -- the guided tour --------------------------------------------------------------
            Action::TourGo(stop) => self.tour_go(stop),
            Action::TourNext => match &self.tour {
                Some(t) if t.stop + 1 < STOPS.len() => self.tour_go(t.stop + 1),
                Some(_) => self.tour = None,
                None => self.tour_go(0),
            },
            Action::TourBack => {
                if let Some(t) = &self.tour {
                    self.tour_go(t.stop.saturating_sub(1));
                }
            }
            Action::TourLeave => self.tour = None,
            // -- under load -------------------------------------------------------------------
            Action::DismissLoad => {
                if self.load.as_ref().is_some_and(|l| !l.running()) {
                    self.load = None;
                }
            }
            // -- experiments ------------------------------------------------------------------
            Action::ExperimentShow(id) => self.experiments.chosen = Some(id),
            Action::ExperimentAsked(id) => self.experiments.started(id),
            // -- classroom --------------------------------------------------------------------
            // Shown at once; the server's `follow` message confirms it to every page. A teacher
            // page that does not lead (reloaded, or another tab turned it on) takes the lead.
            Action::FollowMeToggle if self.classroom.leads() => {
                self.classroom.leader = false;
                self.classroom.leading = None;
                self.classroom.sent = None;
                self.send_later(vec![Command::FollowMe { view: None }]);
            }
            Action::FollowMeToggle => {
                let now = self.teacher_view();
                self.classroom.leader = true;
                self.classroom.leading = Some(now.clone());
                self.classroom.sent = Some(now.clone());
                self.send_later(vec![Command::FollowMe { view: Some(now) }]);
            }
            Action::Follow(on) => {
                self.classroom.following = on;
                self.follow_teacher();
            }
        }
    }
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        if let Action::Tick { dt_ms } = action {
            // Ticks come 25 times a second: return the same Rc when nothing moves, so yew
            // skips the render entirely.
            return match self
                .with_playback(|p, track| p.tick(track, dt_ms).unwrap_or_else(|| p.clone()))
            {
                p if p == self.playback => self,
                p => Rc::new(State { playback: p, ..(*self).clone() }),
            };
        }
        let mut next = (*self).clone();
        next.apply(action);
        next.drive_tour();
        next.lead_class();
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kettle_shared::{Clock, ModelState, RecvOutcome, ThreadRef};

    pub(crate) fn model_info(id: &str, state: ModelState) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            title: format!("{id} title"),
            title_zh: format!("{id} 标题"),
            figure: "Stevens Fig. 6.1".into(),
            port: Some(9001),
            state,
            reason: None,
        }
    }

    fn hello(version: u32) -> Action {
        Action::Server(ServerMsg::Hello {
            protocol_version: version,
            models: vec![model_info("blocking", ModelState::Stopped)],
            clock: Clock { start_unix_ms: 0, now_ns: 0 },
            role: kettle_shared::Role::Teacher,
            classroom: false,
        })
    }

    fn ev(seq: u64, t_ns: u64, model: &str, kind: EventKind) -> Event {
        Event {
            seq,
            t_ns,
            model: model.into(),
            thread: ThreadRef { id: 1, name: "blocking".into() },
            conn: Some(1),
            kind,
        }
    }

    fn batch(events: Vec<Event>, dropped: u64) -> Action {
        Action::Server(ServerMsg::Batch { events, dropped })
    }

    fn reduce(state: Rc<State>, actions: impl IntoIterator<Item = Action>) -> Rc<State> {
        actions.into_iter().fold(state, |s, a| s.reduce(a))
    }

    #[test]
    fn test_hello_lists_models_and_selects_the_first() {
        let s = reduce(Rc::default(), [hello(PROTOCOL_VERSION)]);
        assert_eq!(s.models.len(), 1);
        assert_eq!(s.selected.as_deref(), Some("blocking"));
        assert_eq!(s.version_mismatch, None);
        let s = s.reduce(hello(PROTOCOL_VERSION + 1));
        assert_eq!(s.version_mismatch, Some(PROTOCOL_VERSION + 1));
    }

    #[test]
    fn test_model_message_and_reply_update_state() {
        let s = reduce(Rc::default(), [hello(1)]);
        let s = s.reduce(Action::Server(ServerMsg::Model {
            model: model_info("blocking", ModelState::Running),
        }));
        assert_eq!(s.models[0].state, ModelState::Running);
        let s = reduce(
            s,
            [
                Action::Sent { id: 3, command: Command::Stop { model: "blocking".into() } },
                Action::Server(ServerMsg::Reply {
                    id: 3,
                    result: ReplyResult::Model {
                        model: model_info("blocking", ModelState::Stopped),
                    },
                }),
            ],
        );
        assert_eq!(s.models[0].state, ModelState::Stopped);
        assert!(s.pending.is_empty());
    }

    fn opened(client: u32, local: &str) -> Action {
        Action::Server(ServerMsg::Reply {
            id: 9,
            result: ReplyResult::EchoOpened {
                client,
                model: "blocking".into(),
                local: local.into(),
            },
        })
    }

    fn accept_exit(seq: u64, peer: &str) -> Event {
        ev(
            seq,
            seq * 1_000,
            "blocking",
            EventKind::AcceptExit { fd: Some(5), peer: Some(peer.into()), error: None },
        )
    }

    #[test]
    fn test_echo_client_waits_in_backlog_until_accepted() {
        let s = reduce(
            Rc::default(),
            [hello(1), opened(1, "127.0.0.1:40001"), opened(2, "127.0.0.1:40002")],
        );
        assert_eq!(s.clients[0].status(), ClientStatus::WaitingInBacklog);
        let s = s.reduce(batch(vec![accept_exit(1, "127.0.0.1:40001")], 0));
        assert_eq!(s.clients[0].status(), ClientStatus::Accepted);
        assert_eq!(
            s.clients[1].status(),
            ClientStatus::WaitingInBacklog,
            "second client still queued"
        );
        let closed = EventKind::ClientClosed { client: 1, reason: Reason::ServerClosed };
        let s = s.reduce(batch(vec![ev(2, 2_000, "client", closed)], 0));
        assert_eq!(
            s.clients[0].status(),
            ClientStatus::Closed(&ClosedReason::Relay(Reason::ServerClosed))
        );
    }

    #[test]
    fn test_accept_seen_before_the_reply_still_counts() {
        let s = reduce(
            Rc::default(),
            [
                hello(1),
                batch(vec![accept_exit(1, "[::ffff:127.0.0.1]:40001")], 0),
                opened(1, "127.0.0.1:40001"),
            ],
        );
        assert_eq!(s.clients[0].status(), ClientStatus::Accepted);
    }

    #[test]
    fn test_echo_replies_and_close() {
        let s = reduce(Rc::default(), [hello(1), opened(4, "127.0.0.1:1")]);
        let s = s.reduce(Action::Server(ServerMsg::Echo { client: 4, text: "HELLO\n".into() }));
        assert_eq!(s.clients[0].replies, vec!["HELLO\n".to_string()]);
        let s = s.reduce(Action::RemoveClient(4));
        assert_eq!(s.clients.len(), 1, "an open client is not removed");
        let s = s.reduce(Action::Server(ServerMsg::Reply {
            id: 1,
            result: ReplyResult::EchoClosed { client: 4 },
        }));
        assert_eq!(s.clients[0].closed, Some(ClosedReason::ByYou));
        let s = s.reduce(Action::RemoveClient(4));
        assert!(s.clients.is_empty());
    }

    #[test]
    fn test_echo_closed_by_the_server_is_marked_closed_and_can_be_removed() {
        // Not subscribed to its model: no `client_closed` event comes, only the relay's word.
        let s = reduce(Rc::default(), [hello(1), opened(4, "127.0.0.1:1")]);
        let s = s.reduce(Action::Server(ServerMsg::EchoClosed {
            client: 4,
            reason: Reason::ServerClosed,
        }));
        assert_eq!(
            s.clients[0].status(),
            ClientStatus::Closed(&ClosedReason::Relay(Reason::ServerClosed))
        );
        let s = s.reduce(Action::RemoveClient(4));
        assert!(s.clients.is_empty());
    }

    #[test]
    fn test_error_names_the_command_and_can_be_dismissed() {
        let s = reduce(
            Rc::default(),
            [
                Action::Sent { id: 5, command: Command::Start { model: "blocking".into() } },
                Action::Server(ServerMsg::Error {
                    id: Some(5),
                    code: ErrorCode::Io,
                    reason: Reason::CannotListen { port: 9000, errno: "EADDRINUSE".into() },
                }),
            ],
        );
        assert_eq!(s.errors.len(), 1);
        assert_eq!(
            crate::reasons::error_note(s.lang, &s.errors[0]),
            "start Blocking I/O, one thread: cannot listen on port 9000: EADDRINUSE"
        );
        let key = s.errors[0].key;
        assert!(s.reduce(Action::DismissError(key)).errors.is_empty());
    }

    #[test]
    fn test_errors_already_shown_are_reworded_when_the_language_changes() {
        let s = reduce(
            Rc::default(),
            [
                Action::Sent { id: 5, command: Command::EchoOpen { model: "select".into() } },
                Action::Server(ServerMsg::Error {
                    id: Some(5),
                    code: ErrorCode::NotRunning,
                    reason: Reason::NotRunning { model: "select".into() },
                }),
                Action::SendFailed(Command::Stop { model: "epoll".into() }),
                Action::Garbled(Garble::Unreadable { detail: "expected value".into() }),
            ],
        );
        let words = |s: &State| {
            s.errors.iter().map(|e| crate::reasons::error_note(s.lang, e)).collect::<Vec<_>>()
        };
        assert_eq!(
            words(&s),
            [
                "open an echo client to I/O multiplexing: select: I/O multiplexing: select is not \
                 running; start it first",
                "stop epoll, level-triggered: the page is not connected to Kettle",
                "a message from Kettle could not be read",
            ]
        );
        let zh = s.clone().reduce(Action::ToggleLang);
        assert_eq!(zh.errors, s.errors, "the same errors, not new ones");
        assert_eq!(
            words(&zh),
            [
                "打开连接 IO多路复用(select) 的回显客户端:IO多路复用(select) 没有在运行,请先启动它",
                "停止 IO多路复用(epoll,水平触发):页面没有连接到 Kettle",
                "无法读取来自 Kettle 的一条消息",
            ]
        );
        assert_eq!(crate::reasons::error_detail(&zh.errors[2]), Some("expected value"));
    }

    #[test]
    fn test_events_are_capped_and_drops_counted() {
        let events: Vec<Event> = (0..MAX_EVENTS as u64 + 5)
            .map(|i| ev(i, i, "blocking", EventKind::AcceptEnter))
            .collect();
        let s = reduce(Rc::default(), [hello(1), batch(events, 7)]);
        assert_eq!(s.events.len(), MAX_EVENTS);
        assert_eq!(s.events.trimmed(), 5);
        assert_eq!(s.dropped_by_backend, 7);
        assert_eq!(s.events.iter().next().unwrap().seq, 5);
    }

    #[test]
    fn test_tick_without_progress_keeps_the_same_rc() {
        let s = reduce(Rc::default(), [hello(1)]);
        let t = s.clone().reduce(Action::Tick { dt_ms: 40.0 });
        assert!(Rc::ptr_eq(&s, &t), "no steps: nothing to play, no re-render");
        let recv = EventKind::RecvEnter { fd: 5, len: 1024 };
        let exit = EventKind::RecvExit {
            fd: 5,
            outcome: RecvOutcome::Eof,
            wait_ns: Some(1),
            copy_ns: Some(1),
        };
        let s = reduce(
            s,
            [batch(vec![ev(1, 0, "blocking", recv), ev(2, 10_000, "blocking", exit)], 0)],
        );
        let t = s.clone().reduce(Action::Tick { dt_ms: 40.0 });
        assert!(!Rc::ptr_eq(&s, &t));
        assert_eq!(t.playback.anchor, Some((0, 1)));
    }

    #[test]
    fn test_each_model_has_its_own_store_that_samples_and_other_models_cannot_evict() {
        let sample = EventKind::ThreadSample { cpu_ns: 1, conns: 0, syscalls: 1, kernel: None };
        let mut events = vec![ev(1, 1, "blocking", EventKind::AcceptEnter)];
        // Far more samples and select steps than any store holds.
        for i in 0..crate::store::MAX_MODEL_EVENTS as u64 + 10 {
            events.push(ev(10 + 2 * i, 10 + i, "blocking", sample.clone()));
            events.push(ev(11 + 2 * i, 10 + i, "select", EventKind::AcceptEnter));
        }
        let s = reduce(Rc::default(), [hello(1), batch(events, 0)]);
        let blocking = s.store("blocking").unwrap();
        assert_eq!(blocking.steps().list.iter().map(|st| st.event.seq).collect::<Vec<_>>(), [1]);
        assert_eq!(s.store("select").unwrap().trimmed(), 10);
    }

    #[test]
    fn test_hello_after_a_reconnect_replaces_what_it_had_instead_of_adding_it_again() {
        let history = || batch(vec![ev(1, 1, "blocking", EventKind::AcceptEnter)], 0);
        let s = reduce(Rc::default(), [hello(1), history(), hello(1), history()]);
        assert_eq!(s.store("blocking").unwrap().events().len(), 1);
        assert_eq!(s.events.len(), 1);
    }

    #[test]
    fn test_io_uring_accept_completion_marks_its_client_accepted() {
        let s = reduce(Rc::default(), [hello(1), opened(1, "127.0.0.1:40001")]);
        let done = EventKind::Complete {
            op: AsyncOp::Accept,
            fd: 3,
            result: 9,
            peer: Some("127.0.0.1:40001".into()),
            more: true,
        };
        let s = s.reduce(batch(vec![ev(1, 1, "blocking", done)], 0));
        assert_eq!(s.clients[0].status(), ClientStatus::Accepted);
        assert_eq!(s.clients[0].accepted, Some(1));
    }

    #[test]
    fn test_pool_client_is_queued_until_a_worker_takes_it() {
        let s = reduce(Rc::default(), [hello(1), opened(1, "127.0.0.1:40001")]);
        let s = s.reduce(batch(
            vec![
                accept_exit(1, "127.0.0.1:40001"),
                ev(2, 2, "blocking", EventKind::ConnQueued { fd: 5, depth: 1, capacity: 8 }),
            ],
            0,
        ));
        assert_eq!(s.clients[0].status(), ClientStatus::Queued);
        let done = EventKind::ConnDequeued { fd: 5, waited_ns: 1, depth: 0 };
        let s = s.reduce(batch(vec![ev(3, 3, "blocking", done)], 0));
        assert_eq!(s.clients[0].status(), ClientStatus::Accepted);
    }

    #[test]
    fn test_comparison_opens_missing_clients_then_sends_through_the_outbox() {
        let running = |id: &str| model_info(id, ModelState::Running);
        let s = reduce(
            Rc::default(),
            [Action::Server(ServerMsg::Hello {
                protocol_version: PROTOCOL_VERSION,
                models: vec![running("blocking"), running("select")],
                clock: Clock { start_unix_ms: 0, now_ns: 0 },
                role: kettle_shared::Role::Teacher,
                classroom: false,
            })],
        );
        let s = s.reduce(Action::CompareSend("hi".into()));
        assert_eq!(s.outbox.len(), 2, "{:?}", s.outbox);
        let generation = s.outbox_gen;
        let s = s.reduce(Action::OutboxSent(generation));
        assert!(s.outbox.is_empty());
        let open = |client: u32, model: &str| {
            Action::Server(ServerMsg::Reply {
                id: 1,
                result: ReplyResult::EchoOpened {
                    client,
                    model: model.into(),
                    local: format!("127.0.0.1:{client}"),
                },
            })
        };
        let s = reduce(s, [open(1, "blocking"), open(2, "select")]);
        assert!(s.outbox.is_empty(), "not yet: neither server has accepted its client");
        let accept = |seq, model: &str, client: u32| {
            let peer = Some(format!("127.0.0.1:{client}"));
            ev(seq, seq, model, EventKind::AcceptExit { fd: Some(5), peer, error: None })
        };
        let s = s.reduce(batch(vec![accept(1, "blocking", 1)], 0));
        assert!(s.outbox.is_empty(), "select's client is not accepted yet");
        let s = s.reduce(batch(vec![accept(2, "select", 2)], 0));
        assert_eq!(
            *s.outbox,
            [
                Command::EchoSend { client: 1, text: "hi\n".into() },
                Command::EchoSend { client: 2, text: "hi\n".into() }
            ]
        );
    }

    #[test]
    fn test_step_pauses_and_select_goes_live() {
        let recv = |seq| ev(seq, seq * 1_000, "blocking", EventKind::RecvEnter { fd: 5, len: 1 });
        let s = reduce(Rc::default(), [hello(1), batch(vec![recv(1), recv(2), recv(3)], 0)]);
        let s = s.reduce(Action::Select("blocking".into()));
        assert_eq!(s.playback.anchor, Some((3_000, 3)), "selecting shows the newest step");
        let s = s.reduce(Action::Step);
        assert!(s.playback.paused);
        let s = reduce(s, [Action::TogglePause, Action::Faster, Action::Slower, Action::Slower]);
        assert!(!s.playback.paused);
        assert_eq!(s.playback.speed_index, crate::playback::DEFAULT_SPEED_INDEX + 1);
    }

    #[test]
    fn test_tour_stop_starts_its_model_sends_once_accepted_and_pauses_on_the_copy() {
        let s = reduce(Rc::default(), [hello(PROTOCOL_VERSION), Action::TourGo(0)]);
        assert_eq!(*s.outbox, [Command::Start { model: "blocking".into() }]);
        let s = reduce(
            s,
            [
                Action::OutboxSent(u64::MAX),
                Action::Server(ServerMsg::Model {
                    model: model_info("blocking", ModelState::Running),
                }),
            ],
        );
        assert_eq!(s.outbox.last(), Some(&Command::EchoOpen { model: "blocking".into() }));
        let s = reduce(s, [opened(3, "127.0.0.1:40003")]);
        assert_eq!(s.tour.as_ref().unwrap().progress.id(), "opening", "not accepted yet");
        let s = s.reduce(batch(vec![accept_exit(1, "127.0.0.1:40003")], 0));
        assert_eq!(
            s.outbox.last(),
            Some(&Command::EchoSend { client: 3, text: crate::tour::line_of(0) })
        );
        let data = EventKind::RecvExit {
            fd: 5,
            outcome: RecvOutcome::Data { bytes: 14, preview: "kettle tour 1".into() },
            wait_ns: Some(1),
            copy_ns: Some(1),
        };
        let s = s.reduce(batch(
            vec![
                ev(2, 2_000, "blocking", EventKind::RecvEnter { fd: 5, len: 1024 }),
                ev(3, 3_000, "blocking", data),
            ],
            0,
        ));
        assert_eq!(s.tour.as_ref().unwrap().progress.id(), "arrived");
        assert!(s.playback.paused);
        assert_eq!(s.position().map(|p| p.index), Some(2), "the copy is the step on screen");
        let s = reduce(s, [Action::TourNext, Action::TourLeave]);
        assert!(s.tour.is_none());
        assert_eq!(s.selected.as_deref(), Some("thread-per-conn"), "what the tour showed stays");
    }

    #[test]
    fn test_step_back_and_seek_pause_and_live_resumes() {
        let recv = |seq| ev(seq, seq * 1_000, "blocking", EventKind::RecvEnter { fd: 5, len: 1 });
        let s = reduce(Rc::default(), [hello(1), batch(vec![recv(1), recv(2), recv(3)], 0)]);
        let s = s.reduce(Action::Select("blocking".into()));
        assert!(!s.playback.paused);
        let s = s.reduce(Action::StepBack);
        assert!(s.playback.paused, "stepping back is for reading: it pauses");
        assert_eq!(s.position().unwrap().index, 1);
        let s = reduce(s, [Action::StepBack, Action::StepBack]);
        assert_eq!(s.position().unwrap().index, 0, "stays on the first kept step");
        let s = reduce(s, [Action::TogglePause, Action::Seek(2)]);
        assert!(s.playback.paused, "the scrub bar pauses");
        assert_eq!(s.position().unwrap().index, 2);
        let s = reduce(s, [Action::Seek(0), Action::Live]);
        assert!(!s.playback.paused, "live follows what happens now");
        assert_eq!(s.position().unwrap().index, 2);
    }

    #[test]
    fn test_jump_to_last_echo_pauses_where_the_line_was_waited_for() {
        let at = |seq: u64, kind| ev(seq, seq * 1_000, "blocking", kind);
        let line = |bytes| EventKind::RecvExit {
            fd: 5,
            outcome: RecvOutcome::Data { bytes, preview: "hi".into() },
            wait_ns: Some(1),
            copy_ns: Some(1),
        };
        let sent = |bytes| EventKind::SendExit {
            fd: 5,
            outcome: kettle_shared::SendOutcome::Sent { bytes },
        };
        let events = vec![
            at(1, EventKind::RecvEnter { fd: 5, len: 64 }),
            at(2, line(3)),
            at(3, EventKind::SendEnter { fd: 5, bytes: 3 }),
            at(4, sent(3)),
            at(5, EventKind::RecvEnter { fd: 5, len: 64 }),
        ];
        let s = reduce(Rc::default(), [hello(1), Action::JumpToLastEcho]);
        assert!(!s.playback.paused, "nothing echoed, nothing to jump to: nothing changes");
        let s = reduce(s, [batch(events, 0), Action::Select("blocking".into())]);
        let s = s.reduce(Action::JumpToLastEcho);
        assert!(s.playback.paused);
        assert_eq!(s.playback.anchor, Some((1_000, 1)), "the recv that waited for the line");
    }

    fn load_spec() -> LoadSpec {
        LoadSpec { model: "epoll".into(), conns: 50, rate: None, size: 64, secs: 10 }
    }

    fn load_report(elapsed_ms: u64, lines: u64, finished: bool) -> Action {
        Action::Server(ServerMsg::Load {
            report: LoadReport {
                spec: load_spec(),
                elapsed_ms,
                conns_open: 50,
                conns_failed: 0,
                nofile_limit: 1024,
                lines,
                bytes: lines * 64,
                mismatches: 0,
                lines_per_s: lines * 1000 / elapsed_ms.max(1),
                latency: Default::default(),
                fairness: (1, 2),
                finished,
                ended_by: None,
            },
        })
    }

    #[test]
    fn test_aggregates_feed_the_crowd_and_a_reconnect_forgets_it() {
        let aggregate = kettle_shared::Aggregate {
            model: "epoll".into(),
            from_ns: 0,
            to_ns: 100_000_000,
            inputs: 800,
            conns: 50,
            crowded: true,
            ..Default::default()
        };
        let s = reduce(
            Rc::default(),
            [hello(1), Action::Server(ServerMsg::Aggregates { aggregates: vec![aggregate] })],
        );
        let rates = s.crowd.rates("epoll").unwrap();
        assert_eq!((rates.lines_per_s, rates.conns, rates.crowded), (8_000.0, 50, true));
        assert!(s.reduce(hello(1)).crowd.rates("epoll").is_none());
    }

    #[test]
    fn test_spotlight_is_what_the_backend_confirmed_per_model() {
        let spotlit = |model: &str, sample| {
            Action::Server(ServerMsg::Reply {
                id: 1,
                result: ReplyResult::Spotlit { model: model.into(), sample },
            })
        };
        let s = reduce(Rc::default(), [hello(1), spotlit("epoll", 3), spotlit("select", 1)]);
        assert_eq!(s.spotlight.get("epoll"), Some(&3));
        let s = s.reduce(spotlit("epoll", 0));
        assert_eq!(s.spotlight.get("epoll"), Some(&0));
        assert_eq!(s.spotlight.get("select"), Some(&1));
        assert!(s.reduce(hello(1)).spotlight.is_empty(), "a new viewer follows nothing yet");
    }

    #[test]
    fn test_a_load_runs_from_its_start_until_its_final_report_then_can_be_hidden() {
        let started = Action::Server(ServerMsg::Reply {
            id: 1,
            result: ReplyResult::LoadStarted { spec: load_spec() },
        });
        let s = reduce(Rc::default(), [hello(1), started]);
        assert!(s.load.as_ref().unwrap().running());
        let s = s.reduce(Action::DismissLoad);
        assert!(s.load.is_some(), "a running load is not hidden");
        let s = s.reduce(load_report(500, 40_000, false));
        assert_eq!(s.load.as_ref().unwrap().report.as_ref().unwrap().lines, 40_000);
        assert!(s.load.as_ref().unwrap().running());
        let s = s.reduce(load_report(10_000, 800_000, true));
        assert!(!s.load.as_ref().unwrap().running());
        assert!(s.reduce(Action::DismissLoad).load.is_none());
    }

    #[test]
    fn test_a_refused_load_is_worded_with_its_field_and_range() {
        let spec = LoadSpec { conns: 0, ..load_spec() };
        let s = reduce(
            Rc::default(),
            [
                hello(1),
                Action::Sent { id: 4, command: Command::LoadStart { spec } },
                Action::Server(ServerMsg::Error {
                    id: Some(4),
                    code: ErrorCode::Limit,
                    reason: Reason::OutOfRange {
                        field: "conns".into(),
                        value: 0,
                        min: 1,
                        max: u64::from(kettle_shared::MAX_LOAD_CONNS),
                    },
                }),
            ],
        );
        assert!(s.load.is_none(), "nothing started");
        let words = crate::reasons::error_note(s.lang, &s.errors[0]);
        assert!(words.contains("connections") && words.contains("10000"), "{words}");
    }

    /// A crowded epoll model's steps as the backend sends them for the connections a page
    /// follows: per line, the wait (watching all 51 descriptors), the recv with its arrival
    /// stamp, the send — seven events, round-robin over five followed connections.
    fn crowded_epoll_events(lines: u64) -> Vec<Event> {
        use kettle_shared::{ReadyFd, SendOutcome, WaitApi};
        let mut out = Vec::new();
        for line in 0..lines {
            let fd = 5 + (line % 5) as i32;
            let t = line * 12_000;
            let mut e = |dt: u64, conn: Option<u64>, kind: EventKind| {
                let mut event = ev(out.len() as u64 + 1, t + dt, "epoll", kind);
                event.conn = conn;
                out.push(event);
            };
            let watched = (3..54).collect();
            e(0, None, EventKind::WaitEnter { api: WaitApi::Epoll, watched });
            let ready = vec![ReadyFd { fd, readable: true, writable: false }];
            e(2_000, None, EventKind::WaitReturned { api: WaitApi::Epoll, ready, scanned: 1 });
            let conn = Some(fd as u64);
            e(2_500, conn, EventKind::RecvEnter { fd, len: 4096 });
            e(1_000, conn, EventKind::DataArrived { fd });
            let outcome = RecvOutcome::Data { bytes: 64, preview: "x".repeat(32) };
            e(
                3_000,
                conn,
                EventKind::RecvExit { fd, outcome, wait_ns: Some(0), copy_ns: Some(500) },
            );
            e(3_500, conn, EventKind::SendEnter { fd, bytes: 64 });
            e(5_000, conn, EventKind::SendExit { fd, outcome: SendOutcome::Sent { bytes: 64 } });
        }
        out
    }

    /// Not a benchmark with a verdict (timings are printed, never asserted: run with
    /// `--nocapture` to read them), but the proof that the work per batch and per frame is
    /// bounded by what is kept, not by what has arrived: 50 000 events of a crowded model go
    /// through the reducer in 25 ms batches while the page plays live, and the figure is laid
    /// out after each.
    #[test]
    fn test_fifty_thousand_events_cost_bounded_work_per_batch_and_per_frame() {
        use std::time::Instant;
        let running = model_info("epoll", ModelState::Running);
        let mut s = reduce(
            Rc::default(),
            [
                Action::Server(ServerMsg::Hello {
                    protocol_version: PROTOCOL_VERSION,
                    models: vec![running],
                    clock: Clock { start_unix_ms: 0, now_ns: 0 },
                    role: kettle_shared::Role::Teacher,
                    classroom: false,
                }),
                Action::Select("epoll".into()),
            ],
        );
        let events = crowded_epoll_events(50_000 / 7);
        let total = events.len();
        let (mut reduce_ns, mut layout_ns, mut log_ns) = (Vec::new(), Vec::new(), Vec::new());
        // 1 000 events a batch: 40 000 events a second at the recorder's 25 ms.
        for chunk in events.chunks(1_000) {
            let held = s.clone(); // a component still holding the previous state
            let t0 = Instant::now();
            s = s.reduce(batch(chunk.to_vec(), 0));
            s = s.reduce(Action::Tick { dt_ms: 40.0 });
            reduce_ns.push(t0.elapsed().as_nanos());
            drop(held);
            let t1 = Instant::now();
            let store = s.selected_store().unwrap();
            let room = crate::figures::layout::Room { width: 760.0, height: 560.0 };
            let d = crate::figures::layout::layout(
                "epoll",
                store,
                s.position(),
                s.playback.speed(),
                s.lang,
                room,
                &|_| None,
            );
            assert!(!d.lanes.is_empty());
            layout_ns.push(t1.elapsed().as_nanos());
            let t2 = Instant::now();
            let (_, shown) = crate::components::event_log::window(&s.events, Some("epoll"), &[]);
            for e in &shown {
                std::hint::black_box(crate::labels::describe(e, s.lang));
            }
            log_ns.push(t2.elapsed().as_nanos());
        }
        assert_eq!(s.store("epoll").unwrap().events().len(), crate::store::MAX_MODEL_EVENTS);
        assert_eq!(s.events.len(), MAX_EVENTS);
        let report = |name: &str, v: &mut Vec<u128>| {
            v.sort_unstable();
            let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize] as f64 / 1e6;
            println!(
                "{name}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
                at(0.5),
                at(0.95),
                at(1.0)
            );
        };
        println!(
            "{total} events in {} batches (debug build: release is several times faster)",
            reduce_ns.len()
        );
        report("reducer per batch (batch + tick)", &mut reduce_ns);
        report("figure layout per frame", &mut layout_ns);
        report("event log rows described per batch", &mut log_ns);
    }

    #[test]
    fn test_addresses_match_across_v4_mapped_form() {
        assert_eq!(canonical_addr("[::ffff:127.0.0.1]:5"), "127.0.0.1:5");
        assert!(same_addr("[::ffff:127.0.0.1]:5", "127.0.0.1:5"));
        assert!(!same_addr("127.0.0.1:5", "127.0.0.1:6"));
    }

    // -- classroom ----------------------------------------------------------------------------

    fn classroom_hello(role: kettle_shared::Role) -> Action {
        Action::Server(ServerMsg::Hello {
            protocol_version: PROTOCOL_VERSION,
            models: vec![
                model_info("blocking", ModelState::Running),
                model_info("epoll", ModelState::Running),
            ],
            clock: Clock { start_unix_ms: 0, now_ns: 0 },
            role,
            classroom: true,
        })
    }

    fn follow_me_sent(s: &State) -> Vec<Option<kettle_shared::TeacherView>> {
        s.outbox
            .iter()
            .filter_map(|c| match c {
                Command::FollowMe { view } => Some(view.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn test_teacher_follow_me_sends_the_view_on_each_move_and_never_on_ticks() {
        use kettle_shared::{Panel, Role};
        let s = reduce(Rc::default(), [classroom_hello(Role::Teacher)]);
        assert!(s.classroom.on);
        assert!(follow_me_sent(&s).is_empty(), "nothing until the teacher leads");
        let s = reduce(s, [Action::FollowMeToggle]);
        let sent = follow_me_sent(&s);
        assert_eq!(sent.len(), 1);
        let view = sent[0].clone().expect("on");
        assert_eq!(view.model.as_deref(), Some("blocking"));
        assert_eq!(view.panel, Panel::Figure);
        assert!(s.classroom.leads());

        let gen = s.outbox_gen;
        let s = reduce(s, [Action::OutboxSent(gen)]);
        let s = reduce(s, (0..10).map(|_| Action::Tick { dt_ms: 40.0 }));
        assert!(follow_me_sent(&s).is_empty(), "the playback clock is not a move");
        // The server's echo of the view changes nothing either.
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: Some(view.clone()) })]);
        assert!(follow_me_sent(&s).is_empty());

        let s = reduce(s, [Action::Select("epoll".into()), Action::SetView(View::Story)]);
        let sent = follow_me_sent(&s);
        let last = sent.last().cloned().flatten().expect("still on");
        assert_eq!(last.model.as_deref(), Some("epoll"));
        assert_eq!(last.panel, Panel::Story);

        let gen = s.outbox_gen;
        let s = reduce(s, [Action::OutboxSent(gen), Action::FollowMeToggle]);
        assert_eq!(follow_me_sent(&s), vec![None], "turned off");
        assert!(!s.classroom.leads());
        let gen = s.outbox_gen;
        let s = reduce(s, [Action::OutboxSent(gen), Action::Select("blocking".into())]);
        assert!(follow_me_sent(&s).is_empty(), "not leading any more");

        // A reloaded teacher page: the class still follows, but this page does not lead until
        // its button is pressed, which takes the lead with this page's view.
        let s = reduce(Rc::default(), [classroom_hello(Role::Teacher)]);
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: Some(view) })]);
        assert!(!s.classroom.leads());
        let s = reduce(s, [Action::Select("epoll".into())]);
        assert!(follow_me_sent(&s).is_empty(), "another page leads");
        let s = reduce(s, [Action::FollowMeToggle]);
        let taken = follow_me_sent(&s).pop().flatten().expect("on, with this page's view");
        assert_eq!(taken.model.as_deref(), Some("epoll"));
        assert!(s.classroom.leads());
    }

    #[test]
    fn test_student_follows_the_teachers_model_panel_and_step_until_looking_elsewhere() {
        use kettle_shared::{Panel, PlaybackAt, Role, TeacherView};
        let s = reduce(Rc::default(), [classroom_hello(Role::Student)]);
        assert_eq!(s.classroom.role, Role::Student);
        assert_eq!(s.selected.as_deref(), Some("blocking"));
        let view = TeacherView {
            model: Some("epoll".into()),
            panel: Panel::Figure,
            playback: PlaybackAt {
                anchor: Some((5, 9)),
                elapsed_ms: 0,
                paused: true,
                speed_index: 2,
            },
        };
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: Some(view.clone()) })]);
        assert!(s.classroom.follows_now());
        assert_eq!(s.selected.as_deref(), Some("epoll"));
        assert_eq!(s.playback.anchor, Some((5, 9)));
        assert!(s.playback.paused);
        assert_eq!(s.playback.speed_index, 2);
        assert!(follow_me_sent(&s).is_empty(), "a student never leads");

        let s = reduce(s, [Action::Select("epoll".into())]);
        assert!(s.classroom.following, "clicking the model shown is not looking elsewhere");
        // Picking something else is looking on one's own: the next teacher move is not applied.
        let s = reduce(s, [Action::Select("blocking".into())]);
        assert!(!s.classroom.following);
        let story = TeacherView { panel: Panel::Story, ..view.clone() };
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: Some(story) })]);
        assert_eq!(s.selected.as_deref(), Some("blocking"));
        assert_eq!(s.view, View::Figure);
        // Following again shows the teacher's view at once.
        let s = reduce(s, [Action::Follow(true)]);
        assert_eq!(s.selected.as_deref(), Some("epoll"));
        assert_eq!(s.view, View::Story);
        // Off: the student's page stays where it is.
        let s = reduce(s, [Action::Server(ServerMsg::Follow { view: None })]);
        assert!(!s.classroom.follows_now());
        assert_eq!(s.view, View::Story);
    }
}
