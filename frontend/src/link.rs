//! The page's link: what a reload or a shared address restores.
//!
//! The query string carries the chosen model, the view (and the guided tour's step), the
//! playback speed, the language, the theme and the comparison's ticked models:
//! `?model=epoll&view=figure&speed=4&lang=zh&theme=light&compare=blocking,select,sigio,io-uring`.
//! The app writes it on every change with `history.replaceState` (no reload, no new history
//! entry per click) and starts from it on load.
//!
//! Anyone can type an address, so parsing trusts nothing: an unknown key, a value that is not
//! a word Kettle writes, a speed past the last one — each is ignored on its own, the rest still
//! applies, and nothing panics. A model id only has to look like one: the backend's `hello`
//! decides whether it exists (the page falls back to the first model when it does not).
//! Values are written unescaped because every value Kettle writes is made of `a-z`, `0-9`,
//! `-` and `,`, which need no escaping in a query; what comes in is decoded as a form would be.

use crate::i18n::Lang;
use crate::playback::SPEEDS;
use crate::screen::Theme;
use crate::state::State;
use crate::view::View;

/// What a link says; `None` where it says nothing (the page's default or remembered value
/// applies).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    /// The chosen model's id.
    pub model: Option<String>,
    /// The panel of the figure column.
    pub view: Option<View>,
    /// The guided tour's stop (0-based here; `tour=1` in the address is the first stop, as the
    /// tour card counts), while the tour is on.
    pub tour: Option<usize>,
    /// An index into [`SPEEDS`].
    pub speed: Option<usize>,
    /// The page language.
    pub lang: Option<Lang>,
    /// The colours (`theme=light|dark`).
    pub theme: Option<Theme>,
    /// The comparison's ticked models (possibly none), in the order written.
    pub compare: Option<Vec<String>>,
    /// A recording to replay instead of watching a server (`recording=` an address on this
    /// page's own server; [`crate::keep::recording_url`] checks it before it is fetched).
    pub recording: Option<String>,
    /// The step to show, paused: its event's sequence number (`at=`), with `recording`.
    pub at: Option<u64>,
}

/// Longest recording address accepted from a link.
const MAX_RECORDING_URL: usize = 2_000;

/// Longest model id accepted from a link; the catalogue's are far shorter.
const MAX_ID: usize = 40;

/// Whether `id` looks like a model id: lowercase letters, digits and dashes.
fn is_model_id(id: &str) -> bool {
    (1..=MAX_ID).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The word for a language in the link.
pub fn lang_id(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en",
        Lang::Zh => "zh",
    }
}

/// The language a word names: the link's own words, or `<html lang>` codes.
pub fn lang_from_id(id: &str) -> Option<Lang> {
    match id.to_ascii_lowercase().as_str() {
        "en" => Some(Lang::En),
        "zh" | "zh-cn" => Some(Lang::Zh),
        _ => None,
    }
}

/// The comparison's models from `blocking,select`: models Kettle has (the catalogue's and the
/// traced program), each once. A value
/// naming models but none Kettle has says nothing; an empty one means "none ticked".
fn compare_set(value: &str) -> Option<Vec<String>> {
    let mut known: Vec<String> = Vec::new();
    let mut named = 0;
    for id in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        named += 1;
        if id.parse::<kettle_shared::ModelId>().is_ok() && !known.iter().any(|k| k == id) {
            known.push(id.to_owned());
        }
    }
    (named == 0 || !known.is_empty()).then_some(known)
}

