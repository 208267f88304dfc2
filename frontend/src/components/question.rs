//! The tour stop's question, under the tour's strip: predict, then see. The choices are
//! buttons; after the reveal the one the recorded steps confirmed carries the measured value
//! that decided it, and this page's own answer is marked. On the teacher's page in classroom
//! mode, the class's vote: how many voted, and the distribution as bars when the teacher
//! chooses. Alone, the tour's score, kept in the browser.

use yew::prelude::*;

use super::Ctx;
use crate::i18n::{catalogue, t, tf, Key, Lang};
use crate::questions::{evidence, Phase, Quiz, QuizAction, Score, SCORE_STORAGE_KEY};
use crate::state::Action;

/// Properties: the question (while asked), the score and the page language.
#[derive(Properties, PartialEq, Debug)]
pub struct QuestionViewProps {
    /// The question; nothing is drawn without one.
    pub quiz: Option<Quiz>,
    /// The self-test score.
    pub score: Score,
    /// Page language.
    pub lang: Lang,
}

/// `section#question[data-stop][data-question][data-state]` (`data-stop` counts from 1, as
/// `#tour[data-step]`), with one `button[data-choice]` per answer (`data-mine` on this page's,
/// `data-correct` on the confirmed one once revealed), `#reveal` where this page may reveal,
/// `#votes[data-count]` with `.vote-bar[data-choice][data-count]` on the teacher's page, and
/// `#score[data-right][data-answered]` with `#score-clear` when answering alone.
#[component]
pub fn QuestionView(props: &QuestionViewProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let lang = props.lang;
    let Some(quiz) = &props.quiz else { return html! {} };
    let q = quiz.question;
    let asking = quiz.phase == Phase::Asking;
    let verdict = quiz.verdict();
    let confirmed = verdict.and_then(|v| v.choice);
    let choice = |(i, c): (usize, &kettle_shared::Choice)| {
        let i = i as u32;
        let mine = quiz.mine == Some(i);
        let correct = confirmed == Some(i);
        let answer = ctx.dispatch.reform(move |_: MouseEvent| Action::Quiz(QuizAction::Answer(i)));
        html! {
            <li class={classes!("question-choice", mine.then_some("mine"), correct.then_some("correct"))}>
                <button data-choice={i.to_string()} onclick={answer}
                    data-mine={mine.then_some("true")} data-correct={correct.then_some("true")}
                    aria-pressed={mine.to_string()} disabled={!asking || quiz.leads}>
                    { catalogue(lang, c.words.en, c.words.zh) }
                </button>
                if mine {
                    <span class="question-mine">{ t(lang, Key::QuestionYours) }</span>
                }
                if correct {
                    <p class="question-evidence">
                        <strong>{ t(lang, Key::QuestionConfirmed) }{ ": " }</strong>
                        { verdict.map(|v| evidence(lang, &v.evidence)).unwrap_or_default() }
                    </p>
                }
            </li>
        }
    };
    let help = if quiz.votes { Key::QuestionVoteHelp } else { Key::QuestionAskingHelp };
    let reveal = ctx.dispatch.reform(|_: MouseEvent| Action::Quiz(QuizAction::Reveal));
    html! {
        <section id="question" class={classes!("question", quiz.phase.id())}
            data-stop={(quiz.stop + 1).to_string()} data-question={q.id} data-state={quiz.phase.id()}
            aria-label={t(lang, Key::QuestionHeading)}>
            <h3>{ t(lang, Key::QuestionHeading) }</h3>
            <p class="question-ask">{ catalogue(lang, q.ask.en, q.ask.zh) }</p>
            if asking {
                <p class="question-help">{ t(lang, help) }</p>
            }
            <ol class="question-choices">
                { for q.choices.iter().enumerate().map(choice) }
            </ol>
            if asking && !quiz.votes {
                <button id="reveal" onclick={reveal}>{ t(lang, Key::QuestionReveal) }</button>
            }
            if quiz.phase == Phase::Revealing {
                <p class="question-status" role="status">{ t(lang, Key::QuestionRevealing) }</p>
            }
            if let Some(v) = verdict.filter(|v| v.choice.is_none()) {
                <p class="question-evidence" role="status">
                    { t(lang, Key::QuestionNoneConfirmed) }{ " " }{ evidence(lang, &v.evidence) }
                </p>
            }
            if let Some(right) = quiz.right() {
                <p class="question-result" role="status" data-right={right.to_string()}>
                    { t(lang, if right { Key::QuestionRight } else { Key::QuestionWrong }) }
                </p>
            }
            if quiz.leads {
                <Votes quiz={quiz.clone()} {lang} />
            }
            if !quiz.leads && !quiz.votes {
                <ScoreLine score={props.score.clone()} {lang} />
            }
        </section>
    }
}

