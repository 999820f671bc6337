//! Entries by API over Kafka: `waymark-admin journey enter --kafka`
//! publishes an [`EnterRequest`] to the enter topic; every worker reads
//! it from where it left off and enters the person. A call is applied once
//! per call id (the runtime's dedupe), so reading a message again after a
//! crash enters nobody twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use waymark::runtime::{EnterRequest, Entered, Waymark};
use waymark_store::{Batch, Space, Store};

use crate::config::KafkaConfig;
use crate::metrics::Metrics;
use crate::publisher::{Outgoing, Publisher};
use crate::source::SourceError;

/// Publishes one call to the enter topic, keyed by the person (so one
/// person's calls stay in order), and waits for the broker's ack.
pub fn publish_enter(kafka: &KafkaConfig, request: &EnterRequest) -> Result<(), String> {
    if request.user_id.is_none() && request.anonymous_id.is_none() {
        return Err("a call names a person: give a user id or an anonymous id".to_owned());
    }
    let key = request
        .user_id
        .as_deref()
        .or(request.anonymous_id.as_deref())
        .unwrap_or_default();
    let payload = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    let publisher = Publisher::new(&super::client_config(kafka), 1).map_err(|e| e.to_string())?;
    publisher
        .send(Outgoing {
            topic: &kafka.topics.enter,
            key: Some(key.as_bytes()),
            payload: &payload,
            idempotency_key: None,
            headers: &[],
        })
        .map_err(|e| e.to_string())?;
    publisher.sync().map_err(|e| e.to_string())
}

/// The store's name for an enter-topic position.
fn position_name(topic: &str, partition: i32) -> String {
    format!("enter:{topic}:{partition}")
}

/// Reads the enter topic from where this worker left it until `stop`,
/// entering each call's person; refusals are logged and counted.
pub fn watch_enter(
    kafka: &KafkaConfig,
    store: Arc<dyn Store>,
    waymark: Arc<Waymark>,
    metrics: Arc<Metrics>,
    stop: &AtomicBool,
) -> Result<(), SourceError> {
    let topic = kafka.topics.enter.as_str();
    let mut config = super::client_config(kafka);
    config
        .set("group.id", format!("{}-enter", kafka.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = config.create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut list = TopicPartitionList::new();
    for partition in metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
    {
        let from = waymark
            .source_offset(&position_name(topic, partition))
            .and_then(|n| i64::try_from(n).ok())
            .map_or(Offset::Beginning, Offset::Offset);
        list.add_partition_offset(topic, partition, from)?;
    }
    if list.count() == 0 {
        tracing::warn!(
            topic,
            "the enter topic does not exist: entries by Kafka are off"
        );
        return Ok(());
    }
    consumer.assign(&list)?;
    while !stop.load(Ordering::SeqCst) {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = match message {
            Ok(m) => m,
            Err(error) => {
                tracing::warn!(%error, topic, "enter topic");
                continue;
            }
        };
        match apply(&waymark, message.payload()) {
            Ok((journey, outcome)) => {
                metrics.api_entries.inc();
                tracing::debug!(%journey, ?outcome, "entry by API from the enter topic");
            }
            Err(reason) => {
                metrics.api_entry_refusals.inc();
                tracing::warn!(offset = message.offset(), %reason, "entry by API refused");
            }
        }
        // The position after the call's own commit: a crash in between
        // reads the call again, and the call id makes that a repeat.
        let mut batch = Batch::new();
        batch.put(
            Space::Meta,
            format!("source:{}", position_name(topic, message.partition())),
            serde_json::to_vec(&(message.offset() + 1)).unwrap_or_default(),
        );
        store.commit(batch).map_err(waymark::runtime::Error::from)?;
    }
    Ok(())
}

/// Decides one enter-topic message.
fn apply(waymark: &Waymark, payload: Option<&[u8]>) -> Result<(String, Entered), String> {
    let request: EnterRequest = serde_json::from_slice(payload.unwrap_or_default())
        .map_err(|e| format!("not an enter call: {e}"))?;
    let outcome = waymark.enter(&request).map_err(|e| e.to_string())?;
    Ok((request.journey, outcome))
}
