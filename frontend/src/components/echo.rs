//! `#echo`: browser echo clients, relayed by the backend to a model's TCP port. One sits on
//! the stage, under the figure (its one input line); the others are in the side column's
//! Clients panel.
//!
//! The status line is the blocking model's lesson made visible: a second client is connected
//! by the kernel yet waits in the listen backlog until the server calls `accept` for it.

use kettle_shared::{Command, ModelInfo, ModelState, TRACED_MODEL};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::i18n::{catalogue, t, tf, Key, Lang};
use crate::screen::{ClientSeat, ScreenAction, Side};
use crate::state::{Action, ClientStatus, ClosedReason, EchoClient, State};

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct EchoProps {
    /// The page state.
    pub state: StateHandle,
}

/// The echo client on the stage ([`crate::screen::stage_client`]).
pub fn stage_client(state: &State) -> Option<u32> {
    let seats: Vec<ClientSeat<'_>> = state
        .clients
        .iter()
        .map(|c| ClientSeat { id: c.id, model: &c.model, open: c.closed.is_none() })
        .collect();
    crate::screen::stage_client(&seats, state.screen.stage_client, state.selected.as_deref())
}

/// The ports of the running traced program, when it listens on more than one.
fn several_ports(running: &[&ModelInfo]) -> Option<Vec<u16>> {
    let traced = running.iter().find(|m| m.id == TRACED_MODEL)?;
    (traced.ports.len() > 1).then(|| traced.ports.clone())
}

/// The stage's one echo line: `section#echo` with `select#echo-model` (and `select#echo-port`
/// when the traced program listens on several ports), `button#echo-open`, and
/// the stage's client (`div.echo-client.on-stage`, see [`EchoClientView`]); with more clients,
/// `select#echo-which` puts another on the stage and `button#echo-more` shows them all in the
/// side column.
#[component]
pub fn EchoStrip(props: &EchoProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let select_ref = use_node_ref();
    let running: Vec<_> = state.models.iter().filter(|m| m.state == ModelState::Running).collect();
    // Preselect the model being shown, when it runs.
    let preferred = state
        .selected
        .as_deref()
        .filter(|id| running.iter().any(|m| m.id == *id))
        .or(running.first().map(|m| m.id.as_str()))
        .map(str::to_owned);
    // A traced program may listen on several ports: then one picks which (`#echo-port`).
    let traced_ports = several_ports(&running);
    let port_ref = use_node_ref();
    let open = {
        let ctx = ctx.clone();
        let select_ref = select_ref.clone();
        let port_ref = port_ref.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(select) = select_ref.cast::<HtmlSelectElement>() {
                let model = select.value();
                let port = (model == TRACED_MODEL)
                    .then(|| port_ref.cast::<HtmlSelectElement>())
                    .flatten()
                    .and_then(|p| p.value().parse().ok());
                if !model.is_empty() {
                    ctx.send(Command::EchoOpen { model, port });
                }
            }
        })
    };
    let pending = state.echo_opens_pending();
    let on_stage = stage_client(state);
    let staged = on_stage.and_then(|id| state.clients.iter().find(|c| c.id == id));
    let others = state.clients.len().saturating_sub(usize::from(staged.is_some()));
    let pick = ctx.dispatch.reform(|e: Event| {
        let id = e.target_dyn_into::<HtmlSelectElement>().and_then(|s| s.value().parse().ok());
        id.map_or(Action::Screen(ScreenAction::ShowSide(Side::Clients)), |id| {
            Action::Screen(ScreenAction::StageClient(id))
        })
    });
    let more =
        ctx.dispatch.reform(|_: MouseEvent| Action::Screen(ScreenAction::ShowSide(Side::Clients)));
    html! {
        <section id="echo" class="echo-strip" aria-label={t(lang, Key::Echo)}>
            <div class="echo-controls">
                <label for="echo-model" class="visually-hidden">{ t(lang, Key::EchoTarget) }</label>
                <select id="echo-model" ref={select_ref} disabled={running.is_empty()} title={t(lang, Key::EchoTarget)}>
                    { for running.iter().map(|m| html! {
                        <option value={m.id.clone()} selected={preferred.as_deref() == Some(m.id.as_str())}>
                            { catalogue(lang, &m.title, &m.title_zh) }
                        </option>
                    }) }
                </select>
                if let Some(ports) = traced_ports {
                    <label for="echo-port" class="visually-hidden">{ t(lang, Key::EchoTracedPort) }</label>
                    <select id="echo-port" ref={port_ref} title={t(lang, Key::EchoTracedPort)}>
                        { for ports.iter().map(|p| html! {
                            <option value={p.to_string()}>{ tf(lang, Key::EchoPortOption, &[p]) }</option>
                        }) }
                    </select>
                }
                <button id="echo-open" onclick={open} disabled={running.is_empty()}
                    aria-label={t(lang, Key::OpenClient)} title={t(lang, Key::OpenClient)}>
                    <span aria-hidden="true">{ "＋" }</span>
                </button>
            </div>
            { for staged.map(|c| html! {
                <EchoClientView key={c.id} client={c.clone()} lang={lang} on_stage=true />
            }) }
            if staged.is_none() {
                <p class="echo-none hint">
                    { if running.is_empty() { t(lang, Key::NoRunningModel) } else { t(lang, Key::EchoOpenHint) } }
                </p>
            }
            if pending > 0 {
                <span class="echo-pending" role="status">{ t(lang, Key::ClientOpening) }</span>
            }
            if state.clients.len() > 1 {
                <div class="echo-which">
                    <label for="echo-which" class="visually-hidden">{ t(lang, Key::EchoOnStage) }</label>
                    <select id="echo-which" onchange={pick} title={t(lang, Key::EchoOnStage)}>
                        { for state.clients.iter().map(|c| html! {
                            <option value={c.id.to_string()} selected={Some(c.id) == on_stage}>
                                { format!("#{} → {}", c.id, c.model) }
                            </option>
                        }) }
                    </select>
                    <button id="echo-more" onclick={more} title={t(lang, Key::EchoMoreHelp)}>
                        { tf(lang, Key::EchoMore, &[&others]) }
                    </button>
                </div>
            }
        </section>
    }
}

