//! The one interpreter of the engine's decisions: what an input does to
//! the people Waymark knows, their journey instances and their timers.
//!
//! Both the durable runtime ([`crate::Waymark`]) and test mode
//! ([`crate::Simulation`]) hold a [`JourneyState`] and drive it through
//! the same steps ([`JourneyState::ingest`], [`JourneyState::fire`]); what
//! differs is only what they do with what a step reports to its
//! [`Journal`]: the runtime stages store writes and outbox entries, the
//! simulation writes trace lines. The step is pure: no IO, no clock (`now`
//! is an argument).

mod entries;
mod seen;
mod timers;
mod variants;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use waymark_channels::Delivery;
use waymark_core::{Event, Profile, ProfileId, Timestamp};
use waymark_engine::{Effect, Engine, Input, Instance, Record, SendRequest, Timer};
use waymark_identity::{Identity, MergeRecord};
use waymark_journey::{ScheduleTrigger, Trigger};

pub(crate) use entries::EntryLog;
pub(crate) use seen::SeenMessages;
pub(crate) use timers::TimerQueue;
pub(crate) use variants::VariantLog;

/// The hasher of the state's maps: looked up several times per event; not
/// SipHash, which took a few percent of ingest (keys are random-seeded).
pub(crate) type Fast = foldhash::fast::RandomState;

/// What a step did that its caller carries out (the runtime: store writes
/// and deliveries; the simulation: the trace).
pub(crate) trait Journal {
    /// `winner` absorbed another profile (`winner` as it is now).
    fn merged(&mut self, merge: &MergeRecord, winner: Option<&Profile>);
    /// The engine decided for `profile`: its record must be rewritten.
    fn decided(&mut self, profile: &ProfileId);
    /// A timer was set, `order`-th (timers due together fire in that order).
    fn timer_set(&mut self, timer: &Timer, order: u64);
    /// A timer was cancelled or fired: it is pending no more.
    fn timer_cleared(&mut self, timer: &Timer);
    /// A journey record, about `profile` as the step left it.
    fn record(&mut self, record: Record, profile: &Profile);
    /// A message to deliver, addressed from the profile as the step left it.
    fn send(&mut self, delivery: Delivery);
    /// `instance` entered `journey`, which has an entry limit, at `at`.
    fn entry_logged(&mut self, _journey: &str, _at: Timestamp, _instance: &str) {}
    /// That entry left the limit's window.
    fn entry_expired(&mut self, _journey: &str, _at: Timestamp, _instance: &str) {}
}

/// What became of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ingested {
    /// Its message id was processed before.
    Duplicate,
    /// No usable identifier: every id is blocked or forgotten.
    Unresolvable,
    /// Decided, with this many sends.
    Processed { sends: usize },
}

/// The people, their journey instances and pending timers.
#[derive(Debug, Default)]
pub(crate) struct JourneyState {
    pub identity: Identity,
    /// Journey instances by profile; change them through
    /// [`JourneyState::take_instances`] and
    /// [`JourneyState::put_instances`], which keep `running` up to date.
    pub instances: HashMap<ProfileId, Vec<Instance>, Fast>,
    /// Running instances, counted as they change (not by a scan: stats are
    /// read under the runtime's lock, every scrape).
    pub running: usize,
    pub timers: TimerQueue,
    /// Processed message ids (dedupe).
    pub seen: SeenMessages,
    /// Recent entries of journeys with an entry limit.
    pub entries: EntryLog,
    /// Split variants' entrants and conversions (what `optimize` learns from).
    pub variants: VariantLog,
    /// Live profiles, counted as they are created, merged and forgotten
    /// (the runtime holds only some of them in memory).
    pub people: usize,
}

/// Who a deployed journey with a timed entry concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Audience {
    /// The members of a segment (a schedule's audience).
    Segment(Arc<str>),
    /// Everyone (dates, inactivity, schedules for everyone).
    Everyone,
}

impl JourneyState {
    pub fn new(identity: Identity) -> Self {
        JourneyState {
            identity,
            ..JourneyState::default()
        }
    }

    /// One event: dedupe by message id, identity (merging profiles the
    /// event links, the losers' instances handed to the engine), then the
    /// engine's decision, all at `now`.
    pub fn ingest(
        &mut self,
        engine: &Engine,
        event: &Event,
        now: Timestamp,
        journal: &mut impl Journal,
    ) -> Ingested {
        let (profile, merged) = match self.admit(engine, event, now, journal) {
            Ok(admitted) => admitted,
            Err(refused) => return refused,
        };
        let sends = merged + self.decide(engine, &profile, Input::Event(event), now, journal);
        Ingested::Processed { sends }
    }

