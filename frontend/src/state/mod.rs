//! The page's whole state and the one place that changes it (a yew `Reducible`).
//!
//! Everything the WebSocket says and everything the user does becomes an [`Action`]; the
//! reducer is pure (no DOM, no sockets), so it is unit-tested natively. Sending commands is
//! the service's job: it reports each sent command back as [`Action::Sent`] so replies and
//! errors can be matched to what was asked.
//!
//! The state is split by concern, one file each, all changing the one [`State`] through the
//! one reducer here ([`State::apply`], called by `reduce`): [`connection`] (what the backend
//! says, the answers to commands), [`models`] (the catalogue, each model's store, the event
//! log), [`echo`] (the page's echo clients), [`time_travel`] (playback), [`views`] (the
//! comparison and the guided tour), [`classroom`] (following the teacher). The errors live
//! here; their types are in [`crate::errors`], below both the reducer and the words
//! ([`crate::reasons`]).

mod classroom;
mod connection;
mod echo;
mod models;
mod quiz;
mod replay;
mod time_travel;
mod views;

pub use crate::errors::{ErrorNote, Garble, Problem};
pub use connection::{ConnStatus, Pending};
pub use echo::{canonical_addr, ClientStatus, ClosedReason, EchoClient};
pub use models::{family_at, family_of, recognised_at, EventStore};

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use kettle_shared::{
    AsyncOp, Command, Event, EventKind, LoadReport, LoadSpec, ModelInfo, Reason, ReplyResult,
    ServerMsg, PROTOCOL_VERSION,
};
use yew::Reducible;

use crate::compare::Comparison;
use crate::i18n::Lang;
use crate::playback::Playback;
use crate::store::{ModelStore, Track};
use crate::tour::{ClientView, Effect, Tour, World, STOPS};
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
    // -- predict, then see ----------------------------------------------------------------
    /// Answer, reveal, the vote's bars, the score (`state/quiz.rs`).
    Quiz(crate::questions::QuizAction),
    // -- keeping a lesson -----------------------------------------------------------------
    /// Where the events come from, as the server says (`/api/host`): for a saved recording's
    /// header.
    Host(kettle_shared::recording::HostInfo),
    /// `#record`: keep more history per model (for `#save-recording`), or the usual amount.
    KeepToggle,
    /// Replay this recording, with no server: the page starts afresh from its events. `url`:
    /// where it was fetched (`?recording=`); `at`: the seq of the step to show, paused.
    Replay {
        /// The recording, read whole.
        recording: Rc<kettle_shared::recording::Recording>,
        /// Its address, when it came from one.
        url: Option<String>,
        /// The step to show (`?at=`), paused; the last step when `None`.
        at: Option<u64>,
    },
    /// A recording could not be opened, saved or fetched.
    RecordingRefused(crate::errors::RecordingProblem),
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
    /// The tour stop's question (or the teacher's, on a student's page), while asked.
    pub quiz: Option<crate::questions::Quiz>,
    /// The score of questions answered alone (kept in the browser).
    pub score: crate::questions::Score,
    // -- keeping a lesson -----------------------------------------------------------------
    /// Live from a server, or replaying a recording (no WebSocket then).
    pub source: crate::keep::Source,
    /// Where the server runs (`/api/host`), once it said.
    pub host: Option<kettle_shared::recording::HostInfo>,
    /// `#record` is on: each model keeps [`crate::store::RECORDING_MODEL_EVENTS`] events.
    pub keeping: bool,
    /// The server's wall clock at `t_ns == 0` (the `hello`'s clock), in Unix milliseconds.
    pub clock_start_unix_ms: u64,
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

    /// A recording is playing: no server, no WebSocket, no live-only controls.
    pub fn replaying(&self) -> bool {
        matches!(self.source, crate::keep::Source::Recording(_))
    }

    /// The most events each model's store keeps now: more while recording or replaying.
    pub fn store_limit(&self) -> usize {
        if self.keeping || self.replaying() {
            crate::store::RECORDING_MODEL_EVENTS
        } else {
            crate::store::MAX_MODEL_EVENTS
        }
    }

    /// The seq of the step on screen.
    pub fn shown_seq(&self) -> Option<u64> {
        let store = self.selected_store()?;
        let index = self.position()?.index;
        store.steps().list.get(index).map(|s| s.event.seq)
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

    /// Queues commands for the app to send.
    fn send_later(&mut self, commands: Vec<Command>) {
        if commands.is_empty() {
            return;
        }
        Rc::make_mut(&mut self.outbox).extend(commands);
        self.outbox_gen += 1;
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
            // A recording plays alone: a socket still closing must not add to it.
            Action::Connection(_) | Action::Server(_) if self.replaying() => {}
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
            Action::TogglePause
            | Action::Step
            | Action::Live
            | Action::Faster
            | Action::Slower
            | Action::SetSpeed(_)
            | Action::StepBack
            | Action::Seek(_)
            | Action::JumpToLastEcho => self.move_playback(action),
            // -- views and links --------------------------------------------------------------
            Action::SetView(view) => self.view = view,
            // -- the guided tour --------------------------------------------------------------
            Action::TourGo(_) | Action::TourNext | Action::TourBack | Action::TourLeave => {
                self.move_tour(action)
            }
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
            Action::FollowMeToggle | Action::Follow(_) => self.classroom_action(action),
            Action::Quiz(action) => self.quiz_action(action),
            // -- keeping a lesson -------------------------------------------------------------
            Action::Host(host) => self.host = Some(host),
            Action::KeepToggle => {
                self.keeping = !self.keeping;
                let limit = self.store_limit();
                for store in self.stores.values_mut() {
                    Rc::make_mut(store).set_limit(limit);
                }
            }
            Action::Replay { recording, url, at } => self.replay(recording, url, at),
            Action::RecordingRefused(problem) => self.push_error(None, Problem::Recording(problem)),
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
        next.drive_quiz();
        next.drive_tour();
        next.judge_quiz();
        next.lead_class();
        Rc::new(next)
    }
}

