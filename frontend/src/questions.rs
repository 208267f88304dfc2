//! Predict, then see: the question asked at a tour stop, on this page.
//!
//! The questions themselves — their words in both languages and the rule that answers each
//! from recorded events — are one table in the protocol crate (`kettle_shared::QUESTIONS`),
//! beside the tour's stops, so the backend's tests judge the same rules against real runs.
//! This module is the page's side, pure like the tour: what is being asked, this page's
//! answer, the class's vote, the verdict once the line's step was recorded, and the score of
//! a student testing themselves.
//!
//! **Alone** (no classroom, or a teacher's own page): the tour holds its line back while the
//! question is asked ([`Quiz::holds_line`]); the student answers and presses reveal; the line
//! goes, and when the tour has found the line's step the page judges the recorded events
//! ([`Quiz::judge`]), marks the confirmed answer with its evidence and counts the score.
//!
//! **In class**: the teacher's page asks (`ask`), the students' pages show the question from
//! the [`Ballot`] the server sends and vote (`vote`); the teacher reveals (`reveal`, naming
//! the line), the backend judges that line from the events it recorded, and every page marks
//! the verdict from the next ballot.

use std::collections::BTreeMap;

use kettle_shared::{judge, question, Ballot, Event, Evidence, Question, Verdict, WaitApi};

use crate::format::{format_count, format_duration};
use crate::i18n::{t, tf, Key, Lang};

/// Where the browser keeps the score (`localStorage`).
pub const SCORE_STORAGE_KEY: &str = "kettle.score";

/// How far the question has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Asked; answers may be given or changed. The line is held back.
    Asking,
    /// Reveal was pressed: the line is on its way, the verdict waits for its recorded step.
    Revealing,
    /// The recorded steps answered.
    Revealed(Verdict),
}

impl Phase {
    /// The word for `#question[data-state]`.
    pub fn id(&self) -> &'static str {
        match self {
            Phase::Asking => "asking",
            Phase::Revealing => "revealing",
            Phase::Revealed(_) => "revealed",
        }
    }
}

/// The question on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quiz {
    /// The question.
    pub question: &'static Question,
    /// Index of its tour stop (`#question[data-stop]`, counted from 1 there).
    pub stop: usize,
    /// This page's answer.
    pub mine: Option<u32>,
    /// How far it has got.
    pub phase: Phase,
    /// The class's vote, as the server last told it (classroom mode only).
    pub ballot: Option<Ballot>,
    /// The teacher chose to show the distribution of the votes.
    pub bars: bool,
    /// This page asks the class (the teacher's page in classroom mode) rather than answering
    /// alone or voting.
    pub leads: bool,
    /// This page votes on the teacher's question (a student's page in classroom mode).
    pub votes: bool,
}

/// What the user does with the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuizAction {
    /// Pick (or change) an answer.
    Answer(u32),
    /// Reveal: send the line, then judge.
    Reveal,
    /// Show or hide the distribution of the class's votes (teacher).
    ToggleBars,
    /// Forget the score.
    ClearScore,
    /// The score the browser kept, read when the page opens.
    LoadScore(String),
}

impl Quiz {
    /// The question at tour stop `stop` (acting out `model`), freshly asked.
    pub fn at(stop: usize, model: Option<&str>, leads: bool) -> Option<Quiz> {
        let model: kettle_shared::BuiltIn = model?.parse().ok()?;
        let question = kettle_shared::question_of(model)?;
        Some(Quiz::asking(question, stop, leads, false))
    }

    /// `question`, at stop `stop`, just asked: nobody has answered yet.
    fn asking(question: &'static Question, stop: usize, leads: bool, votes: bool) -> Quiz {
        Quiz {
            question,
            stop,
            mine: None,
            phase: Phase::Asking,
            ballot: None,
            bars: false,
            leads,
            votes,
        }
    }

    /// A student's question, from the server's ballot (`None` for an unknown question).
    pub fn voting(ballot: Ballot) -> Option<Quiz> {
        let question = question(&ballot.question)?;
        let stop = crate::tour::STOPS
            .iter()
            .position(|s| s.model == Some(question.model.id()))
            .unwrap_or_default();
        let mut quiz = Quiz::asking(question, stop, false, true);
        quiz.update(ballot);
        Some(quiz)
    }

    /// A newer ballot for the same question: the counts, and the verdict once revealed.
    pub fn update(&mut self, ballot: Ballot) {
        if let Some(verdict) = &ballot.verdict {
            self.phase = Phase::Revealed(verdict.clone());
        }
        self.ballot = Some(ballot);
    }

