//! Live deploys: journeys published to a compacted topic, which every
//! worker reads as a table, validates and activates without a restart.
//!
//! A message's key is the journey id; its value a [`JourneyMessage`]; an
//! empty value (a tombstone) archives the journey.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::publisher::{Outgoing, Publisher};
use rdkafka::message::Message;
use serde::{Deserialize, Serialize};
use waymark_journey::parse_journey;
use waymark_store::Store;

use super::follow::follow;
use super::metrics::Metrics;
use super::source::SourceError;
use crate::config::KafkaConfig;
use waymark::deploy::JourneyStatus;
use waymark::runtime::Waymark;

/// The value of a journeys-topic message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JourneyMessage {
    /// The file name it came from; its extension says YAML or JSON.
    pub file: String,
    /// The journey definition.
    pub source: String,
}

/// Validates the journey in `path` locally and publishes it to the
/// journeys topic, keyed by its id. Returns the id.
pub fn publish_journey(
    kafka: &KafkaConfig,
    path: &Path,
    templates: Option<&Path>,
) -> Result<String, String> {
    let (journeys, _) = waymark_journey::load_journey_set(&[path.to_owned()], templates)
        .map_err(|errors| errors.to_string())?;
    let id = journeys
        .first()
        .map(|j| j.id.to_string())
        .ok_or_else(|| format!("{}: no journey", path.display()))?;
    let source = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let message = JourneyMessage {
        file: path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        source,
    };
    let payload = serde_json::to_vec(&message).map_err(|e| e.to_string())?;
    let publisher = Publisher::new(&super::client_config(kafka), 1).map_err(|e| e.to_string())?;
    publisher
        .send(Outgoing {
            topic: &kafka.topics.journeys,
            key: Some(id.as_bytes()),
            payload: &payload,
            idempotency_key: None,
            headers: &[],
        })
        .map_err(|e| e.to_string())?;
    publisher.sync().map_err(|e| e.to_string())?;
    Ok(id)
}

/// Reads the journeys topic from where this worker left it until `stop`:
/// each journey is validated against the runtime's templates and segments,
/// stored as a new version and activated; refusals are logged and counted.
pub fn watch_journeys(
    kafka: &KafkaConfig,
    store: Arc<dyn Store>,
    waymark: Arc<Waymark>,
    metrics: Arc<Metrics>,
    stop: &AtomicBool,
) -> Result<(), SourceError> {
    let topic = (
        "journeys",
        kafka.topics.journeys.as_str(),
        "the journeys topic does not exist: live deploys are off",
    );
    follow(kafka, store.as_ref(), &waymark, topic, stop, |message| {
        let key = message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        match apply(&waymark, &key, message.payload()) {
            Ok(Applied::NewVersion(version)) => {
                metrics.journeys_deployed.inc();
                tracing::info!(journey = %key, version, "deployed from the journeys topic");
            }
            Ok(Applied::Unchanged(version)) => {
                tracing::info!(
                    journey = %key,
                    version,
                    "journeys topic: the same definition as the deployed version; nothing to do"
                );
            }
            Ok(Applied::Archived) => {}
            Err(reason) => {
                metrics.journey_refusals.inc();
                tracing::warn!(journey = %key, offset = message.offset(), %reason, "journey refused");
            }
        }
    })
}

/// What one journeys-topic message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    /// A new version, now active.
    NewVersion(u32),
    /// The definition is the deployed version's (a message replayed, or
    /// the same file deployed again).
    Unchanged(u32),
    /// A tombstone archived the journey.
    Archived,
}

/// Deploys one message.
fn apply(waymark: &Waymark, key: &str, payload: Option<&[u8]>) -> Result<Applied, String> {
    let Some(payload) = payload.filter(|p| !p.is_empty()) else {
        waymark
            .set_journey_status(key, JourneyStatus::Archived, false)
            .map_err(|e| e.to_string())?;
        tracing::info!(journey = key, "archived by a tombstone");
        return Ok(Applied::Archived);
    };
    let message: JourneyMessage =
        serde_json::from_slice(payload).map_err(|e| format!("not a journey message: {e}"))?;
    // The id inside must be the key: the topic is compacted by key.
    let parsed =
        parse_journey(Path::new(&message.file), &message.source).map_err(|e| e.to_string())?;
    if &*parsed.id != key {
        return Err(format!(
            "the message key `{key}` is not the journey's id `{}`",
            parsed.id
        ));
    }
    let outcome = waymark
        .deploy_source(&message.file, message.source, chrono::Utc::now())
        .map_err(|e| e.to_string())?;
    if !outcome.new_version {
        return Ok(Applied::Unchanged(outcome.version));
    }
    Ok(Applied::NewVersion(outcome.version))
}
