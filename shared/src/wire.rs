//! Reading the protocol's tagged enums back from JSON with little code.
//!
//! The backend writes every message with serde's derive; the page reads thousands of them. For
//! an internally tagged enum (`{"type": "recv_exit", "fd": 5, …}`) serde's derive buffers the
//! whole object and then gives every case a visitor of its own, and those visitors were the
//! largest functions of the page's wasm (a third of its code, with `EventKind`, `Reason`,
//! `ServerMsg` and `ReplyResult` the biggest). Those enums are read here instead: the object
//! once as a [`serde_json::Value`] map, its tag matched, and each case built by taking its
//! fields by name ([`Fields::take`]) — one small reader per field type, shared by every case.
//!
//! The JSON accepted is what the derive accepts: unknown fields are ignored, a missing
//! `Option` field reads as `None`, and an unknown tag, a missing field or a mistyped one is
//! refused in serde's words. Writing is still the derive's. A new case needs its arm in the
//! enum's reader; the round-trip tests read every case back and fail until it has one.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// The fields of one JSON object, taken one by one as the case being built needs them.
pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    /// Reads one object from any self-describing format (JSON, or a `Value` already read).
    pub(crate) fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(map) => Ok(Fields(map)),
            other => {
                Err(D::Error::custom(format!("invalid type: {}, expected an object", kind(&other))))
            }
        }
    }

    /// The field `name` as a `T`. A missing field reads as JSON's `null` does, so an `Option`
    /// is `None`; for any other type it is refused as serde's derive refuses it.
    #[inline(never)] // one copy per field type, not one inlined per field
    pub(crate) fn take<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, String> {
        match self.0.remove(name) {
            Some(value) => T::deserialize(value).map_err(|e| e.to_string()),
            None => T::deserialize(Value::Null).map_err(|_| format!("missing field `{name}`")),
        }
    }

    /// The field `name`, or `T`'s default when it is missing or null (`#[serde(default)]`).
    pub(crate) fn take_or_default<T: DeserializeOwned + Default>(
        &mut self,
        name: &str,
    ) -> Result<T, String> {
        Ok(self.take::<Option<T>>(name)?.unwrap_or_default())
    }

    /// The rest of the object, read as a `T` (a case whose fields are a struct of their own,
    /// as a tagged newtype case writes them beside the tag).
    pub(crate) fn rest<T: DeserializeOwned>(self) -> Result<T, String> {
        T::deserialize(Value::Object(self.0)).map_err(|e| e.to_string())
    }
}

/// A tagged enum read through [`Fields`]: `read` builds the case the tag names.
pub(crate) trait Tagged: Sized {
    /// The tag's field name (`"type"`, `"code"`…).
    const TAG: &'static str;
    /// Every tag, for the refusal of an unknown one.
    const TAGS: &'static [&'static str];
    /// The case `tag` names, built from the object's other fields.
    fn read(tag: &str, fields: Fields) -> Result<Self, String>;
}

/// Reads a [`Tagged`] enum: what its `Deserialize` implementation calls.
pub(crate) fn read_tagged<'de, T: Tagged, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    let mut fields = Fields::read(d)?;
    let tag: String = fields.take(T::TAG).map_err(D::Error::custom)?;
    T::read(&tag, fields).map_err(D::Error::custom)
}

/// Implements `Deserialize` for enums that are [`Tagged`].
macro_rules! deserialize_tagged {
    ($($enum:ty),* $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $enum {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::wire::read_tagged(d)
            }
        }
    )*};
}
pub(crate) use deserialize_tagged;

/// Serde's words for a tag or a name that is none of `known`.
pub(crate) fn unknown(name: &str, known: &[&str]) -> String {
    format!("unknown variant `{name}`, expected one of `{}`", known.join("`, `"))
}

/// Serde's name for what a value is, as its refusals say it ("invalid type: string …").
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("number `{n}`"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "sequence".into(),
        Value::Object(_) => "map".into(),
    }
}

/// Implements `Deserialize` for plain structs through [`Fields`]: each field by its own name
/// (`or_default` ones as `#[serde(default)]` reads them). Serde's derive for a struct also
/// reads it from a JSON array, which the protocol never sends; this reads objects only, in
/// less code. The struct literal it builds names every field, so a field added to the struct
/// and not listed here is a compile error.
macro_rules! deserialize_fields {
    ($($ty:ident { $($field:ident),* $(,)? $(; or_default $($default:ident),*)? })*) => {$(
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                fn read(f: &mut crate::wire::Fields) -> Result<$ty, String> {
                    Ok($ty {
                        $($field: f.take(stringify!($field))?,)*
                        $($($default: f.take_or_default(stringify!($default))?,)*)?
                    })
                }
                read(&mut crate::wire::Fields::read(d)?)
                    .map_err(<D::Error as serde::de::Error>::custom)
            }
        }
    )*};
}
pub(crate) use deserialize_fields;
