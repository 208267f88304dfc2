//! The model vocabulary: which models there are ([`BuiltIn`], named on the wire by a
//! [`ModelId`]) and which Stevens figure each one acts out ([`Family`]).
//!
//! Every table keyed by model — the catalogue, the backend's servers, the page's code
//! excerpts, story, tour, figure panels and narration, the tests that walk every model — is an
//! exhaustive `match` on [`BuiltIn`], so a new model does not compile until each place says
//! what it does for it. Names on the wire stay the plain ids (`"blocking"`, `"io-uring"`): the
//! enums change the Rust, not the JSON.

use serde::{Deserialize, Serialize};

use crate::ModelDescriptor;

/// One of the I/O model servers built into Kettle, in teaching order (the order of
/// [`MODELS`](crate::MODELS)).
///
/// On the wire a model is its id, a kebab-case string ([`BuiltIn::id`]); serde and
/// [`FromStr`](std::str::FromStr) read and write exactly that.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::EnumIter,
    strum::EnumCount,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum BuiltIn {
    /// `blocking`: one thread, blocking `accept` then `recv`/`send` (Fig. 6.1).
    Blocking,
    /// `thread-per-conn`: an acceptor and a new thread per connection (Fig. 6.1).
    ThreadPerConn,
    /// `process-per-conn`: a parent and a child process per connection (Fig. 6.1).
    ProcessPerConn,
    /// `thread-pool`: an acceptor, a bounded queue and a fixed pool of workers (Fig. 6.1).
    ThreadPool,
    /// `nonblocking`: the busy loop over non-blocking sockets (Fig. 6.2).
    Nonblocking,
    /// `select` (Fig. 6.3).
    Select,
    /// `poll` (Fig. 6.3).
    Poll,
    /// `epoll`, level-triggered (Fig. 6.3).
    Epoll,
    /// `epoll-et`: epoll, edge-triggered (Fig. 6.3).
    EpollEt,
    /// `reactor`: selectors-style callbacks over epoll (Fig. 6.3).
    Reactor,
    /// `sigio`: signal-driven I/O (Fig. 6.4).
    Sigio,
    /// `io-uring`: the kernel's asynchronous I/O (Fig. 6.5).
    IoUring,
    /// `posix-aio`: glibc's POSIX `aio_read` (Fig. 6.5).
    PosixAio,
}

impl BuiltIn {
    /// Every built-in model, in teaching order.
    pub const ALL: &'static [BuiltIn] = <BuiltIn as strum::VariantArray>::VARIANTS;

    /// The model's id on the wire, in URLs and on the command line (`"thread-per-conn"`): the
    /// same kebab-case name serde and `FromStr` use (a test checks all three agree).
    pub const fn id(self) -> &'static str {
        match self {
            BuiltIn::Blocking => "blocking",
            BuiltIn::ThreadPerConn => "thread-per-conn",
            BuiltIn::ProcessPerConn => "process-per-conn",
            BuiltIn::ThreadPool => "thread-pool",
            BuiltIn::Nonblocking => "nonblocking",
            BuiltIn::Select => "select",
            BuiltIn::Poll => "poll",
            BuiltIn::Epoll => "epoll",
            BuiltIn::EpollEt => "epoll-et",
            BuiltIn::Reactor => "reactor",
            BuiltIn::Sigio => "sigio",
            BuiltIn::IoUring => "io-uring",
            BuiltIn::PosixAio => "posix-aio",
        }
    }

    /// The Stevens figure the model acts out.
    pub const fn family(self) -> Family {
        match self {
            BuiltIn::Blocking
            | BuiltIn::ThreadPerConn
            | BuiltIn::ProcessPerConn
            | BuiltIn::ThreadPool => Family::Blocking,
            BuiltIn::Nonblocking => Family::BusyLoop,
            BuiltIn::Select
            | BuiltIn::Poll
            | BuiltIn::Epoll
            | BuiltIn::EpollEt
            | BuiltIn::Reactor => Family::Multiplex,
            BuiltIn::Sigio => Family::Signal,
            BuiltIn::IoUring | BuiltIn::PosixAio => Family::Async,
        }
    }

    /// The model's catalogue entry. [`MODELS`](crate::MODELS) is built from this enum in its
    /// order, so the entry at the model's index is its own.
    pub fn descriptor(self) -> &'static ModelDescriptor {
        &crate::MODELS[self as usize]
    }

    /// The built-in model with this id; `None` for anything else (another spelling, the
    /// lesson's [`LESSON_MODEL`](crate::LESSON_MODEL)).
    pub fn from_id(id: &str) -> Option<BuiltIn> {
        id.parse().ok()
    }
}

