//! `#event-log`: every recorded step as a table row, newest at the bottom.
//!
//! Its props compare by the event store's revision, so the playback clock's 25 re-renders a
//! second never touch these (up to 2 000) rows.

use std::rc::Rc;

use kettle_shared::{Event, EventKind};
use web_sys::Element;
use yew::prelude::*;

use super::Ctx;
use crate::format::{format_clock, format_delta};
use crate::i18n::{t, Key, Lang};
use crate::labels::describe;
use crate::state::{Action, EventStore};

/// Properties: what to show and the counters.
#[derive(Properties, PartialEq, Debug)]
pub struct EventLogProps {
    /// The events.
    pub store: Rc<EventStore>,
    /// Only this model's events (plus the relay's events of `clients`); `None`: all.
    pub model: Option<String>,
    /// Echo clients of the shown model, whose relay events are shown too.
    pub clients: Vec<u32>,
    /// Page language.
    pub lang: Lang,
    /// Events the backend dropped.
    pub dropped: u64,
    /// Events this page could not read.
    pub unreadable: u64,
}

fn relay_client(kind: &EventKind) -> Option<u32> {
    match kind {
        EventKind::ClientConnected { client, .. }
        | EventKind::ClientSent { client, .. }
        | EventKind::ClientReceived { client, .. }
        | EventKind::ClientClosed { client, .. } => Some(*client),
        _ => None,
    }
}

fn shown(e: &Event, props: &EventLogProps) -> bool {
    match &props.model {
        None => true,
        Some(m) => {
            &e.model == m || relay_client(&e.kind).is_some_and(|c| props.clients.contains(&c))
        }
    }
}

/// What the event says, as the figures say it.
fn fields(e: &Event, lang: Lang) -> String {
    describe(e, lang).1
}

/// `section#event-log` with `table > tbody > tr.event-row[data-seq][data-kind][data-model]`
/// and the counters `.log-count`, `.log-dropped`, `.log-trimmed`, `.log-unreadable`.
#[component]
pub fn EventLog(props: &EventLogProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let lang = props.lang;
    let scroller = use_node_ref();
    {
        // Follow the newest event, as a terminal would.
        let scroller = scroller.clone();
        use_effect_with(props.store.revision(), move |_| {
            if let Some(el) = scroller.cast::<Element>() {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    let events: Vec<&Rc<Event>> = props.store.iter().filter(|e| shown(e, props)).collect();
    let mut previous: Option<u64> = None;
    let rows = events.iter().map(|e| {
        let delta = previous.map_or_else(String::new, |p| format_delta(p, e.t_ns));
        previous = Some(e.t_ns);
        html! {
            <tr class="event-row" key={e.seq} data-seq={e.seq.to_string()} data-kind={e.kind.name()} data-model={e.model.clone()}>
                <td class="t">{ format_clock(e.t_ns) }</td>
                <td class="dt">{ delta }</td>
                <td class="model">{ &e.model }</td>
                <td class="thread">{ &e.thread.name }</td>
                <td class="conn">{ e.conn.map_or_else(String::new, |c| format!("#{c}")) }</td>
                <td class="kind">{ e.kind.name() }</td>
                <td class="fields">{ fields(e, lang) }</td>
            </tr>
        }
    });
    let toggle = ctx.dispatch.reform(|_: yew::events::Event| Action::ToggleLogAllModels);
    html! {
        <section id="event-log">
            <h2>{ t(lang, Key::EventLog) }</h2>
            <div class="log-counters">
                <span class="log-count" data-count={events.len().to_string()}>
                    <b>{ events.len() }</b>{ format!(" {}", t(lang, Key::EventsShown)) }
                </span>
                <span class="log-dropped" data-count={props.dropped.to_string()}>
                    { format!("{} {}", props.dropped, t(lang, Key::DroppedByBackend)) }
                </span>
                <span class="log-trimmed" data-count={props.store.trimmed().to_string()}>
                    { format!("{} {}", props.store.trimmed(), t(lang, Key::TrimmedLocally)) }
                </span>
                if props.unreadable > 0 {
                    <span class="log-unreadable" data-count={props.unreadable.to_string()}>
                        { format!("{} {}", props.unreadable, t(lang, Key::UnreadableEvents)) }
                    </span>
                }
                <label class="log-all">
                    <input id="log-all" type="checkbox" checked={props.model.is_none()} onchange={toggle} />
                    { t(lang, Key::AllModels) }
                </label>
            </div>
            <div class="log-scroll" ref={scroller}>
                if events.is_empty() {
                    <p class="empty">{ t(lang, Key::NoEvents) }</p>
                } else {
                    <table><tbody>{ for rows }</tbody></table>
                }
            </div>
        </section>
    }
}
