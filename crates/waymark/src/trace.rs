//! The lines test mode prints: one JSON object per decision, in time order.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use waymark_core::{Profile, format_timestamp};
use waymark_engine::Record;
use waymark_identity::MergeRecord;

/// One line of a simulation trace. Fields that do not apply are omitted.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TraceLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journey: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Where a branch or split led.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Arc<str>>,
    /// The split variant chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<Arc<str>>,
    /// Until when a wait holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The instance is in the control group.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub control: bool,
    /// For `merged`: the profile merged into this one, and the identifier
    /// that linked them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_by: Option<String>,
    /// For `send`: the delivery's idempotency key, as the worker's
    /// deliveries carry it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For `segment_entered` / `segment_exited`: the segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<Arc<str>>,
    /// For `rejected`: the input line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl TraceLine {
    /// A trace line for an engine record about `profile`.
    pub fn from_record(record: &Record, profile: &Profile) -> Self {
        TraceLine {
            at: Some(format_timestamp(record.at)),
            kind: record.kind.as_str().to_owned(),
            journey: Some(record.journey.clone()).filter(|j| !j.is_empty()),
            node: record.node.clone(),
            profile: Some(profile.id.to_string()),
            user_id: profile.user_id.clone(),
            anonymous_id: profile.anonymous_id.clone(),
            channel: record.channel.map(|c| c.to_string()),
            template: record.template.clone(),
            reason: record.reason.clone(),
            value: record.value.clone(),
            next: record.next.clone(),
            variant: record.variant.clone(),
            until: record.until.map(format_timestamp),
            control: record.control,
            merged_from: None,
            linked_by: None,
            key: record.delivery_key(),
            segment: record.segment.clone(),
            line: None,
        }
    }

    /// A trace line for an input line that was refused.
    pub fn rejected(line: usize, at: Option<String>, reason: String) -> Self {
        TraceLine {
            at,
            kind: "rejected".to_owned(),
            reason: Some(reason),
            line: Some(line),
            ..TraceLine::default()
        }
    }

    /// A trace line for a merge of two profiles into `winner`.
    pub fn merged(merge: &MergeRecord, winner: Option<&Profile>) -> Self {
        TraceLine {
            at: Some(format_timestamp(merge.at)),
            kind: "merged".to_owned(),
            profile: Some(merge.winner.to_string()),
            user_id: winner.and_then(|p| p.user_id.clone()),
            anonymous_id: winner.and_then(|p| p.anonymous_id.clone()),
            merged_from: Some(merge.loser.to_string()),
            linked_by: Some(merge.linked_by.to_string()),
            ..TraceLine::default()
        }
    }

    /// The line as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
