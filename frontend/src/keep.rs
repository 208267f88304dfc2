//! Keeping a lesson: what the page saves as a recording, where a recording it replays came
//! from, the link to one step of it, and the names of saved files. Pure, tested natively; the
//! browser side (files, downloads, the clipboard, pictures) is `components/keep_menu.rs`.
//!
//! A recording ([`kettle_shared::recording`]) holds the events exactly as the page received
//! them. Replaying one feeds them to the same reducer a live page uses — a `hello` listing the
//! recording's models, then one batch — so the figure, narration, code, time travel, the
//! comparison and the story work from the file as they do live, and nothing is drawn that was
//! not recorded. While a recording plays the page has no WebSocket: [`Source::Recording`].

use std::rc::Rc;

use kettle_shared::recording::{Compared, ComparedLane, HostInfo, Recording, RecordingHeader};
use kettle_shared::Event;

use crate::state::State;

/// Where the page's events come from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Source {
    /// A running Kettle, over the WebSocket.
    #[default]
    Live,
    /// A recording, replayed without any server.
    Recording(Rc<Replay>),
}

/// A recording being replayed.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// Its header: when, where, which models.
    pub header: RecordingHeader,
    /// The address it was opened from (`?recording=`), for links to its steps; `None` when it
    /// was opened from a file on this computer.
    pub url: Option<String>,
    /// Its events, for saving it again or exporting it.
    pub recording: Rc<Recording>,
}

/// What `#save-recording` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// The model on screen.
    #[default]
    Shown,
    /// Every model the page has events of.
    Every,
}

impl Scope {
    /// The word in `#save-scope`'s options.
    pub fn id(self) -> &'static str {
        match self {
            Scope::Shown => "shown",
            Scope::Every => "every",
        }
    }

    /// The scope an option names.
    pub fn from_id(id: &str) -> Option<Scope> {
        match id {
            "shown" => Some(Scope::Shown),
            "every" => Some(Scope::Every),
            _ => None,
        }
    }
}

/// A model's id, for the recording: a host the server never described.
fn unknown_host() -> HostInfo {
    HostInfo {
        kettle_version: kettle_shared::recording::KETTLE_VERSION.into(),
        kernel: String::new(),
        machine: String::new(),
    }
}

/// The recording `#save-recording` writes: the kept events of the shown model (or of every
/// model), the models as the server described them, the comparison if it is on screen, and
/// where it ran (`host`, from `/api/host`; empty words if the page could not ask). `now_ms` is
/// the wall clock now, for a recording with no events. `None` when there is nothing to keep.
pub fn recording_of(state: &State, scope: Scope, now_ms: u64) -> Option<Recording> {
    if let Source::Recording(replay) = &state.source {
        // Saving a replayed recording saves it again, as it was.
        return Some((*replay.recording).clone());
    }
    let models: Vec<String> = match scope {
        Scope::Shown => state.selected.iter().cloned().collect(),
        Scope::Every => state.stores.keys().cloned().collect(),
    };
    let mut events: Vec<Event> = models
        .iter()
        .filter_map(|m| state.store(m))
        .flat_map(|store| store.events().iter().map(|e| (**e).clone()))
        .collect();
    let compare = compared(state);
    // The comparison's models come along even when only the shown one was asked for: the
    // comparison is drawn from their events.
    let mut with_compare = models.clone();
    if let Some(c) = &compare {
        for lane in &c.lanes {
            if !with_compare.contains(&lane.model) {
                with_compare.push(lane.model.clone());
                events.extend(
                    state
                        .store(&lane.model)
                        .into_iter()
                        .flat_map(|s| s.events().iter().map(|e| (**e).clone())),
                );
            }
        }
    }
    if events.is_empty() {
        return None;
    }
    events.sort_by_key(|e| e.seq);
    events.dedup_by_key(|e| e.seq);
    let host = state.host.clone().unwrap_or_else(unknown_host);
    let infos = state.models.iter().filter(|m| with_compare.contains(&m.id)).cloned().collect();
    let t0 = state.clock_start_unix_ms;
    let first = events.iter().map(|e| e.t_ns).min().map(|t| t0 + t / 1_000_000);
    let mut header = Recording::header(&host, infos, first.filter(|_| t0 > 0).unwrap_or(now_ms));
    header.t0_unix_ms = t0;
    header.compare = compare;
    header.history_bound = state.store_limit() as u32;
    header.lost = state.dropped_by_backend;
    Some(Recording { header, events })
}

