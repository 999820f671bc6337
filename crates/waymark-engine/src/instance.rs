//! A person's run through one journey.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use waymark_core::Timestamp;

/// One profile's journey instance: where it is, whether it is in the
/// control group, its pending timer. The engine keeps at most one instance
/// per (profile, journey): the running one, or the last one that ended
/// (needed for re-entry rules and for goals counted after the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// `<journey>:<profile>:<entry number>`, unique and deterministic.
    pub id: Arc<str>,
    pub journey: Arc<str>,
    pub version: u32,
    /// How many times this profile has entered the journey, this entry included.
    pub entry_seq: u32,
    /// The node the instance is on (or ended at).
    pub node: Arc<str>,
    /// Index of `node` in the journey version's node list.
    pub node_index: usize,
    pub entered_at: Timestamp,
    /// In the holdout: walks the journey but is never messaged.
    pub control: bool,
    pub status: InstanceStatus,
    pub timer: Option<PendingTimer>,
    /// The token the next timer will carry.
    pub next_token: u64,
    /// Node visits so far; part of every idempotency key.
    pub steps: u32,
    pub goal_reached: bool,
    /// The last split the instance went through and the variant it got
    /// (a conversion counts for that variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<(Arc<str>, Arc<str>)>,
    /// When that split chose: an `optimize` node's own goal event counts
    /// within its window from then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_at: Option<Timestamp>,
    /// Whether that `optimize` node's own goal event came (it counts once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub split_converted: bool,
    /// The entering event as conditions and templates see it later
    /// (`type`, `event`, `messageId`, `properties`, `timestamp`).
    pub trigger: Arc<Value>,
}

/// Whether an instance is still moving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum InstanceStatus {
    Running,
    Ended { reason: String, at: Timestamp },
}

/// The one timer an instance may have pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTimer {
    pub token: u64,
    pub due: Timestamp,
}

impl Instance {
    pub fn is_running(&self) -> bool {
        self.status == InstanceStatus::Running
    }

    /// When the instance ended, if it has.
    pub fn ended_at(&self) -> Option<Timestamp> {
        match &self.status {
            InstanceStatus::Ended { at, .. } => Some(*at),
            InstanceStatus::Running => None,
        }
    }
}
