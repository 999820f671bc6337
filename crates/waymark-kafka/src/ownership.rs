//! Taking the assigned partitions in the store: on a store several
//! workers share (PostgreSQL) each assignment raises the partitions'
//! epochs, so a worker that lost them (paused past its session timeout)
//! can neither commit nor deliver for them any more (docs/scale.md).

use rdkafka::TopicPartitionList;
use waymark::runtime::Waymark;

use crate::metrics::{Metrics, PartitionLabels};

/// This process's name as an owner of partitions: host, process id and
/// start time, so that a restarted worker is a new owner.
pub(crate) fn owner_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
    let started = chrono::Utc::now().timestamp_millis();
    format!("{host}-{}-{started}", std::process::id())
}

/// Claims the partitions of `assignment` for `owner` and shows their
/// epochs in `/metrics` (`waymark_partition_epoch`).
pub(crate) fn claim(
    waymark: &Waymark,
    metrics: &Metrics,
    owner: &str,
    assignment: &TopicPartitionList,
) -> Result<(), waymark::runtime::Error> {
    let partitions: Vec<String> = assignment
        .elements()
        .iter()
        .map(|e| format!("{}/{}", e.topic(), e.partition()))
        .collect();
    for (name, epoch) in waymark.claim(owner, &partitions)? {
        let Some((topic, partition)) = name.rsplit_once('/') else {
            continue;
        };
        let Ok(partition) = partition.parse() else {
            continue;
        };
        metrics
            .partition_epoch
            .get_or_create(&PartitionLabels {
                topic: topic.to_owned(),
                partition,
            })
            .set(epoch);
    }
    Ok(())
}
