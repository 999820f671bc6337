//! What the runtime writes to the store.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use waymark_channels::Delivery;
use waymark_core::{Identifier, Profile, ProfileId, Timestamp};
use waymark_engine::{Instance, InstanceStatus, PendingTimer};

/// One value per profile: the profile, its identity and its journey
/// instances, so that an event touching one person writes one value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    pub profile: Profile,
    /// Creation order (the older profile survives a merge).
    pub created: u64,
    pub identifiers: Vec<Identifier>,
    pub instances: Vec<StoredInstance>,
}

/// An instance as stored: short names, times as epoch milliseconds, and no
/// id (it is `<journey>:<profile>:<entry>`). Instances are the bulk of what
/// the store holds, so every byte counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredInstance {
    /// Journey and version.
    j: Arc<str>,
    v: u32,
    /// Entry number.
    q: u32,
    /// Node id and index.
    n: Arc<str>,
    i: usize,
    /// Entered at.
    e: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    c: bool,
    /// Ended: reason and when; absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<(String, i64)>,
    /// Pending timer: token and due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<(u64, i64)>,
    /// Next timer token, steps, goal reached.
    nt: u64,
    k: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    g: bool,
    /// The entering event.
    tr: Arc<Value>,
}

fn millis(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

fn instant(ms: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl StoredInstance {
    pub fn store(instance: &Instance) -> Self {
        StoredInstance {
            j: Arc::clone(&instance.journey),
            v: instance.version,
            q: instance.entry_seq,
            n: Arc::clone(&instance.node),
            i: instance.node_index,
            e: millis(instance.entered_at),
            c: instance.control,
            x: match &instance.status {
                InstanceStatus::Running => None,
                InstanceStatus::Ended { reason, at } => Some((reason.clone(), millis(*at))),
            },
            t: instance.timer.map(|t| (t.token, millis(t.due))),
            nt: instance.next_token,
            k: instance.steps,
            g: instance.goal_reached,
            tr: Arc::clone(&instance.trigger),
        }
    }

    /// The instance of `profile` this record stands for.
    pub fn load(self, profile: &ProfileId) -> Instance {
        Instance {
            id: format!("{}:{}:{}", self.j, profile, self.q).into(),
            journey: self.j,
            version: self.v,
            entry_seq: self.q,
            node: self.n,
            node_index: self.i,
            entered_at: instant(self.e),
            control: self.c,
            status: match self.x {
                None => InstanceStatus::Running,
                Some((reason, at)) => InstanceStatus::Ended {
                    reason,
                    at: instant(at),
                },
            },
            timer: self.t.map(|(token, due)| PendingTimer {
                token,
                due: instant(due),
            }),
            next_token: self.nt,
            steps: self.k,
            goal_reached: self.g,
            trigger: self.tr,
        }
    }
}

/// A pending timer as stored: its key holds the due time, instance and
/// token; the value only who it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTimer {
    pub p: ProfileId,
    pub j: Arc<str>,
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
