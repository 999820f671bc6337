//! Reading a control topic (journeys, enter calls) from where this worker
//! left it: each partition from the position kept in the store, each
//! message handed on, then its position stored, until `stop`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use waymark::runtime::Waymark;
use waymark_store::{Batch, Space, Store};

use crate::config::KafkaConfig;
use crate::source::SourceError;

/// Follows `topic` as `what` (its consumer group suffix and the prefix of
/// its stored positions); without the topic, logs `missing` and returns.
/// A message is handed to `apply` before its position is stored: a crash
/// in between reads it again, so `apply` must be idempotent.
pub(crate) fn follow(
    kafka: &KafkaConfig,
    store: &dyn Store,
    waymark: &Waymark,
    (what, topic, missing): (&str, &str, &str),
    stop: &AtomicBool,
    mut apply: impl FnMut(&BorrowedMessage<'_>),
) -> Result<(), SourceError> {
    let position_name = |partition: i32| format!("{what}:{topic}:{partition}");
    let mut config = super::client_config(kafka);
    config
        .set("group.id", format!("{}-{what}", kafka.group_id))
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
            .source_offset(&position_name(partition))
            .and_then(|n| i64::try_from(n).ok())
            .map_or(Offset::Beginning, Offset::Offset);
        list.add_partition_offset(topic, partition, from)?;
    }
    if list.count() == 0 {
        tracing::warn!(topic, "{missing}");
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
                tracing::warn!(%error, topic, "{what} topic");
                continue;
            }
        };
        apply(&message);
        let mut batch = Batch::new();
        batch.put(
            Space::Meta,
            format!("source:{}", position_name(message.partition())),
            serde_json::to_vec(&(message.offset() + 1)).unwrap_or_default(),
        );
        store.commit(batch).map_err(waymark::runtime::Error::from)?;
    }
    Ok(())
}
