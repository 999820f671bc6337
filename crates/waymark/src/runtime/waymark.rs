//! The runtime's API: build, ingest, fire timers, deliver, run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Duration;

use serde_json::Value;
use waymark_channels::signing::UnsubscribeSigner;
use waymark_channels::{Deliver, Delivery, DeliveryError};
use waymark_core::{Channel, Event, Identifier, Profile, ProfileId, Timestamp, stable_hash};
use waymark_engine::{Effect, Engine, EngineConfig, Input, RecordKind, SendRequest};
use waymark_identity::{Forgotten, IdentityConfig};
use waymark_journey::{Journey, Scope, SharedValue, Templates};
use waymark_store::{Batch, Space, Store, keys};

use super::clock::{Clock, SystemClock};
use super::records::{OutboxEntry, OutboxStatus};
use super::sink::RecordSink;
use super::state::{RecordBatch, SOURCE_PREFIX, State, Writes, encode, encode_timer};

/// Why the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("store: {0}")]
    Store(#[from] waymark_store::Error),
    #[error("no store was given to the builder")]
    NoStore,
    #[error("an earlier commit failed; the runtime must be rebuilt from the store")]
    Poisoned,
}

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Delivery attempts before an outbox entry is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubles with each attempt (with jitter), capped at `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// How long processed message ids are remembered for deduplication.
    pub dedupe_window: chrono::TimeDelta,
    /// How many due timers one commit handles at most.
    pub timer_batch: usize,
    /// How many outbox entries one delivery round sends at most.
    pub delivery_batch: usize,
    /// How many provider calls one round has in flight at once.
    pub delivery_concurrency: usize,
    /// How many journey records one publishing round hands to the sink.
    pub record_batch: usize,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            max_attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            dedupe_window: chrono::TimeDelta::days(7),
            timer_batch: 1000,
            delivery_batch: 2048,
            delivery_concurrency: 32,
            record_batch: 4096,
        }
    }
}

/// What one ingest did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub processed: usize,
    pub duplicates: usize,
    /// Events with no usable identifier (all blocked or forgotten).
    pub unresolvable: usize,
    pub sends: usize,
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

/// A snapshot of the runtime's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub profiles: usize,
    pub instances_active: usize,
    pub timers_pending: usize,
    pub outbox_pending: usize,
    pub outbox_failed: usize,
    pub sends_total: u64,
    /// Journey records committed but not yet published to the record sink.
    pub records_pending: usize,
}

/// Builds a [`Waymark`].
#[derive(Default)]
pub struct WaymarkBuilder {
    store: Option<Arc<dyn Store>>,
    journeys: Vec<Journey>,
    deployed: Vec<crate::deploy::LoadedJourney>,
    engine: EngineConfig,
    identity: IdentityConfig,
    clock: Option<Arc<dyn Clock>>,
    channels: HashMap<Channel, Arc<dyn Deliver>>,
    default_channel: Option<Arc<dyn Deliver>>,
    records: Option<Arc<dyn RecordSink>>,
    templates: Option<Templates>,
    unsubscribe: Option<UnsubscribeSigner>,
    options: RuntimeOptions,
}

impl std::fmt::Debug for WaymarkBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaymarkBuilder")
            .field("journeys", &self.journeys.len())
            .finish_non_exhaustive()
    }
}

impl WaymarkBuilder {
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    pub fn journeys(mut self, journeys: impl IntoIterator<Item = Journey>) -> Self {
        self.journeys.extend(journeys);
        self
    }

    /// Deployed journey versions (see [`crate::deploy::load`]).
    pub fn deployed(
        mut self,
        journeys: impl IntoIterator<Item = crate::deploy::LoadedJourney>,
    ) -> Self {
        self.deployed.extend(journeys);
        self
    }

    pub fn engine(mut self, config: EngineConfig) -> Self {
        self.engine = config;
        self
    }

    pub fn identity(mut self, config: IdentityConfig) -> Self {
        self.identity = config;
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The provider for one channel.
    pub fn channel(mut self, channel: Channel, deliver: Arc<dyn Deliver>) -> Self {
        self.channels.insert(channel, deliver);
        self
    }

    /// The provider for every channel without its own.
    pub fn default_channel(mut self, deliver: Arc<dyn Deliver>) -> Self {
        self.default_channel = Some(deliver);
        self
    }

    /// Renders each delivery's template (Liquid) just before it goes out;
    /// without templates, channels get the delivery unrendered.
    pub fn templates(mut self, templates: Templates) -> Self {
        self.templates = Some(templates);
        self
    }

    /// Signs a one-click unsubscribe link into each delivery
    /// (`unsubscribe_url` in templates, `List-Unsubscribe` in email).
    pub fn unsubscribe(mut self, signer: UnsubscribeSigner) -> Self {
        self.unsubscribe = Some(signer);
        self
    }

    /// Publishes every journey record to `sink` (at least once, after the
    /// commit that made it).
    pub fn records(mut self, sink: Arc<dyn RecordSink>) -> Self {
        self.records = Some(sink);
        self
    }

    pub fn options(mut self, options: RuntimeOptions) -> Self {
        self.options = options;
        self
    }

    /// Loads the state from the store and returns the runtime.
    pub fn build(self) -> Result<Waymark, Error> {
        let store = self.store.ok_or(Error::NoStore)?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let seen_after = clock.now() - self.options.dedupe_window;
        let mut state = State::load(store.as_ref(), self.identity, seen_after)?;
        let expired = std::mem::take(&mut state.expired_messages);
        if !expired.is_empty() {
            let mut sweep = waymark_store::Batch::new();
            for key in expired {
                sweep.delete(Space::Messages, key);
            }
            store.commit(sweep)?;
        }
        tracing::info!(
            profiles = state.identity.profiles().count(),
            timers = state.timers.len(),
            outbox = state.outbox.len(),
            "state loaded"
        );
        let mut engine = Engine::new(self.journeys, self.engine);
        for loaded in self.deployed {
            if loaded.held {
                engine.set_held(&loaded.journey.id, true);
            }
            engine.insert(loaded.journey, loaded.active);
        }
        let durable = DurableMarks {
            outbox_below: AtomicU64::new(state.next_outbox_seq),
            records_below: AtomicU64::new(state.next_record_seq),
            ..DurableMarks::default()
        };
        Ok(Waymark {
            store,
            engine: RwLock::new(engine),
            clock,
            channels: self.channels,
            default_channel: self.default_channel,
            records: self.records,
            templates: self.templates,
            unsubscribe: self.unsubscribe,
            options: self.options,
            state: Mutex::new(state),
            poisoned: std::sync::atomic::AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            records_wake: super::wake::Wake::default(),
            staged: Mutex::default(),
            committing: Mutex::new(()),
            durable,
        })
    }
}

/// The embeddable runtime.
pub struct Waymark {
    store: Arc<dyn Store>,
    /// Written only when a journey is deployed or changes status.
    engine: RwLock<Engine>,
    clock: Arc<dyn Clock>,
    channels: HashMap<Channel, Arc<dyn Deliver>>,
    default_channel: Option<Arc<dyn Deliver>>,
    records: Option<Arc<dyn RecordSink>>,
    templates: Option<Templates>,
    unsubscribe: Option<UnsubscribeSigner>,
    options: RuntimeOptions,
    state: Mutex<State>,
    poisoned: std::sync::atomic::AtomicBool,
    /// Wakes [`Waymark::run`]'s delivery loop when a commit left something to deliver.
    wake: tokio::sync::Notify,
    /// Wakes its record publisher when a commit left records to publish.
    records_wake: super::wake::Wake,
    /// Batches decided but not yet in the store, in the order they were
    /// decided (see [`Waymark::stage_batch_at`]).
    staged: Mutex<Staged>,
    /// Held by the one thread writing staged batches to the store.
    committing: Mutex<()>,
    durable: DurableMarks,
}

/// A staged batch's place in line: durable once [`Waymark::wait_durable`]
/// returns for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// Staged batches, oldest first.
#[derive(Default)]
struct Staged {
    last_ticket: u64,
    batches: std::collections::VecDeque<StagedBatch>,
}

struct StagedBatch {
    ticket: u64,
    batch: waymark_store::Batch,
    /// Outbox entries and journey records the batch made: encoded into
    /// `batch` by the thread that commits it, off the state lock.
    outbox: Vec<Arc<OutboxEntry>>,
    records: Option<(u64, Arc<RecordBatch>)>,
    /// The outbox and record sequences the state had reached: everything
    /// below them is durable once this batch is.
    outbox_below: u64,
    records_below: u64,
}

/// How far the store has caught up with the state: only what is durable
/// is delivered or published (a crash must not lose a decision whose
/// message went out).
#[derive(Default)]
struct DurableMarks {
    ticket: AtomicU64,
    outbox_below: AtomicU64,
    records_below: AtomicU64,
}

impl std::fmt::Debug for Waymark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waymark")
            .field("engine", &*self.engine())
            .finish_non_exhaustive()
    }
}

impl Waymark {
    pub fn builder() -> WaymarkBuilder {
        WaymarkBuilder::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, Error> {
        if self.poisoned.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Poisoned);
        }
        Ok(self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Stages a batch for the store, in the order of the state changes it
    /// holds (so under the state lock); [`Waymark::wait_durable`] writes it.
    fn stage(&self, state: &mut State, mut writes: Writes<'_>) -> Ticket {
        // The batch's journey records, as one value (JSON lines): one write
        // now and one delete once published, whatever their number.
        let records = (!writes.records.is_empty()).then(|| {
            let seq = state.next_record_seq;
            state.next_record_seq += 1;
            let records = Arc::new(RecordBatch::new(std::mem::take(&mut writes.records)));
            state.records.insert(seq, Arc::clone(&records));
            (seq, records)
        });
        let outbox = std::mem::take(&mut writes.outbox);
        let batch = writes.finish(state);
        let mut staged = self
            .staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        staged.last_ticket += 1;
        let ticket = staged.last_ticket;
        staged.batches.push_back(StagedBatch {
            ticket,
            batch,
            outbox,
            records,
            outbox_below: state.next_outbox_seq,
            records_below: state.next_record_seq,
        });
        Ticket(ticket)
    }

    /// Writes staged batches to the store, oldest first, until the one of
    /// `ticket` is durable (another thread may have written it already).
    /// On failure the in-memory state is ahead of the store, so the
    /// runtime refuses further work until rebuilt.
    pub fn wait_durable(&self, ticket: Ticket) -> Result<(), Error> {
        let _one_writer = self
            .committing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut woke = false;
        while self.durable.ticket.load(Ordering::SeqCst) < ticket.0 {
            if self.poisoned.load(Ordering::SeqCst) {
                return Err(Error::Poisoned);
            }
            // Group commit: every batch staged by now, oldest first, in one
            // write and one sync (a person changed by several is written once).
            let group: Vec<StagedBatch> = self
                .staged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .batches
                .drain(..)
                .collect();
            let Some(last) = group.last() else {
                break; // cannot happen: a ticket is staged before it is handed out
            };
            let (ticket, outbox_below, records_below) =
                (last.ticket, last.outbox_below, last.records_below);
            let mut batch = Batch::new();
            for next in group {
                batch.append(next.batch);
                for entry in &next.outbox {
                    batch.put(
                        Space::Outbox,
                        keys::seq(entry.seq).to_vec(),
                        encode(&**entry),
                    );
                }
                if let Some((seq, records)) = &next.records {
                    batch.put(Space::Records, keys::seq(*seq).to_vec(), records.value());
                }
            }
            self.written(self.store.commit(batch.superseded_dropped()))?;
            let marks = &self.durable;
            woke |= marks.outbox_below.swap(outbox_below, Ordering::SeqCst) < outbox_below;
            if marks.records_below.swap(records_below, Ordering::SeqCst) < records_below {
                self.records_wake.raise();
            }
            marks.ticket.store(ticket, Ordering::SeqCst);
        }
        if woke {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Stages `writes` and waits until they are durable.
    fn commit(&self, mut state: MutexGuard<'_, State>, writes: Writes<'_>) -> Result<(), Error> {
        let ticket = self.stage(&mut state, writes);
        drop(state);
        self.wait_durable(ticket)
    }

    /// Writes `writes` without waiting for the disk or for staged batches:
    /// for forgetting what a channel or the record sink acknowledged. A
    /// crash may lose it, which only sends or publishes those again with
    /// the same keys (deduplicated downstream); it never touches what a
    /// staged batch writes (outbox and record sequences are never reused).
    fn commit_unsynced(
        &self,
        state: MutexGuard<'_, State>,
        writes: Writes<'_>,
    ) -> Result<(), Error> {
        debug_assert!(
            writes.outbox.is_empty() && writes.records.is_empty(),
            "new outbox entries and records go through staged commits"
        );
        let batch = writes.finish(&state);
        drop(state);
        self.written(self.store.commit_unsynced(batch))
    }

    /// A store write's outcome; a failed one leaves memory ahead of disk,
    /// so the runtime refuses further work until rebuilt.
    fn written(&self, outcome: Result<(), waymark_store::Error>) -> Result<(), Error> {
        outcome.inspect_err(|error| {
            tracing::error!(%error, "commit failed; the runtime stops taking work");
            self.poisoned.store(true, Ordering::SeqCst);
        })?;
        Ok(())
    }

    /// Processes one event; durable when it returns.
    pub fn ingest(&self, event: &Event) -> Result<IngestReport, Error> {
        self.ingest_batch(std::slice::from_ref(event), None)
    }

    /// Processes events in order and commits them, with `offset` (a source
    /// name and the position after the batch) in the same commit. Durable
    /// when it returns.
    pub fn ingest_batch(
        &self,
        events: &[Event],
        offset: Option<(&str, u64)>,
    ) -> Result<IngestReport, Error> {
        self.ingest_batch_at(events, offset.as_slice())
    }

    /// [`Waymark::ingest_batch`] for a source with several positions (a
    /// Kafka partition each): every `(source, position)` is committed with
    /// the batch.
    pub fn ingest_batch_at(
        &self,
        events: &[Event],
        offsets: &[(&str, u64)],
    ) -> Result<IngestReport, Error> {
        let (report, ticket) = self.stage_batch_at(events, offsets)?;
        self.wait_durable(ticket)?;
        Ok(report)
    }

    /// [`Waymark::ingest_batch_at`] without waiting for the store: the
    /// batch is decided (later batches see its state) and staged; it is
    /// durable once [`Waymark::wait_durable`] returns for the ticket, and
    /// nothing it decided is delivered or published before. A source can
    /// so read and decide the next batch while this one is written.
    pub fn stage_batch_at(
        &self,
        events: &[Event],
        offsets: &[(&str, u64)],
    ) -> Result<(IngestReport, Ticket), Error> {
        let now = self.clock.now();
        let engine = self.engine();
        let asked = std::time::Instant::now();
        let mut state = self.lock()?;
        let lock_wait = asked.elapsed();
        let mut writes = Writes::default();
        let mut report = IngestReport::default();
        // Ids past the dedupe window are forgotten as the window moves (a
        // long-running worker would otherwise keep every id it ever saw).
        for expired in state.seen.forget_before(now - self.options.dedupe_window) {
            writes.batch.delete(Space::Messages, expired);
        }
        for event in events {
            if !state.seen.insert(&event.message_id) {
                report.duplicates += 1;
                continue;
            }
            writes.messages.push(event.message_id.as_str());
            let Some(resolved) = state.identity.ingest(event) else {
                report.unresolvable += 1;
                continue;
            };
            writes.dirty.insert(resolved.profile.clone());
            for merge in &resolved.merges {
                let seq = state.next_merge_seq;
                state.next_merge_seq += 1;
                writes
                    .batch
                    .put(Space::Merges, keys::seq(seq).to_vec(), encode(merge));
                writes.batch.put(
                    Space::Redirects,
                    merge.loser.as_str().as_bytes(),
                    encode(&merge.winner.as_str()),
                );
                writes.removed.insert(merge.loser.clone());
                let theirs = state.take_instances(&merge.loser);
                if !theirs.is_empty() {
                    let input = Input::ProfileMerged {
                        from: &merge.loser,
                        instances: &theirs,
                    };
                    report.sends += self.decide(
                        &engine,
                        &mut state,
                        &mut writes,
                        &resolved.profile,
                        input,
                        now,
                    );
                }
            }
            report.sends += self.decide(
                &engine,
                &mut state,
                &mut writes,
                &resolved.profile,
                Input::Event(event),
                now,
            );
            report.processed += 1;
        }
        if !writes.messages.is_empty() {
            // One value per batch: its processed message ids, keyed by time
            // (so a retention sweep can drop old ones) and batch number.
            let mut key = keys::time(now).to_vec();
            key.extend_from_slice(&keys::seq(state.next_batch_seq));
            state.next_batch_seq += 1;
            writes
                .batch
                .put(Space::Messages, key.clone(), encode(&writes.messages));
            state.seen.close_batch(now, key);
        }
        for &(source, position) in offsets {
            state.offsets.insert(source.to_owned(), position);
            writes.batch.put(
                Space::Meta,
                format!("{SOURCE_PREFIX}{source}"),
                encode(&position),
            );
        }
        let ticket = self.stage(&mut state, writes);
        drop(state);
        tracing::debug!(
            events = events.len(),
            lock_wait_us = lock_wait.as_micros(),
            held_us = (asked.elapsed() - lock_wait).as_micros(),
            "batch decided"
        );
        Ok((report, ticket))
    }

    /// Fires the timers due by now, in due order, a batch per commit.
    /// Returns how many fired (stale ones included).
    pub fn fire_due_timers(&self) -> Result<usize, Error> {
        let now = self.clock.now();
        let mut fired = 0;
        loop {
            let engine = self.engine();
            let mut state = self.lock()?;
            let due: Vec<_> = state
                .timers
                .iter()
                .take_while(|((due, _, _), _)| *due <= now)
                // A held journey's timers stay pending until it is resumed.
                .filter(|(_, timer)| !engine.is_held(&timer.journey))
                .take(self.options.timer_batch)
                .map(|(k, t)| (k.clone(), t.clone()))
                .collect();
            if due.is_empty() {
                return Ok(fired);
            }
            let mut writes = Writes::default();
            for (slot, timer) in &due {
                state.timers.remove(slot);
                writes.batch.delete(
                    Space::Timers,
                    keys::timer(timer.due, &timer.instance, timer.token),
                );
                // The profile may have been merged into another since.
                let Some(profile) = state.identity.canonical(&timer.profile) else {
                    continue;
                };
                let input = Input::TimerFired {
                    instance: &timer.instance,
                    token: timer.token,
                };
                // Decided at the time the timer was due, so waits chain exactly
                // even when a timer fires late (after a restart).
                self.decide(&engine, &mut state, &mut writes, &profile, input, timer.due);
            }
            fired += due.len();
            drop(engine);
            self.commit(state, writes)?;
        }
    }

    /// Runs the engine for one input and turns its effects into state and
    /// writes. Returns the number of sends.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        engine: &Engine,
        state: &mut State,
        writes: &mut Writes<'_>,
        id: &ProfileId,
        input: Input<'_>,
        now: Timestamp,
    ) -> usize {
        let instances = state.take_instances(id);
        let Some(profile) = state.identity.profile(id) else {
            state.put_instances(id, instances);
            return 0;
        };
        let decision = engine.decide(profile, instances, input, now);
        state.put_instances(id, decision.instances);
        writes.dirty.insert(id.clone());
        let mut sends = Vec::new();
        for effect in decision.effects {
            match effect {
                Effect::ScheduleTimer(timer) => {
                    writes.batch.put(
                        Space::Timers,
                        keys::timer(timer.due, &timer.instance, timer.token),
                        encode_timer(&timer),
                    );
                    state
                        .timers
                        .insert((timer.due, Arc::clone(&timer.instance), timer.token), timer);
                }
                Effect::CancelTimer(timer) => {
                    writes.batch.delete(
                        Space::Timers,
                        keys::timer(timer.due, &timer.instance, timer.token),
                    );
                    state
                        .timers
                        .remove(&(timer.due, Arc::clone(&timer.instance), timer.token));
                }
                Effect::UpdateProfile(update) => {
                    if let Some(p) = state.identity.profile_mut(&update.profile) {
                        for (key, value) in update.set {
                            p.set_trait(&key, value, update.at);
                        }
                    }
                }
                // Addressed below, from the profile as the step left it.
                Effect::Send(send) => sends.push(send),
                Effect::Record(record) => {
                    let key = (Arc::clone(&record.journey), record.kind);
                    *state.counters.entry(key.clone()).or_default() += 1;
                    writes.counters.insert(key);
                    if self.records.is_some() {
                        writes.records.push(record);
                    }
                }
            }
        }
        let Some(profile) = state.identity.profile(id) else {
            return 0;
        };
        let deliveries: Vec<Delivery> = sends
            .iter()
            .map(|send| delivery(send, profile, now))
            .collect();
        for delivery in deliveries {
            let seq = state.next_outbox_seq;
            state.next_outbox_seq += 1;
            let entry = OutboxEntry {
                seq,
                delivery,
                status: OutboxStatus::Pending,
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
            };
            let entry = Arc::new(entry);
            writes.outbox.push(Arc::clone(&entry));
            state.outbox.insert(seq, entry);
        }
        sends.len()
    }

    /// Hands due outbox entries to their channels; delivered entries leave
    /// the outbox, failures retry with backoff until `max_attempts`.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, Error> {
        let now = self.clock.now();
        let started = std::time::Instant::now();
        // The due entries and, for rendering, their people as they are now:
        // taken under one lock, so the round never waits on ingest again.
        let (due, people): (Vec<Arc<OutboxEntry>>, People) = {
            let state = self.lock()?;
            // Only what the store holds: a crash must not lose a decision
            // whose message went out.
            let durable = self.durable.outbox_below.load(Ordering::SeqCst);
            let due: Vec<Arc<OutboxEntry>> = state
                .outbox
                .range(..durable)
                .map(|(_, e)| e)
                .filter(|e| e.status == OutboxStatus::Pending && e.next_attempt_at <= now)
                .take(self.options.delivery_batch)
                .cloned()
                .collect();
            let mut people = HashMap::new();
            if self.templates.is_some() {
                for entry in &due {
                    let id = &entry.delivery.profile;
                    if !people.contains_key(id) {
                        // Shared, not copied: read by the templates after the lock.
                        people.insert(id.clone(), state.identity.shared_profile(id));
                    }
                }
            }
            (due, people)
        };
        // Each person made a template value once for all their deliveries
        // of the round (read in place: no JSON copy of the profile).
        let people: HashMap<ProfileId, SharedValue> = people
            .into_iter()
            .map(|(id, profile)| {
                let value = match profile {
                    Some(profile) => SharedValue::profile(profile),
                    None => SharedValue::new(Value::Null),
                };
                (id, value)
            })
            .collect();
        let mut report = DeliveryReport::default();
        if due.is_empty() {
            return Ok(report);
        }
        use futures_util::StreamExt as _;
        // Up to `delivery_concurrency` calls in flight (providers answer in
        // tens of milliseconds; one at a time would cap a channel at a few
        // dozen messages a second).
        let taken = started.elapsed();
        let results: Vec<_> = futures_util::stream::iter(due)
            .map(|entry| self.attempt(entry, &people, now))
            .buffered(self.options.delivery_concurrency.max(1))
            .collect()
            .await;
        let attempted = started.elapsed();
        let mut outcomes = Vec::with_capacity(results.len());
        let mut feedback = Vec::new();
        for (entry, outcome, channel_id, event) in results {
            feedback.extend(event);
            outcomes.push((entry, outcome, channel_id));
        }

        // Make what the channels accepted durable before the outbox forgets
        // it; what a channel could not make durable is retried.
        let mut synced: Vec<usize> = Vec::new();
        let mut unsynced: Vec<(usize, String)> = Vec::new();
        for channel in self.channels.values().chain(self.default_channel.iter()) {
            let id = Arc::as_ptr(channel).cast::<()>() as usize;
            if synced.contains(&id) {
                continue;
            }
            synced.push(id);
            if let Err(error) = channel.sync() {
                tracing::warn!(%error, "a channel could not sync; its deliveries will be retried");
                unsynced.push((id, error.to_string()));
            }
        }
        let synced = started.elapsed();
        let mut state = self.lock()?;
        let mut writes = Writes::default();
        for (entry, mut outcome, channel_id) in outcomes {
            if let Some((_, reason)) = unsynced.iter().find(|(id, _)| *id == channel_id)
                && outcome.is_ok()
            {
                outcome = Err(DeliveryError::Transient {
                    reason: format!("not made durable: {reason}"),
                    retry_after: None,
                });
            }
            let key = keys::seq(entry.seq).to_vec();
            let error = match outcome {
                Ok(()) => {
                    state.outbox.remove(&entry.seq);
                    writes.batch.delete(Space::Outbox, key);
                    report.delivered += 1;
                    continue;
                }
                Err(error) => error,
            };
            if !state.outbox.contains_key(&entry.seq) {
                continue; // forgotten meanwhile (`forget`): not put back
            }
            // Still shared with the outbox: copied only to be changed.
            let mut entry = Arc::unwrap_or_clone(entry);
            match error {
                DeliveryError::Transient {
                    reason,
                    retry_after,
                } if entry.attempts + 1 < self.options.max_attempts => {
                    entry.attempts += 1;
                    let wait = retry_after.unwrap_or_else(|| self.backoff(&entry));
                    entry.next_attempt_at =
                        now + chrono::TimeDelta::from_std(wait).unwrap_or_default();
                    entry.last_error = Some(reason);
                    report.retried += 1;
                }
                error => {
                    entry.attempts += 1;
                    entry.status = OutboxStatus::Failed;
                    state.outbox_failed += 1;
                    entry.last_error = Some(error.to_string());
                    tracing::warn!(key = %entry.delivery.key, error = %error, "delivery failed");
                    report.failed += 1;
                }
            }
            writes.batch.put(Space::Outbox, key, encode(&entry));
            state.outbox.insert(entry.seq, Arc::new(entry));
        }
        self.commit_unsynced(state, writes)?;
        tracing::debug!(
            delivered = report.delivered,
            retried = report.retried,
            failed = report.failed,
            taken_ms = taken.as_millis(),
            attempted_ms = attempted.as_millis(),
            synced_ms = synced.as_millis(),
            committed_ms = started.elapsed().as_millis(),
            "delivery round"
        );
        // Outcomes go back to the journeys as events (deduplicated by their
        // message id should a crash repeat a round).
        if !feedback.is_empty() {
            self.ingest_batch(&feedback, None)?;
        }
        Ok(report)
    }

    /// One delivery attempt: rendered, handed to its channel, the outcome
    /// (with the channel's identity, for its sync) and any feedback event.
    async fn attempt(
        &self,
        entry: Arc<OutboxEntry>,
        people: &HashMap<ProfileId, SharedValue>,
        now: Timestamp,
    ) -> (
        Arc<OutboxEntry>,
        Result<(), DeliveryError>,
        usize,
        Option<Event>,
    ) {
        let channel = self
            .channels
            .get(&entry.delivery.channel)
            .or(self.default_channel.as_ref());
        let channel_id = channel.map_or(0, |c| Arc::as_ptr(c).cast::<()>() as usize);
        let mut feedback = None;
        let person = people.get(&entry.delivery.profile);
        let outcome = match (channel, self.prepare(&entry.delivery, person)) {
            (None, _) => Err(DeliveryError::Permanent {
                reason: format!("no channel configured for {}", entry.delivery.channel),
            }),
            // A render failure fails this delivery, never the process.
            (Some(_), Err(error)) => Err(error),
            (Some(channel), Ok(delivery)) => {
                let outcome = channel.deliver(&delivery).await;
                if channel.reports_outcomes() {
                    feedback = waymark_channels::feedback_event(&delivery, outcome.as_ref(), now)
                        .and_then(|v| Event::from_json_value(v).ok());
                }
                outcome.map(|_| ())
            }
        };
        (entry, outcome, channel_id, feedback)
    }

    /// The delivery as the channel gets it: the template rendered for the
    /// person as they are now, and their unsubscribe link.
    fn prepare(
        &self,
        source: &Delivery,
        profile: Option<&SharedValue>,
    ) -> Result<Delivery, DeliveryError> {
        let mut delivery = source.clone();
        if let Some(signer) = &self.unsubscribe
            && delivery.channel != Channel::Webhook
        {
            let claim = match (&delivery.user_id, &delivery.anonymous_id) {
                (Some(user), _) => Some((user.clone(), false)),
                (None, Some(anonymous)) => Some((anonymous.clone(), true)),
                (None, None) => None,
            };
            delivery.unsubscribe_url = claim.map(|(id, anonymous)| {
                signer.url(&waymark_channels::signing::UnsubscribeClaim {
                    id,
                    anonymous,
                    channel: delivery.channel.to_string(),
                })
            });
        }
        let Some(templates) = &self.templates else {
            return Ok(delivery);
        };
        let template = templates
            .resolve(&delivery.template, delivery.channel)
            .ok_or_else(|| DeliveryError::Permanent {
                reason: format!(
                    "template `{}` not found for {}",
                    delivery.template, delivery.channel
                ),
            })?;
        let mut scope = Scope::new()
            .json("event", &source.trigger)
            .owned(
                "journey",
                serde_json::json!({"id": delivery.journey, "node": delivery.node}),
            )
            .owned(
                "unsubscribe_url",
                delivery
                    .unsubscribe_url
                    .as_ref()
                    .map_or(Value::Null, |url| Value::String(url.clone())),
            );
        // Without a profile, `profile` reads as nil like any missing name.
        if let Some(profile) = profile {
            scope = scope.shared("profile", profile);
        }
        delivery.content = template
            .render_scope(&scope)
            .map_err(|e| DeliveryError::Permanent {
                reason: format!("render: {e}"),
            })?;
        Ok(delivery)
    }

    /// Exponential backoff with deterministic jitter (from the key).
    fn backoff(&self, entry: &OutboxEntry) -> Duration {
        let exp = self
            .options
            .base_backoff
            .saturating_mul(1 << entry.attempts.min(16));
        let capped = exp.min(self.options.max_backoff);
        let jitter = stable_hash(entry.attempts.into(), &[&entry.delivery.key]) % 1000;
        capped.mul_f64(0.75 + jitter as f64 / 4000.0)
    }

    /// Fires due timers, delivers due messages and publishes journey
    /// records until `shutdown` resolves; then drains what is due. Records
    /// are published on a thread of their own, so a delivery round never
    /// waits for a record round's acknowledgements and commit (nor the
    /// other way round).
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()>,
        tick: Duration,
    ) -> Result<(), Error> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let publisher = {
            let (waymark, stop) = (Arc::clone(&self), Arc::clone(&stop));
            tokio::task::spawn_blocking(move || waymark.publish_records_until(&stop, tick))
        };
        // Stops the publisher however this future ends: also when it is
        // dropped (a runtime shutting down cancels it), since a runtime
        // waits for its blocking threads before it lets the process exit.
        let stop_publisher = StopPublisher {
            waymark: &self,
            stop: &stop,
        };
        let delivered = self.deliver_until(shutdown, tick).await;
        drop(stop_publisher);
        let published = publisher.await.unwrap_or(Err(Error::Poisoned));
        delivered.and(published)
    }

    /// The delivery loop of [`Waymark::run`].
    async fn deliver_until(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
        tick: Duration,
    ) -> Result<(), Error> {
        tokio::pin!(shutdown);
        loop {
            self.fire_due_timers()?;
            self.deliver_due().await?;
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(tick) => {}
                () = self.wake.notified() => {}
            }
        }
        // Drain: what is due now still goes out before stopping.
        self.fire_due_timers()?;
        self.deliver_due().await?;
        Ok(())
    }

    /// The record publisher of [`Waymark::run`]: publishes whenever a
    /// commit leaves records (or every `tick`) until `stop`, then
    /// publishes what is left.
    fn publish_records_until(
        &self,
        stop: &std::sync::atomic::AtomicBool,
        tick: Duration,
    ) -> Result<(), Error> {
        while !stop.load(Ordering::SeqCst) {
            while self.publish_records()? > 0 {}
            self.records_wake.wait(tick);
        }
        while self.publish_records()? > 0 {}
        Ok(())
    }

    /// Hands committed journey records (up to about `record_batch`) to the
    /// record sink, then forgets them once the sink synced. Returns how
    /// many were published (a round at a time: whole commits' worth, up
    /// to about `record_batch`).
    pub fn publish_records(&self) -> Result<usize, Error> {
        let Some(sink) = &self.records else {
            return Ok(0);
        };
        let mut published = 0;
        {
            // Whole commits' worth of records, up to about `record_batch`.
            let batches: Vec<(u64, Arc<RecordBatch>)> = {
                let state = self.lock()?;
                let mut taken = 0;
                let durable = self.durable.records_below.load(Ordering::SeqCst);
                state
                    .records
                    .range(..durable)
                    .take_while(|(_, records)| {
                        let take = taken < self.options.record_batch;
                        taken += records.len();
                        take
                    })
                    .map(|(seq, records)| (*seq, Arc::clone(records)))
                    .collect()
            };
            if batches.is_empty() {
                return Ok(published);
            }
            for (key, json) in batches.iter().flat_map(|(_, records)| records.lines()) {
                if let Err(error) = sink.publish(key, json) {
                    tracing::warn!(%error, "the record sink refused a record; retrying later");
                    return Ok(published);
                }
            }
            if let Err(error) = sink.sync() {
                tracing::warn!(%error, "the record sink could not sync; retrying later");
                return Ok(published);
            }
            let mut state = self.lock()?;
            let mut writes = Writes::default();
            for (seq, records) in &batches {
                state.records.remove(seq);
                writes
                    .batch
                    .delete(Space::Records, keys::seq(*seq).to_vec());
                published += records.len();
            }
            self.commit_unsynced(state, writes)?;
        }
        Ok(published)
    }

    /// Starts using a journey version (just deployed, or changed status)
    /// without a restart: `loaded.active` takes new entrants, `loaded.held`
    /// holds its people.
    pub fn apply_journey(&self, loaded: crate::deploy::LoadedJourney) {
        let mut engine = self
            .engine
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        engine.set_held(&loaded.journey.id, loaded.held);
        if !loaded.active {
            engine.deactivate(&loaded.journey.id);
        }
        engine.insert(loaded.journey, loaded.active);
    }

    /// For a process about to exit, once nothing uses the runtime any
    /// more: leaves the in-memory state (profiles, instances, timers, ...)
    /// to the process's end instead of freeing it value by value (about a
    /// second per 150,000 people). Everything it holds is in the store
    /// already. The runtime is empty afterwards: using it again would
    /// write sequences from zero, so nothing may.
    pub fn leak_state_for_exit(&self) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::forget(std::mem::take(&mut *state));
    }

    pub fn stats(&self) -> Stats {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let failed = state.outbox_failed;
        debug_assert_eq!(
            (state.running, failed),
            state.recount_scan(),
            "running instances and failed deliveries counted as they change"
        );
        Stats {
            profiles: state.identity.profile_count(),
            instances_active: state.instances_active(),
            timers_pending: state.timers.len(),
            outbox_pending: state.outbox.len() - failed,
            outbox_failed: failed,
            sends_total: state
                .counters
                .iter()
                .filter(|((_, kind), _)| *kind == RecordKind::Send)
                .map(|(_, n)| n)
                .sum(),
            records_pending: state.records.values().map(|r| r.len()).sum(),
        }
    }

    /// The committed position of a source.
    pub fn source_offset(&self, source: &str) -> Option<u64> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .offsets
            .get(source)
            .copied()
    }

    /// When the next timer is due, if any.
    pub fn next_timer_due(&self) -> Option<Timestamp> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.timers.keys().next().map(|(due, _, _)| *due)
    }

    /// A profile by id (following merges).
    pub fn profile(&self, id: &ProfileId) -> Option<Profile> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.identity.profile(id).cloned()
    }

    /// The engine (read-locked: hold it briefly).
    pub fn engine(&self) -> RwLockReadGuard<'_, Engine> {
        self.engine
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Everything held about the person `identifier` belongs to: profile,
    /// identifiers, merges, journey instances.
    pub fn export(&self, identifier: &Identifier) -> Result<Option<Value>, Error> {
        let state = self.lock()?;
        let Some(id) = state.identity.lookup(identifier) else {
            return Ok(None);
        };
        let mut export = state.identity.export(identifier).unwrap_or_default();
        export["instances"] = serde_json::to_value(state.instances.get(&id)).unwrap_or_default();
        Ok(Some(export))
    }

    /// Erases the person `identifier` belongs to: profile, identifiers,
    /// journey instances, their timers, deliveries not yet made, and the
    /// merge records and redirects that name them; remembers their
    /// identifiers so late events do not rebuild them. Durable when it returns.
    pub fn forget(&self, identifier: &Identifier) -> Result<Option<Forgotten>, Error> {
        let mut state = self.lock()?;
        let Some(id) = state.identity.lookup(identifier) else {
            return Ok(None);
        };
        let mut writes = Writes::default();
        let losers: Vec<ProfileId> = state
            .identity
            .graph()
            .redirects()
            .filter(|(_, to)| **to == id)
            .map(|(from, _)| from.clone())
            .collect();
        for loser in &losers {
            writes
                .batch
                .delete(Space::Redirects, loser.as_str().as_bytes());
        }
        for (key, value) in self.store.scan(Space::Merges, b"")? {
            let names_them = serde_json::from_slice::<waymark_identity::MergeRecord>(&value)
                .is_ok_and(|m| m.winner == id || losers.contains(&m.winner));
            if names_them {
                writes.batch.delete(Space::Merges, key);
            }
        }
        let doomed: Vec<_> = state
            .timers
            .iter()
            .filter(|(_, t)| t.profile == id || losers.contains(&t.profile))
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            if let Some(timer) = state.timers.remove(&key) {
                writes.batch.delete(
                    Space::Timers,
                    keys::timer(timer.due, &timer.instance, timer.token),
                );
            }
        }
        let undelivered: Vec<u64> = state
            .outbox
            .values()
            .filter(|e| e.delivery.profile == id)
            .map(|e| e.seq)
            .collect();
        for seq in undelivered {
            if state
                .outbox
                .remove(&seq)
                .is_some_and(|e| e.status == OutboxStatus::Failed)
            {
                state.outbox_failed -= 1;
            }
            writes.batch.delete(Space::Outbox, keys::seq(seq).to_vec());
        }
        state.take_instances(&id);
        let Some(forgotten) = state.identity.forget(identifier) else {
            return Ok(None);
        };
        for identifier in &forgotten.identifiers {
            writes.batch.put(
                Space::Forgotten,
                waymark_store::keys::identifier(identifier),
                encode(identifier),
            );
        }
        writes.removed.insert(id);
        self.commit(state, writes)?;
        Ok(Some(forgotten))
    }

    /// Puts failed deliveries back in line (attempts reset). Returns how many.
    pub fn retry_failed(&self) -> Result<usize, Error> {
        let now = self.clock.now();
        let mut state = self.lock()?;
        let mut writes = Writes::default();
        let mut revived = 0;
        for entry in state
            .outbox
            .values_mut()
            .filter(|e| e.status == OutboxStatus::Failed)
        {
            let entry = Arc::make_mut(entry);
            entry.status = OutboxStatus::Pending;
            entry.attempts = 0;
            entry.next_attempt_at = now;
            writes.batch.put(
                Space::Outbox,
                keys::seq(entry.seq).to_vec(),
                encode(&*entry),
            );
            revived += 1;
        }
        state.outbox_failed -= revived;
        self.commit(state, writes)?;
        Ok(revived)
    }

    /// Pending timers due before `before`, in due order.
    pub fn timers_due_before(&self, before: Timestamp) -> Vec<waymark_engine::Timer> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state
            .timers
            .iter()
            .take_while(|((due, _, _), _)| *due < before)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Outbox entries with `status`, oldest first.
    pub fn outbox(&self, status: OutboxStatus) -> Vec<OutboxEntry> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state
            .outbox
            .values()
            .filter(|e| e.status == status)
            .map(|e| OutboxEntry::clone(e))
            .collect()
    }
}

/// The people a delivery round renders for, as they are now (shared).
type People = HashMap<ProfileId, Option<Arc<Profile>>>;

/// Tells the record publisher of [`Waymark::run`] to finish, when dropped.
struct StopPublisher<'a> {
    waymark: &'a Waymark,
    stop: &'a std::sync::atomic::AtomicBool,
}

impl Drop for StopPublisher<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.waymark.records_wake.raise();
    }
}

/// The delivery for a send: the address comes from the profile.
fn delivery(send: &SendRequest, profile: &Profile, now: Timestamp) -> Delivery {
    let text = |key: &str| {
        profile
            .traits
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let to = match send.channel {
        Channel::Email => text("email"),
        Channel::Sms | Channel::Whatsapp => text("phone"),
        Channel::Push => profile.push_tokens.values().next().cloned(),
        Channel::Webhook => None,
    };
    Delivery {
        key: send.key.clone(),
        channel: send.channel,
        profile: send.profile.clone(),
        user_id: profile.user_id.clone(),
        to,
        template: send.template.to_string(),
        journey: send.journey.to_string(),
        node: send.node.to_string(),
        trigger: Arc::clone(&send.trigger),
        decided_at: now,
        anonymous_id: profile.anonymous_id.clone(),
        content: serde_json::Map::new(),
        unsubscribe_url: None,
    }
}
