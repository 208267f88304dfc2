//! The guided tour: the tutorial's lesson order, one stop per model, each stop acting its
//! point out on a real server.
//!
//! A stop starts its model (if it is not running), opens an echo client (or reuses an open one:
//! a second client of the one-thread blocking server would wait in the backlog), sends one line
//! once the server has accepted the client, and then waits until the step that makes the
//! stop's point has been *recorded* — the `recv` that slept through both phases, the `select`
//! that returned readable, the signal, the completion — and pauses the figure on it. Nothing is
//! scripted: if the server never records that step, the stop keeps waiting and says so.
//!
//! The tour is pure: [`Tour::drive`] looks at the page's state through [`World`] and answers
//! with [`Effect`]s (commands to send, where to pause); the reducer calls it after every action,
//! so every stop advances as soon as the state it waits for appears, whatever the order in
//! which replies and events arrive.

use kettle_shared::{is_copy, BuiltIn, Command, EventKind, ModelState, View};

use crate::i18n::Key;
use crate::store::Steps;

/// The recorded step a stop pauses on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The `recv` that returned the line: for a blocking call, the end of both phases.
    Copy,
    /// The readiness call (`select`, `poll`, `epoll_wait`) that reported the line's socket.
    ReadyBeforeCopy,
    /// The reactor calling the callback registered for the line's socket.
    CallbackBeforeCopy,
    /// The signal that told the thread the line's socket is readable.
    SignalBeforeCopy,
    /// The completion (CQE) of the read the kernel did on its own.
    Completion,
}

/// One stop of the tour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// The model acted out, for [`View::Figure`] stops.
    pub model: Option<&'static str>,
    /// What is shown.
    pub scene: View,
    /// Where the figure pauses.
    pub moment: Option<Moment>,
    /// The stop's title.
    pub title: Key,
    /// What to look at, in two or three sentences.
    pub text: Key,
}

/// The stop that acts a model out, if the tour stops at it: an exhaustive match, so a new
/// model does not compile until the tour says whether it has a stop (and where it pauses).
/// The stops follow the catalogue's order, which is the tutorial's.
const fn stop_of(model: BuiltIn) -> Option<Stop> {
    let (moment, title, text) = match model {
        BuiltIn::Blocking => (Moment::Copy, Key::TourBlockingTitle, Key::TourBlocking),
        BuiltIn::ThreadPerConn => (Moment::Copy, Key::TourThreadsTitle, Key::TourThreads),
        // A process per connection acts out the thread stop's point again, at a higher price.
        BuiltIn::ProcessPerConn => return None,
        BuiltIn::ThreadPool => (Moment::Copy, Key::TourPoolTitle, Key::TourPool),
        BuiltIn::Nonblocking => (Moment::Copy, Key::TourNonblockingTitle, Key::TourNonblocking),
        BuiltIn::Select => (Moment::ReadyBeforeCopy, Key::TourSelectTitle, Key::TourSelect),
        // poll and edge-triggered epoll make select's and epoll's points once more.
        BuiltIn::Poll | BuiltIn::EpollEt => return None,
        BuiltIn::Epoll => (Moment::ReadyBeforeCopy, Key::TourEpollTitle, Key::TourEpoll),
        BuiltIn::Reactor => (Moment::CallbackBeforeCopy, Key::TourReactorTitle, Key::TourReactor),
        BuiltIn::Sigio => (Moment::SignalBeforeCopy, Key::TourSigioTitle, Key::TourSigio),
        BuiltIn::IoUring => (Moment::Completion, Key::TourAsyncTitle, Key::TourAsync),
        // The kernel's own asynchronous I/O is io_uring's stop; glibc's emulation is its lesson.
        BuiltIn::PosixAio => return None,
    };
    Some(Stop { model: Some(model.id()), scene: View::Figure, moment: Some(moment), title, text })
}

/// The comparison's stop.
const COMPARE: Stop = Stop {
    model: None,
    scene: View::Compare,
    moment: None,
    title: Key::TourCompareTitle,
    text: Key::TourCompare,
};

/// The kettle story's stop, the last.
const STORY: Stop = Stop {
    model: None,
    scene: View::Story,
    moment: None,
    title: Key::TourStoryTitle,
    text: Key::TourStory,
};

