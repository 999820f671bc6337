//! The segments the engine keeps membership of, indexed by the profile
//! fields their conditions read, so that a change re-evaluates only the
//! segments that read what changed.

use std::collections::HashMap;
use std::sync::Arc;

use waymark_identity::ProfileChanges;
use waymark_journey::{Expr, PathTrie};

type Fast = foldhash::fast::RandomState;

/// The implicit segment of everyone, for schedules without a segment:
/// every profile joins it at its first decision (never traced).
pub const EVERYONE: &str = "*";

/// One segment the engine tracks.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub id: Arc<str>,
    pub condition: Expr,
}

/// Segments by the profile fields they read.
#[derive(Debug, Default)]
pub(crate) struct SegmentIndex {
    pub list: Vec<Tracked>,
    by_trait: HashMap<String, Vec<usize>, Fast>,
    by_event: HashMap<String, Vec<usize>, Fast>,
    any_trait: Vec<usize>,
    any_event: Vec<usize>,
    revenue: Vec<usize>,
    consent: Vec<usize>,
    timezone: Vec<usize>,
    engagement: Vec<usize>,
    ids: Vec<usize>,
    /// Read the profile as a whole (or a field the index does not know).
    always: Vec<usize>,
}

impl SegmentIndex {
    pub fn new(list: Vec<Tracked>) -> Self {
        let mut index = SegmentIndex::default();
        for (i, tracked) in list.iter().enumerate() {
            index.add(i, tracked.condition.reads().roots.get("profile"));
        }
        index.list = list;
        index
    }

    fn add(&mut self, i: usize, profile: Option<&PathTrie>) {
        let Some(profile) = profile else {
            return; // reads nothing of the profile: a constant
        };
        if profile.whole {
            self.always.push(i);
            return;
        }
        for (field, trie) in &profile.children {
            match field.as_str() {
                "traits" if trie.whole => self.any_trait.push(i),
                "traits" => {
                    for name in trie.children.keys() {
                        self.by_trait.entry(name.clone()).or_default().push(i);
                    }
                }
                "events" if trie.whole => self.any_event.push(i),
                "events" => {
                    for name in trie.children.keys() {
                        self.by_event.entry(name.clone()).or_default().push(i);
                    }
                }
                "revenue" => self.revenue.push(i),
                "consent" => self.consent.push(i),
                "timezone" => self.timezone.push(i),
                "engagement_hours" => self.engagement.push(i),
                "id" | "user_id" | "anonymous_id" => self.ids.push(i),
                _ => self.always.push(i),
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The segments `changes` may have changed the membership of, each once,
    /// in index order.
    pub fn affected(&self, changes: &ProfileChanges<'_>) -> Vec<usize> {
        if changes.everything {
            return (0..self.list.len()).collect();
        }
        let mut out: Vec<usize> = self.always.clone();
        let mut add = |list: &[usize]| out.extend_from_slice(list);
        if !changes.traits.is_empty() {
            add(&self.any_trait);
            for name in &changes.traits {
                if let Some(list) = self.by_trait.get(*name) {
                    add(list);
                }
            }
        }
        if let Some(name) = changes.event {
            add(&self.any_event);
            if let Some(list) = self.by_event.get(name) {
                add(list);
            }
        }
        for (changed, list) in [
            (changes.revenue, &self.revenue),
            (changes.consent, &self.consent),
            (changes.timezone, &self.timezone),
            (changes.engagement, &self.engagement),
            (changes.ids, &self.ids),
        ] {
            if changed {
                add(list);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}
