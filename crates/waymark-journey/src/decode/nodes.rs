//! Decoding a journey's nodes: each node's kind and fields, then its
//! edges resolved from target ids to node indices and the graph's shape
//! checked.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::Decoder;
use crate::expr::Expr;
use crate::model::{Node, NodeIndex, NodeKind, Variant, WaitFor};
use crate::problem::Problem;
use crate::shape;

pub(super) const COMMON_NODE_FIELDS: &[&str] = &["id", "type", "description"];

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
    pub(super) fn nodes(&mut self, value: Option<&Value>) -> Option<Vec<Node>> {
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
                let (channels, best) = self.channels(obj);
                let template = self.string(obj, "template", true);
                let topic = self.string(obj, "topic", false).map(Into::into);
                let next = self.target(obj, "next", false, &mut targets);
                (
                    &["channel", "template", "topic", "next"],
                    template.map(|template| NodeKind::Send {
                        channels,
                        best,
                        template: template.into(),
                        topic,
                        next,
                    }),
                )
            }
            "wait" => {
                let best = obj.get("until").and_then(Value::as_str) == Some("best_time");
                if !best {
                    for key in ["within", "default"] {
                        if obj.contains_key(key) {
                            self.problem(key, format!("`{key}` goes with `until: best_time` only"));
                        }
                    }
                }
                let wait = match (obj.get("duration"), obj.get("until")) {
                    (Some(_), None) => self
                        .duration(obj, "duration", "duration")
                        .map(WaitFor::Duration),
                    (None, Some(_)) if best => self.best_time(obj),
                    (None, Some(_)) => self.time_of_day(obj, "until", "until").map(WaitFor::Until),
                    _ => {
                        self.problem("duration", "a wait needs exactly one of `duration` (e.g. 1h) or `until` (e.g. \"09:00\")");
                        None
                    }
                };
                let next = self.target(obj, "next", false, &mut targets);
                (
                    &["duration", "until", "within", "default", "next"],
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
            "wait_for_segment" => {
                let segment = match obj.get("segment") {
                    Some(Value::String(id)) if crate::segment::is_segment_id(id) => {
                        Some(std::sync::Arc::from(id.as_str()))
                    }
                    other => {
                        self.problem(
                            "segment",
                            format!(
                                "required: a segment id, found {}",
                                other.unwrap_or(&Value::Null)
                            ),
                        );
                        None
                    }
                };
                let timeout = obj
                    .get("timeout")
                    .and_then(|_| self.duration(obj, "timeout", "timeout"));
                let on_enter = self.target(obj, "on_enter", false, &mut targets);
                let on_timeout = self.target(obj, "on_timeout", false, &mut targets);
                if obj.contains_key("timeout") != obj.contains_key("on_timeout") {
                    self.problem(
                        "on_timeout",
                        "`timeout` and `on_timeout` go together: give both or neither",
                    );
                }
                (
                    &["segment", "timeout", "on_enter", "on_timeout"],
                    segment.map(|segment| NodeKind::WaitForSegment {
                        segment,
                        timeout,
                        on_enter,
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
            "optimize" => {
                let optimize = self.optimize(obj, &mut targets);
                (
                    &["variants", "goal", "explore", "within"],
                    optimize.map(|(variants, goal, explore_bp)| NodeKind::Optimize {
                        variants,
                        goal,
                        explore_bp,
                    }),
                )
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
                    format!("unknown node type {other:?} (expected send, wait, wait_for_event, wait_for_segment, branch, split, optimize, update_profile or exit)"),
                );
                return None;
            }
        };
        let allowed: Vec<&str> = COMMON_NODE_FIELDS.iter().chain(fields).copied().collect();
        self.unknown_fields(obj, &allowed, "");
        let is_wait = matches!(
            node_type.as_str(),
            "wait" | "wait_for_event" | "wait_for_segment"
        );
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
                NodeKind::WaitForSegment {
                    on_enter,
                    on_timeout,
                    ..
                } => {
                    *on_enter = lookup("on_enter");
                    *on_timeout = lookup("on_timeout");
                }
                NodeKind::Branch { branches, default } => {
                    for (i, (_, next)) in branches.iter_mut().enumerate() {
                        *next = lookup(&format!("branches[{i}].next"))?;
                    }
                    *default = lookup("default")?;
                }
                NodeKind::Split { variants } | NodeKind::Optimize { variants, .. } => {
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
}
