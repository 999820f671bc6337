//! What the runtime writes to the store.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use waymark_channels::Delivery;
use waymark_core::{Identifier, ProfileId, Timestamp};
use waymark_engine::{Instance, InstanceStatus, PendingTimer, Timer};

/// One value per profile: the profile, its identity and its journey
/// instances, so that an event touching one person writes one value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    pub profile: StoredProfile,
    /// Creation order (the older profile survives a merge).
    pub created: u64,
    pub identifiers: Vec<Identifier>,
    pub instances: Vec<StoredInstance>,
    /// Pending entry timers (time-based entries): read with the person, so
    /// that one due far ahead can be replaced or cancelled without the
    /// runtime holding every timer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_timers: Vec<StoredEntryTimer>,
}

/// A pending entry timer of a person: journey, due (epoch ms), token and
/// the order it was set in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEntryTimer {
    pub j: Arc<str>,
    pub d: i64,
    pub t: u64,
    pub o: u64,
}

impl StoredEntryTimer {
    /// The timer of `profile` it stands for.
    pub fn load(self, profile: &ProfileId) -> (Timer, u64) {
        let instance = Timer::entry_id(&self.j, profile);
        let timer = Timer {
            key: format!("{instance}/{}", self.d),
            profile: profile.clone(),
            journey: self.j,
            instance,
            token: self.t,
            due: instant(self.d),
            entry: true,
        };
        (timer, self.o)
    }
}

pub use super::stored_profile::{StoredProfile, StoredProfileRef};

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
    /// The last split node and variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sp: Option<(Arc<str>, Arc<str>)>,
    /// When the split chose, and whether its own goal came since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sa: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sc: bool,
    /// The entering event, without `type` when it is `track` and without
    /// `timestamp` when `ts` holds it.
    tr: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ts: Option<i64>,
    /// The profile whose instance it was, when that profile was merged
    /// into the one holding it now (its id keeps the first profile's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
}

/// Puts a trigger back together, keys in their original order (`type`
/// first, `timestamp` last).
fn unpack_trigger(rest: Value, ty: Option<String>, ts: Option<i64>) -> Value {
    let Value::Object(fields) = rest else {
        return rest;
    };
    let mut trigger = serde_json::Map::with_capacity(fields.len() + 2);
    trigger.insert(
        "type".into(),
        Value::from(ty.unwrap_or_else(|| "track".to_owned())),
    );
    trigger.extend(fields);
    if let Some(ms) = ts {
        trigger.insert(
            "timestamp".into(),
            Value::from(waymark_core::format_timestamp(instant(ms))),
        );
    }
    Value::Object(trigger)
}

pub(super) fn millis(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

pub(super) fn instant(ms: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl StoredInstance {
    /// The instance of `profile` this record stands for.
    pub fn load(self, profile: &ProfileId) -> Instance {
        let first = self.p.as_deref().unwrap_or(profile.as_str());
        Instance {
            id: format!("{}:{}:{}", self.j, first, self.q).into(),
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
            split: self.sp,
            split_at: self.sa.map(instant),
            split_converted: self.sc,
            trigger: Arc::new(unpack_trigger(self.tr, self.ty, self.ts)),
        }
    }
}

/// Serializes an instance in the [`StoredInstance`] layout from a borrow:
/// no copy of its entering event (a profile record is rewritten with all
/// its instances at every event of the person).
pub struct StoredInstanceRef<'a>(pub &'a Instance, pub &'a ProfileId);

impl Serialize for StoredInstanceRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let instance = self.0;
        let (ty, ts) = trigger_parts(&instance.trigger);
        let mut out = serializer.serialize_struct("StoredInstance", 18)?;
        out.serialize_field("j", &instance.journey)?;
        out.serialize_field("v", &instance.version)?;
        out.serialize_field("q", &instance.entry_seq)?;
        out.serialize_field("n", &instance.node)?;
        out.serialize_field("i", &instance.node_index)?;
        out.serialize_field("e", &millis(instance.entered_at))?;
        if instance.control {
            out.serialize_field("c", &true)?;
        }
        if let InstanceStatus::Ended { reason, at } = &instance.status {
            out.serialize_field("x", &(reason, millis(*at)))?;
        }
        if let Some(timer) = instance.timer {
            out.serialize_field("t", &(timer.token, millis(timer.due)))?;
        }
        out.serialize_field("nt", &instance.next_token)?;
        out.serialize_field("k", &instance.steps)?;
        if instance.goal_reached {
            out.serialize_field("g", &true)?;
        }
        if let Some(split) = &instance.split {
            out.serialize_field("sp", split)?;
        }
        if let Some(at) = instance.split_at {
            out.serialize_field("sa", &millis(at))?;
        }
        if instance.split_converted {
            out.serialize_field("sc", &true)?;
        }
        out.serialize_field(
            "tr",
            &PackedTrigger {
                trigger: &instance.trigger,
                ts_apart: ts.is_some(),
            },
        )?;
        if let Some(ty) = ty {
            out.serialize_field("ty", ty)?;
        }
        if let Some(ts) = ts {
            out.serialize_field("ts", &ts)?;
        }
        let first = instance
            .id
            .strip_prefix(&*instance.journey)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|rest| rest.rsplit_once(':'))
            .map(|(profile, _)| profile);
        if let Some(first) = first.filter(|first| *first != self.1.as_str()) {
            out.serialize_field("p", first)?;
        }
        out.end()
    }
}

