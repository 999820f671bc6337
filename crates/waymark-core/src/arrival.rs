//! When an event happened, settled by Segment's timestamp rules, and a
//! bound on how far ahead of its arrival it may claim to be.
//!
//! 1. `timestamp` when the event has one;
//! 2. else `originalTimestamp` corrected for the device's clock skew
//!    (`receivedAt - sentAt`, when both are known);
//! 3. else the receive time.
//!
//! The receive time is the event's own `receivedAt` (events replayed from
//! a Segment archive or a warehouse carry it), else what the source says
//! ([`Arrival::received_at`]: the Kafka message's timestamp, the HTTP
//! request's time, the time a line was read). An event dated more than
//! [`Arrival::max_clock_skew`] ahead of its receive time is placed at its
//! receive time and marked `context.waymark.timestamp_corrected` (the time
//! it claimed): a device clock in the year 9999 must not freeze a
//! person's traits.

use serde_json::{Map, Value};

use crate::event::EventError;
use crate::time::{Timestamp, format_timestamp, parse_timestamp};

/// How an event arrived: what its time is settled against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// When the source received the event; none in test mode, where only
    /// the event's own times count (same input, same output).
    pub received_at: Option<Timestamp>,
    /// How far ahead of its receive time an event may be dated.
    pub max_clock_skew: chrono::TimeDelta,
}

impl Arrival {
    /// The default bound on the future: ten minutes.
    pub const DEFAULT_MAX_CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

    /// An event received by a source at `received_at`.
    pub fn at(received_at: Timestamp, max_clock_skew: chrono::TimeDelta) -> Self {
        Arrival {
            received_at: Some(received_at),
            max_clock_skew,
        }
    }

    /// An event replayed in test mode: no receive time but its own
    /// `receivedAt`.
    pub fn replayed() -> Self {
        Arrival {
            received_at: None,
            max_clock_skew: Self::DEFAULT_MAX_CLOCK_SKEW,
        }
    }
}

/// The times of one event, settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settled {
    pub timestamp: Timestamp,
    pub received_at: Timestamp,
    /// The time the event claimed, when it was too far ahead.
    pub corrected: Option<Timestamp>,
}

/// Settles the times of the event `object` that arrived as `arrival`.
pub(crate) fn settle(
    object: &Map<String, Value>,
    arrival: &Arrival,
) -> Result<Settled, EventError> {
    let received = optional_time(object, "receivedAt")?.or(arrival.received_at);
    let claimed = match optional_time(object, "timestamp")? {
        Some(timestamp) => timestamp,
        None => match optional_time(object, "originalTimestamp")? {
            Some(original) => match (received, optional_time(object, "sentAt")?) {
                (Some(received), Some(sent)) => original + (received - sent),
                _ => original,
            },
            None => received.ok_or_else(|| {
                EventError::new(
                    "timestamp",
                    "is required when there is no originalTimestamp or receivedAt (test mode has no receive time)",
                )
            })?,
        },
    };
    let received_at = received.unwrap_or(claimed);
    if claimed > received_at + arrival.max_clock_skew {
        return Ok(Settled {
            timestamp: received_at,
            received_at,
            corrected: Some(claimed),
        });
    }
    Ok(Settled {
        timestamp: claimed,
        received_at,
        corrected: None,
    })
}

/// Marks an event placed at its receive time: `context.waymark.timestamp_corrected`.
pub(crate) fn mark_corrected(context: &mut Map<String, Value>, claimed: Timestamp) {
    let waymark = context
        .entry("waymark")
        .or_insert_with(|| Value::Object(Map::new()));
    if !waymark.is_object() {
        *waymark = Value::Object(Map::new());
    }
    if let Value::Object(waymark) = waymark {
        waymark.insert(
            "timestamp_corrected".into(),
            Value::from(format_timestamp(claimed)),
        );
    }
}

