//! Where the front door's events go: into the runtime directly (file and
//! stdin sources), or, with a Kafka source, produced to the first input
//! topic (keyed by the person, acknowledged by all in-sync replicas) so
//! that partitioning and ordering stay Kafka's and the worker's own
//! consumer processes them like any other event.

use std::sync::Arc;

use waymark_core::Event;
use waymark_http::{Accepted, EventSink};
use waymark_kafka::{Outgoing, Publisher};

/// Events to the input topic; `Ok` once every one is acknowledged.
pub(crate) struct KafkaInputSink {
    /// Its own producer: a sync waits only for the front door's messages.
    pub publisher: Arc<Publisher>,
    pub topic: String,
}

impl EventSink for KafkaInputSink {
    fn accept(&self, events: Vec<Event>) -> Accepted<'_> {
        let (publisher, topic) = (Arc::clone(&self.publisher), self.topic.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                for event in &events {
                    let payload = serde_json::to_vec(event).map_err(|e| e.to_string())?;
                    // The person's partition: their events stay in order.
                    let key = event
                        .user_id
                        .as_deref()
                        .or(event.anonymous_id.as_deref())
                        .unwrap_or(event.message_id.as_str());
                    publisher
                        .send(Outgoing {
                            topic: &topic,
                            key: Some(key.as_bytes()),
                            payload: &payload,
                            idempotency_key: None,
                            headers: &[],
                        })
                        .map_err(|e| e.to_string())?;
                }
                publisher.sync().map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }
}
