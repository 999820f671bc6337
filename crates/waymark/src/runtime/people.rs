//! People on demand: the runtime holds only the people its inputs need,
//! read from the store when an event, a timer or an operator asks for
//! them, and keeps the recently used ones in a cache bounded in bytes.
//!
//! Read-your-writes: a person leaves memory only once every batch that
//! wrote them is durable, so the store never holds an older version of
//! anyone who is not in memory. The same holds for redirects of merges.

use std::collections::HashSet;
use std::sync::Arc;

use waymark_core::{Event, Identifier, ProfileId};
use waymark_store::{Error as StoreError, Space, Store, keys};

use super::records::ProfileRecord;
use super::state::{State, decode};

/// Memory a person takes, as a multiple of their stored record's size
/// (measured: docs/benchmarks.md, "People on demand at scale").
const MEMORY_PER_STORED_BYTE: usize = 6;
/// Memory a person takes beyond that: map entries, ids, the cache's own.
const MEMORY_PER_PERSON: usize = 400;
/// Redirect hops followed before a chain is taken for broken.
const MAX_HOPS: usize = 16;

/// What the cache knows of a person in memory.
#[derive(Debug, Clone, Default)]
pub(super) struct Cached {
    /// Estimated memory.
    bytes: usize,
    /// The ticket of the last staged batch that wrote them (0: none): they
    /// stay in memory until it is durable.
    written: u64,
    /// Their segments as the store's member index has them.
    pub segments: Vec<Arc<str>>,
    /// How many of their identifiers the store's identifier index has.
    pub indexed: usize,
}

/// Counts of the cache, for stats and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// People in memory.
    pub people: usize,
    /// Their estimated memory.
    pub bytes: usize,
    /// The budget.
    pub budget: usize,
    /// People asked for and found in memory.
    pub hits: u64,
    /// People asked for and looked up in the store.
    pub misses: u64,
    /// People let go to make room.
    pub evictions: u64,
}

/// The people in memory, least recently used first out.
#[derive(Debug)]
pub(super) struct PeopleCache {
    order: lru::LruCache<ProfileId, Cached>,
    /// Redirects held in memory, with the ticket that wrote them (0: read
    /// from the store).
    redirects: Vec<(u64, ProfileId)>,
    stats: CacheStats,
}

impl Default for PeopleCache {
    fn default() -> Self {
        PeopleCache::new(usize::MAX)
    }
}

impl PeopleCache {
    pub fn new(budget: usize) -> Self {
        PeopleCache {
            order: lru::LruCache::unbounded(),
            redirects: Vec::new(),
            stats: CacheStats {
                budget,
                ..CacheStats::default()
            },
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            people: self.order.len(),
            ..self.stats
        }
    }

    /// The entry of a person in memory (made for one just created).
    pub fn entry(&mut self, id: &ProfileId) -> &mut Cached {
        if !self.order.contains(id) {
            self.order.put(id.clone(), Cached::default());
        }
        self.order.get_mut(id).expect("just put")
    }

    /// Sets a person's estimated memory from their stored record's size.
    pub fn sized(&mut self, id: &ProfileId, stored: usize) {
        let bytes = stored * MEMORY_PER_STORED_BYTE + MEMORY_PER_PERSON;
        let entry = self.entry(id);
        let before = std::mem::replace(&mut entry.bytes, bytes);
        self.stats.bytes = self.stats.bytes + bytes - before;
    }

    /// A person is gone (merged away, forgotten): their index entries.
    pub fn remove(&mut self, id: &ProfileId) -> Option<Cached> {
        let gone = self.order.pop(id)?;
        self.stats.bytes -= gone.bytes;
        Some(gone)
    }

    /// Marks people and merges as written by the batch of `ticket`.
    pub fn written(&mut self, people: &[ProfileId], merged: &[ProfileId], ticket: u64) {
        for id in people {
            if let Some(entry) = self.order.peek_mut(id) {
                entry.written = ticket;
            }
        }
        self.redirects
            .extend(merged.iter().map(|loser| (ticket, loser.clone())));
    }
}

impl State {
    /// Loads the owners of every identifier `events` may resolve by.
    pub fn load_for_events(
        &mut self,
        store: &dyn Store,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let mut wanted: Vec<Identifier> = Vec::new();
        let mut asked = HashSet::new();
        for event in events {
            for identifier in self.journeys.identity.identifiers_to_load(event) {
                if let Some(owner) = self.journeys.identity.graph().lookup(&identifier) {
                    self.people.order.promote(&owner);
                    self.people.stats.hits += 1;
                } else if !self.journeys.identity.graph().is_forgotten(&identifier)
                    && asked.insert(identifier.clone())
                {
                    wanted.push(identifier);
                }
            }
        }
        self.load_identifiers(store, &wanted)
    }

    /// Loads the owners of `identifiers` (those not in memory).
    pub fn load_identifiers(
        &mut self,
        store: &dyn Store,
        identifiers: &[Identifier],
    ) -> Result<(), StoreError> {
        let wanted: Vec<&Identifier> = identifiers
            .iter()
            .filter(|i| self.journeys.identity.graph().lookup(i).is_none())
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        self.people.stats.misses += wanted.len() as u64;
        let keys: Vec<Vec<u8>> = wanted.iter().map(|i| keys::identifier(i)).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let owners: Vec<ProfileId> = store
            .get_many(Space::Identifiers, &refs)?
            .into_iter()
            .flatten()
            .map(|owner| ProfileId::from(String::from_utf8_lossy(&owner).into_owned()))
            .collect();
        self.load_profiles(store, &owners, false)
    }