impl Link {
    /// Reads a query string, with or without its leading `?`. A key given twice: the last
    /// readable value wins.
    pub fn parse(query: &str) -> Link {
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut link = Link::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            match &*key {
                "model" if is_model_id(value) => link.model = Some(value.to_owned()),
                "view" => link.view = View::from_id(value).or(link.view),
                "tour" => {
                    let stop = value.parse::<usize>().ok().and_then(|n| n.checked_sub(1));
                    link.tour = stop.or(link.tour);
                }
                "speed" => {
                    link.speed =
                        value.parse().ok().filter(|i: &usize| *i < SPEEDS.len()).or(link.speed)
                }
                "lang" => link.lang = lang_from_id(value).or(link.lang),
                "theme" => link.theme = Theme::from_id(value).or(link.theme),
                "compare" => link.compare = compare_set(value).or(link.compare.take()),
                "recording" if !value.is_empty() && value.len() <= MAX_RECORDING_URL => {
                    link.recording = Some(value.to_owned())
                }
                "at" => link.at = value.parse().ok().or(link.at),
                _ => {}
            }
        }
        link
    }

    /// The query string, `?` included; empty when the link says nothing.
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(model) = self.model.as_ref().filter(|m| is_model_id(m)) {
            pairs.push(("model", model.clone()));
        }
        if let Some(view) = self.view {
            pairs.push(("view", view.id().to_owned()));
        }
        if let Some(step) = self.tour {
            pairs.push(("tour", (step + 1).to_string()));
        }
        if let Some(speed) = self.speed.filter(|i| *i < SPEEDS.len()) {
            pairs.push(("speed", speed.to_string()));
        }
        if let Some(lang) = self.lang {
            pairs.push(("lang", lang_id(lang).to_owned()));
        }
        if let Some(theme) = self.theme {
            pairs.push(("theme", theme.id().to_owned()));
        }
        if let Some(models) = &self.compare {
            let ids: Vec<&str> =
                models.iter().map(String::as_str).filter(|m| is_model_id(m)).collect();
            pairs.push(("compare", ids.join(",")));
        }
        if let Some(url) = &self.recording {
            // The one value that may need escaping: an address.
            pairs.push(("recording", form_urlencoded::byte_serialize(url.as_bytes()).collect()));
        }
        if let Some(seq) = self.at {
            pairs.push(("at", seq.to_string()));
        }
        if pairs.is_empty() {
            return String::new();
        }
        let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("?{}", joined.join("&"))
    }
}

/// What the browser knows before the link is read: the choices of an earlier visit (which a
/// link naming a language or theme overrides) and the system's colour scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Remembered {
    /// The language chosen last.
    pub lang: Option<Lang>,
    /// The theme chosen last.
    pub theme: Option<Theme>,
    /// `prefers-color-scheme: dark`.
    pub prefers_dark: bool,
}

impl State {
    /// A fresh page started from a link and what the browser remembers.
    pub fn from_link(link: &Link, remembered: Remembered) -> State {
        let mut state = State::default();
        state.lang = link.lang.or(remembered.lang).unwrap_or_default();
        state.screen.theme = Theme::first(link.theme, remembered.theme, remembered.prefers_dark);
        // Kept until `hello` lists the models: if it is not among them, the first one is shown.
        state.selected = link.model.clone();
        state.view = link.view.unwrap_or_default();
        if let Some(stop) = link.tour {
            state.tour_go(stop);
        }
        if let Some(speed) = link.speed.filter(|i| *i < SPEEDS.len()) {
            state.playback.speed_index = speed;
        }
        if let Some(models) = &link.compare {
            state.compare.ticked = models.clone();
        }
        state
    }

