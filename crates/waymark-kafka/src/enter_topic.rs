//! Entries by API over Kafka: `waymark-admin journey enter --kafka`
//! publishes an [`EnterRequest`] to the enter topic; every worker reads
//! it from where it left off and enters the person. A call is applied once
//! per call id (the runtime's dedupe), so reading a message again after a
//! crash enters nobody twice.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rdkafka::message::Message;
use waymark::runtime::{EnterRequest, Entered, Waymark};
use waymark_store::Store;

use crate::config::KafkaConfig;
use crate::follow::follow;
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

/// Reads the enter topic from where this worker left it until `stop`,
/// entering each call's person; refusals are logged and counted. A call
/// read again after a crash is a repeat (its call id).
pub fn watch_enter(
    kafka: &KafkaConfig,
    store: Arc<dyn Store>,
    waymark: Arc<Waymark>,
    metrics: Arc<Metrics>,
    stop: &AtomicBool,
) -> Result<(), SourceError> {
    let topic = (
        "enter",
        kafka.topics.enter.as_str(),
        "the enter topic does not exist: entries by Kafka are off",
    );
    follow(
        kafka,
        store.as_ref(),
        &waymark,
        topic,
        stop,
        |message| match apply(&waymark, message.payload()) {
            Ok((journey, outcome)) => {
                metrics.api_entries.inc();
                tracing::debug!(%journey, ?outcome, "entry by API from the enter topic");
            }
            Err(reason) => {
                metrics.api_entry_refusals.inc();
                tracing::warn!(offset = message.offset(), %reason, "entry by API refused");
            }
        },
    )
}

/// Decides one enter-topic message.
fn apply(waymark: &Waymark, payload: Option<&[u8]>) -> Result<(String, Entered), String> {
    let request: EnterRequest = serde_json::from_slice(payload.unwrap_or_default())
        .map_err(|e| format!("not an enter call: {e}"))?;
    let outcome = waymark.enter(&request).map_err(|e| e.to_string())?;
    Ok((request.journey, outcome))
}