/// An RFC 3339 time, if the field is there; an error naming it if it is
/// not one.
fn optional_time(
    object: &Map<String, Value>,
    field: &str,
) -> Result<Option<Timestamp>, EventError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_timestamp(text).map(Some).map_err(|e| {
            EventError::new(field, format!("{text:?} is not an RFC 3339 timestamp: {e}"))
        }),
        Some(other) => Err(EventError::new(
            field,
            format!("must be an RFC 3339 timestamp string, found {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        parse_timestamp(text).unwrap()
    }

    /// Settles `json` received at `received` (none: test mode) and returns
    /// (timestamp, receivedAt, corrected) as text, or the error.
    fn check(json: &str, received: Option<&str>, expect: Result<(&str, &str, Option<&str>), &str>) {
        let object: Map<String, Value> = serde_json::from_str(json).unwrap();
        let arrival = Arrival {
            received_at: received.map(at),
            max_clock_skew: Arrival::DEFAULT_MAX_CLOCK_SKEW,
        };
        let got = settle(&object, &arrival)
            .map(|s| {
                (
                    format_timestamp(s.timestamp),
                    format_timestamp(s.received_at),
                    s.corrected.map(format_timestamp),
                )
            })
            .map_err(|e| e.to_string());
        let want = expect
            .map(|(t, r, c)| (t.to_owned(), r.to_owned(), c.map(str::to_owned)))
            .map_err(str::to_owned);
        match (&got, &want) {
            (Err(got), Err(want)) => assert!(got.contains(want.as_str()), "{got} vs {want}"),
            _ => assert_eq!(got, want, "{json} received {received:?}"),
        }
    }

    #[test]
    fn segments_rules_in_order() {
        let now = Some("2026-11-30T12:00:00Z");
        // `timestamp` wins.
        check(
            r#"{"timestamp":"2026-11-30T11:59:00Z","originalTimestamp":"2026-11-30T08:00:00Z"}"#,
            now,
            Ok(("2026-11-30T11:59:00Z", "2026-11-30T12:00:00Z", None)),
        );
        // originalTimestamp, corrected by receivedAt - sentAt: the phone's
        // clock was an hour slow and the SDK batched for five minutes.
        check(
            r#"{"originalTimestamp":"2026-11-30T10:55:00Z","sentAt":"2026-11-30T11:00:00Z"}"#,
            now,
            Ok(("2026-11-30T11:55:00Z", "2026-11-30T12:00:00Z", None)),
        );
        // originalTimestamp without sentAt: as it is.
        check(
            r#"{"originalTimestamp":"2026-11-30T11:55:00Z"}"#,
            now,
            Ok(("2026-11-30T11:55:00Z", "2026-11-30T12:00:00Z", None)),
        );
        // Nothing: the receive time; the event's own receivedAt first.
        check(
            r#"{}"#,
            now,
            Ok(("2026-11-30T12:00:00Z", "2026-11-30T12:00:00Z", None)),
        );
        check(
            r#"{"receivedAt":"2026-01-01T00:00:00Z"}"#,
            now,
            Ok(("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", None)),
        );
        // Test mode: a time is needed.
        check(r#"{}"#, None, Err("field `timestamp`: is required"));
        check(
            r#"{"timestamp":"2026-11-30T11:59:00Z"}"#,
            None,
            Ok(("2026-11-30T11:59:00Z", "2026-11-30T11:59:00Z", None)),
        );
        // Bad times are refused with the field named.
        check(
            r#"{"sentAt":"soon","originalTimestamp":"2026-11-30T11:59:00Z"}"#,
            now,
            Err("field `sentAt`"),
        );
        check(r#"{"receivedAt":3}"#, now, Err("field `receivedAt`"));
    }

    #[test]
    fn the_future_is_bounded_by_the_receive_time() {
        let now = Some("2026-11-30T12:00:00Z");
        check(
            r#"{"timestamp":"9999-12-31T23:59:59Z"}"#,
            now,
            Ok((
                "2026-11-30T12:00:00Z",
                "2026-11-30T12:00:00Z",
                Some("9999-12-31T23:59:59Z"),
            )),
        );
        // Within the skew: kept.
        check(
            r#"{"timestamp":"2026-11-30T12:09:59Z"}"#,
            now,
            Ok(("2026-11-30T12:09:59Z", "2026-11-30T12:00:00Z", None)),
        );
        // The past is kept: batched and replayed events are old.
        check(
            r#"{"timestamp":"2020-01-01T00:00:00Z"}"#,
            now,
            Ok(("2020-01-01T00:00:00Z", "2026-11-30T12:00:00Z", None)),
        );
        // A replayed event is bounded by its own receivedAt.
        check(
            r#"{"timestamp":"9999-12-31T23:59:59Z","receivedAt":"2026-01-01T00:00:00Z"}"#,
            None,
            Ok((
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                Some("9999-12-31T23:59:59Z"),
            )),
        );
    }

    #[test]
    fn a_correction_is_marked_in_the_context() {
        let mut context: Map<String, Value> =
            serde_json::from_str(r#"{"waymark":"not an object","ip":"1.2.3.4"}"#).unwrap();
        mark_corrected(&mut context, at("9999-12-31T23:59:59Z"));
        assert_eq!(
            Value::Object(context),
            serde_json::json!({"waymark": {"timestamp_corrected": "9999-12-31T23:59:59Z"}, "ip": "1.2.3.4"})
        );
    }
}
