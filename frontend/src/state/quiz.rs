//! Predict, then see: the tour stop's question in the page's state ([`crate::questions`] is
//! the pure logic; this is where the reducer drives it). Before the tour moves, the question
//! of its stop is put up (and asked of the class from the teacher's page) and the tour told
//! to hold its line while the answer is open; after it moves, the line's recorded step is
//! judged once the tour found it, and the verdict counted in the score (alone); the teacher's
//! page then asks the backend to reveal that line, which it judges from its own record.

use kettle_shared::{Ballot, Role};

use super::*;
use crate::questions::{Phase, Quiz, QuizAction};
use crate::tour::Progress;

impl State {
    /// This page leads the class's vote: the teacher's page in classroom mode.
    fn leads_vote(&self) -> bool {
        self.classroom.on && self.classroom.role == Role::Teacher
    }

    /// Applies what the user did with the question.
    pub(super) fn quiz_action(&mut self, action: QuizAction) {
        match action {
            QuizAction::Answer(choice) => {
                let Some(quiz) = &mut self.quiz else { return };
                if quiz.phase != Phase::Asking || !quiz.has_choice(choice) {
                    return;
                }
                if quiz.votes {
                    // Marked as this page's once the server counted it (`Voted`).
                    let question = quiz.question.id.to_owned();
                    self.send_later(vec![Command::Vote { question, choice }]);
                } else {
                    quiz.mine = Some(choice);
                }
            }
            QuizAction::Reveal => {
                if let Some(quiz) = &mut self.quiz {
                    if quiz.phase == Phase::Asking && !quiz.votes {
                        quiz.phase = Phase::Revealing;
                    }
                }
            }
            QuizAction::ToggleBars => {
                if let Some(quiz) = &mut self.quiz {
                    quiz.bars = !quiz.bars;
                }
            }
            QuizAction::ClearScore => self.score = Default::default(),
            QuizAction::LoadScore(text) => self.score = crate::questions::Score::parse(&text),
        }
    }

    /// The question of the tour's stop, put up before the tour moves (after every action).
    pub(super) fn drive_quiz(&mut self) {
        // Before `hello` this page does not know whether it leads a class, and cannot send.
        if self.models.is_empty() {
            return;
        }
        let leads = self.leads_vote();
        match &self.tour {
            Some(tour) => {
                let same = self
                    .quiz
                    .as_ref()
                    .is_some_and(|q| !q.votes && q.stop == tour.stop && q.leads == leads);
                if !same {
                    let next = Quiz::at(tour.stop, tour.current().model, leads);
                    if leads && (next.is_some() || self.quiz.is_some()) {
                        let question = next.as_ref().map(|q| q.question.id.to_owned());
                        self.send_later(vec![Command::Ask { question }]);
                    }
                    self.quiz = next;
                }
            }
            None => {
                if self.quiz.as_ref().is_some_and(|q| !q.votes) {
                    if leads {
                        self.send_later(vec![Command::Ask { question: None }]);
                    }
                    self.quiz = None;
                }
            }
        }
        let hold = self.quiz.as_ref().is_some_and(|q| !q.votes && q.holds_line());
        if let Some(tour) = &mut self.tour {
            tour.hold_line = hold;
        }
    }

    /// Judges the line's recorded step once the tour found it (after the tour moved).
    pub(super) fn judge_quiz(&mut self) {
        let Some(tour) = &self.tour else { return };
        let (Progress::Arrived { .. }, Some((conn, after_seq))) = (tour.progress, tour.line) else {
            return;
        };
        let Some(quiz) = &mut self.quiz else { return };
        if quiz.phase != Phase::Revealing {
            return;
        }
        let Some(store) = self.stores.get(quiz.question.model.id()) else { return };
        let events: Vec<Event> = store.events().iter().map(|e| (**e).clone()).collect();
        if !quiz.judge(&events, conn, after_seq) {
            return;
        }
        let (id, right) = (quiz.question.id, quiz.right());
        if self.leads_vote() {
            // The class is told the backend's verdict, judged from the events it recorded.
            let question = id.to_owned();
            self.send_later(vec![Command::Reveal { question, conn, after_seq }]);
        } else if let Some(right) = right {
            self.score.record(id, right);
        }
    }

