//! Reads a journey document (already parsed from YAML or JSON) into the
//! [`Journey`] model, collecting every problem instead of stopping at the
//! first.

use chrono::NaiveTime;
use serde_json::{Map, Value};
use waymark_core::Duration;

use crate::expr::Expr;
use crate::model::{Goal, Journey, WaitFor};
use crate::problem::Problem;

mod choose;

pub use choose::BEST_CHANNELS;
mod entry;
mod nodes;

use nodes::COMMON_NODE_FIELDS;

const JOURNEY_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "entry",
    "exit_on",
    "goal",
    "holdout",
    "transactional",
    "topic",
    "nodes",
];
const GOAL_FIELDS: &[&str] = &["event", "within", "value"];

/// Decodes a document into a journey, or every problem found.
pub fn decode(doc: &Value) -> Result<Journey, Vec<Problem>> {
    let mut d = Decoder {
        problems: Vec::new(),
        node: None,
        has_goal: false,
    };
    let journey = d.journey(doc);
    match journey {
        Some(j) if d.problems.is_empty() => Ok(j),
        _ => Err(d.problems),
    }
}

struct Decoder {
    problems: Vec<Problem>,
    /// The node being decoded, for locating problems.
    node: Option<String>,
    /// Whether the journey has a `goal` (for `optimize` nodes that use it).
    has_goal: bool,
}

impl Decoder {
    fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            node: self.node.clone(),
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn journey(&mut self, doc: &Value) -> Option<Journey> {
        let Some(obj) = doc.as_object() else {
            self.problem("", "a journey must be a mapping with id, entry and nodes");
            return None;
        };
        self.unknown_fields(obj, JOURNEY_FIELDS, "");
        let id = self.string(obj, "id", true).unwrap_or_default();
        if id.chars().any(char::is_whitespace) {
            self.problem("id", format!("{id:?} must not contain spaces"));
        }
        let name = self
            .string(obj, "name", false)
            .unwrap_or_else(|| id.clone());
        let entry = self.entry(obj.get("entry"));
        let (exit_on, exit_on_segment) = self.exit_on(obj);
        let goal = obj.get("goal").and_then(|g| self.goal(g));
        self.has_goal = obj.contains_key("goal");
        let holdout_bp = obj.get("holdout").map_or(0, |h| self.holdout(h));
        let transactional = match obj.get("transactional") {
            None | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(other) => {
                self.problem(
                    "transactional",
                    format!("must be true or false, found {other}"),
                );
                false
            }
        };
        let topic = self.string(obj, "topic", false).map(Into::into);
        let nodes = self.nodes(obj.get("nodes"));
        let journey = Journey {
            id: id.into(),
            name,
            version: 1,
            entry: entry?,
            exit_on,
            exit_on_segment,
            goal,
            holdout_bp,
            transactional,
            topic,
            nodes: nodes?,
        };
        Some(journey)
    }

    fn goal(&mut self, value: &Value) -> Option<Goal> {
        let Some(obj) = value.as_object() else {
            self.problem("goal", "must be a mapping with event, within and value");
            return None;
        };
        self.unknown_fields(obj, GOAL_FIELDS, "goal.");
        let event = self.string(obj, "event", true);
        let within = match obj.get("within") {
            None => {
                self.problem(
                    "goal.within",
                    "required: how long after entry a conversion counts (e.g. 7d)",
                );
                None
            }
            Some(_) => self.duration(obj, "within", "goal.within"),
        };
        let value = self.expr(obj, "value", "goal.value");
        Some(Goal {
            event: event?,
            within: within?,
            value,
        })
    }

