//! The writes one batch accumulates: the runtime's [`Journal`] of the
//! shared step, turned into one store batch (with the outbox entries and
//! journey records it made) under the state lock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use waymark_analytics::Metrics;
use waymark_channels::Delivery;
use waymark_core::{Identifier, Profile, ProfileId, Timestamp};
use waymark_engine::{Instance, Record, RecordKind, Timer};
use waymark_identity::MergeRecord;
use waymark_store::{Batch, Space, keys};

use super::layout::member_key;
use super::record_batch::RecordBatch;
use super::records::{
    OutboxEntry, OutboxStatus, StoredEntryTimer, StoredInstanceRef, StoredProfileRef,
};
use super::state::{
    CREATED_SEQ, CounterKey, MERGE_SEQ, OUTBOX_SEQ, PEOPLE_COUNT, RUNNING_COUNT, State,
    TIMER_ORDER, TIMERS_COUNT, encode, encode_timer,
};
use crate::step::Journal;

/// The writes one batch accumulates before its commit.
#[derive(Debug, Default)]
pub(super) struct Writes<'e> {
    pub batch: Batch,
    /// Message ids processed in this batch (written as one value).
    pub messages: Vec<&'e str>,
    /// Profiles whose record must be rewritten.
    pub dirty: BTreeSet<ProfileId>,
    /// Profiles whose record must go (merged away, forgotten).
    pub removed: BTreeSet<ProfileId>,
    /// Records counted per journey and kind in this batch.
    counted: BTreeMap<CounterKey, u64>,
    /// The batch's journey records folded into report counters, added to
    /// the stored ones in the same commit.
    analytics: Metrics,
    /// Keep journey records for the record sink (there is one).
    keep_records: bool,
    records: Vec<Record>,
    /// Each with the lane it was decided in.
    deliveries: Vec<(Delivery, Option<Arc<str>>)>,
    merges: Vec<MergeRecord>,
    /// The earliest timer this batch set (the delivery loop may have to
    /// wake sooner than it meant to).
    earliest_timer: Option<Timestamp>,
    /// Timers set minus timers cleared (each cleared one was pending).
    timers_delta: i64,
    /// The input partition of what is decided now (a shared store's lane).
    pub lane: Option<Arc<str>>,
    /// Person locks taken for the batch, given back once it is durable.
    pub locks: super::shared::Held,
}

/// A batch ready to be staged: its writes, and the outbox entries and
/// journey records it made (encoded into the batch by the committer).
pub(super) struct Finished {
    pub batch: Batch,
    /// People the batch wrote, and profiles it merged away.
    pub touched: Vec<ProfileId>,
    pub merged: Vec<ProfileId>,
    pub outbox: Vec<Arc<OutboxEntry>>,
    pub records: Option<(u64, Arc<RecordBatch>)>,
    pub earliest_timer: Option<Timestamp>,
    pub locks: Vec<i64>,
}

