//! `#echo`: browser echo clients, relayed by the backend to a model's TCP port.
//!
//! The status line is the blocking model's lesson made visible: a second client is connected
//! by the kernel yet waits in the listen backlog until the server calls `accept` for it.

use kettle_shared::{Command, ModelState};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::i18n::{catalogue, t, tf, Key, Lang};
use crate::state::{Action, ClientStatus, ClosedReason, EchoClient};

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct EchoProps {
    /// The page state.
    pub state: StateHandle,
}

/// The panel: `select#echo-model`, `button#echo-open`, then one `div.echo-client` per client.
#[component]
pub fn EchoPanel(props: &EchoProps) -> Html {
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
    let open = {
        let ctx = ctx.clone();
        let select_ref = select_ref.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(select) = select_ref.cast::<HtmlSelectElement>() {
                let model = select.value();
                if !model.is_empty() {
                    ctx.send(Command::EchoOpen { model });
                }
            }
        })
    };
    let pending = state.echo_opens_pending();
    html! {
        <section id="echo">
            <h2>{ t(lang, Key::Echo) }</h2>
            <div class="echo-controls">
                <label for="echo-model">{ t(lang, Key::EchoTarget) }</label>
                <select id="echo-model" ref={select_ref} disabled={running.is_empty()}>
                    { for running.iter().map(|m| html! {
                        <option value={m.id.clone()} selected={preferred.as_deref() == Some(m.id.as_str())}>
                            { catalogue(lang, &m.title, &m.title_zh) }
                        </option>
                    }) }
                </select>
                <button id="echo-open" onclick={open} disabled={running.is_empty()}>{ t(lang, Key::OpenClient) }</button>
                { if running.is_empty() { html! { <span class="hint">{ t(lang, Key::NoRunningModel) }</span> } } else { html! {} } }
                { if pending > 0 { html! { <span class="echo-pending">{ t(lang, Key::ClientOpening) }</span> } } else { html! {} } }
            </div>
            <div class="echo-clients">
                { for state.clients.iter().map(|c| html! { <EchoClientView key={c.id} client={c.clone()} lang={lang} /> }) }
            </div>
            { super::crowd_view::selected_crowd(state) }
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

/// `div.echo-client[data-client]` with `input.echo-input`, `button.echo-send`,
/// `button.echo-close` (open) or `button.echo-remove` (closed), `.echo-status[data-status]`
/// and `ul.echo-replies > li.echo-reply`.
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
        <div class={classes!("echo-client", status_id)} data-client={id.to_string()} data-model={client.model.clone()}>
            <div class="echo-head">
                <span class="echo-id">{ format!("#{id} → {}", client.model) }</span>
                <span class="echo-local">{ &client.local }</span>
            </div>
            <div class="echo-status" data-status={status_id}>{ status_text }</div>
            <div class="echo-row">
                <input class="echo-input" ref={input_ref} type="text" disabled={closed}
                    placeholder={t(lang, Key::EchoPlaceholder)} onkeydown={on_key} />
                <button class="echo-send" onclick={on_click} disabled={closed}>{ t(lang, Key::Send) }</button>
                { close_or_remove }
            </div>
            <ul class="echo-replies">
                { for client.replies.iter().map(|r| html! { <li class="echo-reply">{ r }</li> }) }
            </ul>
        </div>
    }
}