#[derive(Properties, PartialEq, Debug)]
struct VotesProps {
    quiz: Quiz,
    lang: Lang,
}

/// The class's vote on the teacher's page: the count live, the bars when chosen (and after
/// the reveal).
#[component]
fn Votes(props: &VotesProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let lang = props.lang;
    let quiz = &props.quiz;
    let voters = quiz.ballot.as_ref().map_or(0, |b| b.voters);
    let counts = quiz.ballot.as_ref().and_then(|b| b.counts.clone()).unwrap_or_default();
    let most = counts.iter().copied().max().unwrap_or(0).max(1);
    let shown = quiz.bars || quiz.verdict().is_some();
    let toggle = ctx.dispatch.reform(|_: MouseEvent| Action::Quiz(QuizAction::ToggleBars));
    let bar = |(i, c): (usize, &kettle_shared::Choice)| {
        let n = counts.get(i).copied().unwrap_or(0);
        let words = catalogue(lang, c.words.en, c.words.zh);
        let width = format!("width: {}%", n * 100 / most);
        html! {
            <li class="vote-bar" data-choice={i.to_string()} data-count={n.to_string()}
                aria-label={tf(lang, Key::QuestionVotesFor, &[&n, &words])}>
                <span class="vote-label">{ words }</span>
                <span class="vote-fill" style={width}></span>
                <span class="vote-count">{ n }</span>
            </li>
        }
    };
    html! {
        <div id="votes" data-count={voters.to_string()}>
            <p class="votes-count" role="status">{ tf(lang, Key::QuestionVoters, &[&voters]) }</p>
            if quiz.verdict().is_none() {
                <button id="votes-toggle" onclick={toggle} aria-pressed={quiz.bars.to_string()}>
                    { t(lang, if quiz.bars { Key::QuestionHideVotes } else { Key::QuestionShowVotes }) }
                </button>
            }
            if shown {
                <ol class="vote-bars">{ for quiz.question.choices.iter().enumerate().map(bar) }</ol>
            }
        </div>
    }
}

#[derive(Properties, PartialEq, Debug)]
struct ScoreProps {
    score: Score,
    lang: Lang,
}

/// The self-test's score and the button that forgets it.
#[component]
fn ScoreLine(props: &ScoreProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let (right, answered) = props.score.tally();
    let clear = ctx.dispatch.reform(|_: MouseEvent| Action::Quiz(QuizAction::ClearScore));
    html! {
        <p id="score" data-right={right.to_string()} data-answered={answered.to_string()}>
            { tf(props.lang, Key::QuestionScore, &[&right, &answered]) }
            { " " }
            <button id="score-clear" onclick={clear} disabled={answered == 0}>
                { t(props.lang, Key::QuestionClearScore) }
            </button>
        </p>
    }
}

/// Keeps the self-test score in `localStorage`: read once when the page opens, written on
/// every change after that (a browser that refuses storage keeps nothing, and says nothing).
#[hook]
pub fn use_score_in_browser(score: &Score, dispatch: Callback<Action>, real_page: bool) {
    let loaded = use_mut_ref(|| false);
    let stored = score.stored();
    use_effect_with(stored, move |stored| {
        if !real_page {
            return;
        }
        let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
        let Some(storage) = storage else { return };
        if !std::mem::replace(&mut *loaded.borrow_mut(), true) {
            let kept = storage.get_item(SCORE_STORAGE_KEY).ok().flatten().unwrap_or_default();
            dispatch.emit(Action::Quiz(QuizAction::LoadScore(kept)));
            return;
        }
        let _ = storage.set_item(SCORE_STORAGE_KEY, stored);
    });
}