impl Writes<'_> {
    /// Whether someone entered `journey` in this batch.
    pub fn entered(&self, journey: &str) -> bool {
        self.counted
            .keys()
            .any(|(j, kind)| &**j == journey && *kind == RecordKind::Entered)
    }

    /// Writes for a step of the engine; `keep_records` when a record sink
    /// publishes them.
    pub fn for_step(keep_records: bool) -> Self {
        Writes {
            keep_records,
            ..Writes::default()
        }
    }

    /// Completes the batch from the state, under its lock: merges, outbox
    /// entries and journey records numbered, counters added up, profile
    /// records and sequences written.
    pub fn finish(mut self, state: &mut State) -> Finished {
        // The graph's log is the merges written here: none kept in memory.
        state.journeys.identity.graph_mut().take_merge_log();
        let merged: Vec<ProfileId> = self.merges.iter().map(|m| m.loser.clone()).collect();
        for merge in &self.merges {
            let seq = state.next_merge_seq;
            state.next_merge_seq += 1;
            self.batch
                .put(Space::Merges, keys::seq(seq).to_vec(), encode(merge));
            self.batch.put(
                Space::Redirects,
                merge.loser.as_str().as_bytes(),
                encode(&merge.winner.as_str()),
            );
            self.removed.insert(merge.loser.clone());
        }
        let outbox: Vec<Arc<OutboxEntry>> = self
            .deliveries
            .into_iter()
            .map(|(delivery, lane)| {
                let seq = state.next_outbox_seq;
                state.next_outbox_seq += 1;
                let entry = Arc::new(OutboxEntry {
                    seq,
                    next_attempt_at: delivery.decided_at,
                    delivery,
                    status: OutboxStatus::Pending,
                    attempts: 0,
                    last_error: None,
                    lane,
                });
                state.outbox.insert(seq, Arc::clone(&entry));
                entry
            })
            .collect();
        // The batch's journey records, as one value (JSON lines): one write
        // now and one delete once published, whatever their number.
        let records = (!self.records.is_empty()).then(|| {
            let seq = state.next_record_seq;
            state.next_record_seq += 1;
            let records = Arc::new(RecordBatch::new(self.records));
            state.records.insert(seq, Arc::clone(&records));
            (seq, records)
        });
        for id in &self.removed {
            self.batch.delete(Space::Profiles, id.as_str().as_bytes());
            for segment in state
                .people
                .remove(id)
                .map(|c| c.segments)
                .unwrap_or_default()
            {
                self.batch.delete(Space::Members, member_key(&segment, id));
            }
        }
        let (journeys, people) = (&state.journeys, &mut state.people);
        let mut touched = Vec::with_capacity(self.dirty.len());
        for id in self.dirty.difference(&self.removed) {
            let Some(profile) = journeys.identity.profile(id) else {
                continue;
            };
            let graph = journeys.identity.graph();
            let identifiers = graph.identifiers(id);
            let entry_timers: Vec<StoredEntryTimer> = journeys
                .timers
                .entries_of(id)
                .map(|(timer, order)| StoredEntryTimer {
                    j: Arc::clone(&timer.journey),
                    d: timer.due.timestamp_millis(),
                    t: timer.token,
                    o: *order,
                })
                .collect();
            let record = ProfileRecordRef {
                profile: StoredProfileRef(profile),
                created: graph.created_order(id).unwrap_or_default(),
                identifiers,
                instances: Instances(id, journeys.instances.get(id).map_or(&[], Vec::as_slice)),
                entry_timers,
            };
            let value = encode(&record);
            let cached = people.entry(id);
            // Identifiers only grow while a person lives (merges add theirs).
            if cached.indexed != identifiers.len() {
                for identifier in identifiers {
                    self.batch.put(
                        Space::Identifiers,
                        keys::identifier(identifier),
                        id.as_str().as_bytes(),
                    );
                }
                cached.indexed = identifiers.len();
            }
            if cached.segments.len() != profile.segments.len()
                || cached
                    .segments
                    .iter()
                    .any(|s| !profile.segments.contains_key(&**s))
            {
                for segment in &cached.segments {
                    if !profile.segments.contains_key(&**segment) {
                        self.batch.delete(Space::Members, member_key(segment, id));
                    }
                }
                for segment in profile.segments.keys() {
                    if !cached.segments.iter().any(|s| **s == *segment) {
                        self.batch
                            .put(Space::Members, member_key(segment, id), Vec::new());
                    }
                }
                cached.segments = profile
                    .segments
                    .keys()
                    .map(|s| Arc::from(s.as_str()))
                    .collect();
            }
            people.sized(id, value.len());
            self.batch
                .put(Space::Profiles, id.as_str().as_bytes(), value);
            touched.push(id.clone());
        }
        state.timers_pending = state
            .timers_pending
            .saturating_add_signed(self.timers_delta as isize);
        let journeys = &state.journeys;
        // On a shared store these totals are each worker's own: not
        // written over one another (sequences start from the slot).
        let slot = state.shared_slot.map(|s| format!("\u{0}{s}"));
        if slot.is_none() {
            let counts = [
                (PEOPLE_COUNT, journeys.people as u64),
                (RUNNING_COUNT, journeys.running as u64),
                (CREATED_SEQ, journeys.identity.graph().created_counter()),
                (TIMERS_COUNT, state.timers_pending as u64),
                (TIMER_ORDER, journeys.timers.last_order()),
                (OUTBOX_SEQ, state.next_outbox_seq),
                (MERGE_SEQ, state.next_merge_seq),
            ];
            for (key, n) in counts {
                self.batch.put(Space::Meta, key, encode(&n));
            }
        }
        let slot = slot.unwrap_or_default();
        for (key, counters) in self.analytics.buckets() {
            let total = state.analytics.merge(key.clone(), counters);
            self.batch.put(
                Space::Analytics,
                format!("{}{slot}", key.encode()),
                encode(total),
            );
        }
        for (key, n) in self.counted {
            let total = state.counters.entry(key.clone()).or_default();
            *total += n;
            let (journey, kind) = key;
            let stored = format!("{journey}\u{0}{}{slot}", kind.as_str());
            self.batch.put(Space::Counters, stored, encode(total));
        }
        Finished {
            batch: self.batch,
            touched,
            merged,
            outbox,
            records,
            earliest_timer: self.earliest_timer,
            locks: self.locks.0,
        }
    }
}