impl std::fmt::Display for BuiltIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// The id of the program `kettle trace -- PROGRAM` runs ([`ModelId::Traced`]). One program
/// is traced at a time, so one id; ids of traced programs begin with `traced`.
pub const TRACED_MODEL: &str = "traced";

/// A model as the wire names it: one of Kettle's own servers, or the program Kettle traces.
/// Code that takes a `ModelId` says what it does for every kind of model, and the built-in
/// tables take the [`BuiltIn`] inside.
///
/// Serialised as the plain id string (`"epoll"`, `"traced"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelId {
    /// One of Kettle's own model servers.
    BuiltIn(BuiltIn),
    /// A program of somebody else's that Kettle runs and traces (`kettle trace -- PROGRAM`).
    /// Its figure is not known in advance: it is recognised from the calls the program makes
    /// ([`crate::EventKind::Recognised`]).
    Traced,
}

impl ModelId {
    /// The id on the wire (`"epoll"`).
    pub const fn id(self) -> &'static str {
        match self {
            ModelId::BuiltIn(b) => b.id(),
            ModelId::Traced => TRACED_MODEL,
        }
    }

    /// The Stevens figure the model acts out; `None` for a traced program, whose figure is
    /// whatever its calls show (the latest [`crate::EventKind::Recognised`]).
    pub const fn family(self) -> Option<Family> {
        match self {
            ModelId::BuiltIn(b) => Some(b.family()),
            ModelId::Traced => None,
        }
    }

    /// The built-in model, if it is one.
    pub const fn built_in(self) -> Option<BuiltIn> {
        match self {
            ModelId::BuiltIn(b) => Some(b),
            ModelId::Traced => None,
        }
    }
}

impl From<BuiltIn> for ModelId {
    fn from(b: BuiltIn) -> ModelId {
        ModelId::BuiltIn(b)
    }
}

impl std::str::FromStr for ModelId {
    type Err = strum::ParseError;

    /// Reads an id as the wire writes it; unknown ids are an error.
    fn from_str(id: &str) -> Result<ModelId, strum::ParseError> {
        if id == TRACED_MODEL {
            return Ok(ModelId::Traced);
        }
        id.parse().map(ModelId::BuiltIn)
    }
}

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for ModelId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for ModelId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ModelId, D::Error> {
        let id = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        id.parse().map_err(|_| serde::de::Error::custom(format!("unknown model `{id}`")))
    }
}

/// The five figures of Stevens, *UNIX Network Programming* vol. 1, ch. 6, that draw one
/// model (Fig. 6.6 compares them). Each model belongs to one ([`BuiltIn::family`]); the page
/// draws a model as its family's figure and groups its model list by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::VariantArray)]
pub enum Family {
    /// Fig. 6.1, blocking I/O (and its thread, process and pool variants).
    Blocking,
    /// Fig. 6.2, non-blocking I/O: the busy loop.
    BusyLoop,
    /// Fig. 6.3, I/O multiplexing: select, poll, epoll, the reactor.
    Multiplex,
    /// Fig. 6.4, signal-driven I/O.
    Signal,
    /// Fig. 6.5, asynchronous I/O: io_uring, POSIX aio.
    Async,
}

/// On the wire a family is its figure's number, `"6.3"` ([`Family::number`]).
impl Serialize for Family {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.number())
    }
}

impl<'de> Deserialize<'de> for Family {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Family, D::Error> {
        let n = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Family::from_number(&n).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown figure `{n}`, expected one of 6.1, 6.2, 6.3, 6.4, 6.5"
            ))
        })
    }
}

impl Family {
    /// The family of the model a wire id names; Fig. 6.1's for an id that names no model (a
    /// page draws what it cannot place as the plainest figure rather than nothing).
    ///
    /// A traced program's figure is not in its id: a page finds it in the model's
    /// [`ModelInfo::family`](crate::ModelInfo::family).
    pub fn of_id(id: &str) -> Family {
        id.parse::<ModelId>().ok().and_then(ModelId::family).unwrap_or(Family::Blocking)
    }

    /// The family whose figure has this number (`"6.3"`), the inverse of [`Family::number`].
    pub fn from_number(number: &str) -> Option<Family> {
        Family::ALL.iter().copied().find(|f| f.number() == number)
    }

    /// Every family, in Stevens' order.
    pub const ALL: &'static [Family] = <Family as strum::VariantArray>::VARIANTS;

