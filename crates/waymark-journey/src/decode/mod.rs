//! Reads a journey document (already parsed from YAML or JSON) into the
//! [`Journey`] model, collecting every problem instead of stopping at the
//! first.

use chrono::NaiveTime;
use serde_json::{Map, Value};
use waymark_core::Duration;

use crate::expr::Expr;
use crate::model::{Entry, Goal, Journey, ReEntry, Trigger};
use crate::problem::Problem;

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
    "nodes",
];
const ENTRY_FIELDS: &[&str] = &["event", "segment", "api", "where", "audience", "re_entry"];
const GOAL_FIELDS: &[&str] = &["event", "within", "value"];
const RE_ENTRY_FIELDS: &[&str] = &["policy", "cooldown"];

/// Decodes a document into a journey, or every problem found.
pub fn decode(doc: &Value) -> Result<Journey, Vec<Problem>> {
    let mut d = Decoder {
        problems: Vec::new(),
        node: None,
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
        let exit_on = self.string_list(obj, "exit_on");
        let goal = obj.get("goal").and_then(|g| self.goal(g));
        let holdout_bp = obj.get("holdout").map_or(0, |h| self.holdout(h));
        let nodes = self.nodes(obj.get("nodes"));
        let journey = Journey {
            id: id.into(),
            name,
            version: 1,
            entry: entry?,
            exit_on,
            goal,
            holdout_bp,
            nodes: nodes?,
        };
        Some(journey)
    }

    fn entry(&mut self, value: Option<&Value>) -> Option<Entry> {
        let Some(obj) = value.and_then(Value::as_object) else {
            self.problem(
                "entry",
                "required: a mapping with `event`, `segment` or `api`",
            );
            return None;
        };
        self.unknown_fields(obj, ENTRY_FIELDS, "entry.");
        let mut triggers = Vec::new();
        if let Some(event) = self.string(obj, "event", false) {
            triggers.push(Trigger::Event(event));
        }
        if let Some(expr) = self.expr(obj, "segment", "entry.segment") {
            triggers.push(Trigger::Segment(expr));
        }
        match obj.get("api") {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => triggers.push(Trigger::Api),
            Some(_) => self.problem("entry.api", "must be true or false"),
        }
        let trigger = match triggers.len() {
            1 => triggers.pop(),
            0 => {
                self.problem("entry", "needs one of `event`, `segment` or `api: true`");
                None
            }
            _ => {
                self.problem("entry", "give only one of `event`, `segment` or `api`");
                None
            }
        };
        let condition = self.expr(obj, "where", "entry.where");
        let audience = self.expr(obj, "audience", "entry.audience");
        let re_entry = match obj.get("re_entry") {
            None => ReEntry::Never,
            Some(v) => self.re_entry(v),
        };
        Some(Entry {
            trigger: trigger?,
            condition,
            audience,
            re_entry,
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
            "never" => ReEntry::Never,
            "after_exit" => ReEntry::AfterExit { cooldown },
            "" => ReEntry::Never,
            other => {
                self.problem(
                    "entry.re_entry.policy",
                    format!("unknown policy {other:?} (expected never or after_exit)"),
                );
                ReEntry::Never
            }
        }
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

    fn string_list(&mut self, obj: &Map<String, Value>, field: &str) -> Vec<String> {
        match obj.get(field) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(_) => {
                self.problem(field, "must be an event name or a list of event names");
                Vec::new()
            }
        }
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

    fn time_of_day(&mut self, obj: &Map<String, Value>) -> Option<NaiveTime> {
        let text = obj.get("until").and_then(Value::as_str).unwrap_or_default();
        let parsed = match text.len() {
            5 => NaiveTime::parse_from_str(text, "%H:%M"),
            _ => NaiveTime::parse_from_str(text, "%H:%M:%S"),
        };
        match parsed {
            Ok(t) => Some(t),
            Err(_) => {
                self.problem(
                    "until",
                    format!(
                        "{} is not a local time of day HH:MM or HH:MM:SS (e.g. \"09:00\")",
                        obj["until"]
                    ),
                );
                None
            }
        }
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