/// How many models the tour stops at.
const MODEL_STOPS: usize = {
    let (mut n, mut i) = (0, 0);
    while i < BuiltIn::ALL.len() {
        if stop_of(BuiltIn::ALL[i]).is_some() {
            n += 1;
        }
        i += 1;
    }
    n
};

/// The tutorial's order: the models' stops in the catalogue's order, then the comparison and
/// the story.
pub const STOPS: &[Stop] = &{
    let mut stops = [COMPARE; MODEL_STOPS + 2];
    let (mut n, mut i) = (0, 0);
    while i < BuiltIn::ALL.len() {
        if let Some(stop) = stop_of(BuiltIn::ALL[i]) {
            stops[n] = stop;
            n += 1;
        }
        i += 1;
    }
    stops[n] = COMPARE;
    stops[n + 1] = STORY;
    stops
};

/// The line each stop sends; the server echoes it upper-cased.
pub fn line_of(stop: usize) -> String {
    format!("kettle tour {}\n", stop + 1)
}

/// How far a stop has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for the stop's model(s) to run; `start` has been sent for those that did not.
    Starting,
    /// Waiting for an echo client to be open and accepted by the server.
    Opening,
    /// The line was sent through `client`; waiting for the step of the stop's moment.
    Watching {
        /// The echo client.
        client: u32,
        /// The connection the server accepted it as.
        conn: u64,
        /// The newest event seq of the model when the line was sent: the moment comes after.
        after_seq: u64,
    },
    /// Paused on the moment: the step with this sort key.
    Arrived {
        /// `(t_ns, seq)` of the step.
        key: (u64, u64),
    },
    /// A stop with nothing to wait for (the story), or whose line went out (the comparison).
    Ready,
    /// The model cannot run on this machine.
    Unavailable,
}

impl Progress {
    /// The word for `#tour[data-state]`.
    pub fn id(self) -> &'static str {
        match self {
            Progress::Starting => "starting",
            Progress::Opening => "opening",
            Progress::Watching { .. } => "watching",
            Progress::Arrived { .. } => "arrived",
            Progress::Ready => "ready",
            Progress::Unavailable => "unavailable",
        }
    }

    /// Whether the stop has shown what it is for.
    pub fn done(self) -> bool {
        matches!(self, Progress::Arrived { .. } | Progress::Ready)
    }
}

/// The tour, while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Tour {
    /// Index into [`STOPS`].
    pub stop: usize,
    /// How far this stop has got.
    pub progress: Progress,
    /// `start` sent for these models at this stop (each only once).
    started: Vec<String>,
    /// An echo client was asked for at this stop.
    open_sent: bool,
    /// The stop's question is being asked (`questions.rs`): the client is opened but the
    /// line waits until the answer is revealed.
    pub hold_line: bool,
    /// `(conn, after_seq)` of the line once sent: what the question is judged from.
    pub line: Option<(u64, u64)>,
}

/// What the tour sees of the page.
#[derive(Debug, Clone, Copy)]
pub struct World<'a> {
    /// Every model's state.
    pub models: &'a [(String, ModelState)],
    /// This page's echo clients: id, model, the connection the server accepted it as, open.
    pub clients: &'a [ClientView<'a>],
    /// The models the comparison would use (ticked).
    pub compare: &'a [String],
    /// The steps of the stop's model, if it has any.
    pub steps: Option<&'a Steps>,
    /// The newest event seq known for the stop's model.
    pub newest_seq: u64,
}

/// One echo client as the tour sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientView<'a> {
    /// The client id.
    pub id: u32,
    /// Its model.
    pub model: &'a str,
    /// The server accepted it as this connection.
    pub accepted: Option<u64>,
    /// Still connected.
    pub open: bool,
}

/// What the reducer must do for the tour.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send this command.
    Send(Command),
    /// Send the line through the comparison (as if typed there).
    CompareSend(String),
    /// Pause the figure on the step with this sort key.
    PauseAt((u64, u64)),
}

impl Tour {
    /// The tour at stop `stop` (clamped to the last), before anything was done for it.
    pub fn at(stop: usize) -> Tour {
        Tour {
            stop: stop.min(STOPS.len() - 1),
            progress: Progress::Starting,
            started: Vec::new(),
            open_sent: false,
            hold_line: false,
            line: None,
        }
    }

