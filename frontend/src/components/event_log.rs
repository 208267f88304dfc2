//! `#event-log`: every recorded step as a table row, newest at the bottom.
//!
//! Its props compare by the event store's revision, so the playback clock's 25 re-renders a
//! second never touch it. Of the (up to 2 000) events kept it draws only the newest
//! [`LOG_WINDOW`]: under load a batch comes every 25 ms, and re-describing and diffing two
//! thousand rows each time is what made the page stutter; nobody reads further back in a
//! log that scrolls forty times a second (the figure's scrub bar is for going back).

use std::rc::Rc;

use kettle_shared::{Event, EventKind};
use web_sys::Element;
use yew::prelude::*;

use super::Ctx;
use crate::format::{format_clock, format_delta};
use crate::i18n::{t, tf, Key, Lang};
use crate::labels::describe;
use crate::state::{Action, EventStore};

/// Most rows drawn: the newest events shown; older ones stay kept and counted.
pub const LOG_WINDOW: usize = 200;

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

fn shown(e: &Event, model: Option<&str>, clients: &[u32]) -> bool {
    match model {
        None => true,
        Some(m) => e.model == m || relay_client(&e.kind).is_some_and(|c| clients.contains(&c)),
    }
}

/// How many kept events the log shows (`model`'s and its `clients`' relay events, or all),
/// and the newest [`LOG_WINDOW`] of them, oldest first: the rows drawn.
pub fn window<'a>(
    store: &'a EventStore,
    model: Option<&str>,
    clients: &[u32],
) -> (usize, Vec<&'a Rc<Event>>) {
    let mut count = 0;
    let mut rows: Vec<&Rc<Event>> = Vec::with_capacity(LOG_WINDOW);
    for e in store.iter().rev().filter(|e| shown(e, model, clients)) {
        count += 1;
        if rows.len() < LOG_WINDOW {
            rows.push(e);
        }
    }
    rows.reverse();
    (count, rows)
}

/// What the event says, as the figures say it.
fn fields(e: &Event, lang: Lang) -> String {
    describe(e, lang).1
}

/// `section#event-log` with `table > tbody > tr.event-row[data-seq][data-kind][data-model]`
/// (the newest [`LOG_WINDOW`]) and the counters `.log-count` (`data-count` events shown,
/// `data-rows` rows drawn), `.log-dropped`, `.log-trimmed`, `.log-unreadable`.
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
    let (count, events) = window(&props.store, props.model.as_deref(), &props.clients);
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
                <span class="log-count" data-count={count.to_string()} data-rows={events.len().to_string()}>
                    <b>{ count }</b>{ format!(" {}", t(lang, Key::EventsShown)) }
                    if count > events.len() {
                        { format!(" {}", tf(lang, Key::LogNewestRows, &[&events.len()])) }
                    }
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
            <div class="log-scroll" ref={scroller} tabindex="0" aria-label={t(lang, Key::EventLog)}>
                if events.is_empty() {
                    <p class="empty">{ t(lang, Key::NoEvents) }</p>
                } else {
                    <table><tbody>{ for rows }</tbody></table>
                }
            </div>
        </section>
    }
}
