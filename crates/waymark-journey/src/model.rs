//! The journey model after loading and validation: nodes refer to each other
//! by index, expressions are compiled, durations parsed.

use std::sync::Arc;

use chrono::NaiveTime;
use serde_json::{Map, Value};
use waymark_core::{Channel, Duration};

use crate::expr::Expr;

/// A validated journey definition.
#[derive(Debug, Clone)]
pub struct Journey {
    pub id: Arc<str>,
    pub name: String,
    /// Assigned on deploy; `1` for a journey read straight from a file.
    pub version: u32,
    pub entry: Entry,
    pub exit_on: Vec<String>,
    pub goal: Option<Goal>,
    /// Share of entrants held out as a control group, in basis points (1% = 100).
    pub holdout_bp: u32,
    /// Nodes in file order; the first is where entrants start.
    pub nodes: Vec<Node>,
}

impl Journey {
    /// The index of the node with this id.
    pub fn node_index(&self, id: &str) -> Option<NodeIndex> {
        self.nodes.iter().position(|n| &*n.id == id).map(NodeIndex)
    }

    pub fn node(&self, index: NodeIndex) -> &Node {
        &self.nodes[index.0]
    }

    /// The names of every template the journey's `send` nodes use.
    pub fn templates(&self) -> impl Iterator<Item = (&Node, &str)> {
        self.nodes.iter().filter_map(|n| match &n.kind {
            NodeKind::Send { template, .. } => Some((n, &**template)),
            _ => None,
        })
    }
}

/// A position in [`Journey::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIndex(pub usize);

/// How people enter a journey.
#[derive(Debug, Clone)]
pub struct Entry {
    pub trigger: Trigger,
    /// CEL over the entering event (and profile).
    pub condition: Option<Expr>,
    /// CEL over the profile.
    pub audience: Option<Expr>,
    pub re_entry: ReEntry,
}

/// What makes a person enter.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// A `track` event with this name (`Page Viewed`, `Screen Viewed` for pages and screens).
    Event(String),
    /// The profile starts matching this CEL condition (checked when its traits change).
    Segment(Expr),
    /// Only an explicit API call.
    Api,
}

/// Whether someone who already went through the journey may enter again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReEntry {
    /// Once per profile, ever (the default).
    Never,
    /// Again once the previous instance has ended and `cooldown` has passed since.
    AfterExit { cooldown: Duration },
}

/// The conversion a journey is measured by.
#[derive(Debug, Clone)]
pub struct Goal {
    pub event: String,
    pub within: Duration,
    pub value: Option<Expr>,
}

/// One step of a journey.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: Arc<str>,
    pub kind: NodeKind,
}

/// What a node does, and where it leads. `next: None` ends the instance.
#[derive(Debug, Clone)]
pub enum NodeKind {
    Send {
        channels: Vec<Channel>,
        template: Arc<str>,
        next: Option<NodeIndex>,
    },
    Wait {
        wait: WaitFor,
        next: Option<NodeIndex>,
    },
    WaitForEvent {
        event: String,
        condition: Option<Expr>,
        timeout: Option<Duration>,
        on_event: Option<NodeIndex>,
        on_timeout: Option<NodeIndex>,
    },
    Branch {
        branches: Vec<(Expr, NodeIndex)>,
        default: NodeIndex,
    },
    Split {
        variants: Vec<Variant>,
    },
    UpdateProfile {
        set: Map<String, Value>,
        next: Option<NodeIndex>,
    },
    Exit,
}

impl NodeKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Send { .. } => "send",
            NodeKind::Wait { .. } => "wait",
            NodeKind::WaitForEvent { .. } => "wait_for_event",
            NodeKind::Branch { .. } => "branch",
            NodeKind::Split { .. } => "split",
            NodeKind::UpdateProfile { .. } => "update_profile",
            NodeKind::Exit => "exit",
        }
    }

    /// Waits hold an instance until time passes or an event arrives.
    pub fn is_wait(&self) -> bool {
        matches!(self, NodeKind::Wait { .. } | NodeKind::WaitForEvent { .. })
    }

    /// Every outgoing edge, with a label saying when it is taken.
    pub fn edges(&self) -> Vec<(NodeIndex, String)> {
        let mut out = Vec::new();
        match self {
            NodeKind::Send { next, .. }
            | NodeKind::Wait { next, .. }
            | NodeKind::UpdateProfile { next, .. } => {
                out.extend(next.map(|n| (n, String::new())));
            }
            NodeKind::WaitForEvent {
                event,
                on_event,
                on_timeout,
                timeout,
                ..
            } => {
                out.extend(on_event.map(|n| (n, event.clone())));
                if let (Some(n), Some(t)) = (on_timeout, timeout) {
                    out.push((*n, format!("timeout {t}")));
                }
            }
            NodeKind::Branch { branches, default } => {
                out.extend(branches.iter().map(|(c, n)| (*n, c.source().to_owned())));
                out.push((*default, "default".to_owned()));
            }
            NodeKind::Split { variants } => {
                let total: u32 = variants.iter().map(|v| v.weight).sum();
                out.extend(variants.iter().map(|v| {
                    let pct = f64::from(v.weight) * 100.0 / f64::from(total.max(1));
                    (v.next, format!("{} {pct:.0}%", v.name))
                }));
            }
            NodeKind::Exit => {}
        }
        out
    }
}

/// How long a `wait` node waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    Duration(Duration),
    /// The next time the clock shows this local time in the profile's zone.
    Until(NaiveTime),
}

/// One arm of a weighted split.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: Arc<str>,
    pub weight: u32,
    pub next: NodeIndex,
}
