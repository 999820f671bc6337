//! Decoding a journey's `entry`: its trigger (an event, a segment, an API
//! call, inactivity, a date trait, a schedule), conditions and re-entry.

use std::str::FromStr;
use std::sync::Arc;

use serde_json::{Map, Value};
use waymark_core::Duration;

use super::Decoder;
use crate::model::{
    DateTrigger, Entry, EntryLimit, ReEntry, ScheduleTrigger, ScheduleZone, SegmentRef, Trigger,
};
use crate::segment::{is_segment_id, profile_condition};

const ENTRY_FIELDS: &[&str] = &[
    "event", "segment", "api", "inactive", "date", "schedule", "where", "audience", "re_entry",
    "limit",
];
const LIMIT_FIELDS: &[&str] = &["max", "per"];
const TRIGGERS: &str = "`event`, `segment`, `api`, `inactive`, `date` or `schedule`";
const RE_ENTRY_FIELDS: &[&str] = &["policy", "cooldown"];
const INACTIVE_FIELDS: &[&str] = &["events", "for"];
const DATE_FIELDS: &[&str] = &["trait", "offset", "at"];
const SCHEDULE_FIELDS: &[&str] = &["cron", "timezone", "segment"];

impl Decoder {
    pub(super) fn entry(&mut self, value: Option<&Value>) -> Option<Entry> {
        let Some(obj) = value.and_then(Value::as_object) else {
            self.problem("entry", format!("required: a mapping with {TRIGGERS}"));
            return None;
        };
        self.unknown_fields(obj, ENTRY_FIELDS, "entry.");
        let mut triggers = Vec::new();
        let mut broken = false;
        if let Some(event) = self.string(obj, "event", false) {
            triggers.push(Some(Trigger::Event(event)));
        }
        if obj.contains_key("segment") {
            triggers.push(self.segment_trigger(obj));
        }
        match obj.get("api") {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => triggers.push(Some(Trigger::Api)),
            Some(_) => self.problem("entry.api", "must be true or false"),
        }
        if let Some(v) = obj.get("inactive") {
            triggers.push(self.inactive(v));
        }
        if let Some(v) = obj.get("date") {
            triggers.push(self.date(v));
        }
        if let Some(v) = obj.get("schedule") {
            triggers.push(self.schedule(v));
        }
        let trigger = match triggers.len() {
            1 => triggers.pop().flatten(),
            0 => {
                self.problem("entry", format!("needs one of {TRIGGERS}"));
                None
            }
            _ => {
                self.problem("entry", format!("give only one of {TRIGGERS}"));
                broken = true;
                None
            }
        };
        let condition = self.expr(obj, "where", "entry.where");
        let audience = self.expr(obj, "audience", "entry.audience");
        let re_entry = match obj.get("re_entry") {
            None => ReEntry::Never,
            Some(v) => self.re_entry(v),
        };
        let limit = obj.get("limit").and_then(|v| self.limit(v));
        if broken {
            return None;
        }
        Some(Entry {
            trigger: trigger?,
            condition,
            audience,
            re_entry,
            limit,
        })
    }

    /// `segment: <id>` names a segment file; anything else is inline CEL.
    fn segment_trigger(&mut self, obj: &Map<String, Value>) -> Option<Trigger> {
        match obj.get("segment") {
            Some(Value::String(text))
                if is_segment_id(text) && text != "true" && text != "false" =>
            {
                Some(Trigger::Segment(SegmentRef::Named(Arc::from(
                    text.as_str(),
                ))))
            }
            Some(Value::String(source)) => match profile_condition(source) {
                Ok(expr) => Some(Trigger::Segment(SegmentRef::Inline(expr))),
                Err(message) => {
                    self.problem("entry.segment", message);
                    None
                }
            },
            other => {
                self.problem(
                    "entry.segment",
                    format!(
                        "must be a segment id or a CEL condition over the profile, found {}",
                        other.unwrap_or(&Value::Null)
                    ),
                );
                None
            }
        }
    }

    fn inactive(&mut self, value: &Value) -> Option<Trigger> {
        let Some(obj) = value.as_object() else {
            self.problem("entry.inactive", "must be a mapping { events, for }");
            return None;
        };
        self.unknown_fields(obj, INACTIVE_FIELDS, "entry.inactive.");
        let events: Vec<String> = match obj.get("events") {
            Some(Value::String(s)) if !s.trim().is_empty() => vec![s.clone()],
            Some(Value::Array(items))
                if !items.is_empty()
                    && items
                        .iter()
                        .all(|i| i.as_str().is_some_and(|s| !s.trim().is_empty())) =>
            {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            }
            _ => {
                self.problem(
                    "entry.inactive.events",
                    "required: the event names that count as activity",
                );
                Vec::new()
            }
        };
        if !obj.contains_key("for") {
            self.problem(
                "entry.inactive.for",
                "required: how long without those events (e.g. 10d)",
            );
        }
        let after = self.duration(obj, "for", "entry.inactive.for");
        match after {
            Some(d) if d == Duration::ZERO => {
                self.problem("entry.inactive.for", "must be longer than 0s");
                None
            }
            Some(after) if !events.is_empty() => Some(Trigger::Inactive { events, after }),
            _ => None,
        }
    }