    /// An entry into `journey` by API for the person `request` names (an
    /// `identify` carrying their ids and traits, its message id the call's
    /// id: a retried call is a duplicate), with `data` as the entering
    /// event's properties.
    pub fn enter(
        &mut self,
        engine: &Engine,
        request: &Event,
        journey: &str,
        data: &Map<String, Value>,
        now: Timestamp,
        journal: &mut impl Journal,
    ) -> Ingested {
        let (profile, merged) = match self.admit(engine, request, now, journal) {
            Ok(admitted) => admitted,
            Err(Ingested::Unresolvable) => {
                // Refused with nothing applied: a retry is refused alike,
                // not taken for a repeat of a decided call.
                self.seen.take_back(&request.message_id);
                return Ingested::Unresolvable;
            }
            Err(refused) => return refused,
        };
        let input = Input::ApiEnter {
            journey,
            properties: data,
        };
        let sends = merged + self.decide(engine, &profile, input, now, journal);
        Ingested::Processed { sends }
    }

    /// Dedupe and identity for an event: its profile (merges decided,
    /// with their sends), or why it goes no further.
    fn admit(
        &mut self,
        engine: &Engine,
        event: &Event,
        now: Timestamp,
        journal: &mut impl Journal,
    ) -> Result<(ProfileId, usize), Ingested> {
        if !self.seen.insert(&event.message_id) {
            return Err(Ingested::Duplicate);
        }
        let Some(resolved) = self.identity.ingest(event) else {
            return Err(Ingested::Unresolvable);
        };
        journal.decided(&resolved.profile);
        self.people =
            (self.people + usize::from(resolved.created)).saturating_sub(resolved.merges.len());
        let mut sends = 0;
        for merge in &resolved.merges {
            journal.merged(merge, self.identity.profile(&resolved.profile));
            let theirs = self.take_instances(&merge.loser);
            // Decided even without instances: memberships follow the merge.
            let input = Input::ProfileMerged {
                from: &merge.loser,
                instances: &theirs,
            };
            sends += self.decide(engine, &resolved.profile, input, now, journal);
        }
        Ok((resolved.profile, sends))
    }

    /// The timers due at or before `limit`, in due order, at most `max`.
    /// A held journey's timers stay pending until it is resumed.
    pub fn due_timers(&self, engine: &Engine, limit: Timestamp, max: usize) -> Vec<Timer> {
        self.timers
            .due_by(limit)
            .filter(|timer| !engine.is_held(&timer.journey))
            .take(max)
            .cloned()
            .collect()
    }

    /// When the earliest timer that may fire is due (a held journey's
    /// timers wait for it to resume).
    pub fn next_due(&self, engine: &Engine) -> Option<Timestamp> {
        self.timers
            .iter()
            .find(|timer| !engine.is_held(&timer.journey))
            .map(|timer| timer.due)
    }

    /// Fires one pending timer, decided at the time it was due (so waits
    /// chain exactly even when a timer fires late, after a restart).
    pub fn fire(&mut self, engine: &Engine, timer: &Timer, journal: &mut impl Journal) {
        self.timers.remove(timer);
        journal.timer_cleared(timer);
        // The profile may have been merged into another since.
        let Some(profile) = self.identity.canonical(&timer.profile) else {
            return;
        };
        self.decide(engine, &profile, timer.input(), timer.due, journal);
    }

    /// Decides `journey`'s deploy for `people` (its audience, or part of it).
    pub fn tell_journey_changed(
        &mut self,
        engine: &Engine,
        journey: &str,
        people: &[ProfileId],
        now: Timestamp,
        journal: &mut impl Journal,
    ) {
        let input = Input::JourneyChanged { journey };
        for id in people {
            self.decide(engine, id, input, now, journal);
        }
    }

