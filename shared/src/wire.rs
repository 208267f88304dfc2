//! What reading a tagged enum through a flat struct needs, in serde's own words.
//!
//! `Reason` (`reason.rs`) and `EventKind` (`event_wire.rs`) are read back that way: the flat
//! struct holds every field any case has, each optional, and a match builds the case. These
//! two helpers give its refusals the messages serde's derive would.

/// A field the case must have: `missing field` as serde says it when it is not there.
pub(crate) fn need<T>(value: Option<T>, field: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing field `{field}`"))
}

/// Serde's words for a tag or a name that is none of `known`.
pub(crate) fn unknown(name: &str, known: &[&str]) -> String {
    format!("unknown variant `{name}`, expected one of `{}`", known.join("`, `"))
}
