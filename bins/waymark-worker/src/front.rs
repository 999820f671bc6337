//! Where the front door's events go with a Kafka source (file and stdin
//! sources ingest them directly, `waymark_http::RuntimeSink`): produced to
//! the first input topic (keyed by the person, acknowledged by all in-sync
//! replicas) so that partitioning and ordering stay Kafka's and the
//! worker's own consumer processes them like any other event.

use std::sync::Arc;

use waymark_core::Event;
use waymark_http::{Accepted, EnterAnswer, EnterRefused, EventSink};
use waymark_kafka::{Outgoing, Publisher};

/// Events to the input topic, entries to the enter topic; `Ok` once
/// every message is acknowledged.
pub(crate) struct KafkaInputSink {
    /// Its own producer: a sync waits only for the front door's messages.
    pub publisher: Arc<Publisher>,
    pub topic: String,
    pub enter_topic: String,
}

impl EventSink for KafkaInputSink {
    fn accept(&self, events: Vec<Event>) -> Accepted<'_> {
        let (publisher, topic) = (Arc::clone(&self.publisher), self.topic.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut messages = Vec::with_capacity(events.len());
                for event in &events {
                    // The person's partition: their events stay in order.
                    let key = event
                        .user_id
                        .as_deref()
                        .or(event.anonymous_id.as_deref())
                        .unwrap_or(event.message_id.as_str());
                    let payload = serde_json::to_vec(event).map_err(|e| e.to_string())?;
                    messages.push((key.to_owned(), payload));
                }
                produce(&publisher, &topic, &messages)
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }

    /// Queued on the enter topic, as `waymark-admin journey enter --kafka`
    /// does; the worker's watcher decides it (once per call id).
    fn enter(&self, request: waymark::runtime::EnterRequest) -> EnterAnswer<'_> {
        let (publisher, topic) = (Arc::clone(&self.publisher), self.enter_topic.clone());
        Box::pin(async move {
            let Some(person) = request.user_id.clone().or(request.anonymous_id.clone()) else {
                return Err(EnterRefused::NoIdentifier);
            };
            tokio::task::spawn_blocking(move || {
                let payload = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
                produce(&publisher, &topic, &[(person, payload)])
            })
            .await
            .map_err(|e| EnterRefused::Unavailable(e.to_string()))?
            .map_err(EnterRefused::Unavailable)?;
            Ok(None)
        })
    }
}

/// Sends `(key, payload)` messages to `topic` and waits until every one is
/// acknowledged.
fn produce(
    publisher: &Publisher,
    topic: &str,
    messages: &[(String, Vec<u8>)],
) -> Result<(), String> {
    for (key, payload) in messages {
        publisher
            .send(Outgoing {
                topic,
                key: Some(key.as_bytes()),
                payload,
                idempotency_key: None,
                headers: &[],
            })
            .map_err(|e| e.to_string())?;
    }
    publisher.sync().map_err(|e| e.to_string())
}
