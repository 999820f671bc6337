//! The counters of one journey version on one day, folded from journey
//! records one at a time with no memory of earlier records: every record
//! carries what its count needs (`arrived`, `control`, and on a goal the
//! entry time and the variant). So counters can be kept anywhere (in
//! memory, in the store beside the records) and merged by adding.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use waymark_core::Channel;
use waymark_engine::{Record, RecordKind};

use crate::histogram::Histogram;

/// Entrants, conversions and revenue of a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    #[serde(rename = "n", default)]
    pub entrants: u64,
    #[serde(rename = "c", default)]
    pub conversions: u64,
    #[serde(rename = "r", default)]
    pub revenue: f64,
}

impl Group {
    fn merge(&mut self, other: &Group) {
        self.entrants += other.entrants;
        self.conversions += other.conversions;
        self.revenue += other.revenue;
    }
}

/// Treatment (everyone not held out) and control.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    #[serde(rename = "t", default)]
    pub treatment: Group,
    #[serde(rename = "c", default)]
    pub control: Group,
}

impl Groups {
    /// Adds `other`'s groups in.
    pub fn merge(&mut self, other: &Groups) {
        self.treatment.merge(&other.treatment);
        self.control.merge(&other.control);
    }

    pub fn total(&self) -> Group {
        let mut total = self.treatment;
        total.merge(&self.control);
        total
    }

    fn of(&mut self, control: bool) -> &mut Group {
        if control {
            &mut self.control
        } else {
            &mut self.treatment
        }
    }
}

/// Arrivals at a node, and instances whose journey ended there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCount {
    pub id: Arc<str>,
    #[serde(rename = "r", default)]
    pub reached: u64,
    #[serde(rename = "e", default)]
    pub ended_here: u64,
}

/// Instances that went from one node to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeCount {
    pub from: Arc<str>,
    pub to: Arc<str>,
    pub n: u64,
}

/// A split variant's entrants, conversions and revenue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantCount {
    pub node: Arc<str>,
    pub variant: Arc<str>,
    #[serde(flatten)]
    pub group: Group,
}

/// What one journey version did on one day (or, merged, over many).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    #[serde(rename = "g", default)]
    pub groups: Groups,
    /// In the order the nodes were first reached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeCount>,
    /// Moves between nodes, in the order first seen (the flows of the
    /// journey graph).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<EdgeCount>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exits: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sends: BTreeMap<Channel, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub suppressed: BTreeMap<String, u64>,
    /// Seconds from entry to goal.
    #[serde(default, skip_serializing_if = "Histogram::is_empty")]
    pub time_to_goal: Histogram,
    /// In the order the variants were first chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<VariantCount>,
}

impl Counters {
    /// Folds one journey record in.
    pub fn add(&mut self, r: &Record) {
        if r.arrived
            && let Some(node) = &r.node
        {
            self.node_mut(node).reached += 1;
            if let Some(from) = &r.from {
                *self.edge_mut(from, node) += 1;
            }
        }
        match r.kind {
            RecordKind::Entered => self.groups.of(r.control).entrants += 1,
            RecordKind::Split => {
                if let (Some(node), Some(variant)) = (&r.node, &r.variant) {
                    self.variant_mut(node, variant).entrants += 1;
                }
            }
            RecordKind::Converted => {
                if let (Some(node), Some(variant)) = (&r.split, &r.variant) {
                    self.variant_mut(node, variant).conversions += 1;
                }
            }
            RecordKind::Send => {
                if let Some(channel) = r.channel {
                    *self.sends.entry(channel).or_default() += 1;
                }
            }
            RecordKind::Suppressed => count(&mut self.suppressed, r.reason.as_deref()),
            RecordKind::Exited => {
                if let Some(node) = &r.node {
                    self.node_mut(node).ended_here += 1;
                }
                count(&mut self.exits, r.reason.as_deref());
            }
            RecordKind::Goal => {
                let revenue = r.value.as_ref().and_then(|v| v.as_f64()).unwrap_or(0.0);
                let group = self.groups.of(r.control);
                group.conversions += 1;
                group.revenue += revenue;
                if let Some(entered) = r.entered_at {
                    self.time_to_goal.add((r.at - entered).num_seconds());
                }
                if let (Some(node), Some(variant)) = (&r.split, &r.variant) {
                    let group = self.variant_mut(node, variant);
                    group.conversions += 1;
                    group.revenue += revenue;
                }
            }
            _ => {}
        }
    }