    /// While asking, the tour must not send its line yet.
    pub fn holds_line(&self) -> bool {
        self.phase == Phase::Asking
    }

    /// Whether `choice` is one of the question's.
    pub fn has_choice(&self, choice: u32) -> bool {
        (choice as usize) < self.question.choices.len()
    }

    /// The verdict, once revealed.
    pub fn verdict(&self) -> Option<&Verdict> {
        match &self.phase {
            Phase::Revealed(v) => Some(v),
            _ => None,
        }
    }

    /// Judges from the stop model's recorded events once the line was sent on `conn` after
    /// `after_seq`; `true` when the verdict is in (the phase is then `Revealed`).
    pub fn judge(&mut self, events: &[Event], conn: u64, after_seq: u64) -> bool {
        if self.phase != Phase::Revealing {
            return false;
        }
        match judge(self.question, events, conn, after_seq) {
            Some(verdict) => {
                self.phase = Phase::Revealed(verdict);
                true
            }
            None => false,
        }
    }

    /// Whether this page's answer was confirmed; `None` before the reveal or without one.
    pub fn right(&self) -> Option<bool> {
        let verdict = self.verdict()?;
        let mine = self.mine?;
        Some(verdict.choice == Some(mine))
    }
}

/// The call a readiness wait was, as its man page spells it.
fn call_of(api: WaitApi) -> &'static str {
    match api {
        WaitApi::Select => "select",
        WaitApi::Poll => "poll",
        WaitApi::Epoll | WaitApi::EpollEt => "epoll_wait",
    }
}

/// The measured value that decided a verdict, as one sentence in `lang`.
pub fn evidence(lang: Lang, evidence: &Evidence) -> String {
    match evidence {
        Evidence::InRecv { wait_ns: Some(ns) } => tf(lang, Key::EvInRecv, &[&format_duration(*ns)]),
        Evidence::InRecv { wait_ns: None } => t(lang, Key::EvInRecvUnmeasured).to_owned(),
        Evidence::InReadiness { api, ns } => {
            tf(lang, Key::EvInReadiness, &[&format_duration(*ns), &call_of(*api)])
        }
        Evidence::Eagains { count } => tf(lang, Key::EvEagains, &[&format_count(*count)]),
        Evidence::Signalled { name } => tf(lang, Key::EvSignalled, &[name]),
        Evidence::KernelCopied { bytes } => tf(lang, Key::EvKernelCopied, &[bytes]),
        Evidence::CopiedBy { thread } => tf(lang, Key::EvCopiedBy, &[thread]),
        Evidence::Reported { ready, watched, conn_fd } => {
            let fds: Vec<String> = ready.iter().map(i32::to_string).collect();
            tf(lang, Key::EvReported, &[&"epoll_wait", &fds.join(", "), watched, conn_fd])
        }
        Evidence::Callback { name, fd } => tf(lang, Key::EvCallback, &[name, fd]),
    }
}

/// A tour's score: each question answered alone, right or not. Kept in the browser as
/// `id=1,id=0` (one entry per question, the newest answer).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Score {
    /// Question id → answered right.
    pub answers: BTreeMap<String, bool>,
}

impl Score {
    /// Reads what [`Score::stored`] wrote; entries that are not a known question's are left
    /// out (a browser's storage can hold anything).
    pub fn parse(text: &str) -> Score {
        let answers = text
            .split(',')
            .filter_map(|entry| {
                let (id, right) = entry.trim().split_once('=')?;
                let right = match right {
                    "1" => true,
                    "0" => false,
                    _ => return None,
                };
                question(id).map(|q| (q.id.to_owned(), right))
            })
            .collect();
        Score { answers }
    }

    /// The text kept in `localStorage`.
    pub fn stored(&self) -> String {
        let entries: Vec<String> =
            self.answers.iter().map(|(id, right)| format!("{id}={}", u8::from(*right))).collect();
        entries.join(",")
    }

    /// Counts an answer (a second answer to the same question replaces the first).
    pub fn record(&mut self, question: &str, right: bool) {
        self.answers.insert(question.to_owned(), right);
    }

    /// `(right, answered)`.
    pub fn tally(&self) -> (usize, usize) {
        (self.answers.values().filter(|r| **r).count(), self.answers.len())
    }
}

#[cfg(test)]
mod tests {
    use kettle_shared::{Evidence, RecvOutcome, ThreadRef};

