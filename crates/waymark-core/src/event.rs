//! Segment-spec events: `track`, `identify`, `page`, `screen`, `group`,
//! `alias`, parsed strictly so that a bad event is refused with the field
//! that is wrong.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::arrival::{Arrival, mark_corrected, settle};
use crate::time::Timestamp;

/// The Segment call type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Track,
    Identify,
    Page,
    Screen,
    Group,
    Alias,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Track => "track",
            EventType::Identify => "identify",
            EventType::Page => "page",
            EventType::Screen => "screen",
            EventType::Group => "group",
            EventType::Alias => "alias",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "track" => EventType::Track,
            "identify" => EventType::Identify,
            "page" => EventType::Page,
            "screen" => EventType::Screen,
            "group" => EventType::Group,
            "alias" => EventType::Alias,
            _ => return None,
        })
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One customer event, as the Segment spec defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(
        rename = "anonymousId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub anonymous_id: Option<String>,
    #[serde(
        rename = "previousId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_id: Option<String>,
    #[serde(rename = "groupId", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// `event` for `track`, `name` for `page` and `screen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub traits: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// When it happened, settled by Segment's rules ([`Arrival`]).
    pub timestamp: Timestamp,
    /// When it reached Waymark (its own `receivedAt`, else the source's
    /// receive time; its `timestamp` in test mode without one).
    #[serde(rename = "receivedAt")]
    pub received_at: Timestamp,
}

/// Why an event was refused: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct EventError {
    pub field: String,
    pub reason: String,
}

impl EventError {
    pub(crate) fn new(field: &str, reason: impl Into<String>) -> Self {
        EventError {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The event name a journey matches on: the `track` name, `Page Viewed` for
/// a page call and `Screen Viewed` for a screen call.
pub const PAGE_VIEWED: &str = "Page Viewed";
pub const SCREEN_VIEWED: &str = "Screen Viewed";

impl Event {
    /// Parses one JSON line, in test mode ([`Arrival::replayed`]). The
    /// error names the offending field (`(json)` when the text is not JSON
    /// at all).
    pub fn from_json_str(text: &str) -> Result<Self, EventError> {
        Self::from_json_str_arrived(text, &Arrival::replayed())
    }

    /// Parses one JSON line that arrived as `arrival`.
    pub fn from_json_str_arrived(text: &str, arrival: &Arrival) -> Result<Self, EventError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| EventError::new("(json)", format!("not valid JSON: {e}")))?;
        Self::from_json_arrived(value, arrival)
    }

    /// Validates a JSON value against the Segment spec.
    pub fn from_json(value: &Value) -> Result<Self, EventError> {
        Self::from_json_value(value.clone())
    }

    /// [`Event::from_json`] taking the value: its strings and objects move
    /// into the event instead of being copied (what a source parsing each
    /// message does).
    pub fn from_json_value(value: Value) -> Result<Self, EventError> {
        Self::from_json_arrived(value, &Arrival::replayed())
    }

    /// [`Event::from_json_value`] for an event that arrived as `arrival`:
    /// its time settled by Segment's rules and bounded by the receive time.
    pub fn from_json_arrived(value: Value, arrival: &Arrival) -> Result<Self, EventError> {
        let Value::Object(mut object) = value else {
            return Err(EventError::new("(json)", "an event must be a JSON object"));
        };
        // Checked on the borrowed object first, so that an error names the
        // first field at fault in the same order as ever; then moved out.
        let kind_text = required_string(&object, "type")?;
        let kind = EventType::parse(kind_text).ok_or_else(|| {
            EventError::new(
                "type",
                format!("unknown type {kind_text:?} (expected track, identify, page, screen, group or alias)"),
            )
        })?;
        required_string(&object, "messageId")?;
        let has_user = optional_string(&object, "userId")?.is_some();
        let has_anonymous = optional_string(&object, "anonymousId")?.is_some();
        if !has_user && !has_anonymous {
            return Err(EventError::new(
                "userId",
                "either userId or anonymousId is required",
            ));
        }
        let has_previous = optional_string(&object, "previousId")?.is_some();
        let has_group = optional_string(&object, "groupId")?.is_some();
        let name_field = match kind {
            EventType::Track => {
                required_string(&object, "event")?;
                Some("event")
            }
            EventType::Page | EventType::Screen => {
                optional_string(&object, "name")?;
                Some("name")
            }
            _ => None,
        };
        match kind {
            EventType::Alias if !has_previous => {
                return Err(EventError::new("previousId", "required for an alias call"));
            }
            EventType::Alias if !has_user => {
                return Err(EventError::new("userId", "required for an alias call"));
            }
            EventType::Group if !has_group => {
                return Err(EventError::new("groupId", "required for a group call"));
            }
            _ => {}
        }
        let settled = settle(&object, arrival)?;
        let properties = take_object(&mut object, "properties")?;
        let traits = take_object(&mut object, "traits")?;
        let mut context = take_object(&mut object, "context")?;
        if let Some(claimed) = settled.corrected {
            mark_corrected(&mut context, claimed);
        }
        Ok(Event {
            kind,
            message_id: take_string(&mut object, "messageId").unwrap_or_default(),
            user_id: take_string(&mut object, "userId"),
            anonymous_id: take_string(&mut object, "anonymousId"),
            previous_id: take_string(&mut object, "previousId"),
            group_id: take_string(&mut object, "groupId"),
            event: name_field.and_then(|field| take_string(&mut object, field)),
            properties,
            traits,
            context,
            timestamp: settled.timestamp,
            received_at: settled.received_at,
        })
    }

    /// The name journeys match this event by, if it has one: the `track`
    /// name, or `Page Viewed` / `Screen Viewed`.
    pub fn match_name(&self) -> Option<&str> {
        match self.kind {
            EventType::Track => self.event.as_deref(),
            EventType::Page => Some(PAGE_VIEWED),
            EventType::Screen => Some(SCREEN_VIEWED),
            _ => None,
        }
    }

    /// Traits carried by the event: `traits` of an identify or group call,
    /// and `context.traits` of any call. Top-level traits win.
    pub fn carried_traits(&self) -> impl Iterator<Item = (&String, &Value)> {
        let context_traits = self.context.get("traits").and_then(Value::as_object);
        let own = match self.kind {
            EventType::Identify => Some(&self.traits),
            _ => None,
        };
        context_traits
            .into_iter()
            .flat_map(move |m| {
                m.iter()
                    .filter(move |(k, _)| own.is_none_or(|o| !o.contains_key(*k)))
            })
            .chain(own.into_iter().flat_map(|m| m.iter()))
    }

    /// The time its profile writes (traits, consent) carry: its
    /// timestamp, but never later than when it arrived, so that no event
    /// can claim a write ahead of the events that reach Waymark after it.
    pub fn write_time(&self) -> Timestamp {
        self.timestamp.min(self.received_at)
    }

    /// The IANA time zone the event was sent from (`context.timezone`).
    pub fn timezone(&self) -> Option<&str> {
        self.context.get("timezone").and_then(Value::as_str)
    }
}

fn required_string<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str, EventError> {
    match object.get(field) {
        None | Some(Value::Null) => Err(EventError::new(field, "is required")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(EventError::new(field, "must not be empty"))
        }
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(EventError::new(
            field,
            format!("must be a string, found {}", type_name(other)),
        )),
    }
}

fn optional_string<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, EventError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(EventError::new(
            field,
            format!("must be a string, found {}", type_name(other)),
        )),
    }
}

