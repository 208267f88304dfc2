//! The models and their events: the catalogue as the backend last described it, each model's
//! own store of steps, the event log, and what each event tells the rest of the page.

use super::*;
use kettle_shared::{Family, ModelId};

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
    pub(super) fn push(&mut self, event: Rc<Event>) {
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

/// The figure a model is drawn as, from the models the backend listed: a built-in model's own
/// ([`kettle_shared::BuiltIn::family`]), a traced program's as the backend last recognised it
/// ([`ModelInfo::family`]; `None` until its calls show one, or while the page does not know the
/// program). An id that names no model is drawn as the plainest figure, Fig. 6.1, rather than
/// not at all (the lesson's pseudo-model, a model of a newer backend).
///
/// The one place the page decides a model's figure: the figure, the narration, the model
/// list's groups, the comparison and playback's "last echo" all ask here.
pub fn family_of(models: &[ModelInfo], id: &str) -> Option<Family> {
    match id.parse::<ModelId>() {
        Ok(ModelId::BuiltIn(model)) => Some(model.family()),
        Ok(ModelId::Traced) => models.iter().find(|m| m.id == id).and_then(|m| m.family),
        Err(_) => Some(Family::Blocking),
    }
}

/// The figure step `step` (an index into `store`'s steps; `None`: the newest) of model `id` is
/// drawn as. A built-in model is always its own figure; a traced program is drawn, at each
/// step, as what the backend recognised it as at that step's time (the kept `Recognised` of
/// the step's time, [`crate::figures::evidence_at`]), so a program that blocked and then
/// selected is Fig. 6.1 when time travel goes back to its blocking steps and Fig. 6.3 from its
/// switch on; with none kept, as the backend last said ([`family_of`]).
///
/// What the figure, its `#figure-why`, the narration and the code of the step on screen ask;
/// the model list, the comparison and the last echo's story go by the newest ([`family_of`]).
pub fn family_at(
    models: &[ModelInfo],
    id: &str,
    store: Option<&crate::store::ModelStore>,
    step: Option<usize>,
) -> Option<Family> {
    match id.parse::<ModelId>() {
        Ok(ModelId::Traced) => store
            .and_then(|store| recognised_at(store, step))
            .map(|evidence| evidence.family)
            .or_else(|| family_of(models, id)),
        _ => family_of(models, id),
    }
}

/// The `Recognised` of step `step`'s time in `store` (`None`: the newest step's).
pub fn recognised_at(
    store: &crate::store::ModelStore,
    step: Option<usize>,
) -> Option<crate::figures::Evidence<'_>> {
    let steps = &store.steps().list;
    let at = match step {
        Some(i) => steps.get(i).or(steps.last())?.at,
        None => store.events().len().checked_sub(1)?,
    };
    crate::figures::evidence_at(store.events(), at)
}

impl State {
    /// The figure a model is drawn as ([`family_of`] over the page's models).
    pub fn family_of(&self, id: &str) -> Option<Family> {
        family_of(&self.models, id)
    }

    /// The figure the step on screen is drawn as: the selected model's at playback's position
    /// ([`family_at`]; live, the newest).
    pub fn shown_family(&self) -> Option<Family> {
        let model = self.selected.as_deref()?;
        let store = self.selected_store().map(|s| &**s);
        family_at(&self.models, model, store, self.position().map(|p| p.index))
    }

    pub(super) fn upsert_model(&mut self, model: ModelInfo) {
        match self.models.iter_mut().find(|m| m.id == model.id) {
            Some(slot) => *slot = model,
            None => self.models.push(model),
        }
    }

