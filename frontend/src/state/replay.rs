//! Replaying a recording: the page starts afresh from a file's events, with no server.
//!
//! The events go through the same paths a live page's do — a `hello` naming the recording's
//! models, then one batch — so every figure, the narration, the code, time travel and the
//! story read them exactly as they would live; the comparison is rebuilt from the line and
//! the clients the recording kept. What the reader chose (language, theme, the view, the
//! speed, the model) stays.

use kettle_shared::recording::Recording;
use kettle_shared::{Clock, Role};

use super::*;
use crate::compare::{Run, RunLane};
use crate::keep::{Replay, Source};

impl State {
    /// Replaces what the page shows with `recording`, paused at the step whose event has seq
    /// `at` (or at the step nearest after it), else at the last step.
    pub(super) fn replay(
        &mut self,
        recording: Rc<Recording>,
        url: Option<String>,
        at: Option<u64>,
    ) {
        let header = recording.header.clone();
        let mut next = State {
            lang: self.lang,
            screen: self.screen.clone(),
            // The experiments are run by a server: a recording shows the figure instead.
            view: if self.view == View::Experiments { View::Figure } else { self.view },
            selected: self.selected.clone(),
            playback: Playback { speed_index: self.playback.speed_index, ..Playback::default() },
            source: Source::Recording(Rc::new(Replay {
                header: header.clone(),
                url,
                recording: recording.clone(),
            })),
            ..State::default()
        };
        next.on_server(ServerMsg::Hello {
            protocol_version: PROTOCOL_VERSION,
            models: header.models.clone(),
            clock: Clock { start_unix_ms: header.t0_unix_ms, now_ns: 0 },
            role: Role::Teacher,
            classroom: false,
        });
        next.on_server(ServerMsg::Batch { events: recording.events.clone(), dropped: header.lost });
        if let Some(compared) = &header.compare {
            next.compare.ticked = compared.lanes.iter().map(|l| l.model.clone()).collect();
            next.compare.run = Some(Run {
                text: compared.text.clone(),
                lanes: compared
                    .lanes
                    .iter()
                    .map(|l| RunLane {
                        model: l.model.clone(),
                        client: Some(l.client),
                        conn: l.conn,
                    })
                    .collect(),
                sent: true,
            });
        }
        // The model on screen must be one the recording has steps of.
        if !next.selected.as_ref().is_some_and(|m| next.stores.contains_key(m)) {
            next.selected =
                recording.models_with_events().into_iter().find(|m| next.stores.contains_key(m));
        }
        // Every move in a recording is reading: it starts paused, at the step asked for.
        let target = at.and_then(|seq| {
            // The model holding that step is the one to show.
            let model = recording.events.iter().find(|e| e.seq == seq)?.model.clone();
            let store = next.stores.get(&model)?;
            let event = store.events().iter().find(|e| e.seq == seq)?;
            Some((model, (event.t_ns, event.seq)))
        });
        if let Some((model, _)) = &target {
            next.selected = Some(model.clone());
        }
        next.playback = next.with_playback(|p, track| match target {
            Some((_, key)) => p.seek(track, track.index_of(key)),
            None => p.live(track),
        });
        next.playback.paused = true;
        *self = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::*;
    use kettle_shared::recording::{Compared, ComparedLane, HostInfo};

    fn recording() -> Rc<Recording> {
        let host = HostInfo {
            kettle_version: "0.1.0".into(),
            kernel: "Linux".into(),
            machine: "lab".into(),
        };
        let mut header = Recording::header(
            &host,
            vec![
                model_info("blocking", ModelState::Running),
                model_info("select", ModelState::Running),
            ],
            5,
        );
        header.compare = Some(Compared {
            text: "hi".into(),
            lanes: vec![ComparedLane { model: "blocking".into(), client: 3, conn: Some(1) }],
        });
        let events = vec![
            ev(1, 1_000, "blocking", EventKind::AcceptEnter),
            ev(2, 2_000, "select", EventKind::AcceptEnter),
            ev(3, 3_000, "blocking", EventKind::RecvEnter { fd: 5, len: 1024 }),
            ev(4, 4_000, "blocking", EventKind::SendEnter { fd: 5, bytes: 2 }),
        ];
        Rc::new(Recording { header, events })
    }

    #[test]
    fn a_replay_shows_the_last_step_paused_with_no_server() {
        let s = Rc::new(State::default()).reduce(Action::Replay {
            recording: recording(),
            url: None,
            at: None,
        });
        assert!(s.replaying());
        assert_eq!(s.selected.as_deref(), Some("blocking"));
        assert!(s.playback.paused);
        assert_eq!(s.shown_seq(), Some(4));
        assert_eq!(s.store_limit(), crate::store::RECORDING_MODEL_EVENTS);
    }

    #[test]
    fn a_replay_at_a_seq_shows_that_step_of_its_model() {
        let s = Rc::new(State::default()).reduce(Action::Replay {
            recording: recording(),
            url: Some("r.gz".into()),
            at: Some(3),
        });
        assert_eq!(s.shown_seq(), Some(3));
        let s = Rc::new(State::default()).reduce(Action::Replay {
            recording: recording(),
            url: None,
            at: Some(2),
        });
        assert_eq!(s.selected.as_deref(), Some("select"));
        assert_eq!(s.shown_seq(), Some(2));
    }

    #[test]
    fn a_replay_ignores_a_socket_still_closing() {
        let s = Rc::new(State::default()).reduce(Action::Replay {
            recording: recording(),
            url: None,
            at: None,
        });
        let s = s.reduce(batch(vec![ev(9, 9_000, "blocking", EventKind::AcceptEnter)], 0));
        assert!(s.store("blocking").unwrap().events().iter().all(|e| e.seq != 9));
        let s = s.reduce(hello(kettle_shared::PROTOCOL_VERSION));
        assert_eq!(s.models.len(), 2, "the recording's models stay");
    }

    #[test]
    fn a_replay_rebuilds_the_comparison_it_kept() {
        let s = Rc::new(State::default()).reduce(Action::Replay {
            recording: recording(),
            url: None,
            at: None,
        });
        let run = s.compare.run.as_ref().unwrap();
        assert_eq!(run.text, "hi");
        assert_eq!((run.lanes[0].client, run.lanes[0].conn), (Some(3), Some(1)));
        assert_eq!(s.compare.ticked, ["blocking"]);
    }

    #[test]
    fn the_link_of_a_replay_from_an_address_names_it_and_the_step() {
        let s = Rc::new(State::default()).reduce(Action::Replay {
            recording: recording(),
            url: Some("lesson.kettle.jsonl.gz".into()),
            at: Some(3),
        });
        let query = s.link().to_query();
        assert!(query.contains("recording=lesson.kettle.jsonl.gz&at=3"), "{query}");
        let from_file = Rc::new(State::default()).reduce(Action::Replay {
            recording: recording(),
            url: None,
            at: Some(3),
        });
        let link = from_file.link();
        assert_eq!((link.recording, link.at), (None, None), "nothing to come back to");
    }

    #[test]
    fn stepping_back_in_a_replay_moves_to_the_previous_step() {
        let s = Rc::new(State::default()).reduce(Action::Replay {
            recording: recording(),
            url: None,
            at: None,
        });
        let s = s.reduce(Action::StepBack);
        assert_eq!(s.shown_seq(), Some(3));
    }

    #[test]
    fn recording_keeps_more_history_and_says_how_much() {
        let s = Rc::new(State::default());
        assert_eq!(s.store_limit(), crate::store::MAX_MODEL_EVENTS);
        let s = s.reduce(Action::KeepToggle);
        assert!(s.keeping);
        assert_eq!(s.store_limit(), crate::store::RECORDING_MODEL_EVENTS);
        let s = reduce(
            s,
            [
                hello(kettle_shared::PROTOCOL_VERSION),
                batch(vec![ev(1, 1, "blocking", EventKind::AcceptEnter)], 0),
            ],
        );
        assert_eq!(s.store("blocking").unwrap().limit(), crate::store::RECORDING_MODEL_EVENTS);
    }
}
