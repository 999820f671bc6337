//! What an operator asks of a running runtime: counts, profiles, GDPR
//! export and erasure, pending timers and the outbox, retries, journey
//! versions swapped in.

use serde_json::Value;
use waymark_core::{Identifier, Profile, ProfileId, Timestamp};
use waymark_engine::{RecordKind, Timer};
use waymark_identity::{Forgotten, MergeRecord, normalize};
use waymark_store::{Space, keys};

use super::people::CacheStats;
use super::records::{OutboxEntry, OutboxStatus};
use super::state::{decode_timer, encode};
use super::waymark::{Error, Waymark};
use super::writes::Writes;
use crate::step::Journal;

/// A snapshot of the runtime's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub profiles: usize,
    pub instances_active: usize,
    pub timers_pending: usize,
    /// Of those, the ones held in memory (due within the timer window).
    pub timers_queued: usize,
    pub outbox_pending: usize,
    pub outbox_failed: usize,
    pub sends_total: u64,
    /// Journey records committed but not yet published to the record sink.
    pub records_pending: usize,
    /// Rounds of the delivery loop so far: each is a wake-up (a timer or
    /// delivery came due, or a commit brought earlier work); an idle
    /// runtime does not count up.
    pub loop_wakeups: u64,
    /// The people in memory.
    pub cache: CacheStats,
}

impl Waymark {
    /// Starts using a journey version (just deployed, or changed status)
    /// without a restart: `loaded.active` takes new entrants, `loaded.held`
    /// holds its people.
    pub fn apply_journey(&self, loaded: crate::deploy::LoadedJourney) {
        let id = loaded.journey.id.clone();
        let timed = loaded.active && loaded.journey.entry.trigger.is_timed();
        let mut engine = self.engine.write();
        engine.set_held(&loaded.journey.id, loaded.held);
        if !loaded.active {
            engine.deactivate(&loaded.journey.id);
        }
        engine.insert(loaded.journey, loaded.active);
        drop(engine);
        if timed && let Err(error) = self.schedule_deployed(&id) {
            tracing::error!(journey = %id, %error, "could not set the entry timers of a deployed journey");
        }
        // A resumed journey's timers may be due already.
        self.wake();
    }

    /// For a process about to exit, once nothing uses the runtime any
    /// more: leaves the in-memory state (profiles, instances, timers, ...)
    /// to the process's end instead of freeing it value by value (about a
    /// second per 150,000 people). Everything it holds is in the store
    /// already. The runtime is empty afterwards: using it again would
    /// write sequences from zero, so nothing may.
    pub fn leak_state_for_exit(&self) {
        let mut state = self.state.lock();
        std::mem::forget(std::mem::take(&mut *state));
    }

    pub fn stats(&self) -> Stats {
        let state = self.state.lock();
        let failed = state.outbox_failed;
        debug_assert_eq!(
            failed,
            state.count_failed(),
            "failed deliveries counted as they change"
        );
        Stats {
            profiles: state.journeys.people,
            instances_active: state.journeys.running,
            timers_pending: state.timers_pending,
            timers_queued: state.journeys.timers.len(),
            outbox_pending: state.outbox.len() - failed,
            outbox_failed: failed,
            sends_total: state
                .counters
                .iter()
                .filter(|((_, kind), _)| *kind == RecordKind::Send)
                .map(|(_, n)| n)
                .sum(),
            records_pending: state.records.values().map(|r| r.len()).sum(),
            loop_wakeups: self.wakeups.load(std::sync::atomic::Ordering::Relaxed),
            cache: state.people.stats(),
        }
    }

    /// The committed position of a source.
    pub fn source_offset(&self, source: &str) -> Option<u64> {
        self.state.lock().offsets.get(source).copied()
    }

    /// [`Waymark::source_offset`] as the store holds it (on a shared
    /// store, another worker may have moved it).
    pub fn stored_source_offset(&self, source: &str) -> Result<Option<u64>, Error> {
        let key = format!("{}{source}", super::state::SOURCE_PREFIX);
        self.store
            .get(waymark_store::Space::Meta, key.as_bytes())?
            .map(|value| super::state::decode(waymark_store::Space::Meta, key.as_bytes(), &value))
            .transpose()
            .map_err(Error::from)
    }

    /// When the next timer is due, if any (queued, or in the store beyond
    /// the horizon).
    pub fn next_timer_due(&self) -> Result<Option<Timestamp>, Error> {
        let (queued, horizon) = {
            let state = self.state.lock();
            let timers = &state.journeys.timers;
            (timers.next_due(), timers.horizon())
        };
        if let Some(due) = queued {
            return Ok(Some(due));
        }
        let Some(horizon) = horizon else {
            return Ok(None);
        };
        Ok(super::state::first_stored_timer(
            self.store.as_ref(),
            horizon,
        )?)
    }

    /// A profile by id (following merges).
    pub fn profile(&self, id: &ProfileId) -> Result<Option<Profile>, Error> {
        let mut state = self.lock()?;
        state.load_profiles(self.store.as_ref(), std::slice::from_ref(id), true)?;
        Ok(state.journeys.identity.profile(id).cloned())
    }

