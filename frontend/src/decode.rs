//! Turning WebSocket text frames into protocol messages, tolerantly.
//!
//! A newer backend may record event kinds this page does not know yet. One unknown event must
//! not make a whole batch (and the figure) disappear, so a batch that does not parse as a
//! whole is parsed event by event and the unreadable ones are counted, not hidden.

use kettle_shared::{Event, ServerMsg};
use serde_json::Value;

/// A decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The message.
    pub msg: ServerMsg,
    /// Events of a batch that could not be read and were left out.
    pub unreadable_events: u64,
}

/// Decodes one text frame.
pub fn decode(text: &str) -> Result<Decoded, String> {
    // Parsed as a `Value` first and the message read from that, as every event is: one reader
    // of the protocol in the page, not a second one for text (`kettle_shared`'s `wire.rs`).
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match serde_json::from_value::<ServerMsg>(value) {
        Ok(msg) => Ok(Decoded { msg, unreadable_events: 0 }),
        Err(whole) => {
            let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            if value.get("type").and_then(Value::as_str) != Some("batch") {
                return Err(whole.to_string());
            }
            let raw = value.get("events").and_then(Value::as_array).cloned().unwrap_or_default();
            let total = raw.len() as u64;
            let events: Vec<Event> = raw.iter().filter_map(one_event).collect();
            let dropped = value.get("dropped").and_then(Value::as_u64).unwrap_or(0);
            let unreadable_events = total - events.len() as u64;
            Ok(Decoded { msg: ServerMsg::Batch { events, dropped }, unreadable_events })
        }
    }
}

/// One event of a batch that did not parse as a whole, read as a batch of its own: through
/// the same `ServerMsg` reader as every frame, so the page's wasm carries one reader of
/// events.
fn one_event(event: &Value) -> Option<Event> {
    let alone = serde_json::json!({"type": "batch", "events": [event], "dropped": 0});
    match serde_json::from_value::<ServerMsg>(alone) {
        Ok(ServerMsg::Batch { mut events, .. }) if events.len() == 1 => events.pop(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"seq":1,"t_ns":5,"model":"blocking","thread":{"id":1,"name":"blocking"},"conn":null,"kind":{"type":"accept_enter"}}"#;
    const FUTURE: &str = r#"{"seq":2,"t_ns":6,"model":"blocking","thread":{"id":1,"name":"blocking"},"conn":null,"kind":{"type":"splice_enter","fd":3}}"#;

    #[test]
    fn test_batch_with_unknown_kind_keeps_the_rest() {
        let text = format!(r#"{{"type":"batch","events":[{GOOD},{FUTURE}],"dropped":4}}"#);
        let d = decode(&text).unwrap();
        assert_eq!(d.unreadable_events, 1);
        match d.msg {
            ServerMsg::Batch { events, dropped } => {
                assert_eq!(events.len(), 1);
                assert_eq!(dropped, 4);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn test_garbage_is_an_error() {
        assert!(decode("not json").is_err());
        assert!(decode(r#"{"type":"hello"}"#).is_err());
    }
}
