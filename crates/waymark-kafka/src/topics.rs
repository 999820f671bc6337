//! Creating the topics the worker needs (when configured to).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::config::KafkaConfig;

/// Creates the input, deliveries, analytics, dead-letter, enter and
/// (compacted) journeys topics that do not exist yet. Returns the names it created.
pub async fn ensure_topics(kafka: &KafkaConfig) -> Result<Vec<String>, KafkaError> {
    let admin: AdminClient<DefaultClientContext> = super::client_config(kafka).create()?;
    let t = &kafka.topics;
    let replication = || TopicReplication::Fixed(kafka.replication_factor);
    let mut topics: Vec<NewTopic<'_>> = t
        .input
        .iter()
        .chain([&t.deliveries, &t.analytics, &t.dead_letters, &t.enter])
        .map(|name| NewTopic::new(name, kafka.partitions, replication()))
        .collect();
    topics.push(NewTopic::new(&t.journeys, 1, replication()).set("cleanup.policy", "compact"));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let mut created = Vec::new();
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::error!(topic = %name, %code, "cannot create topic");
                });
            }
        }
    }
    if !created.is_empty() {
        tracing::info!(topics = ?created, "created topics");
    }
    Ok(created)
}
