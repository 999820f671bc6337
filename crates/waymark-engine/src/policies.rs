//! Workspace policies, the guardrails every send passes: frequency caps,
//! quiet hours, suppression windows after events, and subscription topics
//! with their defaults. Read from a config's `[policies]` section
//! ([`PoliciesSection`]) and checked whole ([`PoliciesSection::check`]).

use std::collections::BTreeMap;

use chrono::NaiveTime;
use serde::Deserialize;
use waymark_core::{Channel, Duration};

/// The policies the engine enforces (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies {
    pub caps: Vec<Cap>,
    pub quiet_hours: Option<QuietHours>,
    pub suppress_after: Vec<SuppressAfter>,
    /// Subscription topics and whether a person who said nothing is in.
    pub topics: BTreeMap<String, TopicDefault>,
}

/// At most `max` sends on `channel` (any: `None`), about `topic` if set,
/// per window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cap {
    pub channel: Option<Channel>,
    pub topic: Option<String>,
    pub max: u32,
    pub per: Window,
}

/// A cap's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `Duration` (rolling).
    Rolling(Duration),
    /// The person's local calendar day.
    Day,
    /// The person's local calendar week (Monday to Sunday).
    Week,
}

/// No non-transactional send between `from` and `to`, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
    pub action: QuietAction,
}

/// What happens to a send in quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietAction {
    /// Held until quiet hours end, then checked again.
    Defer,
    /// Not sent (`suppressed`, reason `quiet_hours`).
    Skip,
}

/// No non-transactional send for `for_` after the person's `event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressAfter {
    pub event: String,
    pub for_: Duration,
}

/// A topic's answer for a person who said nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicDefault {
    OptIn,
    OptOut,
}

impl Policies {
    /// How far back the send history must reach for every cap.
    pub fn history_horizon(&self) -> Duration {
        self.caps
            .iter()
            .map(|cap| match cap.per {
                Window::Rolling(d) => d,
                // A local day or week, whatever the offset.
                Window::Day => Duration::from_days(2),
                Window::Week => Duration::from_days(8),
            })
            .max()
            .unwrap_or(Duration::ZERO)
    }

    pub fn is_empty(&self) -> bool {
        self.caps.is_empty()
            && self.quiet_hours.is_none()
            && self.suppress_after.is_empty()
            && self.topics.is_empty()
    }
}

/// `[policies]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesSection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<CapSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHoursSection>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppress_after: Vec<SuppressAfterSection>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub topics: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CapSection {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub max: i64,
    pub per: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSection {
    pub from: String,
    pub to: String,
    #[serde(default = "defer")]
    pub action: String,
}

