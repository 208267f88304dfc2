//! What the page shows besides playback: the comparison (Fig. 6.6) and the guided tour, which
//! moves the page itself from stop to stop.

use super::*;

impl State {
    /// Sends one line through one client on each ticked running model (Fig. 6.6).
    pub(super) fn compare_send(&mut self, text: String) {
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
    pub(super) fn drive_tour(&mut self) {
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
        self.view = tour.current().scene;
        self.tour = Some(tour);
        // Every stop is about a step and the line of code that made it.
        self.screen.side = crate::screen::Side::Code;
    }
}

impl State {
    /// Applies an action that moves the guided tour (routed here by [`State::apply`]).
    pub(super) fn move_tour(&mut self, action: Action) {
        match action {
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
            // Every other action is routed elsewhere by `apply`.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

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
        assert_eq!(
            s.outbox.last(),
            Some(&Command::EchoOpen { model: "blocking".into(), port: None })
        );
        let s = reduce(s, [opened(3, "127.0.0.1:40003")]);
        assert_eq!(s.tour.as_ref().unwrap().progress.id(), "opening", "not accepted yet");
        let s = s.reduce(batch(vec![accept_exit(1, "127.0.0.1:40003")], 0));
        assert_ne!(
            s.outbox.last(),
            Some(&Command::EchoSend { client: 3, text: crate::tour::line_of(0) }),
            "the stop's question is asked first"
        );
        let s = s.reduce(Action::Quiz(crate::questions::QuizAction::Reveal));
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
}