    /// The stop being shown.
    pub fn current(&self) -> &'static Stop {
        &STOPS[self.stop]
    }

    /// Moves the stop on as far as the page's state allows; returns what to do.
    pub fn drive(&mut self, world: &World<'_>) -> Vec<Effect> {
        let stop = self.current();
        let mut effects = Vec::new();
        // Each arm may move to the next progress; loop until nothing changes.
        loop {
            let before = self.progress;
            match (self.progress, stop.scene) {
                // A stop that only shows a view (the story, the experiments) is ready at once.
                (Progress::Starting, View::Story | View::Experiments) => {
                    self.progress = Progress::Ready
                }
                (Progress::Starting, View::Compare) => {
                    let wanted: Vec<&String> = world
                        .compare
                        .iter()
                        .filter(|m| state_of(world, m) != Some(ModelState::Unavailable))
                        .collect();
                    let mut all_running = !wanted.is_empty();
                    for model in wanted {
                        if state_of(world, model) != Some(ModelState::Running) {
                            all_running = false;
                            effects.extend(self.start_once(model));
                        }
                    }
                    if all_running {
                        effects.push(Effect::CompareSend(line_of(self.stop).trim_end().into()));
                        self.progress = Progress::Ready;
                    }
                }
                (Progress::Starting, View::Figure) => {
                    let model = stop.model.unwrap_or_default();
                    match state_of(world, model) {
                        Some(ModelState::Running) => self.progress = Progress::Opening,
                        Some(ModelState::Unavailable) => self.progress = Progress::Unavailable,
                        _ => effects.extend(self.start_once(model)),
                    }
                }
                (Progress::Opening, _) => {
                    let model = stop.model.unwrap_or_default();
                    let mine = world.clients.iter().filter(|c| c.model == model && c.open);
                    // The newest accepted client, else one still in the backlog (wait for it).
                    let accepted = mine.clone().rfind(|c| c.accepted.is_some());
                    match (accepted, mine.clone().next()) {
                        (Some(_), _) if self.hold_line => {}
                        (Some(c), _) => {
                            let conn = c.accepted.unwrap_or_default();
                            effects.push(Effect::Send(Command::EchoSend {
                                client: c.id,
                                text: line_of(self.stop),
                            }));
                            self.progress = Progress::Watching {
                                client: c.id,
                                conn,
                                after_seq: world.newest_seq,
                            };
                            self.line = Some((conn, world.newest_seq));
                        }
                        (None, Some(_)) => {}
                        (None, None) if !self.open_sent => {
                            self.open_sent = true;
                            effects.push(Effect::Send(Command::EchoOpen {
                                model: model.into(),
                                port: None,
                            }));
                        }
                        (None, None) => {}
                    }
                }
                (Progress::Watching { conn, after_seq, .. }, _) => {
                    let found = stop
                        .moment
                        .zip(world.steps)
                        .and_then(|(moment, steps)| find_moment(steps, moment, conn, after_seq));
                    if let Some(key) = found {
                        effects.push(Effect::PauseAt(key));
                        self.progress = Progress::Arrived { key };
                    }
                }
                (Progress::Arrived { .. } | Progress::Ready | Progress::Unavailable, _) => {}
            }
            if self.progress == before {
                return effects;
            }
        }
    }

    fn start_once(&mut self, model: &str) -> Option<Effect> {
        if self.started.iter().any(|m| m == model) {
            return None;
        }
        self.started.push(model.to_owned());
        Some(Effect::Send(Command::Start { model: model.to_owned() }))
    }
}

fn state_of(world: &World<'_>, model: &str) -> Option<ModelState> {
    world.models.iter().find(|(id, _)| id == model).map(|(_, s)| *s)
}

