//! Many runtimes on one store (PostgreSQL, `RuntimeOptions::shared`):
//! what keeps them from deciding for the same person at once, from
//! numbering keys alike, and from firing or delivering what another owns
//! (docs/scale.md, "Many workers").
//!
//! - **Slots**: each runtime numbers outbox entries, records, merges,
//!   message batches and creation orders from `slot << 40`, a slot the
//!   store hands out once per start, and writes its counters under keys of
//!   its own; readers add the slots up.
//! - **Person locks**: before deciding, a batch takes a lock on each
//!   identifier its events name, reads their owners, takes a lock on each
//!   owner and reads them again; a due timer takes its person's. Locks are
//!   all or none and given back once the batch is durable, so what a
//!   runtime reads under them is what the store holds.
//! - **Lanes**: outbox entries and timers belong to the input partition
//!   (lane) of the input that made them; a runtime delivers and fires only
//!   for lanes it claimed, takes a lane's pending work from the store when
//!   it claims it and drops it from memory when it gives it back.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use waymark_core::{Event, Identifier, ProfileId};
use waymark_engine::Timer;
use waymark_store::{Space, keys};

use super::record_batch::RecordBatch;
use super::records::{OutboxEntry, StoredTimer};
use super::state::{State, decode, decode_timer_in_lane};
use super::waymark::{Error, Waymark};
use super::writes::Writes;

/// Bits of a runtime's own sequence numbers below its slot.
pub(super) const SLOT_SHIFT: u32 = 40;

/// How long a batch waits for the people it needs before giving up (the
/// worker then stops: another holds them far longer than a commit takes).
const LOCK_PATIENCE: Duration = Duration::from_secs(60);

/// The first sequence number of `slot` and the first past it.
pub(super) fn slot_range(slot: u64) -> (u64, u64) {
    (slot << SLOT_SHIFT, (slot + 1) << SLOT_SHIFT)
}

/// A stable 64-bit key for a lock (xxh3: the same in every process).
fn lock_key(kind: u8, text: &str) -> i64 {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.push(kind);
    bytes.extend_from_slice(text.as_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes) as i64
}

/// The lock of an identifier (taken before its owner is read).
pub(super) fn identifier_lock(identifier: &Identifier) -> i64 {
    lock_key(b'i', &format!("{}:{}", identifier.kind, identifier.value))
}

/// The lock of a person.
pub(super) fn person_lock(id: &ProfileId) -> i64 {
    lock_key(b'p', id.as_str())
}

/// Locks a batch holds until it is durable: each taken once per entry.
#[derive(Debug, Default)]
pub(super) struct Held(pub Vec<i64>);

