//! Each split variant's entrants and goal conversions, all people
//! together and all versions of a journey: the counts `optimize` nodes
//! learn from, handed to the engine as [`Population::variant`]. Kept as
//! records are decided (test mode and the runtime alike); the runtime
//! starts from the report counters in its store.

use std::collections::HashMap;
use std::sync::Arc;

use waymark_core::Timestamp;
use waymark_engine::optimize::VariantStats;
use waymark_engine::{Population, Record, RecordKind};

use super::{EntryLog, Fast};

/// One journey's split nodes, each with its variants' counts.
type Nodes = HashMap<Arc<str>, Vec<(Arc<str>, VariantStats)>, Fast>;

/// Variants by journey, then node.
#[derive(Debug, Default)]
pub(crate) struct VariantLog {
    by_journey: HashMap<Arc<str>, Nodes, Fast>,
}

impl VariantLog {
    /// Counts one decided record: a split's entrant, a conversion.
    pub fn add(&mut self, record: &Record) {
        let (node, entrant) = match record.kind {
            RecordKind::Split => (record.node.as_ref(), true),
            RecordKind::Goal | RecordKind::Converted => (record.split.as_ref(), false),
            _ => return,
        };
        if let (Some(node), Some(variant)) = (node, &record.variant) {
            let (entrants, conversions) = if entrant { (1, 0) } else { (0, 1) };
            self.add_counts(&record.journey, node, variant, entrants, conversions);
        }
    }

    /// Adds counts kept elsewhere (the report counters in the store).
    pub fn add_counts(
        &mut self,
        journey: &Arc<str>,
        node: &Arc<str>,
        variant: &Arc<str>,
        entrants: u64,
        conversions: u64,
    ) {
        let nodes = match self.by_journey.get_mut(&**journey) {
            Some(nodes) => nodes,
            None => self.by_journey.entry(Arc::clone(journey)).or_default(),
        };
        let variants = match nodes.get_mut(&**node) {
            Some(variants) => variants,
            None => nodes.entry(Arc::clone(node)).or_default(),
        };
        let at = match variants.iter().position(|(name, _)| name == variant) {
            Some(at) => at,
            None => {
                variants.push((Arc::clone(variant), VariantStats::default()));
                variants.len() - 1
            }
        };
        let stats = &mut variants[at].1;
        stats.entrants += entrants;
        stats.conversions += conversions;
    }

    fn get(&self, journey: &str, node: &str, variant: &str) -> VariantStats {
        self.by_journey
            .get(journey)
            .and_then(|nodes| nodes.get(node))
            .and_then(|variants| variants.iter().find(|(name, _)| &**name == variant))
            .map_or_else(VariantStats::default, |(_, stats)| *stats)
    }
}

/// What one decision sees of everyone: recent entries and variant counts.
pub(crate) struct Shared<'a> {
    pub entries: &'a EntryLog,
    pub variants: &'a VariantLog,
}

impl Population for Shared<'_> {
    fn entered_since(&self, journey: &str, since: Timestamp) -> usize {
        self.entries.entered_since(journey, since)
    }

    fn variant(&self, journey: &str, node: &str, variant: &str) -> VariantStats {
        self.variants.get(journey, node, variant)
    }
}
