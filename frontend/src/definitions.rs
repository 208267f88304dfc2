//! The tutorial's definitions, each tied to what shows it: a part of the figure, or a live
//! thread.
//!
//! - *Synchronous or asynchronous* is about the call: does it hand its result back when it
//!   returns, or is the caller told later? The figure shows results coming back as return
//!   arrows (and, for asynchronous I/O, as completions).
//! - *Blocking or non-blocking* is about the thread: does the kernel suspend it? The figure
//!   shows a suspended thread as a sleep bar; a thread that asks again and again as the
//!   `EAGAIN` staircase.
//! - *The two phases of an input*: wait for data, then copy to user — the figure's braces.
//!
//! A definition's button puts its [`Definition::point`] in `<html data-point>`, and the
//! figure's CSS lights the elements listed in [`Definition::lights`] (a test below checks that
//! `static/kettle.css` has the rule). The contrast beside the definitions — a computation,
//! synchronous yet never asleep, next to a thread blocked in `recv` — comes from real threads:
//! [`computing`] and [`blocked`] pick them from the sampled threads.

use kettle_shared::{BuiltIn, LESSON_MODEL};

use crate::i18n::Key;
use crate::threads::{ThreadLoad, ThreadLoads};

/// The model whose thread shows a blocked `recv` in the contrast.
pub const BLOCKING_MODEL: &str = BuiltIn::Blocking.id();
/// How long the contrast's computation runs, in ms.
pub const COMPUTE_MS: u32 = 3_000;

/// One definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition {
    /// `data-definition`, and the value of `<html data-point>` while its button is on.
    pub point: &'static str,
    /// Its title.
    pub title: Key,
    /// Two or three sentences.
    pub text: Key,
    /// The button's words.
    pub button: Key,
    /// The figure's elements it lights (CSS selectors inside `#figure`).
    pub lights: &'static [&'static str],
}

/// The three definitions, in the tutorial's order.
pub const DEFINITIONS: &[Definition] = &[
    Definition {
        point: "sync",
        title: Key::DefSyncTitle,
        text: Key::DefSyncText,
        button: Key::DefSyncPoint,
        lights: &[r#"g.step[data-shape="return"]"#, r#"g.step[data-kind="complete"]"#],
    },
    Definition {
        point: "blocking",
        title: Key::DefBlockTitle,
        text: Key::DefBlockText,
        button: Key::DefBlockPoint,
        lights: &["g.bar", r#"g.step[data-shape="stair"]"#],
    },
    Definition {
        point: "phases",
        title: Key::DefPhasesTitle,
        text: Key::DefPhasesText,
        button: Key::DefPhasesPoint,
        lights: &[r#"g.phase[data-phase="wait"]"#, r#"g.phase[data-phase="copy"]"#],
    },
];

/// The lesson's computing thread, while it runs.
pub fn computing(threads: &ThreadLoads) -> Option<&ThreadLoad> {
    threads.of_model(LESSON_MODEL).next()
}

/// The blocking model's serving thread, while the model runs.
pub fn blocked(threads: &ThreadLoads) -> Option<&ThreadLoad> {
    threads.of_model(BLOCKING_MODEL).next()
}

/// The value `<html data-point>` takes when a definition's button is pressed while `on` is
/// lit: pressing the lit one again turns the light off.
pub fn toggle(on: Option<&'static str>, pressed: &'static str) -> Option<&'static str> {
    (on != Some(pressed)).then_some(pressed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kettle_shared::{Event, EventKind, ThreadRef};

    #[test]
    fn the_figure_css_lights_what_each_definition_points_at() {
        let css = include_str!("../../static/kettle.css");
        for d in DEFINITIONS {
            for element in d.lights {
                let rule = format!(r#"html[data-point="{}"] #figure {element}"#, d.point);
                assert!(css.contains(&rule), "static/kettle.css lacks `{rule}`");
            }
        }
    }

    #[test]
    fn a_pressed_button_lights_and_pressing_it_again_turns_it_off() {
        assert_eq!(toggle(None, "sync"), Some("sync"));
        assert_eq!(toggle(Some("sync"), "phases"), Some("phases"));
        assert_eq!(toggle(Some("phases"), "phases"), None);
    }

    #[test]
    fn the_contrast_takes_the_lesson_thread_and_the_blocking_models_thread() {
        let sample = |model: &str, id: u32| Event {
            seq: u64::from(id),
            t_ns: 1,
            model: model.into(),
            thread: ThreadRef { id, name: model.into() },
            conn: None,
            kind: EventKind::ThreadSample { cpu_ns: 1, conns: 0, syscalls: 0, kernel: None },
        };
        let mut threads = ThreadLoads::default();
        assert!(computing(&threads).is_none() && blocked(&threads).is_none());
        for e in [sample("select", 1), sample(BLOCKING_MODEL, 2), sample(LESSON_MODEL, 3)] {
            threads.observe(&e);
        }
        assert_eq!(computing(&threads).map(|t| t.thread), Some(3));
        assert_eq!(blocked(&threads).map(|t| t.thread), Some(2));
    }
}