/// A string field already checked by [`required_string`] or
/// [`optional_string`], moved out (`None` where those read none).
fn take_string(object: &mut Map<String, Value>, field: &str) -> Option<String> {
    match object.remove(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

fn take_object(
    object: &mut Map<String, Value>,
    field: &str,
) -> Result<Map<String, Value>, EventError> {
    match object.remove(field) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(EventError::new(
            field,
            format!("must be an object, found {}", type_name(&other)),
        )),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `line` and compares the outcome with `expect`: `Ok(type)` or
    /// `Err("field: fragment of the reason")`.
    fn check(line: &str, expect: Result<EventType, (&str, &str)>) {
        let got = Event::from_json_str(line);
        match (got, expect) {
            (Ok(e), Ok(kind)) => assert_eq!(e.kind, kind, "{line}"),
            (Err(e), Err((field, fragment))) => {
                assert_eq!(e.field, field, "{line}: {e}");
                assert!(e.reason.contains(fragment), "{line}: {e}");
            }
            (got, expect) => panic!("{line}: got {got:?}, expected {expect:?}"),
        }
    }

    const TS: &str = r#""timestamp":"2026-10-01T08:00:00Z""#;

    #[test]
    fn accepts_every_call_type() {
        check(
            &format!(
                r#"{{"type":"track","messageId":"1","userId":"u","event":"Order Completed",{TS}}}"#
            ),
            Ok(EventType::Track),
        );
        check(
            &format!(
                r#"{{"type":"identify","messageId":"1","anonymousId":"a","traits":{{"email":"x@y"}},{TS}}}"#
            ),
            Ok(EventType::Identify),
        );
        check(
            &format!(r#"{{"type":"page","messageId":"1","userId":"u","name":"Pricing",{TS}}}"#),
            Ok(EventType::Page),
        );
        check(
            &format!(r#"{{"type":"screen","messageId":"1","userId":"u",{TS}}}"#),
            Ok(EventType::Screen),
        );
        check(
            &format!(r#"{{"type":"group","messageId":"1","userId":"u","groupId":"g",{TS}}}"#),
            Ok(EventType::Group),
        );
        check(
            &format!(r#"{{"type":"alias","messageId":"1","userId":"u","previousId":"a",{TS}}}"#),
            Ok(EventType::Alias),
        );
    }

    #[test]
    fn names_the_field_at_fault() {
        check("not json", Err(("(json)", "not valid JSON")));
        check("[1]", Err(("(json)", "JSON object")));
        check(
            &format!(r#"{{"messageId":"1","userId":"u",{TS}}}"#),
            Err(("type", "required")),
        );
        check(
            &format!(r#"{{"type":"click","messageId":"1","userId":"u",{TS}}}"#),
            Err(("type", "unknown type")),
        );
        check(
            &format!(r#"{{"type":"track","userId":"u","event":"X",{TS}}}"#),
            Err(("messageId", "required")),
        );
        check(
            &format!(r#"{{"type":"track","messageId":"1","event":"X",{TS}}}"#),
            Err(("userId", "either userId or anonymousId")),
        );
        check(
            &format!(r#"{{"type":"track","messageId":"1","userId":42,"event":"X",{TS}}}"#),
            Err(("userId", "must be a string, found a number")),
        );
        check(
            &format!(r#"{{"type":"track","messageId":"1","userId":"u",{TS}}}"#),
            Err(("event", "required")),
        );
        check(
            &format!(
                r#"{{"type":"track","messageId":"1","userId":"u","event":"X","properties":[],{TS}}}"#
            ),
            Err(("properties", "must be an object")),
        );
        check(
            r#"{"type":"track","messageId":"1","userId":"u","event":"X"}"#,
            Err(("timestamp", "required")),
        );
        check(
            r#"{"type":"track","messageId":"1","userId":"u","event":"X","timestamp":"monday"}"#,
            Err(("timestamp", "RFC 3339")),
        );
        check(
            &format!(r#"{{"type":"alias","messageId":"1","userId":"u",{TS}}}"#),
            Err(("previousId", "required")),
        );
        check(
            &format!(r#"{{"type":"group","messageId":"1","userId":"u",{TS}}}"#),
            Err(("groupId", "required")),
        );
    }

    #[test]
    fn every_field_moves_into_the_event() {
        let text = format!(
            r#"{{"type":"page","messageId":"m1","userId":"u","anonymousId":" ","name":"Pricing","properties":{{"path":"/pricing"}},"traits":{{"plan":"pro"}},"context":{{"timezone":"Europe/Paris"}},"extra":1,{TS}}}"#
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        let borrowed = Event::from_json(&value).unwrap();
        let owned = Event::from_json_value(value).unwrap();
        assert_eq!(owned, borrowed);
        assert_eq!(owned, Event::from_json_str(&text).unwrap());
        assert_eq!(owned.message_id, "m1");
        assert_eq!(owned.user_id.as_deref(), Some("u"));
        assert_eq!(owned.anonymous_id, None, "blank ids read as absent");
        assert_eq!(owned.event.as_deref(), Some("Pricing"));
        assert_eq!(owned.properties["path"], "/pricing");
        assert_eq!(owned.traits["plan"], "pro");
        assert_eq!(owned.timezone(), Some("Europe/Paris"));
        let track = Event::from_json_str(&format!(
            r#"{{"type":"track","messageId":"m2","anonymousId":"a","event":"Signed Up","name":"ignored",{TS}}}"#
        ))
        .unwrap();
        assert_eq!(track.event.as_deref(), Some("Signed Up"));
        assert_eq!(track.user_id, None);
        assert_eq!(track.anonymous_id.as_deref(), Some("a"));
    }

    #[test]
    fn context_traits_and_identify_traits_are_carried() {
        let e = Event::from_json_str(&format!(
            r#"{{"type":"identify","messageId":"1","userId":"u","traits":{{"plan":"pro"}},"context":{{"traits":{{"plan":"free","email":"a@b"}},"timezone":"Europe/Berlin"}},{TS}}}"#
        ))
        .unwrap();
        let traits: Vec<_> = e
            .carried_traits()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(traits, ["email=\"a@b\"", "plan=\"pro\""]);
        assert_eq!(e.timezone(), Some("Europe/Berlin"));
    }

    #[test]
    fn page_and_screen_match_by_their_viewed_names() {
        let page = Event::from_json_str(&format!(
            r#"{{"type":"page","messageId":"1","userId":"u","name":"Pricing",{TS}}}"#
        ))
        .unwrap();
        assert_eq!(page.match_name(), Some(PAGE_VIEWED));
        assert_eq!(page.event.as_deref(), Some("Pricing"));
    }
}