    /// The class's vote, as the server told it.
    pub(super) fn on_ballot(&mut self, ballot: Option<Ballot>) {
        match (ballot, &mut self.quiz) {
            (Some(b), Some(quiz)) if quiz.question.id == b.question => quiz.update(b),
            // A student's page not running a tour of its own votes on the teacher's question.
            (Some(b), _) if self.classroom.role == Role::Student && self.tour.is_none() => {
                self.quiz = Quiz::voting(b)
            }
            (None, Some(quiz)) if quiz.votes => self.quiz = None,
            _ => {}
        }
    }

    /// A new WebSocket is a new viewer of a server that may have forgotten the vote (it
    /// restarted): a student's question comes back after the hello if it is still asked, and
    /// a leading teacher's page asks afresh (`drive_quiz` puts it up again).
    pub(super) fn quiz_after_hello(&mut self) {
        if self.quiz.as_ref().is_some_and(|q| q.votes || q.leads) {
            self.quiz = None;
        }
    }

    /// The server counted this page's vote.
    pub(super) fn on_voted(&mut self, question: &str, choice: u32) {
        if let Some(quiz) = self.quiz.as_mut().filter(|q| q.question.id == question) {
            quiz.mine = Some(choice);
        }
    }
}

#[cfg(test)]
mod tests {
    use kettle_shared::{Evidence, ModelState, RecvOutcome, Verdict};

    use super::super::fixtures::*;
    use super::*;
    use crate::questions::Score;

    fn hello_as(role: Role, classroom: bool) -> Action {
        Action::Server(ServerMsg::Hello {
            protocol_version: PROTOCOL_VERSION,
            models: vec![model_info("blocking", ModelState::Running)],
            clock: Clock { start_unix_ms: 0, now_ns: 0 },
            role,
            classroom,
        })
    }

    fn sent(s: &State) -> Vec<Command> {
        s.outbox.iter().cloned().collect()
    }

    /// The blocking stop with its client accepted as connection 1 (peer `127.0.0.1:5000`).
    fn at_the_blocking_stop(role: Role, classroom: bool) -> Rc<State> {
        reduce(
            Rc::default(),
            [
                hello_as(role, classroom),
                Action::TourGo(0),
                opened(3, "127.0.0.1:5000"),
                batch(vec![accept_exit(1, "127.0.0.1:5000")], 0),
            ],
        )
    }

    fn the_line_copied(seq: u64) -> Action {
        let kind = EventKind::RecvExit {
            fd: 5,
            outcome: RecvOutcome::Data { bytes: 14, preview: "kettle tour 1".into() },
            wait_ns: Some(342_000_000),
            copy_ns: Some(1_000),
        };
        batch(vec![ev(seq, seq * 1_000, "blocking", kind)], 0)
    }

    #[test]
    fn test_alone_the_line_waits_for_the_reveal_and_the_score_counts_the_answer() {
        let s = at_the_blocking_stop(Role::Teacher, false);
        let quiz = s.quiz.as_ref().unwrap();
        assert_eq!((quiz.question.id, quiz.phase.id()), ("blocking-wait", "asking"));
        assert!(
            !sent(&s).iter().any(|c| matches!(c, Command::EchoSend { .. })),
            "the line is held while asking: {:?}",
            sent(&s)
        );
        let s =
            reduce(s, [Action::Quiz(QuizAction::Answer(9)), Action::Quiz(QuizAction::Answer(0))]);
        assert_eq!(
            s.quiz.as_ref().unwrap().mine,
            Some(0),
            "an answer that does not exist is ignored"
        );
        let s = s.reduce(Action::Quiz(QuizAction::Reveal));
        assert!(sent(&s).iter().any(|c| matches!(c, Command::EchoSend { client: 3, .. })));
        assert_eq!(s.quiz.as_ref().unwrap().phase.id(), "revealing");
        let s = s.reduce(the_line_copied(2));
        let quiz = s.quiz.as_ref().unwrap();
        assert_eq!(
            quiz.verdict(),
            Some(&Verdict {
                choice: Some(0),
                evidence: Evidence::InRecv { wait_ns: Some(342_000_000) }
            })
        );
        assert_eq!(s.score.tally(), (1, 1));
        assert_eq!(s.score.stored(), "blocking-wait=1");
        let s = s.reduce(Action::Quiz(QuizAction::Answer(2)));
        assert_eq!(s.quiz.as_ref().unwrap().mine, Some(0), "revealed: the answer stays");
        let s = s.reduce(Action::Quiz(QuizAction::ClearScore));
        assert_eq!(s.score, Score::default());
    }