/// The side column's `section#echo-clients`: every echo client but the one on the stage, in
/// full (status, input, replies), so a second or third client can be watched and closed.
#[component]
pub fn EchoClients(props: &EchoProps) -> Html {
    let state = &props.state;
    let lang = state.lang;
    let on_stage = stage_client(state);
    let others: Vec<&EchoClient> =
        state.clients.iter().filter(|c| Some(c.id) != on_stage).collect();
    html! {
        <section id="echo-clients">
            <h2>{ t(lang, Key::Echo) }</h2>
            <p class="hint">{ t(lang, Key::EchoOthersHelp) }</p>
            if others.is_empty() {
                <p class="empty">{ t(lang, Key::EchoNoOthers) }</p>
            }
            <div class="echo-clients">
                { for others.into_iter().map(|c| html! { <EchoClientView key={c.id} client={c.clone()} lang={lang} /> }) }
            </div>
        </section>
    }
}

/// Properties of one client.
#[derive(Properties, PartialEq, Debug)]
pub struct EchoClientProps {
    /// The client.
    pub client: EchoClient,
    /// Page language.
    pub lang: Lang,
    /// The stage's one line: compact, only the newest reply shown.
    #[prop_or_default]
    pub on_stage: bool,
}

fn status_line(client: &EchoClient, lang: Lang) -> (&'static str, String) {
    match client.status() {
        ClientStatus::WaitingInBacklog => {
            ("waiting", t(lang, Key::ClientWaitingInBacklog).to_owned())
        }
        ClientStatus::Queued => ("queued", t(lang, Key::ClientQueued).to_owned()),
        ClientStatus::Accepted => ("accepted", t(lang, Key::ClientAccepted).to_owned()),
        ClientStatus::Closed(reason) => {
            let why = match reason {
                ClosedReason::Relay(r) => crate::reasons::reason(lang, r),
                ClosedReason::ByYou => t(lang, Key::ClosedByYou).to_owned(),
                ClosedReason::ConnectionLost => t(lang, Key::KettleConnectionLost).to_owned(),
            };
            ("closed", tf(lang, Key::ClientClosed, &[&why]))
        }
    }
}

/// `div.echo-client[data-client][data-model]` (`.on-stage` for the stage's) with
/// `input.echo-input`, `button.echo-send`, `button.echo-close` (open) or `button.echo-remove`
/// (closed), `.echo-status[data-status]` and `ul.echo-replies > li.echo-reply`.
#[component]
pub fn EchoClientView(props: &EchoClientProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let client = &props.client;
    let lang = props.lang;
    let id = client.id;
    let input_ref = use_node_ref();
    let closed = client.closed.is_some();
    let send = {
        let ctx = ctx.clone();
        let input_ref = input_ref.clone();
        Callback::from(move |()| {
            if let Some(input) = input_ref.cast::<HtmlInputElement>() {
                // The servers are line-oriented: the newline is what makes them answer.
                let text = format!("{}\n", input.value());
                input.set_value("");
                ctx.send(Command::EchoSend { client: id, text });
            }
        })
    };
    let on_click = send.reform(|_: MouseEvent| ());
    let on_key = {
        let send = send.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" {
                e.prevent_default();
                send.emit(());
            }
        })
    };
    let close_or_remove = if closed {
        let remove = ctx.dispatch.reform(move |_: MouseEvent| Action::RemoveClient(id));
        html! { <button class="echo-remove" onclick={remove}>{ t(lang, Key::Remove) }</button> }
    } else {
        let ctx = ctx.clone();
        let close =
            Callback::from(move |_: MouseEvent| ctx.send(Command::EchoClose { client: id }));
        html! { <button class="echo-close" onclick={close}>{ t(lang, Key::CloseClient) }</button> }
    };
    let (status_id, status_text) = status_line(client, lang);
    html! {
        <div class={classes!("echo-client", status_id, props.on_stage.then_some("on-stage"))}
            data-client={id.to_string()} data-model={client.model.clone()}>
            <div class="echo-head">
                <span class="echo-id">{ format!("#{id} → {}", client.model) }</span>
                <span class="echo-local">{ &client.local }</span>
            </div>
            <div class="echo-status" data-status={status_id}>{ status_text }</div>
            <div class="echo-row">
                <input class="echo-input" ref={input_ref} type="text" disabled={closed}
                    aria-label={tf(lang, Key::EchoInputLabel, &[&id, &client.model])}
                    placeholder={if props.on_stage {
                        tf(lang, Key::EchoPlaceholderOn, &[&id, &client.model])
                    } else {
                        t(lang, Key::EchoPlaceholder).to_owned()
                    }}
                    onkeydown={on_key} />
                <button class="echo-send" onclick={on_click} disabled={closed}>{ t(lang, Key::Send) }</button>
                { close_or_remove }
            </div>
            <ul class="echo-replies" aria-label={t(lang, Key::EchoReplies)} tabindex={(!props.on_stage).then_some("0")}>
                { for client.replies.iter().map(|r| html! { <li class="echo-reply">{ r }</li> }) }
            </ul>
        </div>
    }
}
