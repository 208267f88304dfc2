//! The model list (`ul#model-list`, grouped by Stevens figure) with start/stop buttons, and the
//! selected model's lesson and threads.

use kettle_shared::{ChildExit, Command, Family, ModelId, ModelInfo, ModelState, Reason};
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::figures::family_key;
use crate::i18n::{catalogue, model_state, model_state_id, t, tf, Key, Lang};
use crate::reasons::reason_code;
use crate::state::Action;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct ModelsProps {
    /// The page state.
    pub state: StateHandle,
}

/// "Stevens Fig. 6.3" in the page language, from the figure the page draws the model as
/// ([`crate::state::family_of`]); a traced program not recognised yet has none.
fn figure_name(figure: Option<Family>, lang: Lang) -> String {
    match figure {
        Some(f) => tf(lang, Key::FigureShort, &[&f.number()]),
        None => t(lang, Key::FigureNotKnown).to_owned(),
    }
}

/// A model's title: a traced program's is its command line.
fn title(model: &ModelInfo, lang: Lang) -> &str {
    match &model.command {
        Some(command) => command,
        None => catalogue(lang, &model.title, &model.title_zh),
    }
}

fn is_traced(model: &ModelInfo) -> bool {
    model.id.parse::<ModelId>() == Ok(ModelId::Traced)
}

/// The state in words. A traced program that ended by itself says how: "exited (code 1)",
/// "killed by SIGSEGV", from its reason.
fn state_words(model: &ModelInfo, lang: Lang) -> String {
    match (&model.state, &model.reason) {
        (ModelState::Running, _) => model_state(lang, ModelState::Running).to_owned(),
        (_, Some(Reason::ProgramExited { exit: ChildExit::Exited { code } })) => {
            tf(lang, Key::TracedExited, &[code])
        }
        (_, Some(Reason::ProgramExited { exit: ChildExit::Killed { signo, name } })) => {
            tf(lang, Key::TracedKilled, &[&crate::format::signal_name(*signo, name)])
        }
        (state, _) => model_state(lang, *state).to_owned(),
    }
}