/// The comparison on the page, if a line has gone through it.
fn compared(state: &State) -> Option<Compared> {
    let run = state.compare.run.as_ref()?;
    let lanes: Vec<ComparedLane> = run
        .lanes
        .iter()
        .filter_map(|lane| {
            let (client, conn) = lane.resolved(&state.clients)?;
            Some(ComparedLane { model: lane.model.clone(), client, conn })
        })
        .collect();
    (!lanes.is_empty()).then(|| Compared { text: run.text.clone(), lanes })
}

/// Why a `?recording=` address is not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRefusal {
    /// It names another site: a page must not be made to fetch from elsewhere.
    OtherOrigin,
    /// Empty, or not an address.
    NotAnAddress,
}

/// The address to fetch for `?recording=VALUE` on a page at `origin`
/// (`http://127.0.0.1:8000`): a path on this server (`lesson.kettle.jsonl.gz`,
/// `/lessons/a.kettle.jsonl.gz`) or a full address of the same origin. Anything naming another
/// origin — another host, port or scheme, a `//host` address, `javascript:` — is refused.
pub fn recording_url(value: &str, origin: &str) -> Result<String, UrlRefusal> {
    let value = value.trim();
    if value.is_empty() || value.chars().any(|c| c.is_control() || c == '\\') {
        return Err(UrlRefusal::NotAnAddress);
    }
    if value.starts_with("//") {
        return Err(UrlRefusal::OtherOrigin);
    }
    match value.find(':') {
        // A scheme comes before any '/', '?' or '#'.
        Some(colon) if !value[..colon].contains(['/', '?', '#']) => {
            let same = value.len() > origin.len()
                && value.starts_with(origin)
                && value[origin.len()..].starts_with('/');
            if same {
                Ok(value.to_owned())
            } else {
                Err(UrlRefusal::OtherOrigin)
            }
        }
        _ => Ok(value.to_owned()),
    }
}

/// The file name a saved recording gets: `kettle-<models>-<date>-<time>.kettle.jsonl.gz`, the
/// date and time UTC, from its start.
pub fn recording_file_name(header: &RecordingHeader) -> String {
    let models: Vec<&str> = header.models.iter().map(|m| m.id.as_str()).take(3).collect();
    let models = if models.is_empty() { "lesson".to_owned() } else { models.join("-") };
    format!(
        "kettle-{models}-{}{}",
        utc_stamp(header.start_unix_ms),
        kettle_shared::recording::RECORDING_EXTENSION
    )
}

/// `YYYY-MM-DD-HHMM`, UTC, for file names.
pub fn utc_stamp(unix_ms: u64) -> String {
    let (y, mo, d, h, mi) = utc(unix_ms);
    format!("{y:04}-{mo:02}-{d:02}-{h:02}{mi:02}")
}

/// `YYYY-MM-DD HH:MM UTC`, for the badge.
pub fn utc_date(unix_ms: u64) -> String {
    let (y, mo, d, h, mi) = utc(unix_ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC")
}

/// The civil date and time (UTC) of a Unix time, by the days-from-civil algorithm inverted
/// (proleptic Gregorian; no time zone database needed).
fn utc(unix_ms: u64) -> (u64, u64, u64, u64, u64) {
    let secs = unix_ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d, rest / 3600, rest % 3600 / 60)
}