/// What is stored apart from a trigger (see `StoredInstance::tr`): its
/// type unless `track`, and its timestamp in milliseconds when that is exact.
fn trigger_parts(trigger: &Value) -> (Option<&str>, Option<i64>) {
    let Value::Object(fields) = trigger else {
        return (None, None);
    };
    let ty = match fields.get("type") {
        Some(Value::String(t)) if t != "track" => Some(t.as_str()),
        _ => None,
    };
    let ts = match fields.get("timestamp") {
        Some(Value::String(text)) => waymark_core::parse_timestamp(text)
            .ok()
            .map(millis)
            .filter(|ms| waymark_core::format_timestamp(instant(*ms)) == *text),
        _ => None,
    };
    (ty, ts)
}

/// A trigger without what [`trigger_parts`] takes out, serialized in place.
struct PackedTrigger<'a> {
    trigger: &'a Value,
    /// The timestamp is stored apart (`ts`).
    ts_apart: bool,
}

impl Serialize for PackedTrigger<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(fields) = self.trigger else {
            return self.trigger.serialize(serializer);
        };
        serializer.collect_map(
            fields
                .iter()
                .filter(|(key, value)| match (key.as_str(), value) {
                    ("type", Value::String(_)) => false,
                    ("timestamp", Value::String(_)) => !self.ts_apart,
                    _ => true,
                }),
        )
    }
}

/// A pending timer as stored: its key holds the due time, instance and
/// token; the value who it belongs to and the order it was set in (timers
/// due at the same instant fire in that order; 0 in stores written before
/// it was kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTimer {
    pub p: ProfileId,
    pub j: Arc<str>,
    #[serde(default, skip_serializing_if = "is_first")]
    pub o: u64,
    /// A time-based entry timer (`Timer::entry`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub e: bool,
    /// The input partition whose input set it, on a shared store: its
    /// owner fires it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l: Option<Arc<str>>,
}

fn is_first(order: &u64) -> bool {
    *order == 0
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
    #[serde(serialize_with = "waymark_core::serialize_timestamp")]
    pub next_attempt_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The input partition whose input made it, on a store several
    /// workers share: its owner delivers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<Arc<str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_instance_loads_back_identical() {
        let at = |s| waymark_core::parse_timestamp(s).unwrap();
        for trigger in [
            serde_json::json!({"type":"track","event":"Signed Up","messageId":"m1","properties":{"plan":"trial"},"timestamp":"2026-11-23T09:00:01Z"}),
            serde_json::json!({"type":"api","event":"api","properties":{},"timestamp":"2026-11-23T09:00:01.123456Z"}),
            Value::Null,
        ] {
            let instance = Instance {
                id: "welcome:p_1:2".into(),
                journey: "welcome".into(),
                version: 3,
                entry_seq: 2,
                node: "wait".into(),
                node_index: 1,
                entered_at: at("2026-11-23T09:00:01Z"),
                control: true,
                status: InstanceStatus::Ended {
                    reason: "goal".into(),
                    at: at("2026-11-24T09:00:00Z"),
                },
                timer: Some(PendingTimer {
                    token: 4,
                    due: at("2026-11-23T10:00:01Z"),
                }),
                next_token: 5,
                steps: 7,
                goal_reached: true,
                split: Some(("offer".into(), "discount".into())),
                split_at: Some(at("2026-11-23T09:30:00Z")),
                split_converted: true,
                trigger: Arc::new(trigger),
            };
            let profile = ProfileId::from("p_1");
            let written = serde_json::to_string(&StoredInstanceRef(&instance, &profile)).unwrap();
            if trigger_parts(&instance.trigger).1.is_some() {
                // The stored layout, which stores written earlier hold too.
                assert_eq!(
                    written,
                    r#"{"j":"welcome","v":3,"q":2,"n":"wait","i":1,"e":1795424401000,"c":true,"x":["goal",1795510800000],"t":[4,1795428001000],"nt":5,"k":7,"g":true,"sp":["offer","discount"],"sa":1795426200000,"sc":true,"tr":{"event":"Signed Up","messageId":"m1","properties":{"plan":"trial"}},"ts":1795424401000}"#
                );
                // Written before `optimize` nodes: no split time, no conversion.
                let earlier = written.replace(r#""sa":1795426200000,"sc":true,"#, "");
                let earlier: StoredInstance = serde_json::from_str(&earlier).unwrap();
                let earlier = earlier.load(&profile);
                assert_eq!((earlier.split_at, earlier.split_converted), (None, false));
            }
            let stored: StoredInstance = serde_json::from_str(&written).unwrap();
            let loaded = stored.load(&profile);
            assert_eq!(loaded, instance);
            // Held by the profile it was merged into, it keeps its id.
            let winner = ProfileId::from("p_0");
            let written = serde_json::to_string(&StoredInstanceRef(&instance, &winner)).unwrap();
            let stored: StoredInstance = serde_json::from_str(&written).unwrap();
            assert_eq!(stored.load(&winner), instance);
            assert_eq!(
                serde_json::to_string(&*loaded.trigger).unwrap(),
                serde_json::to_string(&*instance.trigger).unwrap(),
                "key order kept"
            );
        }
    }
}