    /// Everything held about the person `identifier` belongs to: profile,
    /// identifiers, merges, journey instances.
    pub fn export(&self, identifier: &Identifier) -> Result<Option<Value>, Error> {
        let mut state = self.lock()?;
        state.load_identifiers(self.store.as_ref(), &[normalize(identifier)])?;
        let journeys = &state.journeys;
        let Some(id) = journeys.identity.lookup(identifier) else {
            return Ok(None);
        };
        let mut export = journeys.identity.export(identifier).unwrap_or_default();
        export["instances"] = serde_json::to_value(journeys.instances.get(&id)).unwrap_or_default();
        // The merge log is in the store only.
        let mut merges = Vec::new();
        for (_, value) in self.store.scan(Space::Merges, b"")? {
            if let Ok(merge) = serde_json::from_slice::<MergeRecord>(&value)
                && merge.winner == id
            {
                merges.push(merge);
            }
        }
        export["merges"] = serde_json::to_value(merges).unwrap_or_default();
        Ok(Some(export))
    }

    /// Erases the person `identifier` belongs to: profile, identifiers,
    /// journey instances, their timers, deliveries not yet made, and the
    /// merge records and redirects that name them; remembers their
    /// identifiers so late events do not rebuild them. Durable when it returns.
    pub fn forget(&self, identifier: &Identifier) -> Result<Option<Forgotten>, Error> {
        let mut state = self.lock()?;
        state.load_identifiers(self.store.as_ref(), &[normalize(identifier)])?;
        let Some(id) = state.journeys.identity.lookup(identifier) else {
            return Ok(None);
        };
        let mut writes = Writes::default();
        // Redirects to them: those in memory (merges maybe not yet
        // durable) and those in the store.
        let mut losers: Vec<ProfileId> = state
            .journeys
            .identity
            .graph()
            .redirects()
            .filter(|(_, to)| **to == id)
            .map(|(from, _)| from.clone())
            .collect();
        for (key, value) in self.store.scan(Space::Redirects, b"")? {
            let from = ProfileId::from(String::from_utf8_lossy(&key).into_owned());
            if serde_json::from_slice::<String>(&value).is_ok_and(|to| to == id.as_str())
                && !losers.contains(&from)
            {
                losers.push(from);
            }
        }
        for loser in &losers {
            writes
                .batch
                .delete(Space::Redirects, loser.as_str().as_bytes());
        }
        for (key, value) in self.store.scan(Space::Merges, b"")? {
            let names_them = serde_json::from_slice::<MergeRecord>(&value)
                .is_ok_and(|m| m.winner == id || losers.contains(&m.winner));
            if names_them {
                writes.batch.delete(Space::Merges, key);
            }
        }
        // Their timers: every stored one (those staged are queued too, as
        // they are due before the horizon or are the person's entry timers).
        let theirs = |t: &Timer| t.profile == id || losers.contains(&t.profile);
        let mut doomed: Vec<Timer> = state
            .journeys
            .timers
            .iter()
            .filter(|t| theirs(t))
            .cloned()
            .collect();
        doomed.extend(
            state
                .journeys
                .timers
                .entries_of(&id)
                .map(|(t, _)| t.clone()),
        );
        for (key, value) in self.store.scan(Space::Timers, b"")? {
            let (timer, _) = decode_timer(&key, &value)?;
            if theirs(&timer) {
                doomed.push(timer);
            }
        }
        doomed.sort_by_key(|t| (t.due, t.instance.clone(), t.token));
        doomed.dedup_by_key(|t| (t.due, t.instance.clone(), t.token));
        for timer in &doomed {
            state.journeys.timers.remove(timer);
            writes.timer_cleared(timer);
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
        state.journeys.take_instances(&id);
        let Some(forgotten) = state.journeys.identity.forget(identifier) else {
            return Ok(None);
        };
        state.journeys.people = state.journeys.people.saturating_sub(1);
        for identifier in &forgotten.identifiers {
            writes.batch.put(
                Space::Forgotten,
                keys::identifier(identifier),
                encode(identifier),
            );
            writes
                .batch
                .delete(Space::Identifiers, keys::identifier(identifier));
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
            let entry = std::sync::Arc::make_mut(entry);
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
        self.wake();
        Ok(revived)
    }

    /// Pending timers due before `before`, in due order (as committed).
    pub fn timers_due_before(&self, before: Timestamp) -> Result<Vec<Timer>, Error> {
        self.store
            .range(Space::Timers, b"", &keys::time(before), usize::MAX)?
            .into_iter()
            .map(|(key, value)| Ok(decode_timer(&key, &value)?.0))
            .collect()
    }

    /// Outbox entries with `status`, oldest first.
    pub fn outbox(&self, status: OutboxStatus) -> Vec<OutboxEntry> {
        let state = self.state.lock();
        state
            .outbox
            .values()
            .filter(|e| e.status == status)
            .map(|e| OutboxEntry::clone(e))
            .collect()
    }
}