    /// Adds `other` in (nodes and variants new to `self` go last).
    pub fn merge(&mut self, other: &Counters) {
        self.groups.merge(&other.groups);
        for node in &other.nodes {
            let mine = self.node_mut(&node.id);
            mine.reached += node.reached;
            mine.ended_here += node.ended_here;
        }
        for edge in &other.edges {
            *self.edge_mut(&edge.from, &edge.to) += edge.n;
        }
        for (map, theirs) in [
            (&mut self.exits, &other.exits),
            (&mut self.suppressed, &other.suppressed),
        ] {
            for (key, n) in theirs {
                *map.entry(key.clone()).or_default() += n;
            }
        }
        for (channel, n) in &other.sends {
            *self.sends.entry(*channel).or_default() += n;
        }
        self.time_to_goal.merge(&other.time_to_goal);
        for v in &other.variants {
            self.variant_mut(&v.node, &v.variant).merge(&v.group);
        }
    }

    /// Orders nodes as people flow through them: a node comes after every
    /// node people came to it from (a topological order of the moves),
    /// ties in the order first seen; in a loop, the node first seen goes
    /// first.
    pub fn order_along_flows(&mut self) {
        let mut placed: Vec<Arc<str>> = Vec::with_capacity(self.nodes.len());
        while placed.len() < self.nodes.len() {
            let waiting = |n: &&NodeCount| !placed.contains(&n.id);
            let ready = self.nodes.iter().filter(waiting).find(|n| {
                self.edges
                    .iter()
                    .filter(|e| e.to == n.id && e.from != n.id)
                    .all(|e| placed.contains(&e.from))
            });
            let Some(next) = ready.or_else(|| self.nodes.iter().find(waiting)) else {
                break;
            };
            placed.push(Arc::clone(&next.id));
        }
        self.nodes
            .sort_by_key(|n| placed.iter().position(|id| *id == n.id));
    }

    /// A journey has a few dozen nodes: a scan beats hashing the id, and
    /// the pointer check settles most lookups (records share the `Arc`).
    fn node_mut(&mut self, id: &Arc<str>) -> &mut NodeCount {
        let at = self
            .nodes
            .iter()
            .position(|n| Arc::ptr_eq(&n.id, id) || n.id == *id);
        let at = at.unwrap_or_else(|| {
            self.nodes.push(NodeCount {
                id: Arc::clone(id),
                reached: 0,
                ended_here: 0,
            });
            self.nodes.len() - 1
        });
        &mut self.nodes[at]
    }

    fn edge_mut(&mut self, from: &Arc<str>, to: &Arc<str>) -> &mut u64 {
        let at = self
            .edges
            .iter()
            .position(|e| e.from == *from && e.to == *to);
        let at = at.unwrap_or_else(|| {
            self.edges.push(EdgeCount {
                from: Arc::clone(from),
                to: Arc::clone(to),
                n: 0,
            });
            self.edges.len() - 1
        });
        &mut self.edges[at].n
    }

    fn variant_mut(&mut self, node: &Arc<str>, variant: &Arc<str>) -> &mut Group {
        let at = self
            .variants
            .iter()
            .position(|v| v.node == *node && v.variant == *variant);
        let at = at.unwrap_or_else(|| {
            self.variants.push(VariantCount {
                node: Arc::clone(node),
                variant: Arc::clone(variant),
                group: Group::default(),
            });
            self.variants.len() - 1
        });
        &mut self.variants[at].group
    }
}

/// Adds one under `reason` (allocating its name only the first time).
fn count(map: &mut BTreeMap<String, u64>, reason: Option<&str>) {
    let reason = reason.unwrap_or_default();
    match map.get_mut(reason) {
        Some(n) => *n += 1,
        None => {
            map.insert(reason.to_owned(), 1);
        }
    }
}
