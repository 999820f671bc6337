//! A message to deliver, and the trait providers implement.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use waymark_core::{Channel, ProfileId, Timestamp};

/// One message to one person, with the key that makes it idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The idempotency key: the same key is never delivered twice.
    pub key: String,
    pub channel: Channel,
    pub profile: ProfileId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The person's anonymous id, for people not identified yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    /// Where it goes: the email address, phone number, push token; none for webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub template: String,
    pub journey: String,
    pub node: String,
    /// The event that made the person enter the journey (shared with the
    /// journey instance: a delivery is copied without copying it).
    #[serde(default)]
    pub trigger: std::sync::Arc<Value>,
    /// When the journey decided to send it.
    #[serde(serialize_with = "waymark_core::serialize_timestamp")]
    pub decided_at: Timestamp,
    /// When it was handed to the channel (set by the runtime just before
    /// the call): `sent_at - decided_at` is how late it went out.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "waymark_core::serialize_optional_timestamp"
    )]
    pub sent_at: Option<Timestamp>,
    /// The template's fields rendered for this person (subject, html, text,
    /// body, title, data, url, headers, ...); filled in by the runtime just
    /// before delivery, from the template named above.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub content: Map<String, Value>,
    /// The one-click unsubscribe link for this person and channel, when the
    /// runtime is configured to sign them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe_url: Option<String>,
    /// The subscription topic the message is about (its unsubscribe link
    /// leaves that topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

impl Delivery {
    /// A rendered field as text.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.content.get(field).and_then(Value::as_str)
    }
}

/// What a provider answers for an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's id for the message, if it gives one.
    pub provider_id: Option<String>,
    /// True when the provider had already seen this key (nothing was sent again).
    pub duplicate: bool,
}

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (timeouts, 5xx, 429): `retry_after` when the provider says.
    #[error("transient: {reason}")]
    Transient {
        reason: String,
        retry_after: Option<std::time::Duration>,
    },
    /// Will not succeed by retrying (bad address, 4xx): the delivery fails.
    #[error("permanent: {reason}")]
    Permanent { reason: String },
}

/// The future a delivery returns.
pub type DeliveryFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Receipt, DeliveryError>> + Send + 'a>>;

/// A provider that delivers messages of one or more channels.
pub trait Deliver: Send + Sync + std::fmt::Debug {
    /// Delivers `delivery`. Calling it again with the same key must not
    /// reach the person twice (providers with idempotency support get the
    /// key; the others keep track themselves).
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> DeliveryFuture<'a>;

    /// Makes accepted deliveries durable (group commit): the runtime calls
    /// it once after a round of deliveries, before it removes them from the
    /// outbox. Providers that are durable on acceptance need nothing here.
    fn sync(&self) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// Whether outcomes are worth telling the journeys (`Email Delivered`,
    /// `Email Bounced`, ...): true for providers that reach people, false
    /// for the log and Kafka outbox channels, which only hand messages on.
    fn reports_outcomes(&self) -> bool {
        false
    }
}
