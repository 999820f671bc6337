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
    /// Named segments whose members leave the journey when they stop being members.
    pub exit_on_segment: Vec<Arc<str>>,
    pub goal: Option<Goal>,
    /// Share of entrants held out as a control group, in basis points (1% = 100).
    pub holdout_bp: u32,
    /// Exempt from caps, quiet hours and suppression windows (never from
    /// an unsubscribe): password resets, receipts.
    pub transactional: bool,
    /// The subscription topic of its sends (a `send` may name its own).
    pub topic: Option<Arc<str>>,
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

    /// Every named segment the journey uses (entry, exits, waits,
    /// schedule), with the field that names it.
    pub fn segments_used(&self) -> Vec<(Option<&Node>, &'static str, &Arc<str>)> {
        let mut out = Vec::new();
        match &self.entry.trigger {
            Trigger::Segment(SegmentRef::Named(id)) => out.push((None, "entry.segment", id)),
            Trigger::Schedule(ScheduleTrigger {
                segment: Some(id), ..
            }) => out.push((None, "entry.schedule.segment", id)),
            _ => {}
        }
        for id in &self.exit_on_segment {
            out.push((None, "exit_on", id));
        }
        for node in &self.nodes {
            if let NodeKind::WaitForSegment { segment, .. } = &node.kind {
                out.push((Some(node), "segment", segment));
            }
        }
        out
    }

    /// Every topic the journey's sends are about.
    pub fn topics(&self) -> Vec<&Arc<str>> {
        let mut out: Vec<&Arc<str>> = self.topic.iter().collect();
        for node in &self.nodes {
            if let NodeKind::Send { topic: Some(t), .. } = &node.kind {
                out.push(t);
            }
        }
        out
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
    /// At most this many entrants per window, all people together.
    pub limit: Option<EntryLimit>,
}

/// `entry.limit`: at most `max` entries in any `per` (rolling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryLimit {
    pub max: u32,
    pub per: Duration,
}

/// What makes a person enter.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// A `track` event with this name (`Page Viewed`, `Screen Viewed` for pages and screens).
    Event(String),
    /// The person becomes a member of a segment.
    Segment(SegmentRef),
    /// Only an explicit API call.
    Api,
    /// `after` has passed since the person's last event named in `events`,
    /// with none of them since.
    Inactive {
        events: Vec<String>,
        after: Duration,
    },
    /// A moment derived from a date trait.
    Date(DateTrigger),
    /// Each occurrence of a cron schedule.
    Schedule(ScheduleTrigger),
}

impl Trigger {
    /// Time-based triggers enter through a durable per-person timer.
    pub fn is_timed(&self) -> bool {
        matches!(
            self,
            Trigger::Inactive { .. } | Trigger::Date(_) | Trigger::Schedule(_)
        )
    }
}

/// The segment of a segment entry.
#[derive(Debug, Clone)]
pub enum SegmentRef {
    /// A segment file, by id.
    Named(Arc<str>),
    /// An inline CEL condition over the profile (a segment of this journey's own).
    Inline(Expr),
}

/// `entry: { date: { trait, offset, at } }`.
#[derive(Debug, Clone)]
pub struct DateTrigger {
    pub trait_name: String,
    /// Added to the date (negative: before it), in seconds.
    pub offset_seconds: i64,
    /// Local time of day in the profile's zone; `None`: the trait's own
    /// instant (a date without a time: midnight local).
    pub at: Option<NaiveTime>,
}

/// `entry: { schedule: { cron, timezone, segment } }`.
#[derive(Debug, Clone)]
pub struct ScheduleTrigger {
    pub cron: Arc<croner::Cron>,
    /// The cron text as written.
    pub source: String,
    pub timezone: ScheduleZone,
    /// Only members of this segment enter; `None`: everyone.
    pub segment: Option<Arc<str>>,
}

/// Whose clock a schedule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleZone {
    /// Each person's own time zone (the workspace default when unknown).
    Profile,
    Fixed(chrono_tz::Tz),
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
        /// `channel: best` / `{ best_of: [...] }`: the listed channel this
        /// person engages with most, not the first one that works.
        best: bool,
        template: Arc<str>,
        /// The subscription topic, overriding the journey's.
        topic: Option<Arc<str>>,
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
    WaitForSegment {
        segment: Arc<str>,
        timeout: Option<Duration>,
        on_enter: Option<NodeIndex>,
        on_timeout: Option<NodeIndex>,
    },
    Branch {
        branches: Vec<(Expr, NodeIndex)>,
        default: NodeIndex,
    },
    Split {
        variants: Vec<Variant>,
    },
    /// A split that learns: Thompson sampling over each variant's goal
    /// conversions (variants' weights are 1).
    Optimize {
        variants: Vec<Variant>,
        goal: OptimizeGoal,
        /// Share of entrants spread evenly whatever the counts, in basis
        /// points (10% = 1,000).
        explore_bp: u32,
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
            NodeKind::WaitForSegment { .. } => "wait_for_segment",
            NodeKind::Branch { .. } => "branch",
            NodeKind::Split { .. } => "split",
            NodeKind::Optimize { .. } => "optimize",
            NodeKind::UpdateProfile { .. } => "update_profile",
            NodeKind::Exit => "exit",
        }
    }

    /// Waits hold an instance until time passes or an event arrives.
    pub fn is_wait(&self) -> bool {
        matches!(
            self,
            NodeKind::Wait { .. } | NodeKind::WaitForEvent { .. } | NodeKind::WaitForSegment { .. }
        )
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
            NodeKind::WaitForSegment {
                segment,
                on_enter,
                on_timeout,
                timeout,
            } => {
                out.extend(on_enter.map(|n| (n, format!("in {segment}"))));
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
            NodeKind::Optimize { variants, .. } => {
                out.extend(variants.iter().map(|v| (v.next, v.name.to_string())));
            }
            NodeKind::Exit => {}
        }
        out
    }
}

/// What an `optimize` node learns to increase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptimizeGoal {
    /// The journey's own goal (its event, within its window).
    Journey,
    /// This event, by the person within `within` of the choice.
    Event { name: String, within: Duration },
}

/// How long a `wait` node waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    Duration(Duration),
    /// The next time the clock shows this local time in the profile's zone.
    Until(NaiveTime),
    /// The local hour, within `within` from now, at which this person most
    /// often opened or clicked (their engagement hours, shrunk towards the
    /// population's); `default` (local) for someone with none.
    BestTime {
        within: Duration,
        default: NaiveTime,
    },
}

/// One arm of a weighted split.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: Arc<str>,
    pub weight: u32,
    pub next: NodeIndex,
}