fn defer() -> String {
    "defer".to_owned()
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressAfterSection {
    pub event: String,
    #[serde(rename = "for")]
    pub for_: String,
}

impl PoliciesSection {
    /// The policies, or every problem found, each naming its key.
    pub fn check(&self) -> Result<Policies, Vec<String>> {
        let mut problems = Vec::new();
        let mut topics = BTreeMap::new();
        for (name, default) in &self.topics {
            match default.as_str() {
                "opt_in" => {
                    topics.insert(name.clone(), TopicDefault::OptIn);
                }
                "opt_out" => {
                    topics.insert(name.clone(), TopicDefault::OptOut);
                }
                other => problems.push(format!(
                    "policies.topics.{name}: {other:?} is neither \"opt_in\" nor \"opt_out\""
                )),
            }
        }
        let mut caps = Vec::new();
        for (i, cap) in self.caps.iter().enumerate() {
            let key = format!("policies.caps[{i}]");
            let channel = match cap.channel.as_str() {
                "any" => Some(None),
                name => match name.parse::<Channel>() {
                    Ok(c) => Some(Some(c)),
                    Err(_) => {
                        problems.push(format!(
                            "{key}.channel: unknown channel {name:?} (any, email, sms, whatsapp, push, webhook)"
                        ));
                        None
                    }
                },
            };
            if let Some(topic) = cap.topic.as_ref().filter(|t| !self.topics.contains_key(*t)) {
                problems.push(format!(
                    "{key}.topic: unknown topic {topic:?} (not in policies.topics)"
                ));
            }
            let max = match u32::try_from(cap.max) {
                Ok(max) if max > 0 => Some(max),
                _ => {
                    problems.push(format!("{key}.max: must be at least 1, found {}", cap.max));
                    None
                }
            };
            let per = match cap.per.as_str() {
                "day" => Some(Window::Day),
                "week" => Some(Window::Week),
                text => match text.parse::<Duration>() {
                    Ok(d) if d > Duration::ZERO => Some(Window::Rolling(d)),
                    Ok(_) => {
                        problems.push(format!("{key}.per: a window must be longer than 0s"));
                        None
                    }
                    Err(e) => {
                        problems.push(format!("{key}.per: {e} (or \"day\", \"week\")"));
                        None
                    }
                },
            };
            if let (Some(channel), Some(max), Some(per)) = (channel, max, per) {
                caps.push(Cap {
                    channel,
                    topic: cap.topic.clone(),
                    max,
                    per,
                });
            }
        }
        let quiet_hours = self.quiet_hours.as_ref().and_then(|q| {
            let time = |field: &str, text: &str, problems: &mut Vec<String>| {
                let parsed = NaiveTime::parse_from_str(text, "%H:%M")
                    .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"));
                if parsed.is_err() {
                    problems.push(format!(
                        "policies.quiet_hours.{field}: {text:?} is not a time of day HH:MM"
                    ));
                }
                parsed.ok()
            };
            let from = time("from", &q.from, &mut problems);
            let to = time("to", &q.to, &mut problems);
            if from.is_some() && from == to {
                problems.push("policies.quiet_hours: `from` and `to` are the same time".to_owned());
            }
            let action = match q.action.as_str() {
                "defer" => Some(QuietAction::Defer),
                "skip" => Some(QuietAction::Skip),
                other => {
                    problems.push(format!(
                        "policies.quiet_hours.action: {other:?} is neither \"defer\" nor \"skip\""
                    ));
                    None
                }
            };
            Some(QuietHours {
                from: from?,
                to: to.filter(|t| Some(*t) != from)?,
                action: action?,
            })
        });
        let mut suppress_after = Vec::new();
        for (i, s) in self.suppress_after.iter().enumerate() {
            if s.event.trim().is_empty() {
                problems.push(format!("policies.suppress_after[{i}].event: required"));
            }
            match s.for_.parse::<Duration>() {
                Ok(d) if d > Duration::ZERO => suppress_after.push(SuppressAfter {
                    event: s.event.clone(),
                    for_: d,
                }),
                Ok(_) => problems.push(format!(
                    "policies.suppress_after[{i}].for: must be longer than 0s"
                )),
                Err(e) => problems.push(format!("policies.suppress_after[{i}].for: {e}")),
            }
        }
        if problems.is_empty() {
            Ok(Policies {
                caps,
                quiet_hours,
                suppress_after,
                topics,
            })
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed_with_its_key() {
        let section = PoliciesSection {
            caps: vec![
                CapSection {
                    channel: "fax".into(),
                    topic: Some("deals".into()),
                    max: 0,
                    per: "-1d".into(),
                },
                CapSection {
                    channel: "any".into(),
                    topic: None,
                    max: 3,
                    per: "day".into(),
                },
            ],
            quiet_hours: Some(QuietHoursSection {
                from: "21:00".into(),
                to: "21:00".into(),
                action: "later".into(),
            }),
            suppress_after: vec![SuppressAfterSection {
                event: "Complaint Filed".into(),
                for_: "soon".into(),
            }],
            topics: BTreeMap::from([("promotions".into(), "maybe".into())]),
        };
        let problems = section.check().unwrap_err().join("\n");
        for fragment in [
            "policies.caps[0].channel: unknown channel \"fax\"",
            "policies.caps[0].topic: unknown topic \"deals\"",
            "policies.caps[0].max: must be at least 1",
            "policies.caps[0].per:",
            "policies.quiet_hours: `from` and `to` are the same time",
            "policies.quiet_hours.action",
            "policies.suppress_after[0].for",
            "policies.topics.promotions",
        ] {
            assert!(
                problems.contains(fragment),
                "missing {fragment:?} in\n{problems}"
            );
        }
        assert_eq!(problems.lines().count(), 8, "{problems}");
    }
}
