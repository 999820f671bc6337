//! What the engine asks the world to do, as data.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use waymark_core::{Channel, ProfileId, Timestamp};

/// One effect of a decision. Every effect carries an idempotency key derived
/// from the instance, its step and what the effect is, so that carrying out
/// the same decision twice can be recognised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Deliver a message.
    Send(SendRequest),
    /// Wake the instance at `due` with `TimerFired`.
    ScheduleTimer(Timer),
    /// The timer is no longer wanted (it would be ignored anyway).
    CancelTimer(Timer),
    /// Write traits on the profile.
    UpdateProfile(ProfileUpdate),
    /// The person joined or left a segment: keep it on the profile.
    Membership(MembershipChange),
    /// An analytics fact: entered, send, suppressed, goal, exited, ...
    Record(Record),
}

impl Effect {
    pub fn key(&self) -> &str {
        match self {
            Effect::Send(s) => &s.key,
            Effect::ScheduleTimer(t) | Effect::CancelTimer(t) => &t.key,
            Effect::UpdateProfile(u) => &u.key,
            Effect::Membership(m) => &m.key,
            Effect::Record(r) => &r.key,
        }
    }
}

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendRequest {
    pub key: String,
    pub profile: ProfileId,
    pub journey: Arc<str>,
    pub version: u32,
    pub instance: Arc<str>,
    pub node: Arc<str>,
    pub channel: Channel,
    pub template: Arc<str>,
    /// The subscription topic the message is about (for unsubscribe links
    /// and the send history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Arc<str>>,
    /// The event that made the person enter, for the template's `event`.
    pub trigger: Arc<Value>,
}

/// A durable timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub key: String,
    pub profile: ProfileId,
    /// The journey of the instance (a held journey's timers wait).
    pub journey: Arc<str>,
    pub instance: Arc<str>,
    pub token: u64,
    pub due: Timestamp,
    /// A time-based entry (inactivity, date, schedule) into `journey` for
    /// `profile` rather than an instance's wait: one per person and
    /// journey, a new one replacing the pending one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub entry: bool,
}

impl Timer {
    /// The input this timer is when it is due.
    pub fn input(&self) -> crate::Input<'_> {
        if self.entry {
            crate::Input::EntryDue {
                journey: &self.journey,
                due: self.due,
            }
        } else {
            crate::Input::TimerFired {
                instance: &self.instance,
                token: self.token,
            }
        }
    }

    /// The id entry timers of `journey` for `profile` share (the instance
    /// field of an entry timer).
    pub fn entry_id(journey: &str, profile: &ProfileId) -> Arc<str> {
        Arc::from(format!("{journey}:{profile}:entry"))
    }
}

/// Traits to set on a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileUpdate {
    pub key: String,
    pub profile: ProfileId,
    pub set: Map<String, Value>,
    pub at: Timestamp,
}

/// A person joining (`joined`) or leaving a segment at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipChange {
    pub key: String,
    pub profile: ProfileId,
    pub segment: Arc<str>,
    pub joined: bool,
    pub at: Timestamp,
}

/// What kind of analytics fact a [`Record`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Entered,
    Wait,
    Branch,
    Split,
    Send,
    Suppressed,
    /// A send held by quiet hours until `until`.
    Deferred,
    Goal,
    /// An `optimize` node's own goal event, counted for its variant
    /// (`split`, `variant`).
    Converted,
    Exited,
    /// A trigger that could not be scheduled (a date trait that does not parse).
    Skipped,
    /// An instance went through a node that records nothing else: an
    /// `update_profile`, or a `wait_for_segment` already satisfied.
    Passed,
    /// The person became a member of a segment (`segment`).
    SegmentEntered,
    /// The person stopped being a member of a segment.
    SegmentExited,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Entered => "entered",
            RecordKind::Wait => "wait",
            RecordKind::Branch => "branch",
            RecordKind::Split => "split",
            RecordKind::Converted => "converted",
            RecordKind::Send => "send",
            RecordKind::Suppressed => "suppressed",
            RecordKind::Deferred => "deferred",
            RecordKind::Goal => "goal",
            RecordKind::Exited => "exited",
            RecordKind::Skipped => "skipped",
            RecordKind::Passed => "passed",
            RecordKind::SegmentEntered => "segment_entered",
            RecordKind::SegmentExited => "segment_exited",
        }
    }

    /// Every kind.
    pub const ALL: [RecordKind; 14] = [
        RecordKind::Entered,
        RecordKind::Wait,
        RecordKind::Branch,
        RecordKind::Split,
        RecordKind::Send,
        RecordKind::Suppressed,
        RecordKind::Deferred,
        RecordKind::Goal,
        RecordKind::Converted,
        RecordKind::Exited,
        RecordKind::Skipped,
        RecordKind::Passed,
        RecordKind::SegmentEntered,
        RecordKind::SegmentExited,
    ];

    /// The kind [`RecordKind::as_str`] names.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// An analytics fact about one instance (or, for segment transitions,
/// about a person: `journey` and `instance` are empty, `segment` is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub key: String,
    #[serde(serialize_with = "waymark_core::serialize_timestamp")]
    pub at: Timestamp,
    pub kind: RecordKind,
    pub profile: ProfileId,
    pub journey: Arc<str>,
    /// The journey version the instance runs (0 on records about a person).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u32,
    pub instance: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Arc<str>>,
    /// The first record of the instance's arrival at `node`: counting
    /// these counts arrivals (a send checked again after quiet hours, or
    /// the exit that follows a last node, is not an arrival).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub arrived: bool,
    /// On an arrival: the node the instance came from (none at entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Where a branch or split sent the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Arc<str>>,
    /// The split variant chosen; on a goal, the variant of the last split
    /// the instance went through (with `split`, that split's node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Arc<str>>,
    /// On a goal: when the instance entered (time to goal).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "waymark_core::serialize_optional_timestamp"
    )]
    pub entered_at: Option<Timestamp>,
    /// Until when a wait holds the instance.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "waymark_core::serialize_optional_timestamp"
    )]
    pub until: Option<Timestamp>,
    /// Whether the instance is in the control group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub control: bool,
    /// The segment of a `segment_entered` / `segment_exited` record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Arc<str>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Record {
    /// A record of `kind` about `profile` (in `instance` of `journey`, both
    /// empty for a record about the person), with nothing else set.
    pub fn new(
        key: String,
        at: Timestamp,
        kind: RecordKind,
        profile: ProfileId,
        journey: Arc<str>,
        instance: Arc<str>,
    ) -> Self {
        Record {
            key,
            at,
            kind,
            profile,
            journey,
            version: 0,
            instance,
            node: None,
            arrived: false,
            from: None,
            channel: None,
            template: None,
            reason: None,
            value: None,
            next: None,
            variant: None,
            split: None,
            entered_at: None,
            until: None,
            control: false,
            segment: None,
        }
    }

    /// The idempotency key of the delivery a `send` record stands for
    /// (the record's key and the channel): what the outbox, the channels
    /// and the deliveries topic carry.
    pub fn delivery_key(&self) -> Option<String> {
        match (self.kind, self.channel) {
            (RecordKind::Send, Some(channel)) => Some(format!("{}:{channel}", self.key)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RecordKind;

    #[test]
    fn every_record_kind_parses_from_its_name() {
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::parse(kind.as_str()), Some(kind));
            // The name is also the kind's JSON form on the analytics topic.
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
        assert_eq!(RecordKind::parse("sent"), None);
    }
}