/// The sort key of the step a moment names, once it has been recorded.
pub fn find_moment(steps: &Steps, moment: Moment, conn: u64, after_seq: u64) -> Option<(u64, u64)> {
    let list = &steps.list;
    let copy = list.iter().position(|s| is_copy(&s.event, conn, after_seq))?;
    let fd = match &list[copy].event.kind {
        EventKind::RecvExit { fd, .. } | EventKind::Complete { fd, .. } => *fd,
        _ => return None,
    };
    let before = |wanted: &dyn Fn(&EventKind) -> bool| {
        list[..copy]
            .iter()
            .rev()
            .take_while(|s| s.event.seq > after_seq)
            .find(|s| wanted(&s.event.kind))
            .map(|s| s.key())
    };
    match moment {
        Moment::Copy | Moment::Completion => Some(list[copy].key()),
        Moment::ReadyBeforeCopy => before(
            &|k| matches!(k, EventKind::WaitReturned { ready, .. } if ready.iter().any(|r| r.fd == fd)),
        ),
        Moment::CallbackBeforeCopy => {
            before(&|k| matches!(k, EventKind::Callback { fd: f, .. } if *f == fd))
        }
        Moment::SignalBeforeCopy => before(&|k| matches!(k, EventKind::SignalDelivered { .. })),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::rc::Rc;

    use kettle_shared::{Event, ReadyFd, RecvOutcome, ThreadRef, WaitApi};

    use super::*;

    fn ev(seq: u64, conn: Option<u64>, kind: EventKind) -> Rc<Event> {
        Rc::new(Event {
            seq,
            t_ns: seq * 1_000,
            model: "select".into(),
            thread: ThreadRef { id: 1, name: "select".into() },
            conn,
            kind,
        })
    }

    fn data(seq: u64, conn: u64, fd: i32) -> Rc<Event> {
        let outcome = RecvOutcome::Data { bytes: 5, preview: "hi".into() };
        ev(seq, Some(conn), EventKind::RecvExit { fd, outcome, wait_ns: None, copy_ns: None })
    }

    fn ready(seq: u64, fd: i32) -> Rc<Event> {
        let ready = vec![ReadyFd { fd, readable: true, writable: false }];
        ev(seq, None, EventKind::WaitReturned { api: WaitApi::Select, ready, scanned: 3 })
    }

    fn steps(events: Vec<Rc<Event>>) -> Steps {
        Steps::derive(&events.into_iter().collect::<VecDeque<_>>())
    }

    fn models(state: ModelState) -> Vec<(String, ModelState)> {
        STOPS.iter().filter_map(|s| s.model).map(|m| (m.to_owned(), state)).collect()
    }

    fn world<'a>(
        models: &'a [(String, ModelState)],
        clients: &'a [ClientView<'a>],
        steps: Option<&'a Steps>,
    ) -> World<'a> {
        World { models, clients, compare: &[], steps, newest_seq: 10 }
    }

    #[test]
    fn test_the_tour_walks_the_tutorials_order_and_ends_with_the_comparison_and_the_story() {
        let order: Vec<_> = STOPS.iter().map(|s| s.model.unwrap_or("-")).collect();
        assert_eq!(
            order,
            [
                "blocking",
                "thread-per-conn",
                "thread-pool",
                "nonblocking",
                "select",
                "epoll",
                "reactor",
                "sigio",
                "io-uring",
                "-",
                "-"
            ]
        );
        assert_eq!(STOPS[9].scene, View::Compare);
        assert_eq!(STOPS[10].scene, View::Story);
        for stop in STOPS {
            if let Some(model) = stop.model {
                assert!(kettle_shared::MODELS.iter().any(|m| m.id == model), "{model}");
            }
        }
    }

    #[test]
    fn test_a_stopped_model_is_started_once_then_a_client_opened_once() {
        let mut tour = Tour::at(0);
        let stopped = models(ModelState::Stopped);
        let effects = tour.drive(&world(&stopped, &[], None));
        assert_eq!(effects, [Effect::Send(Command::Start { model: "blocking".into() })]);
        assert!(tour.drive(&world(&stopped, &[], None)).is_empty(), "start is sent once");
        let running = models(ModelState::Running);
        let effects = tour.drive(&world(&running, &[], None));
        assert_eq!(
            effects,
            [Effect::Send(Command::EchoOpen { model: "blocking".into(), port: None })]
        );
        assert_eq!(tour.progress, Progress::Opening);
        assert!(tour.drive(&world(&running, &[], None)).is_empty(), "one client is asked for");
    }

    #[test]
    fn test_the_line_waits_for_the_accept_and_reuses_an_open_client() {
        let running = models(ModelState::Running);
        let mut tour = Tour::at(0);
        tour.drive(&world(&running, &[], None));
        let backlog = [ClientView { id: 4, model: "blocking", accepted: None, open: true }];
        assert!(tour.drive(&world(&running, &backlog, None)).is_empty(), "not accepted yet");
        let accepted = [ClientView { id: 4, model: "blocking", accepted: Some(7), open: true }];
        let effects = tour.drive(&world(&running, &accepted, None));
        assert_eq!(
            effects,
            [Effect::Send(Command::EchoSend { client: 4, text: "kettle tour 1\n".into() })]
        );
        assert_eq!(tour.progress, Progress::Watching { client: 4, conn: 7, after_seq: 10 });
    }

    #[test]
    fn test_a_held_line_waits_for_the_reveal_with_the_client_already_accepted() {
        let running = models(ModelState::Running);
        let accepted = [ClientView { id: 4, model: "blocking", accepted: Some(7), open: true }];
        let mut tour = Tour::at(0);
        tour.hold_line = true;
        assert!(tour.drive(&world(&running, &accepted, None)).is_empty(), "held");
        assert_eq!(tour.progress, Progress::Opening);
        tour.hold_line = false;
        let effects = tour.drive(&world(&running, &accepted, None));
        assert_eq!(effects.len(), 1, "{effects:?}");
        assert_eq!(tour.line, Some((7, 10)));
    }

    #[test]
    fn test_select_pauses_on_the_readiness_return_of_the_lines_socket_not_an_older_one() {
        let running = models(ModelState::Running);
        let clients = [ClientView { id: 1, model: "select", accepted: Some(3), open: true }];
        let mut tour = Tour::at(4);
        tour.drive(&world(&running, &clients, None));
        assert!(matches!(tour.progress, Progress::Watching { .. }));
        // An older line (before seq 10) must not count; another socket's readiness neither.
        let recorded =
            steps(vec![ready(5, 8), data(6, 3, 8), ready(11, 8), ready(12, 9), data(13, 3, 8)]);
        let effects = tour.drive(&world(&running, &clients, Some(&recorded)));
        assert_eq!(effects, [Effect::PauseAt((11_000, 11))]);
        assert_eq!(tour.progress, Progress::Arrived { key: (11_000, 11) });
    }

    #[test]
    fn test_no_moment_recorded_means_the_stop_keeps_waiting() {
        let running = models(ModelState::Running);
        let clients = [ClientView { id: 1, model: "blocking", accepted: Some(3), open: true }];
        let mut tour = Tour::at(0);
        tour.drive(&world(&running, &clients, None));
        let other_conn = steps(vec![data(11, 99, 8)]);
        assert!(tour.drive(&world(&running, &clients, Some(&other_conn))).is_empty());
        assert!(matches!(tour.progress, Progress::Watching { .. }));
    }

    #[test]
    fn test_an_unavailable_model_is_said_not_waited_for() {
        let unavailable = models(ModelState::Unavailable);
        let mut tour = Tour::at(8);
        assert!(tour.drive(&world(&unavailable, &[], None)).is_empty());
        assert_eq!(tour.progress, Progress::Unavailable);
    }

    #[test]
    fn test_the_comparison_starts_what_it_needs_then_sends_one_line() {
        let mut states = models(ModelState::Stopped);
        let compare: Vec<String> = vec!["blocking".into(), "select".into()];
        let mut tour = Tour::at(9);
        fn w<'a>(models: &'a [(String, ModelState)], compare: &'a [String]) -> World<'a> {
            World { models, clients: &[], compare, steps: None, newest_seq: 0 }
        }
        let effects = tour.drive(&w(&states, &compare));
        assert_eq!(effects.len(), 2, "{effects:?}");
        for (_, s) in &mut states {
            *s = ModelState::Running;
        }
        assert_eq!(
            tour.drive(&w(&states, &compare)),
            [Effect::CompareSend("kettle tour 10".into())]
        );
        assert_eq!(tour.progress, Progress::Ready);
    }

    #[test]
    fn test_the_story_needs_nothing() {
        let mut tour = Tour::at(99);
        assert_eq!(tour.stop, STOPS.len() - 1);
        assert!(tour.drive(&world(&[], &[], None)).is_empty());
        assert!(tour.progress.done());
    }
}