/// `nav#models` (a slim rail beside the stage; on narrow windows a menu opened by
/// `#models-toggle`, `.open` while shown) holding `ul#model-list`: one `li.model-group
/// [data-figure]` per Stevens figure with its heading, then `li[data-model]` per model with
/// `button.model-pick` (`aria-current` on the shown one; its visible text is the state's mark
/// and the model's id, and `.title`, `.figure`, `.port` and `.state[data-state]` complete its
/// name),
/// `button.start` / `button.stop` and, when a model cannot run, `.reason`. Clicking an item
/// selects it. A traced program shows its kind (`.kind[data-kind=traced]`), its command line as
/// its title, how it ended as its state ("exited (code 1)"), and `button.start.restart` (the
/// same command: the backend runs the program again); until it is recognised it sits first, in
/// `li.model-group[data-figure=unrecognised]`.
#[component]
pub fn ModelList(props: &ModelsProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let item = |m: &ModelInfo| {
        let id = m.id.clone();
        let traced = is_traced(m);
        let select = ctx.dispatch.reform({
            let id = id.clone();
            move |_: MouseEvent| Action::Select(id.clone())
        });
        // Starting and stopping are live-only: a recording has no server.
        let button = if state.replaying() {
            Html::default()
        } else {
            match m.state {
                ModelState::Running => {
                    let ctx = ctx.clone();
                    let id = id.clone();
                    let stop = Callback::from(move |_: MouseEvent| {
                        ctx.send(Command::Stop { model: id.clone() })
                    });
                    let label = tf(lang, Key::StopModel, &[&m.id]);
                    html! {
                        <button class="stop" onclick={stop} aria-label={label.clone()} title={label}>
                            <span aria-hidden="true">{ "■" }</span>
                        </button>
                    }
                }
                ModelState::Stopped | ModelState::Unavailable => {
                    let ctx = ctx.clone();
                    let id = id.clone();
                    let start = Callback::from(move |_: MouseEvent| {
                        ctx.send(Command::Start { model: id.clone() })
                    });
                    let unavailable = m.state == ModelState::Unavailable;
                    // The backend runs a traced program's command again: a restart, the same
                    // command as a start.
                    let (key, glyph) =
                        if traced { (Key::RestartModel, "↻") } else { (Key::StartModel, "▶") };
                    let label = tf(lang, key, &[&m.id]);
                    html! {
                        <button class={classes!("start", traced.then_some("restart"))} onclick={start}
                            disabled={unavailable} aria-label={label.clone()} title={label}>
                            <span aria-hidden="true">{ glyph }</span>
                        </button>
                    }
                }
            }
        };
        let port = match m.port {
            Some(p) => tf(lang, Key::Port, &[&p]),
            None => t(lang, Key::PortChosenAtStart).to_owned(),
        };
        let selected = state.selected.as_deref() == Some(m.id.as_str());
        // The state as a shape as well as a colour: ● running, ○ stopped, ✕ unavailable.
        let mark = match m.state {
            ModelState::Running => "●",
            ModelState::Stopped => "○",
            ModelState::Unavailable => "✕",
        };
        let state_words = state_words(m, lang);
        html! {
            <li key={m.id.clone()} data-model={m.id.clone()} class={classes!("model", selected.then_some("selected"))}
                onclick={select}>
                <button class="model-pick" aria-current={selected.then_some("true")}
                    title={format!("{} · {} · {port}", title(m, lang), state_words)}>
                    <span class="mark" data-state={model_state_id(m.state)} aria-hidden="true">{ mark }</span>
                    <span class="state visually-hidden" data-state={model_state_id(m.state)}>{ state_words.clone() }</span>
                    <span class="model-id">{ &m.id }</span>
                    if traced {
                        <span class="kind" data-kind="traced" title={t(lang, Key::TracedBadgeTitle)}>{ t(lang, Key::TracedBadge) }</span>
                    }
                    <span class="title visually-hidden">{ title(m, lang) }</span>
                    <span class="figure visually-hidden">{ figure_name(state.family_of(&m.id), lang) }</span>
                    <span class="port visually-hidden">{ port }</span>
                </button>
                { button }
                { for m.reason.as_ref().map(|r| html! {
                    <span class="reason" data-reason={reason_code(r)}>{ crate::reasons::reason(lang, r) }</span>
                }) }
            </li>
        }
    };
    // One group per figure, in Stevens' order, after a group of what is not recognised yet (a
    // traced program whose calls have not shown its model): first, where it is noticed.
    let groups =
        std::iter::once(None).chain(Family::ALL.iter().copied().map(Some)).filter_map(|figure| {
            let members: Vec<&ModelInfo> =
                state.models.iter().filter(|m| state.family_of(&m.id) == figure).collect();
            (!members.is_empty()).then(|| {
                let (id, heading) = match figure {
                    Some(f) => (f.number(), format!("{} {}", f.number(), t(lang, family_key(f)))),
                    None => ("unrecognised", t(lang, Key::FamilyNotRecognised).to_owned()),
                };
                let heading_id = format!("models-{}", id.replace('.', "-"));
                html! {
                    <li class="model-group" data-figure={id} key={id}>
                        <h3 class="group-title" id={heading_id.clone()}>{ heading }</h3>
                        <ul aria-labelledby={heading_id}>
                            { for members.into_iter().map(item) }
                        </ul>
                    </li>
                }
            })
        });
    let open = state.screen.picker_open;
    html! {
        <nav id="models" class={classes!("rail", open.then_some("open"))} aria-label={t(lang, Key::Models)}>
            <ul id="model-list">{ for groups }</ul>
        </nav>
    }
}

/// Properties of the lesson: the model shown, the figure it is drawn as, the page language.
#[derive(Properties, PartialEq, Debug)]
pub struct LessonProps {
    /// The model shown, as the backend describes it.
    pub model: Option<ModelInfo>,
    /// The figure it is drawn as (`None` for a traced program not recognised yet).
    pub figure: Option<Family>,
    /// Page language.
    pub lang: Lang,
}