    /// Runs the engine for one input and applies its decision: instances,
    /// timers and profile updates here; records and sends to the journal.
    /// Returns the number of sends.
    fn decide(
        &mut self,
        engine: &Engine,
        id: &ProfileId,
        input: Input<'_>,
        now: Timestamp,
        journal: &mut impl Journal,
    ) -> usize {
        let instances = self.take_instances(id);
        let Some(profile) = self.identity.profile(id) else {
            self.put_instances(id, instances);
            return 0;
        };
        let shared = variants::Shared {
            entries: &self.entries,
            variants: &self.variants,
        };
        let decision = engine.decide_with(profile, instances, input, now, &shared);
        self.put_instances(id, decision.instances);
        journal.decided(id);
        let mut sends = Vec::new();
        let mut records = Vec::new();
        for effect in decision.effects {
            match effect {
                Effect::ScheduleTimer(timer) => {
                    if timer.entry
                        && let Some(old) = self.timers.remove_entry(&timer.instance)
                    {
                        journal.timer_cleared(&old);
                    }
                    let order = self.timers.next_order();
                    journal.timer_set(&timer, order);
                    self.timers.insert_at(timer, order);
                }
                Effect::CancelTimer(timer) if timer.entry => {
                    if let Some(old) = self.timers.remove_entry(&timer.instance) {
                        journal.timer_cleared(&old);
                    }
                }
                Effect::CancelTimer(timer) => {
                    journal.timer_cleared(&timer);
                    self.timers.remove(&timer);
                }
                Effect::Membership(change) => {
                    if let Some(p) = self.identity.profile_mut(&change.profile) {
                        if change.joined {
                            p.segments.insert(change.segment.to_string(), change.at);
                        } else {
                            p.segments.remove(&*change.segment);
                        }
                    }
                }
                Effect::UpdateProfile(update) => {
                    if let Some(p) = self.identity.profile_mut(&update.profile) {
                        for (key, value) in update.set {
                            p.set_trait(&key, value, update.at);
                        }
                    }
                }
                Effect::Send(send) => {
                    // The same history the engine counted in its step.
                    let horizon = engine.policies().history_horizon();
                    if let Some(p) = self.identity.profile_mut(&send.profile) {
                        p.record_send(now, send.channel, send.topic.clone(), horizon);
                    }
                    sends.push(send);
                }
                Effect::Record(record) => records.push(record),
            }
        }
        for record in &records {
            self.log_entry(engine, record, journal);
            self.variants.add(record);
        }
        let Some(profile) = self.identity.profile(id) else {
            return 0;
        };
        for record in records {
            journal.record(record, profile);
        }
        for send in &sends {
            journal.send(delivery(send, profile, now));
        }
        sends.len()
    }

    /// Keeps an entry into a journey with a limit, forgetting those that
    /// left its window.
    fn log_entry(&mut self, engine: &Engine, record: &Record, journal: &mut impl Journal) {
        if record.kind != waymark_engine::RecordKind::Entered {
            return;
        }
        let Some(limit) = engine
            .active_journey(&record.journey)
            .and_then(|j| j.entry.limit)
        else {
            return;
        };
        for (at, instance) in self.entries.expire(&record.journey, record.at, limit.per) {
            journal.entry_expired(&record.journey, at, &instance);
        }
        self.entries
            .insert(&record.journey, (record.at, Arc::clone(&record.instance)));
        journal.entry_logged(&record.journey, record.at, &record.instance);
    }

    /// Removes and returns a profile's instances.
    pub fn take_instances(&mut self, id: &ProfileId) -> Vec<Instance> {
        let instances = self.instances.remove(id).unwrap_or_default();
        // Saturating: on a shared store, instances another worker started
        // were never counted here.
        self.running = self.running.saturating_sub(running(&instances));
        instances
    }

    /// Sets a profile's instances (none: removes the entry).
    pub fn put_instances(&mut self, id: &ProfileId, instances: Vec<Instance>) {
        self.running += running(&instances);
        if instances.is_empty() {
            self.instances.remove(id);
        } else {
            self.instances.insert(id.clone(), instances);
        }
    }

    /// Takes in a stored person's instances (already counted in `running`).
    pub fn load_instances(&mut self, id: &ProfileId, instances: Vec<Instance>) {
        if !instances.is_empty() {
            self.instances.insert(id.clone(), instances);
        }
    }

    /// Lets go of a person held in memory: profile, identifiers and
    /// instances (they stay in the store; counts are unchanged).
    pub fn unload(&mut self, id: &ProfileId) {
        self.identity.unload(id);
        self.instances.remove(id);
        self.timers.unload_entries(id);
    }
}

/// Who `journey`'s deploy concerns, if it has a timed entry.
pub(crate) fn audience(engine: &Engine, journey: &str) -> Option<Audience> {
    match &engine.active_journey(journey)?.entry.trigger {
        Trigger::Schedule(ScheduleTrigger {
            segment: Some(segment),
            ..
        }) => Some(Audience::Segment(Arc::clone(segment))),
        Trigger::Schedule(_) | Trigger::Date(_) | Trigger::Inactive { .. } => {
            Some(Audience::Everyone)
        }
        _ => None,
    }
}

fn running(instances: &[Instance]) -> usize {
    instances.iter().filter(|i| i.is_running()).count()
}

/// The delivery for a send: the address comes from the profile.
fn delivery(send: &SendRequest, profile: &Profile, now: Timestamp) -> Delivery {
    Delivery {
        key: send.key.clone(),
        channel: send.channel,
        profile: send.profile.clone(),
        user_id: profile.user_id.clone(),
        to: profile.address(send.channel).map(str::to_owned),
        template: send.template.to_string(),
        journey: send.journey.to_string(),
        node: send.node.to_string(),
        trigger: Arc::clone(&send.trigger),
        decided_at: now,
        anonymous_id: profile.anonymous_id.clone(),
        content: serde_json::Map::new(),
        sent_at: None,
        unsubscribe_url: None,
        topic: send.topic.as_deref().map(str::to_owned),
    }
}