impl Waymark {
    /// The entries of `seqs` (outbox or records, by sequence number) the
    /// store holds: below the durable mark `below`, and those of other
    /// runtimes' slots above this one's (read from the store).
    pub(super) fn durable_seqs<'a, V>(
        &self,
        seqs: &'a std::collections::BTreeMap<u64, V>,
        below: u64,
    ) -> impl Iterator<Item = (&'a u64, &'a V)> {
        let (_, past) = slot_range(self.slot);
        seqs.range(..below).chain(seqs.range(past.max(below)..))
    }

    /// Whether this runtime shares its store with other workers
    /// ([`super::RuntimeOptions::shared`]).
    pub fn is_shared(&self) -> bool {
        self.options.shared
    }

    /// Takes `keys` (those not taken for this batch yet), waiting while
    /// another worker holds one. Runtimes share nothing in memory, so the
    /// wait is a poll with a growing pause; batches this runtime staged
    /// are made durable first if the wait drags on (they may hold what
    /// the other waits for).
    pub(super) fn take_locks(&self, held: &mut Held, keys: Vec<i64>) -> Result<(), Error> {
        let taken: HashSet<i64> = held.0.iter().copied().collect();
        let mut keys: Vec<i64> = keys.into_iter().filter(|k| !taken.contains(k)).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut pause = Duration::from_micros(200);
        let mut flushed = false;
        while !self.store.try_lock(&keys)? {
            if started.elapsed() > LOCK_PATIENCE {
                return Err(Error::Locked {
                    waited: started.elapsed(),
                });
            }
            if !flushed && started.elapsed() > Duration::from_millis(20) {
                let last = self.staged.lock().last_ticket();
                self.wait_durable(last)?;
                flushed = true;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
        held.0.extend(keys);
        Ok(())
    }

    /// Gives back locks of batches now durable (or never staged).
    pub(super) fn give_back(&self, keys: &[i64]) {
        if let Err(error) = self.store.unlock(keys) {
            tracing::warn!(%error, "could not give locks back; they go with the connection");
        }
    }

    /// Under person locks, the people `events` resolve to as the store
    /// holds them: identifiers locked and read, their owners locked, then
    /// read again (another worker may have changed them in between).
    pub(super) fn load_locked_for_events(
        &self,
        state: &mut State,
        events: &[Event],
        held: &mut Held,
    ) -> Result<(), Error> {
        let identifiers: Vec<Identifier> = events
            .iter()
            .flat_map(|e| state.journeys.identity.identifiers_to_load(e))
            .collect();
        let started = Instant::now();
        self.take_locks(held, identifiers.iter().map(identifier_lock).collect())?;
        let mut locked: HashSet<ProfileId> = HashSet::new();
        // Each round locks the owners the last read found; another worker
        // merging them away meanwhile makes another round.
        for _ in 0..8 {
            state.load_for_events(self.store.as_ref(), events)?;
            let owners: Vec<ProfileId> = identifiers
                .iter()
                .filter_map(|i| state.journeys.identity.lookup(i))
                .filter(|owner| !locked.contains(owner))
                .collect();
            if owners.is_empty() {
                return Ok(());
            }
            self.take_locks(held, owners.iter().map(person_lock).collect())?;
            self.reread(state, &owners);
            locked.extend(owners);
        }
        Err(Error::Locked {
            waited: started.elapsed(),
        })
    }

    /// Under person locks, `people` as the store holds them.
    pub(super) fn load_locked_people(
        &self,
        state: &mut State,
        people: &[ProfileId],
        held: &mut Held,
    ) -> Result<(), Error> {
        self.take_locks(held, people.iter().map(person_lock).collect())?;
        self.reread(state, people);
        state.load_profiles(self.store.as_ref(), people, true)?;
        Ok(())
    }

    /// Lets `people` go from memory unless a batch not yet durable wrote
    /// them (this runtime holds their lock since): they are read again.
    fn reread(&self, state: &mut State, people: &[ProfileId]) {
        let durable = self
            .durable
            .ticket
            .load(std::sync::atomic::Ordering::SeqCst);
        for id in people {
            state.let_go(id, durable);
        }
    }
}

/// A lane's due timer as the store holds it: None when gone (another
/// worker fired or cleared it), else the lane it belongs to.
type TimerLane = Option<Option<Arc<str>>>;

impl Waymark {
    /// The lane of an input: its partition, else the first this runtime
    /// claimed (an API entry, a deploy).
    pub(super) fn lane_for(&self, lane: Option<&str>) -> Option<Arc<str>> {
        lane.map(Arc::from).or_else(|| {
            self.fences
                .lock()
                .keys()
                .next()
                .map(|k| Arc::from(k.as_str()))
        })
    }

    /// Under their people's locks, which of `due` the store still holds,
    /// and their lanes. What this runtime staged is made durable first
    /// (a timer it set is then in the store).
    pub(super) fn lock_timers(
        &self,
        state: &mut State,
        due: &[Timer],
        people: &[ProfileId],
        writes: &mut Writes<'_>,
    ) -> Result<Vec<TimerLane>, Error> {
        let last = self.staged.lock().last_ticket();
        self.wait_durable(last)?;
        self.load_locked_people(state, people, &mut writes.locks)?;
        let keys: Vec<Vec<u8>> = due
            .iter()
            .map(|t| keys::timer(t.due, &t.instance, t.token).to_vec())
            .collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let stored = self.store.get_many(Space::Timers, &refs)?;
        stored
            .into_iter()
            .zip(&keys)
            .map(|(value, key)| {
                value
                    .map(|v| decode::<StoredTimer>(Space::Timers, key, &v).map(|t| t.l))
                    .transpose()
            })
            .collect::<Result<_, _>>()
            .map_err(Error::from)
    }

    /// Takes the pending work of `lanes` just claimed from the store: their
    /// outbox entries and timers due within the window, and journey
    /// records not yet published (records have no lane: a record may be
    /// published twice, as after a crash).
    pub(super) fn take_lanes(&self, lanes: &[String]) -> Result<(), Error> {
        let last = self.staged.lock().last_ticket();
        self.wait_durable(last)?;
        let mut state = self.lock()?;
        let ours = |lane: &Option<Arc<str>>| {
            lane.as_deref()
                .is_some_and(|l| lanes.iter().any(|x| x == l))
        };
        let mut outbox = 0;
        for (key, value) in self.store.scan(Space::Outbox, b"")? {
            let entry: OutboxEntry = decode(Space::Outbox, &key, &value)?;
            if ours(&entry.lane) && !state.outbox.contains_key(&entry.seq) {
                state.outbox.insert(entry.seq, Arc::new(entry));
                outbox += 1;
            }
        }
        state.outbox_failed = state.count_failed();
        let horizon = state.journeys.timers.horizon();
        let until = horizon.map_or([0xff; 9].to_vec(), |h| keys::time(h).to_vec());
        let mut timers = 0;
        for (key, value) in self.store.range(Space::Timers, b"", &until, usize::MAX)? {
            let (timer, order, lane) = decode_timer_in_lane(&key, &value)?;
            if ours(&lane) {
                state.journeys.timers.insert_at(timer, order);
                timers += 1;
            }
        }
        for (key, value) in self.store.scan(Space::Records, b"")? {
            if let Some(seq) = keys::decode_seq(&key)
                && !state.records.contains_key(&seq)
            {
                state
                    .records
                    .insert(seq, Arc::new(RecordBatch::decode(&key, &value)?));
            }
        }
        drop(state);
        tracing::info!(lanes = lanes.len(), outbox, timers, "lanes taken");
        self.wake.notify_one();
        self.records_wake.raise();
        Ok(())
    }

    /// Gives `lanes` back (revoked): their outbox entries and timers leave
    /// memory once what is staged is durable, and the call returns when no
    /// delivery round is sending any more, so that the next owner cannot
    /// send a message this runtime is still sending.
    pub fn release(&self, lanes: &[String]) -> Result<(), Error> {
        if !self.is_shared() {
            return Ok(());
        }
        // Under the state lock nothing more is staged: every batch that
        // may hold the lanes' timers or outbox entries (a timer round
        // racing this revoke too) is durable, still fenced with their
        // epochs, before they are dropped and the next owner reads them.
        let mut state = self.lock()?;
        let last = self.staged.lock().last_ticket();
        self.wait_durable(last)?;
        {
            let mut fences = self.fences.lock();
            for lane in lanes {
                fences.remove(lane);
            }
        }
        let owned: Vec<String> = self.fences.lock().keys().cloned().collect();
        let gone = |lane: &Option<Arc<str>>| {
            lane.as_deref()
                .is_some_and(|l| lanes.iter().any(|x| x == l))
        };
        state.outbox.retain(|_, entry| !gone(&entry.lane));
        state.outbox_failed = state.count_failed();
        // People are in memory only while a batch not yet durable holds
        // them: none now, so the queue is rebuilt from the store.
        self.make_room(&mut state);
        state.journeys.timers.clear();
        drop(state);
        self.take_lanes(&owned)?;
        while self.delivering.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        tracing::info!(lanes = lanes.len(), "lanes given back");
        Ok(())
    }
}