    fn date(&mut self, value: &Value) -> Option<Trigger> {
        let Some(obj) = value.as_object() else {
            self.problem("entry.date", "must be a mapping { trait, offset, at }");
            return None;
        };
        self.unknown_fields(obj, DATE_FIELDS, "entry.date.");
        let trait_name = match obj.get("trait") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            _ => {
                self.problem("entry.date.trait", "required: the name of a date trait");
                None
            }
        };
        let offset_seconds = match obj.get("offset") {
            None => Some(0),
            Some(Value::String(text)) => {
                let (sign, rest) = match text.trim().strip_prefix('-') {
                    Some(rest) => (-1, rest),
                    None => (1, text.trim().trim_start_matches('+')),
                };
                match Duration::from_str(rest) {
                    Ok(d) => Some(sign * d.as_seconds()),
                    Err(e) => {
                        self.problem("entry.date.offset", e.to_string());
                        None
                    }
                }
            }
            Some(other) => {
                self.problem(
                    "entry.date.offset",
                    format!("invalid duration {other} (expected e.g. -3d, 1h, 0s)"),
                );
                None
            }
        };
        let at = match obj.get("at") {
            None => Some(None),
            Some(_) => self.time_of_day(obj, "at", "entry.date.at").map(Some),
        };
        Some(Trigger::Date(DateTrigger {
            trait_name: trait_name?,
            offset_seconds: offset_seconds?,
            at: at?,
        }))
    }

    fn schedule(&mut self, value: &Value) -> Option<Trigger> {
        let Some(obj) = value.as_object() else {
            self.problem(
                "entry.schedule",
                "must be a mapping { cron, timezone, segment }",
            );
            return None;
        };
        self.unknown_fields(obj, SCHEDULE_FIELDS, "entry.schedule.");
        let cron = match obj.get("cron") {
            Some(Value::String(text)) => match croner::Cron::from_str(text) {
                Ok(cron) => Some((Arc::new(cron), text.clone())),
                Err(e) => {
                    self.problem(
                        "entry.schedule.cron",
                        format!("{text:?} is not a cron expression: {e}"),
                    );
                    None
                }
            },
            _ => {
                self.problem(
                    "entry.schedule.cron",
                    "required: a cron expression such as \"0 9 * * MON\"",
                );
                None
            }
        };
        let timezone = match obj.get("timezone") {
            None => Some(ScheduleZone::Profile),
            Some(Value::String(z)) if z == "profile" => Some(ScheduleZone::Profile),
            Some(Value::String(z)) => match z.parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(ScheduleZone::Fixed(tz)),
                Err(_) => {
                    self.problem(
                        "entry.schedule.timezone",
                        format!("{z:?} is neither `profile` nor an IANA time zone"),
                    );
                    None
                }
            },
            Some(other) => {
                self.problem(
                    "entry.schedule.timezone",
                    format!("must be `profile` or an IANA time zone, found {other}"),
                );
                None
            }
        };
        let segment = match obj.get("segment") {
            None => Some(None),
            Some(Value::String(id)) if is_segment_id(id) => Some(Some(Arc::from(id.as_str()))),
            Some(other) => {
                self.problem(
                    "entry.schedule.segment",
                    format!("{other} is not a segment id"),
                );
                None
            }
        };
        let (cron, source) = cron?;
        Some(Trigger::Schedule(ScheduleTrigger {
            cron,
            source,
            timezone: timezone?,
            segment: segment?,
        }))
    }

    fn limit(&mut self, value: &Value) -> Option<EntryLimit> {
        let Some(obj) = value.as_object() else {
            self.problem("entry.limit", "must be a mapping { max, per }");
            return None;
        };
        self.unknown_fields(obj, LIMIT_FIELDS, "entry.limit.");
        let max = match obj.get("max").and_then(Value::as_u64) {
            Some(n) if n > 0 => u32::try_from(n).ok(),
            _ => {
                self.problem(
                    "entry.limit.max",
                    "required: a whole number of entrants above 0",
                );
                None
            }
        };
        if !obj.contains_key("per") {
            self.problem("entry.limit.per", "required: the window, e.g. 1h");
        }
        let per = self
            .duration(obj, "per", "entry.limit.per")
            .filter(|d| *d > Duration::ZERO);
        Some(EntryLimit {
            max: max?,
            per: per?,
        })
    }

    fn re_entry(&mut self, value: &Value) -> ReEntry {
        let (policy, cooldown) = match value {
            Value::String(policy) => (policy.clone(), Duration::ZERO),
            Value::Object(obj) => {
                self.unknown_fields(obj, RE_ENTRY_FIELDS, "entry.re_entry.");
                let policy = self.string(obj, "policy", true).unwrap_or_default();
                let cooldown = self
                    .duration(obj, "cooldown", "entry.re_entry.cooldown")
                    .unwrap_or(Duration::ZERO);
                (policy, cooldown)
            }
            _ => {
                self.problem(
                    "entry.re_entry",
                    "must be `never`, `after_exit` or { policy, cooldown }",
                );
                return ReEntry::Never;
            }
        };
        match policy.as_str() {
            "never" | "" => ReEntry::Never,
            "after_exit" => ReEntry::AfterExit { cooldown },
            other => {
                self.problem(
                    "entry.re_entry.policy",
                    format!("unknown policy {other:?} (expected never or after_exit)"),
                );
                ReEntry::Never
            }
        }
    }
}