    fn holdout(&mut self, value: &Value) -> u32 {
        let percent = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
            _ => None,
        };
        match percent {
            Some(p) if (0.0..=100.0).contains(&p) => (p * 100.0).round() as u32,
            _ => {
                self.problem(
                    "holdout",
                    format!("{value} is not a percentage between 0% and 100%"),
                );
                0
            }
        }
    }

    fn unknown_fields(&mut self, obj: &Map<String, Value>, allowed: &[&str], prefix: &str) {
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = if allowed == COMMON_NODE_FIELDS {
                    "this node takes no fields besides id, type and description".to_owned()
                } else {
                    format!("expected one of {}", allowed.join(", "))
                };
                self.problem(&format!("{prefix}{key}"), format!("unknown field ({hint})"));
            }
        }
    }

    fn string(&mut self, obj: &Map<String, Value>, field: &str, required: bool) -> Option<String> {
        match obj.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            None | Some(Value::Null) if !required => None,
            None | Some(Value::Null) => {
                self.problem(field, "required");
                None
            }
            Some(other) => {
                self.problem(field, format!("must be a non-empty string, found {other}"));
                None
            }
        }
    }

    /// `exit_on`: event names and `{ segment_exit: id }` items.
    fn exit_on(&mut self, obj: &Map<String, Value>) -> (Vec<String>, Vec<std::sync::Arc<str>>) {
        let items = match obj.get("exit_on") {
            None | Some(Value::Null) => return (Vec::new(), Vec::new()),
            Some(Value::Array(items)) => items.clone(),
            Some(one) => vec![one.clone()],
        };
        let mut events = Vec::new();
        let mut segments = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(name) if !name.trim().is_empty() => events.push(name.clone()),
                Value::Object(m) if m.len() == 1 && m.contains_key("segment_exit") => {
                    match m["segment_exit"].as_str() {
                        Some(id) if crate::segment::is_segment_id(id) => segments.push(id.into()),
                        _ => self.problem(
                            &format!("exit_on[{i}].segment_exit"),
                            format!("{} is not a segment id", m["segment_exit"]),
                        ),
                    }
                }
                other => self.problem(
                    &format!("exit_on[{i}]"),
                    format!(
                        "{other} is neither an event name nor {{ segment_exit: <segment id> }}"
                    ),
                ),
            }
        }
        (events, segments)
    }

    fn duration(&mut self, obj: &Map<String, Value>, key: &str, field: &str) -> Option<Duration> {
        match obj.get(key) {
            Some(Value::String(s)) => match s.parse::<Duration>() {
                Ok(d) => Some(d),
                Err(e) => {
                    self.problem(field, e.to_string());
                    None
                }
            },
            Some(other) => {
                self.problem(
                    field,
                    format!(
                        "invalid duration {other} (expected a string such as 30s, 15m, 1h, 7d)"
                    ),
                );
                None
            }
            None => None,
        }
    }

    /// A local time of day, `HH:MM` or `HH:MM:SS`, at `obj[key]`.
    fn time_of_day(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        field: &str,
    ) -> Option<NaiveTime> {
        let text = obj.get(key).and_then(Value::as_str).unwrap_or_default();
        let parsed = match text.len() {
            5 => NaiveTime::parse_from_str(text, "%H:%M"),
            _ => NaiveTime::parse_from_str(text, "%H:%M:%S"),
        };
        match parsed {
            Ok(t) => Some(t),
            Err(_) => {
                self.problem(
                    field,
                    format!(
                        "{} is not a local time of day HH:MM or HH:MM:SS (e.g. \"09:00\")",
                        obj.get(key).unwrap_or(&Value::Null)
                    ),
                );
                None
            }
        }
    }

    /// `until: best_time`, with `within` (24h unless given; 1h to 7d) and
    /// `default` (10:00 unless given).
    fn best_time(&mut self, obj: &Map<String, Value>) -> Option<WaitFor> {
        let within = match obj.get("within") {
            Some(_) => self.duration(obj, "within", "within")?,
            None => "24h".parse().ok()?,
        };
        let delta = within.to_delta();
        if delta < chrono::TimeDelta::hours(1) || delta > chrono::TimeDelta::days(7) {
            self.problem("within", format!("{within} is not between 1h and 7d"));
            return None;
        }
        let default = match obj.get("default") {
            Some(_) => self.time_of_day(obj, "default", "default")?,
            None => NaiveTime::from_hms_opt(10, 0, 0)?,
        };
        Some(WaitFor::BestTime { within, default })
    }

    fn expr(&mut self, obj: &Map<String, Value>, key: &str, field: &str) -> Option<Expr> {
        match obj.get(key)? {
            Value::String(source) => match Expr::compile(source) {
                Ok(e) => Some(e),
                Err(e) => {
                    self.problem(field, format!("CEL does not compile: {e}"));
                    None
                }
            },
            Value::Bool(b) => Expr::compile(if *b { "true" } else { "false" }).ok(),
            other => {
                self.problem(
                    field,
                    format!("must be a CEL expression string, found {other}"),
                );
                None
            }
        }
    }
}