    /// The link that restores what this page shows.
    pub fn link(&self) -> Link {
        Link {
            model: self.selected.clone(),
            view: Some(self.view),
            tour: self.tour.as_ref().map(|t| t.stop),
            speed: Some(self.playback.speed_index),
            lang: Some(self.lang),
            theme: Some(self.screen.theme),
            compare: Some(self.compare.ticked.clone()),
            recording: match &self.source {
                crate::keep::Source::Recording(replay) => replay.url.clone(),
                crate::keep::Source::Live => None,
            },
            // A replayed step is a place to come back to, with the recording's address; live,
            // the step is gone soon, and a file opened from disk has no address to return to.
            at: match &self.source {
                crate::keep::Source::Recording(replay) if replay.url.is_some() => self.shown_seq(),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_full_link_is_read_field_by_field() {
        let link = Link::parse(
            "?model=epoll&view=story&tour=3&speed=4&lang=zh&theme=light&compare=blocking,select,sigio,io-uring",
        );
        assert_eq!(
            link,
            Link {
                model: Some("epoll".into()),
                view: Some(View::Story),
                tour: Some(2),
                speed: Some(4),
                lang: Some(Lang::Zh),
                theme: Some(Theme::Light),
                compare: ids(&["blocking", "select", "sigio", "io-uring"]),
                recording: None,
                at: None,
            }
        );
    }

    #[test]
    fn a_link_to_a_recorded_step_carries_the_recordings_address_escaped() {
        let link = Link {
            recording: Some("/lessons/select & blocking.kettle.jsonl.gz".into()),
            at: Some(1234),
            ..Link::default()
        };
        let query = link.to_query();
        assert_eq!(query, "?recording=%2Flessons%2Fselect+%26+blocking.kettle.jsonl.gz&at=1234");
        assert_eq!(Link::parse(&query), link);
        assert_eq!(Link::parse("?at=soon").at, None);
    }

    #[test]
    fn formatting_then_parsing_gives_the_same_link() {
        let links = [
            Link::default(),
            Link { model: Some("io-uring".into()), ..Link::default() },
            Link {
                model: Some("thread-pool".into()),
                view: Some(View::Compare),
                tour: Some(0),
                speed: Some(SPEEDS.len() - 1),
                lang: Some(Lang::En),
                theme: Some(Theme::Dark),
                compare: ids(&[]),
                recording: Some("r.kettle.jsonl.gz".into()),
                at: Some(7),
            },
            Link {
                view: Some(View::Figure),
                lang: Some(Lang::Zh),
                compare: ids(&["posix-aio", "blocking"]),
                ..Link::default()
            },
        ];
        for link in links {
            let query = link.to_query();
            assert_eq!(Link::parse(&query), link, "{query}");
        }
        assert_eq!(Link::default().to_query(), "");
    }

    #[test]
    fn the_written_query_is_readable_and_in_a_fixed_order() {
        let link = Link {
            model: Some("epoll".into()),
            view: Some(View::Figure),
            tour: None,
            speed: Some(4),
            lang: Some(Lang::Zh),
            theme: Some(Theme::Light),
            compare: ids(&["blocking", "select"]),
            recording: None,
            at: None,
        };
        assert_eq!(
            link.to_query(),
            "?model=epoll&view=figure&speed=4&lang=zh&theme=light&compare=blocking,select"
        );
    }

    #[test]
    fn invalid_values_are_ignored_one_by_one() {
        let link = Link::parse(
            "model=../etc&view=kitchen&tour=-1&speed=99&lang=fr&theme=pink&compare=nope,evil&x=1&=&&model",
        );
        assert_eq!(link, Link::default());
        let link = Link::parse("speed=2&lang=klingon&view=compare&model=A-B");
        assert_eq!(link.speed, Some(2));
        assert_eq!(link.lang, None);
        assert_eq!(link.view, Some(View::Compare));
        assert_eq!(link.model, None, "ids are lowercase");
        let long = format!("model={}", "a".repeat(MAX_ID + 1));
        assert_eq!(Link::parse(&long).model, None);
    }

    #[test]
    fn odd_but_harmless_input_is_read_as_meant() {
        // Encoded commas and spaces, `+` for a space, a repeated key, unknown and repeated
        // models in the comparison.
        let link =
            Link::parse("?compare=blocking%2C+select,epoll,select,nope&lang=zh-CN&speed=1&speed=x");
        assert_eq!(link.compare, ids(&["blocking", "select", "epoll"]));
        assert_eq!(link.lang, Some(Lang::Zh));
        assert_eq!(link.speed, Some(1), "the readable value stays");
        assert_eq!(Link::parse("compare=").compare, ids(&[]), "none ticked");
        assert_eq!(Link::parse("model=%E2%9C%93").model, None);
        for junk in
            ["%", "%zz", "?&&&", "model=%FF%FE", "\u{0}=\u{0}", "tour=99999999999999999999999"]
        {
            let _ = Link::parse(junk);
        }
    }

    #[test]
    fn a_page_starts_from_its_link_and_writes_the_same_link_back() {
        let link = Link::parse(
            "?model=select&speed=3&lang=zh&theme=light&view=compare&compare=poll,epoll",
        );
        let remembered =
            Remembered { lang: Some(Lang::En), theme: Some(Theme::Dark), prefers_dark: true };
        let state = State::from_link(&link, remembered);
        assert_eq!(state.selected.as_deref(), Some("select"));
        assert_eq!(state.playback.speed_index, 3);
        assert_eq!(state.lang, Lang::Zh, "the link wins over the remembered language");
        assert_eq!(state.screen.theme, Theme::Light, "and over the remembered theme");
        assert_eq!(state.view, View::Compare);
        assert_eq!(state.compare.ticked, ["poll", "epoll"]);
        assert_eq!(
            state.link().to_query(),
            "?model=select&view=compare&speed=3&lang=zh&theme=light&compare=poll,epoll"
        );
    }

    #[test]
    fn a_plain_address_uses_the_remembered_language_and_the_defaults() {
        let remembered = Remembered { lang: Some(Lang::Zh), ..Remembered::default() };
        let state = State::from_link(&Link::parse(""), remembered);
        assert_eq!(state.lang, Lang::Zh);
        assert_eq!(state.screen.theme, Theme::Light, "the system's scheme: not dark");
        assert_eq!(state.selected, None);
        assert_eq!(state.view, View::Figure);
        assert_eq!(state.playback.speed_index, crate::playback::DEFAULT_SPEED_INDEX);
        assert_eq!(state.compare, crate::compare::Comparison::default());
        let plain = State::from_link(&Link::default(), Remembered::default());
        assert_eq!(plain.lang, Lang::En);
        let dark = Remembered { prefers_dark: true, ..Remembered::default() };
        assert_eq!(State::from_link(&Link::default(), dark).screen.theme, Theme::Dark);
        let chosen = Remembered { theme: Some(Theme::Light), prefers_dark: true, ..dark };
        assert_eq!(State::from_link(&Link::default(), chosen).screen.theme, Theme::Light);
    }

    #[test]
    fn a_linked_model_waits_for_hello_and_falls_back_when_it_is_not_listed() {
        use kettle_shared::{Clock, ModelInfo, ModelState, ServerMsg, PROTOCOL_VERSION};
        use std::rc::Rc;
        use yew::Reducible;
        let hello = |ids: &[&str]| {
            crate::state::Action::Server(ServerMsg::Hello {
                protocol_version: PROTOCOL_VERSION,
                models: ids
                    .iter()
                    .map(|id| ModelInfo {
                        id: id.to_string(),
                        title: id.to_string(),
                        title_zh: id.to_string(),
                        figure: String::new(),
                        family: None,
                        port: None,
                        ports: Vec::new(),
                        command: None,
                        state: ModelState::Stopped,
                        reason: None,
                        passive: false,
                    })
                    .collect(),
                clock: Clock { start_unix_ms: 0, now_ns: 0 },
                role: kettle_shared::Role::Teacher,
                classroom: false,
            })
        };
        let start = Rc::new(State::from_link(&Link::parse("model=select"), Remembered::default()));
        assert_eq!(start.selected.as_deref(), Some("select"), "kept before hello");
        let listed = start.clone().reduce(hello(&["blocking", "select"]));
        assert_eq!(listed.selected.as_deref(), Some("select"));
        let missing = start.reduce(hello(&["blocking", "epoll"]));
        assert_eq!(
            missing.selected.as_deref(),
            Some("blocking"),
            "the first model, as without a link"
        );
    }

    #[test]
    fn a_link_to_a_tour_stop_opens_the_tour_there_and_the_address_keeps_counting_from_one() {
        let state = State::from_link(&Link::parse("?tour=5"), Remembered::default());
        let tour = state.tour.as_ref().expect("the tour runs");
        assert_eq!(tour.stop, 4);
        assert_eq!(state.selected.as_deref(), Some("select"), "stop 5 is select");
        assert_eq!(state.view, View::Figure);
        assert!(state.link().to_query().contains("tour=5"), "{}", state.link().to_query());
        let story = State::from_link(&Link::parse("?tour=11"), Remembered::default());
        assert_eq!(story.view, View::Story);
        assert_eq!(Link::parse("?tour=0").tour, None, "stops count from 1");
    }
}