    /// Loads these profiles (following merges) where not in memory;
    /// `count` counts them as asked for (hits and misses).
    pub fn load_profiles(
        &mut self,
        store: &dyn Store,
        ids: &[ProfileId],
        count: bool,
    ) -> Result<(), StoreError> {
        let mut wanted: Vec<ProfileId> = Vec::new();
        for id in ids {
            match self.in_memory(id) {
                Ok(live) => {
                    self.people.order.promote(&live);
                    self.people.stats.hits += u64::from(count);
                }
                Err(missing) if !wanted.contains(&missing) => wanted.push(missing),
                Err(_) => {}
            }
        }
        self.people.stats.misses += if count { wanted.len() as u64 } else { 0 };
        for _ in 0..MAX_HOPS {
            if wanted.is_empty() {
                break;
            }
            let keys: Vec<&[u8]> = wanted.iter().map(|id| id.as_str().as_bytes()).collect();
            let records = store.get_many(Space::Profiles, &keys)?;
            let mut gone = Vec::new();
            for (id, record) in wanted.iter().zip(records) {
                match record {
                    Some(value) => self.take_in(id, &value)?,
                    None => gone.push(id.clone()),
                }
            }
            let keys: Vec<&[u8]> = gone.iter().map(|id| id.as_str().as_bytes()).collect();
            let redirects = store.get_many(Space::Redirects, &keys)?;
            wanted.clear();
            for (from, to) in gone.into_iter().zip(redirects) {
                let Some(to) = to else { continue };
                let to: String = decode(Space::Redirects, from.as_str().as_bytes(), &to)?;
                let to = ProfileId::from(to);
                let graph = self.journeys.identity.graph_mut();
                graph.load_redirect(from.clone(), to.clone());
                self.people.redirects.push((0, from));
                if let Err(missing) = self.in_memory(&to)
                    && !wanted.contains(&missing)
                {
                    wanted.push(missing);
                }
            }
        }
        Ok(())
    }

    /// The live profile `id` stands for when it is in memory, else the
    /// first id on its way there that is not.
    fn in_memory(&self, id: &ProfileId) -> Result<ProfileId, ProfileId> {
        let graph = self.journeys.identity.graph();
        let mut current = id;
        for _ in 0..MAX_HOPS {
            if graph.is_loaded(current) {
                return Ok(current.clone());
            }
            match graph.redirect(current) {
                Some(to) => current = to,
                None => break,
            }
        }
        Err(current.clone())
    }

    /// Takes a stored person into memory.
    fn take_in(&mut self, id: &ProfileId, value: &[u8]) -> Result<(), StoreError> {
        let record: ProfileRecord = decode(Space::Profiles, id.as_str().as_bytes(), value)?;
        let profile = record.profile.load();
        let instances = record.instances.into_iter().map(|i| i.load(id)).collect();
        let segments = profile
            .segments
            .keys()
            .map(|s| Arc::from(s.as_str()))
            .collect();
        let indexed = record.identifiers.len();
        self.journeys
            .identity
            .load(profile, record.created, record.identifiers);
        self.journeys.load_instances(id, instances);
        for stored in record.entry_timers {
            let (timer, order) = stored.load(id);
            self.journeys.timers.insert_at(timer, order);
        }
        let entry = self.people.entry(id);
        entry.segments = segments;
        entry.indexed = indexed;
        self.people.sized(id, value.len());
        Ok(())
    }

    /// Lets `id` go from memory unless a batch after `durable` wrote them.
    pub fn let_go(&mut self, id: &ProfileId, durable: u64) {
        if self
            .people
            .order
            .peek(id)
            .is_some_and(|c| c.written <= durable)
            && let Some(entry) = self.people.order.pop(id)
        {
            self.people.stats.bytes -= entry.bytes;
            self.journeys.unload(id);
        }
    }

    /// Lets the least recently used people go until the cache is within
    /// its budget, sparing those a batch not yet durable wrote; and the
    /// redirects that are durable.
    pub fn trim(&mut self, durable: u64) {
        let graph = self.journeys.identity.graph_mut();
        self.people.redirects.retain(|(ticket, from)| {
            let keep = *ticket > durable;
            if !keep {
                graph.unload_redirect(from);
            }
            keep
        });
        let mut spared = 0;
        while self.people.stats.bytes > self.people.stats.budget && spared < self.people.order.len()
        {
            let Some((id, entry)) = self.people.order.peek_lru() else {
                break;
            };
            if entry.written > durable {
                let id = id.clone();
                self.people.order.promote(&id);
                spared += 1;
                continue;
            }
            let Some((id, entry)) = self.people.order.pop_lru() else {
                break;
            };
            self.people.stats.bytes -= entry.bytes;
            self.people.stats.evictions += 1;
            self.journeys.unload(&id);
        }
    }
}
