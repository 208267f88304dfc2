//! The kettle story the project is named after (老张烧水, Lao Zhang boils water), and which
//! models act out each of its four cases.
//!
//! Two props and two places: an *ordinary* kettle says nothing when the water boils, a
//! *whistling* kettle tells him; Lao Zhang either *stays in the kitchen* or *watches TV* in
//! the living room. The story calls the kettle's telling "asynchronous" (he is notified)
//! and staying in the kitchen "blocking" (he can do nothing else):
//!
//! | | synchronous (he looks himself) | asynchronous (the kettle tells him) |
//! |---|---|---|
//! | blocking (in the kitchen) | blocking, thread-per-conn, process-per-conn, thread-pool | select, poll, epoll, epoll-et, reactor |
//! | non-blocking (watching TV) | nonblocking (walks back to look: `EAGAIN`) | sigio, io-uring, posix-aio |
//!
//! A readiness call *tells* which socket is ready, but the thread sleeps in it until then: the
//! whistle, heard by a man who never left the kitchen. POSIX (Stevens §6.2) draws the line
//! elsewhere — only Fig. 6.5 (io_uring, aio) is asynchronous I/O, because only there the
//! thread does not wait while the data is copied — and the panel says so.

use kettle_shared::{BuiltIn, ModelId};

use crate::i18n::Key;

/// One case of the story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Ordinary kettle, stays in the kitchen.
    SyncBlocking,
    /// Whistling kettle, stays in the kitchen.
    AsyncBlocking,
    /// Ordinary kettle, watches TV and walks back to look.
    SyncNonblocking,
    /// Whistling kettle, watches TV until it whistles.
    AsyncNonblocking,
}

impl Case {
    /// The cases row by row, as the panel draws them: blocking first, synchronous left.
    pub const ALL: [Case; 4] =
        [Case::SyncBlocking, Case::AsyncBlocking, Case::SyncNonblocking, Case::AsyncNonblocking];

    /// The word in `data-case`.
    pub fn id(self) -> &'static str {
        match self {
            Case::SyncBlocking => "sync-blocking",
            Case::AsyncBlocking => "async-blocking",
            Case::SyncNonblocking => "sync-nonblocking",
            Case::AsyncNonblocking => "async-nonblocking",
        }
    }

    /// The kettle whistles: the story's "asynchronous".
    pub fn whistles(self) -> bool {
        matches!(self, Case::AsyncBlocking | Case::AsyncNonblocking)
    }

    /// He stays in the kitchen: the story's "blocking".
    pub fn stays_in_kitchen(self) -> bool {
        matches!(self, Case::SyncBlocking | Case::AsyncBlocking)
    }

    /// The case a built-in model acts out: an exhaustive match, so a new model does not
    /// compile until the story places it.
    pub fn of_built_in(model: BuiltIn) -> Case {
        match model {
            BuiltIn::Blocking
            | BuiltIn::ThreadPerConn
            | BuiltIn::ProcessPerConn
            | BuiltIn::ThreadPool => Case::SyncBlocking,
            BuiltIn::Nonblocking => Case::SyncNonblocking,
            BuiltIn::Select
            | BuiltIn::Poll
            | BuiltIn::Epoll
            | BuiltIn::EpollEt
            | BuiltIn::Reactor => Case::AsyncBlocking,
            BuiltIn::Sigio | BuiltIn::IoUring | BuiltIn::PosixAio => Case::AsyncNonblocking,
        }
    }

    /// The models that act the case out, in the catalogue's order.
    pub fn models(self) -> impl Iterator<Item = BuiltIn> {
        BuiltIn::ALL.iter().copied().filter(move |&m| Case::of_built_in(m) == self)
    }

    /// The case the model an id names acts out; `None` for an id that names no model, and for
    /// a traced program: the story's cases are Kettle's own servers, each chosen to act one out.
    pub fn of_model(id: &str) -> Option<Case> {
        match id.parse::<ModelId>().ok()? {
            ModelId::BuiltIn(model) => Some(Case::of_built_in(model)),
            ModelId::Traced => None,
        }
    }

    /// The case's name ("synchronous blocking").
    pub fn title(self) -> Key {
        match self {
            Case::SyncBlocking => Key::StoryCaseSyncBlocking,
            Case::AsyncBlocking => Key::StoryCaseAsyncBlocking,
            Case::SyncNonblocking => Key::StoryCaseSyncNonblocking,
            Case::AsyncNonblocking => Key::StoryCaseAsyncNonblocking,
        }
    }

    /// The case told in one or two sentences.
    pub fn telling(self) -> Key {
        match self {
            Case::SyncBlocking => Key::StoryTellSyncBlocking,
            Case::AsyncBlocking => Key::StoryTellAsyncBlocking,
            Case::SyncNonblocking => Key::StoryTellSyncNonblocking,
            Case::AsyncNonblocking => Key::StoryTellAsyncNonblocking,
        }
    }

    /// What the drawing shows, for people who cannot see it.
    pub fn picture(self) -> Key {
        match self {
            Case::SyncBlocking => Key::StoryPictureSyncBlocking,
            Case::AsyncBlocking => Key::StoryPictureAsyncBlocking,
            Case::SyncNonblocking => Key::StoryPictureSyncNonblocking,
            Case::AsyncNonblocking => Key::StoryPictureAsyncNonblocking,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_of_the_catalogue_acts_out_exactly_one_case() {
        for model in kettle_shared::MODELS {
            let cases: Vec<Case> =
                Case::ALL.into_iter().filter(|c| c.models().any(|m| m.id() == model.id)).collect();
            assert_eq!(cases.len(), 1, "{} acts out {cases:?}", model.id);
            assert_eq!(Case::of_model(model.id), Some(cases[0]));
        }
    }

    #[test]
    fn every_case_is_acted_out_by_models_in_the_catalogues_order() {
        for case in Case::ALL {
            let order: Vec<usize> = case
                .models()
                .map(|m| {
                    kettle_shared::MODELS
                        .iter()
                        .position(|d| d.id == m.id())
                        .unwrap_or_else(|| panic!("{m} of {case:?} is not in the catalogue"))
                })
                .collect();
            assert!(!order.is_empty(), "{case:?} is acted out by no model");
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{case:?}: {order:?}");
        }
        let ids: Vec<&str> = Case::AsyncBlocking.models().map(BuiltIn::id).collect();
        assert_eq!(ids, ["select", "poll", "epoll", "epoll-et", "reactor"]);
        assert_eq!(Case::of_model("no-such-model"), None);
    }

    #[test]
    fn the_story_calls_the_whistle_asynchronous_and_the_kitchen_blocking() {
        let named = |c: Case| (c.whistles(), c.stays_in_kitchen());
        assert_eq!(named(Case::SyncBlocking), (false, true));
        assert_eq!(named(Case::AsyncBlocking), (true, true));
        assert_eq!(named(Case::SyncNonblocking), (false, false));
        assert_eq!(named(Case::AsyncNonblocking), (true, false));
        let ids: Vec<&str> = Case::ALL.iter().map(|c| c.id()).collect();
        assert_eq!(
            ids,
            ["sync-blocking", "async-blocking", "sync-nonblocking", "async-nonblocking"]
        );
    }
}
