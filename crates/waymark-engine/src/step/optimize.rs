//! `optimize` nodes in a step: choosing the variant (Thompson sampling
//! over everyone's counts, handed in as data) and recording the
//! conversions of nodes that optimise for an event of their own.

use std::sync::Arc;

use waymark_journey::{Journey, Node, NodeIndex, NodeKind, OptimizeGoal, Variant};

use super::Step;
use crate::effect::{Effect, RecordKind};
use crate::optimize::{VariantStats, choose_variant};

impl Step<'_> {
    /// The variant instance `i` takes at `node`, recorded as a split
    /// (reason `explore` or `thompson`); conversions count for it from now.
    pub(super) fn optimize(
        &mut self,
        i: usize,
        journey: &Journey,
        node: &Node,
        variants: &[Variant],
        explore_bp: u32,
    ) -> NodeIndex {
        let stats: Vec<VariantStats> = variants
            .iter()
            .map(|v| self.population.variant(&journey.id, &node.id, &v.name))
            .collect();
        let instance_id = Arc::clone(&self.instances[i].id);
        let (at, how) = choose_variant(
            self.engine.config().seed,
            &["optimize", &journey.id, &node.id, &instance_id],
            &stats,
            explore_bp,
        );
        let variant = &variants[at];
        let mut record = self.record(i, RecordKind::Split, None);
        record.variant = Some(Arc::clone(&variant.name));
        record.next = Some(Arc::clone(&journey.node(variant.next).id));
        record.reason = Some(how.as_str().to_owned());
        self.effects.push(Effect::Record(record));
        let instance = &mut self.instances[i];
        instance.split = Some((Arc::clone(&node.id), Arc::clone(&variant.name)));
        instance.split_at = Some(self.now);
        instance.split_converted = false;
        variant.next
    }

    /// An event that is the goal of the `optimize` node an instance last
    /// went through, within its window: one `converted` record for the
    /// variant, once (the instance may have ended since).
    pub(super) fn variant_goals(&mut self, name: &str) {
        for i in 0..self.instances.len() {
            let instance = &self.instances[i];
            if instance.split_converted {
                continue;
            }
            let (Some((node, variant)), Some(chosen_at)) = (&instance.split, instance.split_at)
            else {
                continue;
            };
            let Some(OptimizeGoal::Event { name: goal, within }) =
                self.journey_of(i).and_then(|j| optimize_goal(j, node))
            else {
                continue;
            };
            if goal != name || self.now < chosen_at || self.now > chosen_at + within.to_delta() {
                continue;
            }
            let (node, variant) = (Arc::clone(node), Arc::clone(variant));
            self.instances[i].split_converted = true;
            let mut record = self.record(i, RecordKind::Converted, None);
            record.split = Some(node);
            record.variant = Some(variant);
            self.effects.push(Effect::Record(record));
        }
    }

    /// Whether the journey's goal counts for the split `node` (not for an
    /// `optimize` node with a goal of its own).
    pub(super) fn journey_goal_counts_for(&self, journey: &Journey, node: &str) -> bool {
        !matches!(
            optimize_goal(journey, node),
            Some(OptimizeGoal::Event { .. })
        )
    }
}

/// The goal of `journey`'s `optimize` node `node`, if it is one.
fn optimize_goal<'j>(journey: &'j Journey, node: &str) -> Option<&'j OptimizeGoal> {
    let index = journey.node_index(node)?;
    match &journey.node(index).kind {
        NodeKind::Optimize { goal, .. } => Some(goal),
        _ => None,
    }
}