impl Journal for Writes<'_> {
    fn merged(&mut self, merge: &MergeRecord, _: Option<&Profile>) {
        self.merges.push(merge.clone());
    }

    fn decided(&mut self, profile: &ProfileId) {
        if !self.dirty.contains(profile) {
            self.dirty.insert(profile.clone());
        }
    }

    fn timer_set(&mut self, timer: &Timer, order: u64) {
        self.timers_delta += 1;
        self.earliest_timer = Some(
            self.earliest_timer
                .map_or(timer.due, |earliest| earliest.min(timer.due)),
        );
        self.batch.put(
            Space::Timers,
            keys::timer(timer.due, &timer.instance, timer.token),
            encode_timer(timer, order, self.lane.as_ref()),
        );
    }

    fn timer_cleared(&mut self, timer: &Timer) {
        self.timers_delta -= 1;
        self.batch.delete(
            Space::Timers,
            keys::timer(timer.due, &timer.instance, timer.token),
        );
    }

    fn record(&mut self, record: Record, _: &Profile) {
        // Segment transitions belong to no journey: published, not counted.
        if !record.journey.is_empty() {
            *self
                .counted
                .entry((Arc::clone(&record.journey), record.kind))
                .or_default() += 1;
            self.analytics.add(&record);
        }
        if self.keep_records {
            self.records.push(record);
        }
    }

    fn entry_logged(&mut self, journey: &str, at: Timestamp, instance: &str) {
        self.batch.put(
            Space::Meta,
            super::state::entry_key(journey, at, instance),
            super::state::encode(&at.timestamp_millis().unsigned_abs()),
        );
    }

    fn entry_expired(&mut self, journey: &str, at: Timestamp, instance: &str) {
        self.batch
            .delete(Space::Meta, super::state::entry_key(journey, at, instance));
    }

    fn send(&mut self, delivery: Delivery) {
        self.deliveries.push((delivery, self.lane.clone()));
    }
}

/// A [`super::ProfileRecord`] serialized from borrows: no copy of the profile.
#[derive(Serialize)]
struct ProfileRecordRef<'a> {
    profile: StoredProfileRef<'a>,
    created: u64,
    identifiers: &'a [Identifier],
    instances: Instances<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entry_timers: Vec<StoredEntryTimer>,
}

/// A profile's instances in the stored layout, written from borrows.
struct Instances<'a>(&'a ProfileId, &'a [Instance]);

impl Serialize for Instances<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.1.iter().map(|i| StoredInstanceRef(i, self.0)))
    }
}
