//! Small tools for people trying the worker: send a JSONL event file to a
//! topic keyed as the worker expects, and read a topic.

use std::time::Duration;

use crate::publisher::{Outgoing, Publisher};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use serde_json::Value;

use crate::config::KafkaConfig;

/// The partitioning key of an event: its `userId`, else its `anonymousId`.
pub fn event_key(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    ["userId", "anonymousId"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str).map(str::to_owned))
}

/// Publishes each non-blank line of `jsonl` to `topic`, byte for byte,
/// keyed by [`event_key`] (lines without one are sent unkeyed: the worker
/// will dead-letter what it cannot read). Returns how many were sent.
pub fn produce_jsonl(kafka: &KafkaConfig, topic: &str, jsonl: &str) -> Result<usize, String> {
    let publisher = Publisher::new(&super::client_config(kafka), 1).map_err(|e| e.to_string())?;
    let mut sent = 0;
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let key = event_key(line);
        publisher
            .send(Outgoing {
                topic,
                key: key.as_deref().map(str::as_bytes),
                payload: line.as_bytes(),
                idempotency_key: None,
                headers: &[],
            })
            .map_err(|e| e.to_string())?;
        sent += 1;
    }
    publisher.sync().map_err(|e| e.to_string())?;
    Ok(sent)
}

/// Reads `topic` from the beginning, calling `each` with every value, until
/// `idle` passes without a message (or for ever with `None`).
pub fn tail(
    kafka: &KafkaConfig,
    topic: &str,
    idle: Option<Duration>,
    mut each: impl FnMut(&[u8]),
) -> Result<usize, String> {
    let mut config = super::client_config(kafka);
    config
        .set("group.id", format!("waymark-tail-{}", std::process::id()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    consumer.subscribe(&[topic]).map_err(|e| e.to_string())?;
    let mut read = 0;
    let mut quiet = Duration::ZERO;
    let step = Duration::from_millis(250);
    loop {
        match consumer.poll(step) {
            Some(Ok(message)) => {
                quiet = Duration::ZERO;
                read += 1;
                each(message.payload().unwrap_or_default());
            }
            Some(Err(error)) => return Err(error.to_string()),
            None => {
                quiet += step;
                if idle.is_some_and(|idle| quiet >= idle) {
                    return Ok(read);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_keyed_by_user_then_anonymous_id() {
        assert_eq!(
            event_key(r#"{"userId":"u1","anonymousId":"a1"}"#).as_deref(),
            Some("u1")
        );
        assert_eq!(event_key(r#"{"anonymousId":"a1"}"#).as_deref(), Some("a1"));
        assert_eq!(event_key("not json"), None);
    }
}
