//! What the runtime writes to the store.

use serde::{Deserialize, Serialize};
use waymark_channels::Delivery;
use waymark_core::{Identifier, Profile, Timestamp};
use waymark_engine::Instance;

/// One value per profile: the profile, its identity and its journey
/// instances, so that an event touching one person writes one value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    pub profile: Profile,
    /// Creation order (the older profile survives a merge).
    pub created: u64,
    pub identifiers: Vec<Identifier>,
    pub instances: Vec<Instance>,
}

/// Whether an outbox entry still has to go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    /// Gave up: a permanent error, or too many attempts. `outbox retry` revives it.
    Failed,
}

/// A delivery waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: u64,
    pub delivery: Delivery,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
