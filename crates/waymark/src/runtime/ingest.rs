//! Inputs into the runtime: events (deduplicated, resolved, decided) and
//! due timers, each batch through the shared step and staged for one
//! commit.

use waymark_core::{Event, ProfileId, Timestamp};
use waymark_store::{Space, keys};

use super::commit::Ticket;
use super::state::{SOURCE_PREFIX, State, encode};
use super::waymark::{Error, Waymark};
use super::writes::Writes;
use crate::step::Ingested;

/// What one ingest did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub processed: usize,
    pub duplicates: usize,
    /// Events with no usable identifier (all blocked or forgotten).
    pub unresolvable: usize,
    pub sends: usize,
}

impl Waymark {
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
        self.trim_cache();
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
        self.stage_batch_in(None, events, offsets)
    }

    /// [`Waymark::stage_batch_at`] for inputs of one partition, `lane`
    /// (`topic/partition`): on a shared store, the outbox entries and
    /// timers they make belong to it (its owner delivers and fires them).
    /// Without a lane, they belong to the first lane this runtime claimed.
    pub fn stage_batch_in(
        &self,
        lane: Option<&str>,
        events: &[Event],
        offsets: &[(&str, u64)],
    ) -> Result<(IngestReport, Ticket), Error> {
        let now = self.clock.now();
        let engine = self.engine();
        let asked = std::time::Instant::now();
        let mut state = self.lock()?;
        let lock_wait = asked.elapsed();
        self.make_room(&mut state);
        let mut writes = Writes::for_step(self.records.is_some());
        if self.is_shared() {
            writes.lane = self.lane_for(lane);
            if let Err(error) = self.load_locked_for_events(&mut state, events, &mut writes.locks) {
                self.give_back(&writes.locks.0);
                return Err(error);
            }
        } else {
            state.load_for_events(self.store.as_ref(), events)?;
        }
        let mut report = IngestReport::default();
        // Ids past the dedupe window are forgotten as the window moves (a
        // long-running worker would otherwise keep every id it ever saw).
        let seen = &mut state.journeys.seen;
        for expired in seen.forget_before(now - self.options.dedupe_window) {
            writes.batch.delete(Space::Messages, expired);
        }
        for event in events {
            match state.journeys.ingest(&engine, event, now, &mut writes) {
                Ingested::Duplicate => {
                    report.duplicates += 1;
                    continue;
                }
                Ingested::Unresolvable => report.unresolvable += 1,
                Ingested::Processed { sends } => {
                    report.processed += 1;
                    report.sends += sends;
                }
            }
            writes.messages.push(event.message_id.as_str());
        }
        remember_messages(&mut state, &mut writes, now);
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

    /// Lets people go from memory while the cache is over its budget
    /// (only those the store holds as they are).
    pub(super) fn make_room(&self, state: &mut State) {
        state.trim(
            self.durable
                .ticket
                .load(std::sync::atomic::Ordering::SeqCst),
        );
    }

    /// Queues the stored timers the window now reaches, once `now` is
    /// half a window from the horizon: the horizon moves to `now` plus a
    /// window. What is staged is made durable first, so the store's
    /// timers are exactly those pending.
    fn extend_timer_horizon(&self, state: &mut State, now: Timestamp) -> Result<(), Error> {
        let window = self.options.timer_window;
        let Some(horizon) = state.journeys.timers.horizon() else {
            return Ok(());
        };
        if now + window / 2 < horizon {
            return Ok(());
        }
        let last = self.staged.lock().last_ticket();
        self.wait_durable(last)?;
        let until = now + window;
        let stored = self.store.range(
            Space::Timers,
            &keys::time(horizon),
            &keys::time(until),
            usize::MAX,
        )?;
        state.journeys.timers.set_horizon(until);
        let owned: Option<Vec<String>> = self
            .is_shared()
            .then(|| self.fences.lock().keys().cloned().collect());
        for (key, value) in stored {
            let (timer, order, lane) = super::state::decode_timer_in_lane(&key, &value)?;
            // A shared store's timers: only those of lanes claimed.
            if let Some(owned) = &owned
                && !lane
                    .as_deref()
                    .is_some_and(|l| owned.iter().any(|o| o == l))
            {
                continue;
            }
            state.journeys.timers.insert_at(timer, order);
        }
        Ok(())
    }

    /// Fires the timers due by now, in due order, a batch per commit.
    /// Returns how many fired (stale ones included).
    pub fn fire_due_timers(&self) -> Result<usize, Error> {
        let now = self.clock.now();
        let mut fired = 0;
        loop {
            let engine = self.engine();
            let mut state = self.lock()?;
            if self.timers_held() {
                return Ok(fired);
            }
            self.extend_timer_horizon(&mut state, now)?;
            let due = state
                .journeys
                .due_timers(&engine, now, self.options.timer_batch);
            if due.is_empty() {
                return Ok(fired);
            }
            self.make_room(&mut state);
            let people: Vec<ProfileId> = due.iter().map(|t| t.profile.clone()).collect();
            let mut writes = Writes::for_step(self.records.is_some());
            let lanes = if self.is_shared() {
                match self.lock_timers(&mut state, &due, &people, &mut writes) {
                    Ok(lanes) => Some(lanes),
                    Err(error) => {
                        self.give_back(&writes.locks.0);
                        return Err(error);
                    }
                }
            } else {
                state.load_profiles(self.store.as_ref(), &people, true)?;
                None
            };
            for (i, timer) in due.iter().enumerate() {
                match lanes.as_ref().map(|l| &l[i]) {
                    // Another worker fired or cleared it meanwhile: only
                    // memory held it still.
                    Some(None) => {
                        state.journeys.timers.remove(timer);
                        continue;
                    }
                    Some(Some(lane)) => writes.lane.clone_from(lane),
                    None => {}
                }
                state.journeys.fire(&engine, timer, &mut writes);
            }
            fired += due.len();
            drop(engine);
            self.commit(state, writes)?;
        }
    }
}

/// Writes the batch's processed message ids as one value, keyed by time
/// (so a retention sweep can drop old ones) and batch number.
pub(super) fn remember_messages(state: &mut State, writes: &mut Writes<'_>, now: Timestamp) {
    if writes.messages.is_empty() {
        return;
    }
    let mut key = keys::time(now).to_vec();
    key.extend_from_slice(&keys::seq(state.next_batch_seq));
    state.next_batch_seq += 1;
    writes
        .batch
        .put(Space::Messages, key.clone(), encode(&writes.messages));
    state.journeys.seen.close_batch(now, key);
}
