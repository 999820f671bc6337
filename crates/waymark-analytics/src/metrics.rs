//! Journey metrics folded from journey records, one record at a time:
//! entrants by group, per node arrivals and drop-offs, exits, sends,
//! suppressions, conversions (with revenue and time to goal) and split
//! variants. A conversion counts in the group and variant of the instance
//! that converted.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use waymark_core::{Channel, Timestamp};
use waymark_engine::{Record, RecordKind};

/// Metrics of every journey seen, by journey id.
#[derive(Debug, Default)]
pub struct Metrics {
    pub journeys: BTreeMap<Arc<str>, JourneyMetrics>,
}

/// What one journey did.
#[derive(Debug, Default)]
pub struct JourneyMetrics {
    pub groups: Groups,
    /// Per node: arrivals (instance visits) and instances that ended there.
    pub nodes: BTreeMap<Arc<str>, NodeMetrics>,
    pub exits: BTreeMap<String, u64>,
    pub sends: BTreeMap<Channel, u64>,
    pub suppressed: BTreeMap<String, u64>,
    /// Seconds from entry to goal, one per conversion.
    pub time_to_goal: Vec<i64>,
    /// Per split node and variant.
    pub variants: BTreeMap<(Arc<str>, Arc<str>), Group>,
    instances: HashMap<Arc<str>, InstanceFacts, Fast>,
}

/// Not SipHash: a map lookup per record is most of the fold.
type Fast = foldhash::fast::RandomState;

/// Entrants, conversions and revenue of a group.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Group {
    pub entrants: u64,
    pub conversions: u64,
    pub revenue: f64,
}

/// Treatment (everyone not held out) and control.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Groups {
    pub treatment: Group,
    pub control: Group,
}

impl Groups {
    pub fn total(&self) -> Group {
        Group {
            entrants: self.treatment.entrants + self.control.entrants,
            conversions: self.treatment.conversions + self.control.conversions,
            revenue: self.treatment.revenue + self.control.revenue,
        }
    }
}

/// Arrivals at a node and instances whose journey ended there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeMetrics {
    pub reached: u64,
    pub ended_here: u64,
    /// When the node was first seen among the journey's nodes (reports
    /// list nodes in the order people reached them).
    pub order: usize,
}

#[derive(Debug, Clone)]
struct InstanceFacts {
    entered_at: Timestamp,
    control: bool,
    variant: Option<(Arc<str>, Arc<str>)>,
    /// The step of the last node visit counted (an instance's records come
    /// in order, several per visit).
    last_step: Option<u64>,
}

impl Metrics {
    /// Folds one record in.
    pub fn add(&mut self, record: &Record) {
        if record.journey.is_empty() {
            return; // segment transitions belong to no journey
        }
        self.journeys
            .entry(Arc::clone(&record.journey))
            .or_default()
            .add(record);
    }
}

impl JourneyMetrics {
    fn add(&mut self, r: &Record) {
        // An entry is also the first node's first record: not a visit.
        let visit = !matches!(
            r.kind,
            RecordKind::Entered | RecordKind::Goal | RecordKind::Skipped
        );
        if let (true, Some(node), Some(step)) = (visit, &r.node, step_of(&r.key)) {
            let facts = self
                .instances
                .entry(Arc::clone(&r.instance))
                .or_insert_with(|| InstanceFacts {
                    entered_at: r.at,
                    control: r.control,
                    variant: None,
                    last_step: None,
                });
            if facts.last_step != Some(step) {
                facts.last_step = Some(step);
                self.node_mut(node).reached += 1;
            }
        }
        match r.kind {
            RecordKind::Entered => {
                self.instances.insert(
                    Arc::clone(&r.instance),
                    InstanceFacts {
                        entered_at: r.at,
                        control: r.control,
                        variant: None,
                        last_step: None,
                    },
                );
                self.group_mut(r.control).entrants += 1;
            }
            RecordKind::Split => {
                if let (Some(node), Some(variant)) = (&r.node, &r.variant) {
                    let key = (Arc::clone(node), Arc::clone(variant));
                    self.variants.entry(key.clone()).or_default().entrants += 1;
                    if let Some(facts) = self.instances.get_mut(&r.instance) {
                        facts.variant = Some(key);
                    }
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
                let facts = self.instances.get(&r.instance).cloned();
                let control = facts.as_ref().map_or(r.control, |f| f.control);
                let group = self.group_mut(control);
                group.conversions += 1;
                group.revenue += revenue;
                if let Some(facts) = facts {
                    self.time_to_goal
                        .push((r.at - facts.entered_at).num_seconds());
                    if let Some(key) = facts.variant {
                        let variant = self.variants.entry(key).or_default();
                        variant.conversions += 1;
                        variant.revenue += revenue;
                    }
                }
            }
            _ => {}
        }
    }

    fn node_mut(&mut self, node: &Arc<str>) -> &mut NodeMetrics {
        let order = self.nodes.len();
        self.nodes.entry(Arc::clone(node)).or_insert(NodeMetrics {
            order,
            ..NodeMetrics::default()
        })
    }

    fn group_mut(&mut self, control: bool) -> &mut Group {
        if control {
            &mut self.groups.control
        } else {
            &mut self.groups.treatment
        }
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

/// The step number in a record key `<instance>/<step>/<what>`.
fn step_of(key: &str) -> Option<u64> {
    let mut parts = key.rsplitn(3, '/');
    parts.next()?;
    parts.next()?.parse().ok()
}
