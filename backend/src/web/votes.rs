//! The class's vote on a tour question: predict, then see.
//!
//! The teacher asks a question ([`Command::Ask`](kettle_shared::Command::Ask)); every viewer
//! may vote once ([`Command::Vote`](kettle_shared::Command::Vote)) and change its vote until
//! the teacher reveals the answer the recorded steps gave
//! ([`Command::Reveal`](kettle_shared::Command::Reveal)). Votes are anonymous: a voter is a
//! number given to a WebSocket when it opens, never sent anywhere, and everything lives in
//! this process's memory only — a restart forgets it.
//!
//! Every change is published on a `watch` channel, as "follow me" is; each viewer words it for
//! its role ([`Ballots::ballot_for`]): the teacher sees the counts per choice all along, a
//! student only the number of voters until the reveal, so no one votes with the crowd.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use kettle_shared::{question, Ballot, ErrorCode, Question, Reason, ReplyResult, Role, Verdict};
use tokio::sync::watch;

/// One question's vote.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Round {
    question: &'static Question,
    /// Each voter's choice: one entry per voter, replaced when it votes again.
    by_voter: HashMap<u64, u32>,
    /// Set by the reveal; the vote is closed from then on.
    verdict: Option<Verdict>,
}

impl Round {
    fn counts(&self) -> Vec<u32> {
        let mut counts = vec![0; self.question.choices.len()];
        for &choice in self.by_voter.values() {
            counts[choice as usize] += 1;
        }
        counts
    }
}

/// The server's vote: at most one question at a time.
#[derive(Debug, Clone)]
pub(super) struct Ballots {
    round: Arc<Mutex<Option<Round>>>,
    /// Bumped on every change; viewers watch it.
    changed: Arc<watch::Sender<u64>>,
    next_voter: Arc<AtomicU64>,
}

type Refusal = (ErrorCode, Reason);

impl Ballots {
    pub(super) fn new() -> Ballots {
        Ballots {
            round: Arc::new(Mutex::new(None)),
            changed: Arc::new(watch::Sender::new(0)),
            next_voter: Arc::new(AtomicU64::new(1)),
        }
    }

    /// A fresh voter number for a viewer that just opened.
    pub(super) fn voter(&self) -> u64 {
        self.next_voter.fetch_add(1, Ordering::Relaxed)
    }

