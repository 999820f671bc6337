//! Reads a journey document (already parsed from YAML or JSON) into the
//! [`Journey`] model, collecting every problem instead of stopping at the
//! first.

use std::collections::HashMap;

use chrono::NaiveTime;
use serde_json::{Map, Value};
use waymark_core::{Channel, Duration};

use crate::expr::Expr;
use crate::model::{
    Entry, Goal, Journey, Node, NodeIndex, NodeKind, ReEntry, Trigger, Variant, WaitFor,
};
use crate::problem::Problem;
use crate::shape;

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
const COMMON_NODE_FIELDS: &[&str] = &["id", "type", "description"];

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

/// A node whose edges still name their targets.
struct RawNode {
    id: String,
    /// `None` when the node's own fields had problems (already reported).
    kind: Option<NodeKind>,
    /// Whether the node is a wait, known from its type even when its fields are broken.
    is_wait: bool,
    targets: Vec<(String, String)>,
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

    fn nodes(&mut self, value: Option<&Value>) -> Option<Vec<Node>> {
        let Some(list) = value.and_then(Value::as_array) else {
            self.problem("nodes", "required: a list of nodes");
            return None;
        };
        if list.is_empty() {
            self.problem("nodes", "a journey needs at least one node");
            return None;
        }
        let mut raw = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, item) in list.iter().enumerate() {
            let Some(obj) = item.as_object() else {
                self.node = None;
                self.problem(
                    &format!("nodes[{i}]"),
                    "a node must be a mapping with id and type",
                );
                continue;
            };
            let id = match obj.get("id").and_then(Value::as_str) {
                Some(id) if !id.trim().is_empty() => id.to_owned(),
                _ => {
                    self.node = None;
                    self.problem(
                        &format!("nodes[{i}].id"),
                        "every node needs a non-empty string id",
                    );
                    continue;
                }
            };
            self.node = Some(id.clone());
            if seen.insert(id.clone(), i).is_some() {
                self.problem("id", "duplicate node id");
                continue;
            }
            if let Some(node) = self.node_kind(obj, id) {
                raw.push(node);
            }
        }
        self.node = None;
        self.resolve(raw)
    }

    fn node_kind(&mut self, obj: &Map<String, Value>, id: String) -> Option<RawNode> {
        let node_type = self.string(obj, "type", true)?;
        let mut targets = Vec::new();
        let (fields, kind): (&[&str], Option<NodeKind>) = match node_type.as_str() {
            "send" => {
                let channels = self.channels(obj);
                let template = self.string(obj, "template", true);
                let next = self.target(obj, "next", false, &mut targets);
                (
                    &["channel", "template", "next"],
                    template.map(|template| NodeKind::Send {
                        channels,
                        template: template.into(),
                        next,
                    }),
                )
            }
            "wait" => {
                let wait = match (obj.get("duration"), obj.get("until")) {
                    (Some(_), None) => self
                        .duration(obj, "duration", "duration")
                        .map(WaitFor::Duration),
                    (None, Some(_)) => self.time_of_day(obj).map(WaitFor::Until),
                    _ => {
                        self.problem("duration", "a wait needs exactly one of `duration` (e.g. 1h) or `until` (e.g. \"09:00\")");
                        None
                    }
                };
                let next = self.target(obj, "next", false, &mut targets);
                (
                    &["duration", "until", "next"],
                    wait.map(|wait| NodeKind::Wait { wait, next }),
                )
            }
            "wait_for_event" => {
                let event = self.string(obj, "event", true);
                let condition = self.expr(obj, "where", "where");
                let timeout = obj
                    .get("timeout")
                    .and_then(|_| self.duration(obj, "timeout", "timeout"));
                let on_event = self.target(obj, "on_event", false, &mut targets);
                let on_timeout = self.target(obj, "on_timeout", false, &mut targets);
                if obj.contains_key("timeout") != obj.contains_key("on_timeout") {
                    self.problem(
                        "on_timeout",
                        "`timeout` and `on_timeout` go together: give both or neither",
                    );
                }
                (
                    &["event", "where", "timeout", "on_event", "on_timeout"],
                    event.map(|event| NodeKind::WaitForEvent {
                        event,
                        condition,
                        timeout,
                        on_event,
                        on_timeout,
                    }),
                )
            }
            "branch" => {
                let branches = self.branches(obj, &mut targets);
                self.target(obj, "default", true, &mut targets);
                (
                    &["branches", "default"],
                    Some(NodeKind::Branch {
                        branches,
                        default: NodeIndex(usize::MAX),
                    }),
                )
            }
            "split" => {
                let variants = self.variants(obj, &mut targets);
                (&["variants"], Some(NodeKind::Split { variants }))
            }
            "update_profile" => {
                let set = match obj.get("set") {
                    Some(Value::Object(set)) if !set.is_empty() => set.clone(),
                    _ => {
                        self.problem("set", "required: a mapping of trait names to values");
                        Map::new()
                    }
                };
                let next = self.target(obj, "next", false, &mut targets);
                (
                    &["set", "next"],
                    Some(NodeKind::UpdateProfile { set, next }),
                )
            }
            "exit" => (&[], Some(NodeKind::Exit)),
            other => {
                self.problem(
                    "type",
                    format!("unknown node type {other:?} (expected send, wait, wait_for_event, branch, split, update_profile or exit)"),
                );
                return None;
            }
        };
        let allowed: Vec<&str> = COMMON_NODE_FIELDS.iter().chain(fields).copied().collect();
        self.unknown_fields(obj, &allowed, "");
        let is_wait = matches!(node_type.as_str(), "wait" | "wait_for_event");
        Some(RawNode {
            id,
            kind,
            is_wait,
            targets,
        })
    }

    /// Reads the name of a node an edge leads to; the edge is resolved to an
    /// index once every node is known.
    fn target(
        &mut self,
        obj: &Map<String, Value>,
        field: &str,
        required: bool,
        targets: &mut Vec<(String, String)>,
    ) -> Option<NodeIndex> {
        if let Some(target) = self.string(obj, field, required) {
            targets.push((field.to_owned(), target));
        }
        None
    }

    fn channels(&mut self, obj: &Map<String, Value>) -> Vec<Channel> {
        let names: Vec<String> = match obj.get("channel") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect(),
            _ => {
                self.problem(
                    "channel",
                    "required: a channel (email, sms, whatsapp, push, webhook) or a list of them",
                );
                return Vec::new();
            }
        };
        let mut channels = Vec::new();
        for name in names {
            match name.parse::<Channel>() {
                Ok(c) if channels.contains(&c) => {
                    self.problem("channel", format!("{c} is listed twice"))
                }
                Ok(c) => channels.push(c),
                Err(e) => self.problem("channel", e),
            }
        }
        channels
    }

    fn branches(
        &mut self,
        obj: &Map<String, Value>,
        targets: &mut Vec<(String, String)>,
    ) -> Vec<(Expr, NodeIndex)> {
        let Some(list) = obj
            .get("branches")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
        else {
            self.problem("branches", "required: a list of { when, next }");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let field = format!("branches[{i}]");
            let Some(arm) = item.as_object() else {
                self.problem(&field, "must be a mapping with `when` and `next`");
                continue;
            };
            self.unknown_fields(arm, &["when", "next"], &format!("{field}."));
            let when = match arm.get("when") {
                None => {
                    self.problem(&format!("{field}.when"), "required: a CEL condition");
                    None
                }
                Some(_) => self.expr(arm, "when", &format!("{field}.when")),
            };
            match arm.get("next").and_then(Value::as_str) {
                Some(next) => targets.push((format!("{field}.next"), next.to_owned())),
                None => self.problem(&format!("{field}.next"), "required: the node to go to"),
            }
            if let Some(when) = when {
                out.push((when, NodeIndex(usize::MAX)));
            }
        }
        out
    }

    fn variants(
        &mut self,
        obj: &Map<String, Value>,
        targets: &mut Vec<(String, String)>,
    ) -> Vec<Variant> {
        let Some(list) = obj
            .get("variants")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
        else {
            self.problem("variants", "required: a list of { weight, next }");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let field = format!("variants[{i}]");
            let Some(arm) = item.as_object() else {
                self.problem(&field, "must be a mapping with `weight` and `next`");
                continue;
            };
            self.unknown_fields(arm, &["name", "weight", "next"], &format!("{field}."));
            let weight = match arm.get("weight").and_then(Value::as_u64) {
                Some(w) if w > 0 && w <= 1_000_000 => w as u32,
                _ => {
                    self.problem(
                        &format!("{field}.weight"),
                        "required: a whole number above 0",
                    );
                    continue;
                }
            };
            let Some(next) = arm.get("next").and_then(Value::as_str) else {
                self.problem(&format!("{field}.next"), "required: the node to go to");
                continue;
            };
            targets.push((format!("{field}.next"), next.to_owned()));
            let name = arm
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(next)
                .into();
            out.push(Variant {
                name,
                weight,
                next: NodeIndex(usize::MAX),
            });
        }
        out
    }

    /// Turns target names into indices, checks the shape of the graph
    /// (unknown targets, unreachable nodes, cycles without a wait) and builds
    /// the nodes when nothing is wrong.
    fn resolve(&mut self, raw: Vec<RawNode>) -> Option<Vec<Node>> {
        let index: HashMap<&str, usize> = raw
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let mut edges: Vec<Vec<(String, NodeIndex)>> = Vec::with_capacity(raw.len());
        for node in &raw {
            let mut resolved = Vec::new();
            for (field, target) in &node.targets {
                match index.get(target.as_str()) {
                    Some(&i) => resolved.push((field.clone(), NodeIndex(i))),
                    None => self.problems.push(Problem::node(
                        &node.id,
                        field.clone(),
                        format!("unknown node `{target}`"),
                    )),
                }
            }
            edges.push(resolved);
        }
        self.problems.extend(shape::check(
            &raw.iter()
                .map(|n| (n.id.as_str(), n.is_wait))
                .collect::<Vec<_>>(),
            &edges,
        ));
        let mut nodes = Vec::with_capacity(raw.len());
        for (node, resolved) in raw.into_iter().zip(&edges) {
            let lookup = |name: &str| resolved.iter().find(|(f, _)| f == name).map(|(_, i)| *i);
            let mut kind = node.kind?;
            match &mut kind {
                NodeKind::Send { next, .. }
                | NodeKind::Wait { next, .. }
                | NodeKind::UpdateProfile { next, .. } => {
                    *next = lookup("next");
                }
                NodeKind::WaitForEvent {
                    on_event,
                    on_timeout,
                    ..
                } => {
                    *on_event = lookup("on_event");
                    *on_timeout = lookup("on_timeout");
                }
                NodeKind::Branch { branches, default } => {
                    for (i, (_, next)) in branches.iter_mut().enumerate() {
                        *next = lookup(&format!("branches[{i}].next"))?;
                    }
                    *default = lookup("default")?;
                }
                NodeKind::Split { variants } => {
                    for (i, v) in variants.iter_mut().enumerate() {
                        v.next = lookup(&format!("variants[{i}].next"))?;
                    }
                }
                NodeKind::Exit => {}
            }
            nodes.push(Node {
                id: node.id.into(),
                kind,
            });
        }
        Some(nodes)
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