/// `#lesson`: the selected model's lesson from `kettle_shared::MODELS`, in the page language; for a
/// traced program, what Kettle does with it.
#[component]
pub fn Lesson(props: &LessonProps) -> Html {
    let lang = props.lang;
    let body = match &props.model {
        None => html! { <p>{ t(lang, Key::NoModelSelected) }</p> },
        Some(m) => {
            let lesson = match kettle_shared::model(&m.id) {
                Some(d) => Some(catalogue(lang, d.lesson, d.lesson_zh)),
                None if is_traced(m) => Some(t(lang, Key::LessonTraced)),
                None => None,
            };
            html! {
                <>
                    <h3>{ title(m, lang) }<span class="figure">{ format!(" · {}", figure_name(props.figure, lang)) }</span></h3>
                    { for lesson.map(|l| html! { <p class="lesson-text">{ l }</p> }) }
                </>
            }
        }
    };
    html! {
        <section id="lesson" data-model={props.model.as_ref().map(|m| m.id.clone()).unwrap_or_default()}>
            <h2>{ t(lang, Key::Lesson) }</h2>
            { body }
        </section>
    }
}

/// `#threads`: the selected model's threads with their CPU share, connections, system calls and
/// what the kernel says about them (`tr.thread[data-thread][data-burning][data-sched-state]
/// [data-wchan]`, its words in the `tr.thread-kernel > td.kernel` below it); a thread keeping a core busy is flagged `.burning-core` — the
/// busy loop's lesson.
#[component]
pub fn Threads(props: &ModelsProps) -> Html {
    let state = &props.state;
    let lang = state.lang;
    let model = state.selected.clone().unwrap_or_default();
    let rows: Vec<Html> = state
        .threads
        .of_model(&model)
        .map(|l| {
            let cpu = l.cpu_percent.map_or("…".to_owned(), |p| format!("{p:.0} %"));
            let burning = l.burning();
            let kernel = l.kernel.as_ref();
            let sched_state =
                kernel.and_then(crate::kernel::sched_state).map(|s| AttrValue::from(s.to_owned()));
            let wchan = kernel.and_then(crate::kernel::wchan).map(|w| AttrValue::from(w.to_owned()));
            let words = kernel.map(|k| crate::kernel::describe(k, lang, crate::kernel::Detail::Full));
            html! {
                <>
                <tr class={classes!("thread", burning.then_some("burning"))}
                    data-thread={l.thread.to_string()} data-burning={burning.to_string()}
                    data-sched-state={sched_state} data-wchan={wchan}>
                    <td class="thread-name">{ &l.name }</td>
                    <td class="cpu">
                        { cpu }
                        { for burning.then(|| html! { <span class="burning-core">{ t(lang, Key::BurningACore) }</span> }) }
                    </td>
                    <td class="conns">{ l.conns }</td>
                    <td class="syscalls">{ l.syscalls }</td>
                </tr>
                { for words.map(|w| html! {
                    <tr class="thread-kernel" data-thread={l.thread.to_string()}>
                        <td class="kernel" colspan="4" title={t(lang, Key::KernelSaysTitle)}>{ w }</td>
                    </tr>
                }) }
                </>
            }
        })
        .collect();
    let body = if rows.is_empty() {
        html! { <p class="empty">{ t(lang, Key::NoThreadSamples) }</p> }
    } else {
        html! {
            <table>
                <thead><tr>
                    <th>{ t(lang, Key::Thread) }</th><th>{ t(lang, Key::CpuShare) }</th>
                    <th>{ t(lang, Key::Conns) }</th><th>{ t(lang, Key::Syscalls) }</th>
                </tr></thead>
                <tbody>{ for rows }</tbody>
            </table>
        }
    };
    html! {
        <section id="threads" data-model={model}>
            <h2>{ tf(lang, Key::Threads, &[&kettle_shared::SAMPLE_EVERY_MS]) }</h2>
            { body }
        </section>
    }
}