    /// Told of every change.
    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Round>> {
        // A panic while holding the lock cannot leave a half-counted vote: every change is one
        // assignment. So a poisoned lock still holds a consistent round.
        self.round.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// The question being asked, checked against the id a command names.
    fn asked<'a>(round: &'a mut Option<Round>, id: &str) -> Result<&'a mut Round, Refusal> {
        match round {
            Some(r) if r.question.id == id => Ok(r),
            _ => Err((ErrorCode::BadRequest, Reason::NotAsked { question: id.to_owned() })),
        }
    }

    /// Asks `question` with an empty vote (replacing any earlier round), or stops asking.
    pub(super) fn ask(&self, id: Option<String>) -> Result<ReplyResult, Refusal> {
        let round = match &id {
            Some(id) => {
                let Some(q) = question(id) else {
                    return Err((ErrorCode::BadRequest, Reason::NotAsked { question: id.clone() }));
                };
                Some(Round { question: q, by_voter: HashMap::new(), verdict: None })
            }
            None => None,
        };
        *self.lock() = round;
        self.publish();
        Ok(ReplyResult::Asked { question: id })
    }

    /// Counts `voter`'s choice, replacing its earlier one; refused once revealed.
    pub(super) fn vote(&self, voter: u64, id: &str, choice: u32) -> Result<ReplyResult, Refusal> {
        let mut guard = self.lock();
        let round = Self::asked(&mut guard, id)?;
        if round.verdict.is_some() {
            return Err((ErrorCode::BadRequest, Reason::VoteClosed { question: id.to_owned() }));
        }
        let choices = round.question.choices.len() as u32;
        if choice >= choices {
            return Err((ErrorCode::BadRequest, Reason::NoSuchChoice { choice, choices }));
        }
        let before = round.by_voter.insert(voter, choice);
        drop(guard);
        if before != Some(choice) {
            self.publish();
        }
        Ok(ReplyResult::Voted { question: id.to_owned(), choice })
    }

    /// Closes the vote with the verdict `judged` gives the question (from the events the
    /// backend recorded): refused while it gives none, and once revealed.
    pub(super) fn reveal(
        &self,
        id: &str,
        judged: impl FnOnce(&'static Question) -> Option<Verdict>,
    ) -> Result<ReplyResult, Refusal> {
        // Judged without the lock held (it reads the recorder's history), then checked again.
        let asked = {
            let mut guard = self.lock();
            let round = Self::asked(&mut guard, id)?;
            if round.verdict.is_some() {
                return Err((
                    ErrorCode::BadRequest,
                    Reason::VoteClosed { question: id.to_owned() },
                ));
            }
            round.question
        };
        let Some(verdict) = judged(asked) else {
            return Err((ErrorCode::BadRequest, Reason::NotRecorded { question: id.to_owned() }));
        };
        let mut guard = self.lock();
        let round = Self::asked(&mut guard, id)?;
        if round.verdict.is_some() {
            return Err((ErrorCode::BadRequest, Reason::VoteClosed { question: id.to_owned() }));
        }
        round.verdict = Some(verdict);
        drop(guard);
        self.publish();
        Ok(ReplyResult::Revealed { question: id.to_owned() })
    }

    /// The vote as a viewer of `role` is told it; `None` while nothing is asked.
    pub(super) fn ballot_for(&self, role: Role) -> Option<Ballot> {
        let guard = self.lock();
        let round = guard.as_ref()?;
        let open = round.verdict.is_none();
        Some(Ballot {
            question: round.question.id.to_owned(),
            voters: round.by_voter.len() as u32,
            counts: (role == Role::Teacher || !open).then(|| round.counts()),
            verdict: round.verdict.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use kettle_shared::Evidence;

    use super::*;

    fn verdict(choice: u32) -> impl FnOnce(&'static Question) -> Option<Verdict> {
        move |_| Some(Verdict { choice: Some(choice), evidence: Evidence::Eagains { count: 3 } })
    }

    #[test]
    fn a_second_vote_replaces_the_first_and_students_see_no_counts_before_the_reveal() {
        let b = Ballots::new();
        b.ask(Some("select-wait".into())).unwrap();
        let (one, two) = (b.voter(), b.voter());
        b.vote(one, "select-wait", 0).unwrap();
        b.vote(one, "select-wait", 1).unwrap();
        b.vote(two, "select-wait", 1).unwrap();
        let teacher = b.ballot_for(Role::Teacher).unwrap();
        assert_eq!((teacher.voters, teacher.counts), (2, Some(vec![0, 2, 0, 0])));
        assert_eq!(b.ballot_for(Role::Student).unwrap().counts, None);
        b.reveal("select-wait", verdict(1)).unwrap();
        let student = b.ballot_for(Role::Student).unwrap();
        assert_eq!(student.counts, Some(vec![0, 2, 0, 0]));
        assert_eq!(student.verdict.and_then(|v| v.choice), Some(1));
    }

    #[test]
    fn a_refused_vote_or_reveal_changes_nothing() {
        let b = Ballots::new();
        let voter = b.voter();
        assert!(matches!(b.vote(voter, "select-wait", 0), Err((_, Reason::NotAsked { .. }))));
        assert!(matches!(b.ask(Some("nope".into())), Err((_, Reason::NotAsked { .. }))));
        b.ask(Some("select-wait".into())).unwrap();
        let before = b.ballot_for(Role::Teacher);
        assert_eq!(
            b.vote(voter, "select-wait", 4).unwrap_err().1,
            Reason::NoSuchChoice { choice: 4, choices: 4 }
        );
        assert!(matches!(b.vote(voter, "epoll-ready", 0), Err((_, Reason::NotAsked { .. }))));
        assert_eq!(
            b.reveal("select-wait", |_| None).unwrap_err().1,
            Reason::NotRecorded { question: "select-wait".into() }
        );
        assert_eq!(b.ballot_for(Role::Teacher), before);
        b.vote(voter, "select-wait", 2).unwrap();
        b.reveal("select-wait", verdict(1)).unwrap();
        let revealed = b.ballot_for(Role::Teacher);
        assert_eq!(
            b.vote(voter, "select-wait", 1).unwrap_err().1,
            Reason::VoteClosed { question: "select-wait".into() }
        );
        assert!(b.reveal("select-wait", verdict(0)).is_err(), "revealed once");
        assert_eq!(b.ballot_for(Role::Teacher), revealed);
    }

    #[test]
    fn asking_again_starts_an_empty_vote_and_asking_nothing_ends_it() {
        let b = Ballots::new();
        b.ask(Some("epoll-ready".into())).unwrap();
        b.vote(b.voter(), "epoll-ready", 1).unwrap();
        b.ask(Some("epoll-ready".into())).unwrap();
        assert_eq!(b.ballot_for(Role::Teacher).unwrap().voters, 0);
        b.ask(None).unwrap();
        assert_eq!(b.ballot_for(Role::Teacher), None);
    }
}
