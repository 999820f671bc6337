//! Decoding the nodes that choose for each person: a send's channels
//! (`channel: email`, a list tried in order, `best` or `{ best_of: [...] }`)
//! and `optimize` nodes.

use serde_json::{Map, Value};
use waymark_core::Channel;

use super::Decoder;
use crate::model::{NodeIndex, OptimizeGoal, Variant};

/// The channels `channel: best` chooses among, ties going to the first.
pub const BEST_CHANNELS: [Channel; 3] = [Channel::Email, Channel::Push, Channel::Sms];

/// `explore` when a node says nothing: a tenth of entrants spread evenly.
const DEFAULT_EXPLORE_BP: u32 = 1_000;

/// How long after the choice an `optimize` node's own goal event counts.
const DEFAULT_GOAL_WINDOW: &str = "7d";

impl Decoder {
    /// A send's channels, and whether the best of them is chosen.
    pub(super) fn channels(&mut self, obj: &Map<String, Value>) -> (Vec<Channel>, bool) {
        const EXPECTED: &str = "required: a channel (email, sms, whatsapp, push, webhook), a list of them, `best` or { best_of: [...] }";
        let (names, best): (Vec<String>, bool) = match obj.get("channel") {
            Some(Value::String(s)) if s == "best" => {
                return (BEST_CHANNELS.to_vec(), true);
            }
            Some(Value::String(s)) => (vec![s.clone()], false),
            Some(Value::Array(items)) if !items.is_empty() => (names_of(items), false),
            Some(Value::Object(choice)) => {
                self.unknown_fields(choice, &["best_of"], "channel.");
                match choice.get("best_of") {
                    Some(Value::Array(items)) if items.len() >= 2 => (names_of(items), true),
                    _ => {
                        self.problem(
                            "channel.best_of",
                            "required: a list of at least two channels",
                        );
                        return (Vec::new(), true);
                    }
                }
            }
            _ => {
                self.problem("channel", EXPECTED);
                return (Vec::new(), false);
            }
        };
        let field = if best { "channel.best_of" } else { "channel" };
        let mut channels = Vec::new();
        for name in names {
            match name.parse::<Channel>() {
                Ok(c) if channels.contains(&c) => {
                    self.problem(field, format!("{c} is listed twice"))
                }
                Ok(Channel::Webhook) if best => self.problem(
                    field,
                    "webhook has no engagement to compare: list messaging channels",
                ),
                Ok(c) => channels.push(c),
                Err(e) => self.problem(field, e),
            }
        }
        (channels, best)
    }

    /// An `optimize` node's variants (each with a `name` and `next`), its
    /// goal and its exploration share.
    pub(super) fn optimize(
        &mut self,
        obj: &Map<String, Value>,
        targets: &mut Vec<(String, String)>,
    ) -> Option<(Vec<Variant>, OptimizeGoal, u32)> {
        let variants = self.optimize_variants(obj, targets);
        let goal = match obj.get("goal") {
            Some(Value::String(g)) if g == "journey" => {
                if !self.has_goal {
                    self.problem(
                        "goal",
                        "`goal: journey` needs the journey's `goal` (or name an event)",
                    );
                }
                if obj.contains_key("within") {
                    self.problem(
                        "within",
                        "the journey's goal has its own window (goal.within)",
                    );
                }
                Some(OptimizeGoal::Journey)
            }
            Some(Value::String(event)) if !event.trim().is_empty() => {
                let within = match obj.get("within") {
                    Some(_) => self.duration(obj, "within", "within"),
                    None => DEFAULT_GOAL_WINDOW.parse().ok(),
                };
                within.map(|within| OptimizeGoal::Event {
                    name: event.clone(),
                    within,
                })
            }
            _ => {
                self.problem(
                    "goal",
                    "required: `journey` (the journey's goal) or an event name",
                );
                None
            }
        };
        let explore_bp = match obj.get("explore") {
            None => Some(DEFAULT_EXPLORE_BP),
            Some(value) => {
                let percent = match value {
                    Value::String(s) => s
                        .trim()
                        .strip_suffix('%')
                        .and_then(|p| p.trim().parse::<f64>().ok()),
                    _ => None,
                };
                match percent {
                    Some(p) if (0.0..=100.0).contains(&p) => Some((p * 100.0).round() as u32),
                    _ => {
                        self.problem(
                            "explore",
                            format!(
                                "{value} is not a percentage between 0% and 100% (e.g. \"10%\")"
                            ),
                        );
                        None
                    }
                }
            }
        };
        if variants.len() < 2 {
            return None;
        }
        Some((variants, goal?, explore_bp?))
    }

    fn optimize_variants(
        &mut self,
        obj: &Map<String, Value>,
        targets: &mut Vec<(String, String)>,
    ) -> Vec<Variant> {
        let Some(list) = obj.get("variants").and_then(Value::as_array) else {
            self.problem("variants", "required: a list of { name, next }");
            return Vec::new();
        };
        if list.len() < 2 {
            self.problem("variants", "an optimize node needs at least two variants");
        }
        let mut out: Vec<Variant> = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let field = format!("variants[{i}]");
            let Some(arm) = item.as_object() else {
                self.problem(&field, "must be a mapping with `name` and `next`");
                continue;
            };
            self.unknown_fields(arm, &["name", "next"], &format!("{field}."));
            let Some(next) = arm.get("next").and_then(Value::as_str) else {
                self.problem(&format!("{field}.next"), "required: the node to go to");
                continue;
            };
            targets.push((format!("{field}.next"), next.to_owned()));
            let name: std::sync::Arc<str> = arm
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(next)
                .into();
            if out.iter().any(|v| v.name == name) {
                self.problem(
                    &format!("{field}.name"),
                    format!("variant {name:?} is named twice"),
                );
            }
            out.push(Variant {
                name,
                weight: 1,
                next: NodeIndex(usize::MAX),
            });
        }
        out
    }
}

fn names_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}