    /// Its figure's number in Stevens (`"6.3"`; the page's `data-figure`).
    pub const fn number(self) -> &'static str {
        match self {
            Family::Blocking => "6.1",
            Family::BusyLoop => "6.2",
            Family::Multiplex => "6.3",
            Family::Signal => "6.4",
            Family::Async => "6.5",
        }
    }

    /// The figure as the catalogue names it ([`ModelDescriptor::figure`], `"Stevens Fig. 6.3"`).
    pub const fn figure(self) -> &'static str {
        match self {
            Family::Blocking => "Stevens Fig. 6.1",
            Family::BusyLoop => "Stevens Fig. 6.2",
            Family::Multiplex => "Stevens Fig. 6.3",
            Family::Signal => "Stevens Fig. 6.4",
            Family::Async => "Stevens Fig. 6.5",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MODELS;

    #[test]
    fn every_built_in_id_round_trips_through_serde_from_str_and_display() {
        for &m in BuiltIn::ALL {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.id()), "serde writes the id");
            assert_eq!(serde_json::from_str::<BuiltIn>(&json).unwrap(), m);
            assert_eq!(m.id().parse::<BuiltIn>(), Ok(m), "FromStr reads the id");
            assert_eq!(m.to_string(), m.id());
            assert_eq!(BuiltIn::from_id(m.id()), Some(m));
        }
        assert_eq!(BuiltIn::from_id("Blocking"), None, "ids are exact");
        assert_eq!(BuiltIn::from_id("lesson"), None);
        assert!(serde_json::from_str::<BuiltIn>("\"no-such-model\"").is_err());
    }

    #[test]
    fn a_model_id_is_the_plain_id_string_on_the_wire() {
        for &m in BuiltIn::ALL {
            let id = ModelId::from(m);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{}\"", m.id()));
            assert_eq!(serde_json::from_str::<ModelId>(&json).unwrap(), id);
            assert_eq!(m.id().parse::<ModelId>(), Ok(id));
            assert_eq!((id.id(), id.family(), id.built_in()), (m.id(), Some(m.family()), Some(m)));
        }
        assert!("no-such-model".parse::<ModelId>().is_err());
        assert_eq!(serde_json::to_string(&ModelId::Traced).unwrap(), "\"traced\"");
        assert_eq!(serde_json::from_str::<ModelId>("\"traced\"").unwrap(), ModelId::Traced);
        assert_eq!((ModelId::Traced.family(), ModelId::Traced.built_in()), (None, None));
        assert_eq!(BuiltIn::from_id(TRACED_MODEL), None);
        assert!(serde_json::from_str::<ModelId>("\"no-such-model\"").is_err());
    }

    #[test]
    fn the_catalogue_and_the_enum_agree_one_to_one_in_order() {
        assert_eq!(MODELS.len(), BuiltIn::ALL.len());
        for (i, (d, &m)) in MODELS.iter().zip(BuiltIn::ALL).enumerate() {
            assert_eq!(m as usize, i, "{m}: the enum's index is its place in MODELS");
            assert_eq!(d.model, m);
            assert_eq!(d.id, m.id());
            assert_eq!(d.figure, m.family().figure());
            assert_eq!(d.family(), m.family());
            assert_eq!(m.descriptor(), d);
            assert_eq!(crate::model(m.id()).map(|d| d.model), Some(m));
        }
    }

    #[test]
    fn every_family_is_drawn_by_some_model_and_numbered_as_its_figure() {
        for &f in Family::ALL {
            assert!(BuiltIn::ALL.iter().any(|m| m.family() == f), "{f:?} has no model");
            assert!(f.figure().ends_with(f.number()));
        }
        let numbers: Vec<_> = Family::ALL.iter().map(|f| f.number()).collect();
        assert_eq!(numbers, ["6.1", "6.2", "6.3", "6.4", "6.5"]);
        for &f in Family::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.number()), "a family is its number on the wire");
            assert_eq!(serde_json::from_str::<Family>(&json).unwrap(), f);
        }
        let err = serde_json::from_str::<Family>("\"6.6\"").unwrap_err().to_string();
        assert!(err.starts_with("unknown figure `6.6`"), "{err}");
        assert_eq!(BuiltIn::ThreadPool.family(), Family::Blocking);
        assert_eq!(BuiltIn::Nonblocking.family(), Family::BusyLoop);
        assert_eq!(BuiltIn::Reactor.family(), Family::Multiplex);
        assert_eq!(BuiltIn::Sigio.family(), Family::Signal);
        assert_eq!(BuiltIn::PosixAio.family(), Family::Async);
    }
}
