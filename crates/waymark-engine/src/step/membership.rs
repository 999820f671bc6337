//! Segment membership: re-evaluating the segments a change may affect,
//! deciding each transition once, and what a transition does (entries,
//! exits, waits, schedules).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use waymark_core::{Event, format_timestamp};
use waymark_identity::ProfileChanges;
use waymark_journey::{NodeIndex, NodeKind, PathTrie};

use super::{Entrance, Step};
use crate::condition::{JourneyView, Scope};
use crate::effect::{Effect, MembershipChange, Record, RecordKind};
use crate::segments::EVERYONE;

/// Exit reason of an instance whose person left an `exit_on` segment.
pub(crate) const SEGMENT_EXIT: &str = "segment_exit";

/// How many rounds of profile updates (an entry's `update_profile` making
/// the person join another segment) one input settles at most.
const MAX_ROUNDS: usize = 8;

impl Step<'_> {
    /// After the profile changed: membership transitions and what they do,
    /// then time-based entries the change moves; repeated while the
    /// journeys' own profile updates change more.
    pub(crate) fn profile_changed(&mut self, changes: &ProfileChanges<'_>, event: Option<&Event>) {
        self.changed_once(changes, event);
        for _ in 0..MAX_ROUNDS {
            if self.updated_traits.is_empty() {
                return;
            }
            let traits = std::mem::take(&mut self.updated_traits);
            let changes = ProfileChanges {
                traits: traits.iter().map(String::as_str).collect(),
                ..ProfileChanges::default()
            };
            self.changed_once(&changes, None);
        }
        self.updated_traits.clear();
    }

    fn changed_once(&mut self, changes: &ProfileChanges<'_>, event: Option<&Event>) {
        for (segment, joined) in self.update_memberships(changes) {
            self.on_transition(&segment, joined, event);
        }
        self.reschedule(changes, event);
    }

    /// Evaluates the affected segments and records every transition on the
    /// (step's) profile, returning them in index order.
    fn update_memberships(&mut self, changes: &ProfileChanges<'_>) -> Vec<(Arc<str>, bool)> {
        let engine = self.engine;
        let mut transitions = Vec::new();
        if engine.schedules_everyone() && !self.profile.segments.contains_key(EVERYONE) {
            self.membership(&Arc::from(EVERYONE), true);
            transitions.push((Arc::from(EVERYONE), true));
        }
        let index = engine.segment_index();
        if index.is_empty() {
            return transitions;
        }
        let affected = index.affected(changes);
        if affected.is_empty() {
            return transitions;
        }
        // One conversion of the profile for every affected segment: what
        // any of them reads.
        let mut reads: BTreeMap<String, PathTrie> = BTreeMap::new();
        for i in &affected {
            for (root, trie) in &index.list[*i].condition.reads().roots {
                reads.entry(root.clone()).or_default().merge(trie);
            }
        }
        let decided: Vec<bool> = {
            let ctx = self.segment_scope().context(engine.env(), &reads);
            affected
                .iter()
                .map(|i| Scope::test_in(&ctx, &index.list[*i].condition))
                .collect()
        };
        for (i, member) in affected.into_iter().zip(decided) {
            let tracked = &index.list[i];
            if member != self.profile.segments.contains_key(&*tracked.id) {
                self.membership(&tracked.id, member);
                transitions.push((tracked.id.clone(), member));
            }
        }
        transitions
    }

    /// Records one transition: on the step's profile, as an effect that
    /// keeps it, and (but for [`EVERYONE`]) as a record.
    fn membership(&mut self, segment: &Arc<str>, joined: bool) {
        let profile = self.profile.to_mut();
        if joined {
            profile.segments.insert(segment.to_string(), self.now);
        } else {
            profile.segments.remove(&**segment);
        }
        let verb = if joined { "joined" } else { "left" };
        let key = format!(
            "{}/segment/{segment}/{verb}/{}",
            self.profile.id,
            self.now.timestamp_millis()
        );
        self.effects.push(Effect::Membership(MembershipChange {
            key: key.clone(),
            profile: self.profile.id.clone(),
            segment: segment.clone(),
            joined,
            at: self.now,
        }));
        if &**segment == EVERYONE {
            return;
        }
        let kind = if joined {
            RecordKind::SegmentEntered
        } else {
            RecordKind::SegmentExited
        };
        let mut record = self.person_record(key, kind, "");
        record.segment = Some(segment.clone());
        self.effects.push(Effect::Record(record));
    }

    /// What joining or leaving `segment` does.
    fn on_transition(&mut self, segment: &Arc<str>, joined: bool, event: Option<&Event>) {
        let engine = self.engine;
        if joined {
            for journey in engine.entered_on_segment(segment) {
                let entrance = match event {
                    Some(e) => Entrance::Event(e),
                    None => Entrance::Synthetic(self.synthetic_trigger("segment", Some(segment))),
                };
                self.try_enter(journey, entrance);
            }
            self.segment_waits(segment, event);
            for journey in engine.scheduled_for(segment) {
                self.schedule_next(journey, self.now);
            }
        } else {
            for i in 0..self.instances.len() {
                let instance = &self.instances[i];
                let exits = instance.is_running()
                    && self
                        .journey_of(i)
                        .is_some_and(|j| j.exit_on_segment.iter().any(|s| s == segment));
                if exits {
                    self.end(i, SEGMENT_EXIT);
                }
            }
            for journey in engine.scheduled_for(segment) {
                self.clear_entry_timer(journey);
            }
        }
    }

    /// Instances waiting for `segment` move on.
    fn segment_waits(&mut self, segment: &str, event: Option<&Event>) {
        for i in 0..self.instances.len() {
            let Some(journey) = self.movable_journey(i) else {
                continue;
            };
            let instance = &self.instances[i];
            let NodeKind::WaitForSegment {
                segment: awaited,
                on_enter,
                ..
            } = &journey.node(NodeIndex(instance.node_index)).kind
            else {
                continue;
            };
            if &**awaited == segment {
                self.cancel_timer(i);
                self.go(i, journey, *on_enter, event);
            }
        }
    }

    /// Whether the profile is a member of `segment` now.
    pub(crate) fn is_member(&self, segment: &str) -> bool {
        self.profile.segments.contains_key(segment)
    }

    /// The scope a segment condition is evaluated in: the profile only.
    fn segment_scope(&self) -> Scope<'_> {
        Scope {
            profile: &self.profile,
            event: None,
            trigger: &Value::Null,
            journey: JourneyView {
                id: "",
                version: 0,
                node: "",
                entered_at: None,
                control: false,
            },
            predict: self.engine.purchase_model().map(|m| (m, self.now)),
        }
    }

    /// The entering "event" of an entry no event caused.
    pub(crate) fn synthetic_trigger(&self, kind: &str, segment: Option<&str>) -> Value {
        let mut trigger = serde_json::json!({
            "type": kind,
            "event": null,
            "properties": {},
            "timestamp": format_timestamp(self.now),
        });
        if let Some(segment) = segment {
            trigger["segment"] = Value::from(segment);
        }
        trigger
    }

    /// A record about the person rather than an instance (segment
    /// transitions; `journey` for a skipped trigger).
    pub(crate) fn person_record(&self, key: String, kind: RecordKind, journey: &str) -> Record {
        Record::new(
            key,
            self.now,
            kind,
            self.profile.id.clone(),
            Arc::from(journey),
            Arc::from(""),
        )
    }
}