/// The generic family a figure saved as SVG names for a font stack: another computer may have
/// none of the page's fonts, and every SVG viewer has the generic ones.
pub fn generic_family(stack: &str) -> &'static str {
    let stack = stack.to_ascii_lowercase();
    let mono = ["mono", "courier", "consol", "menlo"];
    if mono.iter().any(|m| stack.contains(m)) {
        "monospace"
    } else if stack.contains("sans") || !stack.contains("serif") {
        "sans-serif"
    } else {
        "serif"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::*;
    use crate::state::Action;
    use kettle_shared::recording;
    use kettle_shared::EventKind;
    use yew::Reducible;

    fn live_page() -> Rc<State> {
        let events = vec![
            ev(1, 1_000_000, "blocking", EventKind::AcceptEnter),
            ev(2, 2_000_000, "select", EventKind::AcceptEnter),
            ev(3, 3_000_000, "blocking", EventKind::RecvEnter { fd: 5, len: 1024 }),
        ];
        reduce(
            Rc::new(State::default()),
            [
                Action::Server(kettle_shared::ServerMsg::Hello {
                    protocol_version: kettle_shared::PROTOCOL_VERSION,
                    models: vec![
                        model_info("blocking", ModelState::Running),
                        model_info("select", ModelState::Running),
                    ],
                    clock: Clock { start_unix_ms: 1_765_000_000_000, now_ns: 0 },
                    role: kettle_shared::Role::Teacher,
                    classroom: false,
                }),
                batch(events, 0),
                Action::Select("blocking".into()),
            ],
        )
    }

    #[test]
    fn saving_the_shown_model_keeps_its_events_only() {
        let s = live_page();
        let rec = recording_of(&s, Scope::Shown, 0).unwrap();
        let seqs: Vec<u64> = rec.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 3]);
        let ids: Vec<&str> = rec.header.models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["blocking"]);
        assert_eq!(rec.header.t0_unix_ms, 1_765_000_000_000);
        assert_eq!(rec.header.start_unix_ms, 1_765_000_000_001, "the first kept event's time");
    }

    #[test]
    fn saving_every_model_keeps_every_store() {
        let rec = recording_of(&live_page(), Scope::Every, 0).unwrap();
        assert_eq!(rec.events.len(), 3);
        assert_eq!(rec.header.models.len(), 2);
    }

    #[test]
    fn a_saved_recording_replays_to_the_same_steps() {
        let live = live_page();
        let rec = recording_of(&live, Scope::Every, 0).unwrap();
        let bytes = recording::encode(&rec);
        let back = recording::decode(&bytes).unwrap();
        let replay = Rc::new(State::default()).reduce(Action::Replay {
            recording: Rc::new(back),
            url: None,
            at: None,
        });
        assert!(matches!(replay.source, Source::Recording(_)));
        for model in ["blocking", "select"] {
            let steps = |s: &State| -> Vec<u64> {
                s.store(model).unwrap().steps().list.iter().map(|r| r.event.seq).collect()
            };
            assert_eq!(steps(&replay), steps(&live), "{model}");
        }
    }

    #[test]
    fn nothing_to_keep_is_no_recording() {
        assert!(recording_of(&State::default(), Scope::Every, 0).is_none());
    }

    #[test]
    fn a_recording_address_must_be_of_this_origin() {
        let o = "http://127.0.0.1:8000";
        assert_eq!(recording_url("lesson.kettle.jsonl.gz", o).unwrap(), "lesson.kettle.jsonl.gz");
        assert_eq!(recording_url("/r/a.gz", o).unwrap(), "/r/a.gz");
        assert_eq!(
            recording_url("http://127.0.0.1:8000/a.gz", o).unwrap(),
            "http://127.0.0.1:8000/a.gz"
        );
        for other in [
            "http://127.0.0.1:8001/a.gz",
            "http://127.0.0.1:8000.evil.example/a.gz",
            "https://127.0.0.1:8000/a.gz",
            "//evil.example/a.gz",
            "javascript:alert(1)",
            "data:application/gzip;base64,AAAA",
        ] {
            assert_eq!(recording_url(other, o), Err(UrlRefusal::OtherOrigin), "{other}");
        }
        assert_eq!(recording_url("", o), Err(UrlRefusal::NotAnAddress));
        assert_eq!(recording_url("a\\b", o), Err(UrlRefusal::NotAnAddress));
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        // 2026-12-08 03:15:00 UTC
        assert_eq!(utc_date(1_796_699_700_000), "2026-12-08 03:15 UTC");
        assert_eq!(utc_stamp(951_782_400_000), "2000-02-29-0000");
    }

    #[test]
    fn fonts_become_generic_families() {
        assert_eq!(generic_family("\"JetBrains Mono\", ui-monospace, monospace"), "monospace");
        assert_eq!(generic_family("system-ui, \"Noto Sans CJK SC\", sans-serif"), "sans-serif");
        assert_eq!(generic_family("Georgia, serif"), "serif");
        assert_eq!(generic_family("Inter"), "sans-serif");
    }

    #[test]
    fn a_file_name_says_models_and_time() {
        let rec = recording_of(&live_page(), Scope::Every, 0).unwrap();
        assert_eq!(
            recording_file_name(&rec.header),
            "kettle-blocking-select-2025-12-06-0546.kettle.jsonl.gz"
        );
    }
}
