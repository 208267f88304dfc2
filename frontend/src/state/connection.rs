//! The connection: what the backend says (every [`ServerMsg`]), the commands awaiting its
//! answer, and the answers.

use super::*;

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

/// A command sent and not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The command id.
    pub id: u64,
    /// What was asked.
    pub command: Command,
}

impl State {
    pub(super) fn take_pending(&mut self, id: u64) -> Option<Pending> {
        let at = self.pending.iter().position(|p| p.id == id)?;
        Some(self.pending.remove(at))
    }

    pub(super) fn on_server(&mut self, msg: ServerMsg) {
        match msg {
            ServerMsg::Hello { protocol_version, models, role, classroom, clock } => {
                self.clock_start_unix_ms = clock.start_unix_ms;
                self.version_mismatch =
                    (protocol_version != PROTOCOL_VERSION).then_some(protocol_version);
                // The server tells "follow me" again after the hello if it is on; a leading
                // teacher's page then sends its view afresh.
                self.classroom.on = classroom;
                self.classroom.role = role;
                self.classroom.leading = None;
                self.classroom.sent = None;
                self.quiz_after_hello();
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
                let limit = self.store_limit();
                for (model, events) in by_model {
                    let store = self
                        .stores
                        .entry(model.to_owned())
                        .or_insert_with(|| Rc::new(ModelStore::with_limit(limit)));
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
                if let Some(Pending { command: Command::EchoOpen { model, .. }, .. }) = &failed {
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
            ServerMsg::Ballot { ballot } => self.on_ballot(ballot),
            ServerMsg::Follow { view } => {
                if view.is_none() {
                    self.classroom.leader = false;
                }
                self.classroom.leading = view;
                self.follow_teacher();
            }
        }
    }

    pub(super) fn on_reply(&mut self, result: ReplyResult) {
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
            ReplyResult::Voted { question, choice } => self.on_voted(&question, choice),
            ReplyResult::Asked { .. } | ReplyResult::Revealed { .. } => {}
            // Its tables follow; it was shown as running when asked.
            ReplyResult::ExperimentStarted { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

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

    #[test]
    fn test_hello_after_a_reconnect_replaces_what_it_had_instead_of_adding_it_again() {
        let history = || batch(vec![ev(1, 1, "blocking", EventKind::AcceptEnter)], 0);
        let s = reduce(Rc::default(), [hello(1), history(), hello(1), history()]);
        assert_eq!(s.store("blocking").unwrap().events().len(), 1);
        assert_eq!(s.events.len(), 1);
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
}