/// What the tests of every part of the state build their pages from.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    pub(crate) use kettle_shared::{Clock, ErrorCode, ModelState, RecvOutcome, ThreadRef};

    pub(crate) fn model_info(id: &str, state: ModelState) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            title: format!("{id} title"),
            title_zh: format!("{id} 标题"),
            figure: "Stevens Fig. 6.1".into(),
            family: id.parse::<kettle_shared::ModelId>().ok().and_then(|m| m.family()),
            port: Some(9001),
            ports: Vec::new(),
            command: None,
            state,
            reason: None,
            passive: false,
        }
    }

    pub(crate) fn hello(version: u32) -> Action {
        Action::Server(ServerMsg::Hello {
            protocol_version: version,
            models: vec![model_info("blocking", ModelState::Stopped)],
            clock: Clock { start_unix_ms: 0, now_ns: 0 },
            role: kettle_shared::Role::Teacher,
            classroom: false,
        })
    }

    pub(crate) fn ev(seq: u64, t_ns: u64, model: &str, kind: EventKind) -> Event {
        Event {
            seq,
            t_ns,
            model: model.into(),
            thread: ThreadRef { id: 1, name: "blocking".into() },
            conn: Some(1),
            kind,
        }
    }

    pub(crate) fn batch(events: Vec<Event>, dropped: u64) -> Action {
        Action::Server(ServerMsg::Batch { events, dropped })
    }

    pub(crate) fn reduce(state: Rc<State>, actions: impl IntoIterator<Item = Action>) -> Rc<State> {
        actions.into_iter().fold(state, |s, a| s.reduce(a))
    }
    pub(crate) fn opened(client: u32, local: &str) -> Action {
        Action::Server(ServerMsg::Reply {
            id: 9,
            result: ReplyResult::EchoOpened {
                client,
                model: "blocking".into(),
                local: local.into(),
            },
        })
    }
    pub(crate) fn accept_exit(seq: u64, peer: &str) -> Event {
        ev(
            seq,
            seq * 1_000,
            "blocking",
            EventKind::AcceptExit { fd: Some(5), peer: Some(peer.into()), error: None },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

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
                Action::Sent {
                    id: 5,
                    command: Command::EchoOpen { model: "select".into(), port: None },
                },
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
}