    #[test]
    fn test_the_teachers_page_asks_the_class_and_reveals_the_line_it_sent() {
        let s = at_the_blocking_stop(Role::Teacher, true);
        assert!(sent(&s).contains(&Command::Ask { question: Some("blocking-wait".into()) }));
        let s = reduce(s, [Action::Quiz(QuizAction::Reveal), the_line_copied(2)]);
        let reveal = Command::Reveal { question: "blocking-wait".into(), conn: 1, after_seq: 1 };
        assert!(sent(&s).contains(&reveal), "{:?}", sent(&s));
        assert_eq!(s.score.tally(), (0, 0), "a teacher's reveal is not a self-test");
        let s = s.reduce(Action::TourLeave);
        assert!(s.quiz.is_none());
        assert!(sent(&s).contains(&Command::Ask { question: None }));
    }

    #[test]
    fn test_a_tour_opened_before_the_hello_asks_the_class_once_the_page_knows_it_leads() {
        let s = reduce(Rc::default(), [Action::TourGo(0)]);
        assert!(s.quiz.is_none() && s.outbox.is_empty());
        let s = s.reduce(hello_as(Role::Teacher, true));
        assert!(s.quiz.as_ref().unwrap().leads);
        assert!(sent(&s).contains(&Command::Ask { question: Some("blocking-wait".into()) }));
    }

    #[test]
    fn test_after_a_reconnection_the_teachers_page_asks_again_and_a_student_waits_for_the_ballot() {
        let s = at_the_blocking_stop(Role::Teacher, true);
        let generation = s.outbox_gen;
        let s = s.reduce(Action::OutboxSent(generation));
        assert!(sent(&s).is_empty());
        let s = s.reduce(hello_as(Role::Teacher, true));
        assert!(sent(&s).contains(&Command::Ask { question: Some("blocking-wait".into()) }));
        let ballot =
            Ballot { question: "select-wait".into(), voters: 0, counts: None, verdict: None };
        let s = reduce(
            Rc::default(),
            [
                hello_as(Role::Student, true),
                Action::Server(ServerMsg::Ballot { ballot: Some(ballot) }),
                hello_as(Role::Student, true),
            ],
        );
        assert!(s.quiz.is_none(), "the server says again what is asked, if anything");
    }

    #[test]
    fn test_a_students_page_votes_and_marks_its_own_and_the_confirmed_answer() {
        let s = reduce(Rc::default(), [hello_as(Role::Student, true)]);
        let ballot =
            Ballot { question: "select-wait".into(), voters: 0, counts: None, verdict: None };
        let s = s.reduce(Action::Server(ServerMsg::Ballot { ballot: Some(ballot.clone()) }));
        let s = s.reduce(Action::Quiz(QuizAction::Answer(1)));
        assert!(sent(&s).contains(&Command::Vote { question: "select-wait".into(), choice: 1 }));
        assert_eq!(s.quiz.as_ref().unwrap().mine, None, "counted only once the server says so");
        let s = s.reduce(Action::Server(ServerMsg::Reply {
            id: 4,
            result: ReplyResult::Voted { question: "select-wait".into(), choice: 1 },
        }));
        assert_eq!(s.quiz.as_ref().unwrap().mine, Some(1));
        let s = s.reduce(Action::Quiz(QuizAction::Reveal));
        assert_eq!(s.quiz.as_ref().unwrap().phase.id(), "asking", "a student cannot reveal");
        let verdict = Verdict {
            choice: Some(1),
            evidence: Evidence::InReadiness { api: kettle_shared::WaitApi::Select, ns: 5 },
        };
        let revealed =
            Ballot { verdict: Some(verdict.clone()), counts: Some(vec![1, 2, 0, 0]), ..ballot };
        let s = s.reduce(Action::Server(ServerMsg::Ballot { ballot: Some(revealed) }));
        let quiz = s.quiz.as_ref().unwrap();
        assert_eq!((quiz.verdict(), quiz.right()), (Some(&verdict), Some(true)));
        let s = s.reduce(Action::Server(ServerMsg::Ballot { ballot: None }));
        assert!(s.quiz.is_none(), "the teacher stopped asking");
    }
}