    use super::*;

    fn copy(seq: u64, wait_ns: u64) -> Event {
        Event {
            seq,
            t_ns: seq,
            model: "blocking".into(),
            thread: ThreadRef { id: 1, name: "blocking".into() },
            conn: Some(3),
            kind: kettle_shared::EventKind::RecvExit {
                fd: 5,
                outcome: RecvOutcome::Data { bytes: 14, preview: "kettle".into() },
                wait_ns: Some(wait_ns),
                copy_ns: Some(1),
            },
        }
    }

    #[test]
    fn test_a_model_stop_asks_its_question_and_the_comparison_asks_none() {
        let quiz = Quiz::at(4, Some("select"), false).unwrap();
        assert_eq!((quiz.question.id, quiz.phase.id()), ("select-wait", "asking"));
        assert!(quiz.holds_line());
        assert_eq!(Quiz::at(9, None, false), None);
    }

    #[test]
    fn test_judging_waits_for_the_reveal_then_for_the_lines_copy() {
        let mut quiz = Quiz::at(0, Some("blocking"), false).unwrap();
        quiz.mine = Some(1);
        assert!(!quiz.judge(&[copy(12, 9)], 3, 10), "not revealed yet");
        quiz.phase = Phase::Revealing;
        assert!(!quiz.holds_line());
        assert!(!quiz.judge(&[copy(8, 9)], 3, 10), "an older line is not this one");
        assert!(quiz.judge(&[copy(8, 9), copy(12, 9)], 3, 10));
        let v = quiz.verdict().unwrap();
        assert_eq!(v.choice, Some(0));
        assert_eq!(v.evidence, Evidence::InRecv { wait_ns: Some(9) });
        assert_eq!(quiz.right(), Some(false));
    }

    #[test]
    fn test_a_student_question_comes_from_the_ballot_and_its_verdict_from_a_later_one() {
        let ballot =
            Ballot { question: "epoll-ready".into(), voters: 2, counts: None, verdict: None };
        let mut quiz = Quiz::voting(ballot.clone()).unwrap();
        assert_eq!((quiz.stop, quiz.votes, quiz.phase.id()), (5, true, "asking"));
        let verdict = Verdict { choice: Some(1), evidence: Evidence::Eagains { count: 1 } };
        quiz.update(Ballot { verdict: Some(verdict.clone()), ..ballot });
        assert_eq!(quiz.verdict(), Some(&verdict));
        let unknown = Ballot { question: "nope".into(), voters: 0, counts: None, verdict: None };
        assert_eq!(Quiz::voting(unknown), None);
    }

    #[test]
    fn test_the_deciding_value_is_said_in_both_languages_with_its_number() {
        let said = |e: Evidence| (evidence(Lang::En, &e), evidence(Lang::Zh, &e));
        let (en, zh) = said(Evidence::Eagains { count: 73_111 });
        assert_eq!(en, "73 111 EAGAINs on the copying thread before the recv that found the line.");
        assert!(zh.contains("73 111") && zh.contains("EAGAIN"), "{zh}");
        let (en, _) = said(Evidence::InReadiness { api: WaitApi::Select, ns: 342_000_000 });
        assert_eq!(en, "It waited 342 ms in select before select reported the socket readable.");
        for e in [
            Evidence::InRecv { wait_ns: None },
            Evidence::Signalled { name: "SIGRTMIN+2".into() },
            Evidence::KernelCopied { bytes: 14 },
            Evidence::CopiedBy { thread: "pool-worker-2".into() },
            Evidence::Reported { ready: vec![5], watched: 2, conn_fd: 5 },
            Evidence::Callback { name: "read".into(), fd: 5 },
        ] {
            let (en, zh) = said(e);
            assert!(!en.contains('{') && !zh.contains('{'), "{en} / {zh}");
            assert_ne!(en, zh);
        }
    }

    #[test]
    fn test_the_score_round_trips_and_ignores_what_it_does_not_know() {
        let mut score = Score::default();
        score.record("select-wait", true);
        score.record("busy-eagains", false);
        score.record("select-wait", true);
        assert_eq!(score.tally(), (1, 2));
        let text = score.stored();
        assert_eq!(text, "busy-eagains=0,select-wait=1");
        assert_eq!(Score::parse(&text), score);
        assert_eq!(Score::parse("select-wait=1,evil=1,epoll-ready=7,,x").tally(), (1, 1));
    }
}