    pub(super) fn on_event(&mut self, event: &Event) {
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
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

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
            e(1_000, conn, EventKind::DataArrived { fd, stamp: None });
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

    /// The traced program as the backend lists it: recognised as `family`, or not yet.
    fn traced(family: Option<Family>) -> ModelInfo {
        ModelInfo {
            family,
            command: Some("python3 echo.py".into()),
            ports: vec![9100],
            ..model_info("traced", ModelState::Running)
        }
    }

    #[test]
    fn test_family_of_a_built_in_model_is_its_own_whatever_the_list_says() {
        assert_eq!(family_of(&[], "select"), Some(Family::Multiplex));
        assert_eq!(family_of(&[], "io-uring"), Some(Family::Async));
        assert_eq!(family_of(&[], "sigio"), Some(Family::Signal));
        assert_eq!(family_of(&[], "nonblocking"), Some(Family::BusyLoop));
        assert_eq!(family_of(&[], "thread-pool"), Some(Family::Blocking));
        let listed = ModelInfo { family: None, ..model_info("epoll", ModelState::Running) };
        assert_eq!(family_of(&[listed], "epoll"), Some(Family::Multiplex));
        assert_eq!(family_of(&[], "no-such-model"), Some(Family::Blocking), "the plainest");
    }

    #[test]
    fn test_family_of_a_traced_program_is_what_the_backend_last_recognised() {
        assert_eq!(family_of(&[], "traced"), None, "not listed: nothing is known");
        assert_eq!(family_of(&[traced(None)], "traced"), None, "not recognised yet: no figure");
        let models = [model_info("blocking", ModelState::Stopped), traced(Some(Family::Multiplex))];
        assert_eq!(family_of(&models, "traced"), Some(Family::Multiplex));
        // The program changes style: the backend's new description is the figure from now on.
        let model = |family| Action::Server(ServerMsg::Model { model: traced(family) });
        let s = reduce(Rc::default(), [hello(1), model(Some(Family::Multiplex))]);
        assert_eq!(s.family_of("traced"), Some(Family::Multiplex));
        let s = s.reduce(model(Some(Family::Blocking)));
        assert_eq!(s.family_of("traced"), Some(Family::Blocking));
        assert_eq!(s.family_of("blocking"), Some(Family::Blocking));
    }

    #[test]
    fn test_a_traced_program_that_blocked_then_selected_is_drawn_as_6_1_early_and_6_3_later() {
        use kettle_shared::WaitApi;
        let recognised = |family, call: &str, count| EventKind::Recognised {
            family,
            call: call.into(),
            count,
            threads: 1,
        };
        let e = |seq, kind| ev(seq, seq * 1_000, "traced", kind);
        let events = vec![
            e(1, EventKind::ThreadSpawned),
            e(2, recognised(Family::Blocking, "accept", 1)),
            e(3, EventKind::AcceptEnter),
            e(4, EventKind::RecvEnter { fd: 5, len: 1024 }),
            e(5, recognised(Family::Multiplex, "select", 1)),
            e(6, EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 5] }),
        ];
        // The backend's list says what it does now: select.
        let models = vec![traced(Some(Family::Multiplex))];
        let s = reduce(
            Rc::default(),
            [
                Action::Server(ServerMsg::Hello {
                    protocol_version: PROTOCOL_VERSION,
                    models,
                    clock: Clock { start_unix_ms: 0, now_ns: 0 },
                    role: kettle_shared::Role::Teacher,
                    classroom: false,
                }),
                Action::Select("traced".into()),
                batch(events, 0),
                Action::Live,
            ],
        );
        assert_eq!(s.shown_family(), Some(Family::Multiplex), "live: what it does now");
        let at = |step| s.clone().reduce(Action::Seek(step)).shown_family();
        assert_eq!(at(0), Some(Family::Blocking), "its first steps, before it was recognised");
        assert_eq!(at(2), Some(Family::Blocking), "blocked in accept: Fig. 6.1");
        assert_eq!(at(3), Some(Family::Blocking));
        assert_eq!(at(4), Some(Family::Multiplex), "from the switch on: Fig. 6.3");
        assert_eq!(at(5), Some(Family::Multiplex));
        // Stepping back from live past the switch draws the earlier figure again.
        let back = s.reduce(Action::StepBack).reduce(Action::StepBack);
        assert_eq!(back.shown_family(), Some(Family::Blocking));
        // The narration and the code are told the step's figure too.
        assert_eq!(crate::components::OnScreen::of(&back).figure, Some(Family::Blocking));
        // The list, the comparison and the last echo go by the newest.
        assert_eq!(back.family_of("traced"), Some(Family::Multiplex));
    }

    #[test]
    fn test_a_traced_step_with_no_recognition_kept_is_drawn_as_the_backend_last_said() {
        let store = |events: Vec<Event>| {
            let mut store = crate::store::ModelStore::default();
            store.extend(events.into_iter().map(Rc::new));
            store
        };
        let accept = store(vec![ev(1, 1, "traced", EventKind::AcceptEnter)]);
        let models = [traced(Some(Family::BusyLoop))];
        assert_eq!(family_at(&models, "traced", Some(&accept), Some(0)), Some(Family::BusyLoop));
        assert_eq!(family_at(&models, "traced", None, None), Some(Family::BusyLoop));
        assert_eq!(family_at(&[traced(None)], "traced", Some(&accept), Some(0)), None);
        // Restarted and not recognised again yet: not drawn as the last run was.
        let stopped = EventKind::Stopped { reason: kettle_shared::Reason::StoppedOnRequest };
        let recognised = EventKind::Recognised {
            family: Family::Signal,
            call: "SIGIO".into(),
            count: 1,
            threads: 1,
        };
        let restarted = store(vec![
            ev(1, 1, "traced", recognised),
            ev(2, 2, "traced", stopped),
            ev(3, 3, "traced", EventKind::AcceptEnter),
        ]);
        let at = |step| family_at(&[traced(None)], "traced", Some(&restarted), step);
        assert_eq!(at(Some(0)), Some(Family::Signal), "the last run's steps: its figure");
        assert_eq!(at(Some(2)), None, "this run's: not recognised yet");
        assert_eq!(at(None), None);
        // A built-in model's store says nothing about its figure.
        assert_eq!(family_at(&[], "select", Some(&restarted), Some(0)), Some(Family::Multiplex));
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
                crate::figures::Drawn::of(&s.models, "epoll").unwrap(),
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
}
