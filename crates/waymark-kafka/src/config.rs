//! The `[kafka]` section of the worker's configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where the worker reads events and publishes what it decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: comma-separated `host:port`.
    pub brokers: String,
    /// The consumer group of the input topics.
    pub group_id: String,
    pub topics: TopicsConfig,
    /// Create the topics below (and the input topics) at start when they
    /// do not exist (the broker's admin API).
    pub create_topics: bool,
    /// Partitions and replication factor of topics the worker creates.
    pub partitions: i32,
    pub replication_factor: i32,
    /// Events larger than this go to the dead-letter topic.
    pub max_event_bytes: usize,
    /// At start, how many of the last messages of each partition of the
    /// deliveries and analytics topics are read back to learn what an
    /// earlier run published (so nothing is published twice after a crash).
    pub readback: i64,
    pub dead_letters: DeadLetterLimits,
    /// Passed through to librdkafka for every client: security
    /// (`security.protocol`, `sasl.mechanism`, `sasl.username`,
    /// `ssl.ca.location`, ...) and tuning. In environment overrides, write
    /// `_` for `.`: `WAYMARK_KAFKA__PROPERTIES__SASL_USERNAME=...`.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".to_owned(),
            group_id: "waymark".to_owned(),
            topics: TopicsConfig::default(),
            create_topics: false,
            partitions: 3,
            replication_factor: 1,
            max_event_bytes: 1 << 20,
            readback: 100_000,
            dead_letters: DeadLetterLimits::default(),
            properties: BTreeMap::new(),
        }
    }
}

/// Topic names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    /// Segment-spec events, keyed by user (or anonymous) id.
    pub input: Vec<String>,
    /// Delivery requests (the Kafka outbox channel).
    pub deliveries: String,
    /// Every journey record.
    pub analytics: String,
    /// Events that could not be processed, byte for byte.
    pub dead_letters: String,
    /// Journey definitions, compacted, keyed by journey id.
    pub journeys: String,
    /// Entries by API (`journey enter --kafka`), keyed by person.
    pub enter: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            input: vec!["events".to_owned()],
            deliveries: "waymark.deliveries".to_owned(),
            analytics: "waymark.analytics".to_owned(),
            dead_letters: "waymark.dlq".to_owned(),
            journeys: "waymark.journeys".to_owned(),
            enter: "waymark.enter".to_owned(),
        }
    }
}

/// When dead letters mean something is misconfigured: the worker stops
/// with an error instead of shunting the whole stream aside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadLetterLimits {
    /// This many dead letters in a row stop the worker.
    pub max_consecutive: u64,
    /// More than this share of dead letters among the last `window`
    /// events stops the worker.
    pub max_ratio: f64,
    pub window: u64,
}

impl Default for DeadLetterLimits {
    fn default() -> Self {
        DeadLetterLimits {
            max_consecutive: 1000,
            max_ratio: 0.5,
            window: 10_000,
        }
    }
}
