//! `waymark-kafka`: Waymark on Kafka. The event source (a consumer group
//! over the input topics, [`KafkaSource`]), the shared producer that
//! publishes each idempotency key once ([`Publisher`]) behind the outbox
//! channel ([`KafkaChannel`]), the analytics topic ([`AnalyticsTopic`]),
//! dead letters, live journey deploys through the journeys topic, entries
//! by API through the enter topic, the readiness a source reports ([`Health`]) and the worker's [`Metrics`].
//!
//! The order that makes crashes lose nothing: a batch's dead letters are
//! acknowledged by the broker, then the batch's state, timers, outbox and
//! per-partition positions are committed to the store in one transaction,
//! and only then are the partitions' offsets stored for the consumer
//! group's (auto) commit. After a crash the group replays from its last
//! commit and the store's positions skip what was already processed.
//!
//! Architecture invariant: this crate adapts Kafka to the runtime
//! (`waymark`) and decides nothing; the runtime knows nothing of it.

mod client;
mod config;
mod dead_letter;
mod enter_topic;
mod follow;
mod health;
mod journeys_topic;
mod metrics;
mod ownership;
mod pipeline;
mod publisher;
mod source;
pub mod tools;
mod topics;

pub use client::client_config;
pub use config::{DeadLetterLimits, KafkaConfig, TopicsConfig};
pub use dead_letter::{DeadLetterGuard, DeadLetterReason};
pub use enter_topic::{publish_enter, watch_enter};
pub use health::Health;
pub use journeys_topic::{JourneyMessage, publish_journey, watch_journeys};
pub use metrics::{CountingChannel, Metrics};
pub use publisher::{
    IDEMPOTENCY_HEADER, KafkaChannel, Lane, Outgoing, PublishError, Publisher, read_to_end,
};
pub use source::{KafkaSource, SourceError, SourceParts};
pub use topics::ensure_topics;

use waymark::runtime::RecordSink;

/// Journey records published to the analytics topic, at least once, keyed
/// by the record's key (also in the `idempotency-key` header): consumers
/// deduplicate by it, and the topic can be compacted. Unlike deliveries,
/// records are not tracked one by one (there are several per event).
#[derive(Debug)]
pub struct AnalyticsTopic {
    publisher: std::sync::Arc<Publisher>,
    /// Its own lane: a record round's sync waits for records only.
    lane: Lane,
    topic: String,
}

impl AnalyticsTopic {
    pub fn new(publisher: std::sync::Arc<Publisher>, topic: impl Into<String>) -> Self {
        AnalyticsTopic {
            lane: publisher.lane(),
            publisher,
            topic: topic.into(),
        }
    }
}

impl RecordSink for AnalyticsTopic {
    fn publish(&self, key: &str, json: &[u8]) -> Result<(), String> {
        self.publisher
            .send_on(
                self.lane,
                Outgoing {
                    topic: &self.topic,
                    key: Some(key.as_bytes()),
                    payload: json,
                    idempotency_key: None,
                    headers: &[(IDEMPOTENCY_HEADER, key.as_bytes())],
                },
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn sync(&self) -> Result<(), String> {
        self.publisher
            .sync_lane(self.lane)
            .map_err(|e| e.to_string())
    }
}
