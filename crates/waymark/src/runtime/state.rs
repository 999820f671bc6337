//! The runtime's state in memory and how it is loaded from the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use waymark_analytics::Metrics;
use waymark_core::{Identifier, Timestamp};
use waymark_engine::{RecordKind, Timer};
use waymark_identity::{Identity, IdentityConfig, IdentityGraph};
use waymark_store::{Error as StoreError, Space, Store, keys};

use super::people::PeopleCache;
use super::record_batch::RecordBatch;
use super::records::{OutboxEntry, StoredTimer};
use crate::step::{Fast, JourneyState};

/// Meta keys.
pub(super) const OUTBOX_SEQ: &str = "seq:outbox";
pub(super) const MERGE_SEQ: &str = "seq:merge";
pub(super) const SOURCE_PREFIX: &str = "source:";
/// Meta keys of stored prediction models.
pub(super) const MODEL_PREFIX: &str = "model:";
/// Live profiles and running instances, counted as they change (the
/// runtime holds only some people in memory).
pub(super) const PEOPLE_COUNT: &str = "count:people";
pub(super) const RUNNING_COUNT: &str = "count:running";
/// The highest creation order handed out (new profiles get higher ones).
pub(super) const CREATED_SEQ: &str = "seq:created";
/// Pending timers, counted as they are set and cleared (the runtime
/// queues only those due before its horizon).
pub(super) const TIMERS_COUNT: &str = "count:timers";
/// The order the last timer was set in.
pub(super) const TIMER_ORDER: &str = "seq:timer-order";

/// Meta keys of entries into journeys with a limit:
/// `entries:<journey>\0<millis>\0<instance>`, the value the millis.
const ENTRY_PREFIX: &str = "entries:";

/// The meta key of `instance`'s entry into `journey` at `at`.
pub(super) fn entry_key(journey: &str, at: Timestamp, instance: &str) -> String {
    format!(
        "{ENTRY_PREFIX}{journey}\u{0}{}\u{0}{instance}",
        at.timestamp_millis()
    )
}

/// A journey and a kind of record: what the runtime counts.
pub type CounterKey = (Arc<str>, RecordKind);

/// Everything the runtime keeps between batches.
#[derive(Debug, Default)]
pub(super) struct State {
    /// People, their journey instances, timers and processed message ids:
    /// what the shared step ([`crate::step`]) changes.
    pub journeys: JourneyState,
    /// Outbox entries marked failed, counted as they change (stats are
    /// read under the lock, every scrape).
    pub outbox_failed: usize,
    /// Shared with the delivery round that is sending them (no copy under the lock).
    pub outbox: BTreeMap<u64, Arc<OutboxEntry>>,
    pub next_outbox_seq: u64,
    pub next_merge_seq: u64,
    /// Numbers the per-batch values of processed message ids.
    pub next_batch_seq: u64,
    /// Keys of message-id batches older than the dedupe window, to delete.
    pub expired_messages: Vec<Vec<u8>>,
    /// Records counted per (journey, kind); stored under `journey\0kind`.
    pub counters: HashMap<CounterKey, u64, Fast>,
    /// Report counters per journey version and day (docs/analytics.md).
    pub analytics: Metrics,
    pub offsets: HashMap<String, u64>,
    /// Journey records waiting for the record sink, a batch per commit,
    /// by commit sequence.
    pub records: BTreeMap<u64, Arc<RecordBatch>>,
    pub next_record_seq: u64,
    /// Which people are in memory, and how much room they take.
    pub people: PeopleCache,
    /// Pending timers, queued or not.
    pub timers_pending: usize,
    /// The runtime's slot when other workers share the store: counters
    /// are written under keys of its own (see [`super::shared`]).
    pub shared_slot: Option<u64>,
}

pub(super) fn decode<T: DeserializeOwned>(
    space: Space,
    key: &[u8],
    value: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
        space,
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

impl State {
    /// Loads what the runtime keeps in memory from the store: no person
    /// (they are read on demand, see [`super::people`]); timers, the
    /// outbox, records not yet published, recent message ids, counters.
    /// Message ids processed before `seen_after` are dropped (retention
    /// window). A store written before people were read on demand gets
    /// its indexes first. With `slot`, the store is shared (see
    /// [`State::share`]): timers, outbox entries, records and counters
    /// are not read (a runtime takes them per lane when it claims one).
    pub fn load(
        store: &dyn Store,
        identity: IdentityConfig,
        seen_after: Timestamp,
        cache_bytes: usize,
        timer_horizon: Timestamp,
        slot: Option<u64>,
    ) -> Result<Self, StoreError> {
        let shared = slot.is_some();
        super::layout::upgrade(store)?;
        let mut state = State {
            people: PeopleCache::new(cache_bytes),
            ..State::default()
        };
        let mut forgotten = Vec::new();
        for (key, value) in store.scan(Space::Forgotten, b"")? {
            let id: Identifier = decode(Space::Forgotten, &key, &value)?;
            forgotten.push(id);
        }
        let graph = IdentityGraph::restore(identity, [], [], forgotten, Vec::new());
        state.journeys = JourneyState::new(Identity::restore(graph, []));
        state.journeys.timers.set_horizon(timer_horizon);
        let unless_shared = |space| {
            if shared {
                Ok(Vec::new())
            } else {
                store.scan(space, b"")
            }
        };
        let timers = if shared {
            Vec::new()
        } else {
            store.range(Space::Timers, b"", &keys::time(timer_horizon), usize::MAX)?
        };
        for (key, value) in timers {
            let (timer, order) = decode_timer(&key, &value)?;
            state.journeys.timers.insert_at(timer, order);
        }
        for (key, value) in unless_shared(Space::Outbox)? {
            let entry: OutboxEntry = decode(Space::Outbox, &key, &value)?;
            state.outbox.insert(entry.seq, Arc::new(entry));
        }
        for (key, value) in unless_shared(Space::Records)? {
            if let Some(seq) = keys::decode_seq(&key) {
                let records = RecordBatch::decode(&key, &value)?;
                state.records.insert(seq, Arc::new(records));
                state.next_record_seq = seq + 1;
            }
        }
        for (key, value) in store.scan(Space::Messages, b"")? {
            let at = keys::decode_time(&key).unwrap_or(seen_after);
            state.next_batch_seq = state
                .next_batch_seq
                .max(keys::decode_seq(key.get(8..).unwrap_or_default()).map_or(0, |s| s + 1));
            if at >= seen_after {
                let ids: Vec<String> = decode(Space::Messages, &key, &value)?;
                for id in &ids {
                    state.journeys.seen.insert(id);
                }
                state.journeys.seen.close_batch(at, key);
            } else {
                state.expired_messages.push(key);
            }
        }
        for (key, value) in unless_shared(Space::Counters)? {
            let n: u64 = decode(Space::Counters, &key, &value)?;
            let text = String::from_utf8_lossy(&key);
            // `journey\0kind`, or `journey\0kind\0slot` from a shared store.
            let parsed = text.split_once('\u{0}').and_then(|(journey, kind)| {
                let kind = kind.split('\u{0}').next()?;
                Some((Arc::from(journey), RecordKind::parse(kind)?))
            });
            match parsed {
                Some(counter) => {
                    *state.counters.entry(counter).or_default() += n;
                }
                None => {
                    tracing::warn!(key = %text.escape_debug(), "unknown counter in the store; ignored")
                }
            }
        }
        state.analytics = crate::analytics::stored_metrics(store)?;
        for (bucket, counters) in state.analytics.buckets() {
            for v in &counters.variants {
                state.journeys.variants.add_counts(
                    &bucket.journey,
                    &v.node,
                    &v.variant,
                    v.group.entrants,
                    v.group.conversions,
                );
            }
        }
        for (key, value) in store.scan(Space::Meta, b"")? {
            let key = String::from_utf8_lossy(&key).into_owned();
            if key.starts_with(MODEL_PREFIX) {
                continue; // prediction models: JSON, read when asked for
            }
            let n: u64 = decode(Space::Meta, key.as_bytes(), &value)?;
            match key.as_str() {
                OUTBOX_SEQ => state.next_outbox_seq = n,
                MERGE_SEQ => state.next_merge_seq = state.next_merge_seq.max(n),
                PEOPLE_COUNT => state.journeys.people = usize::try_from(n).unwrap_or(usize::MAX),
                RUNNING_COUNT => state.journeys.running = usize::try_from(n).unwrap_or(usize::MAX),
                CREATED_SEQ => state.journeys.identity.graph_mut().raise_created(n),
                TIMERS_COUNT => state.timers_pending = usize::try_from(n).unwrap_or(usize::MAX),
                TIMER_ORDER => state.journeys.timers.raise_order(n),
                "layout" => {}
                _ => {
                    if let Some(source) = key.strip_prefix(SOURCE_PREFIX) {
                        state.offsets.insert(source.to_owned(), n);
                    } else if let Some(entry) = key.strip_prefix(ENTRY_PREFIX)
                        && let Some((journey, rest)) = entry.split_once('\u{0}')
                        && let Some((_, instance)) = rest.split_once('\u{0}')
                        && let Some(at) = i64::try_from(n)
                            .ok()
                            .and_then(chrono::DateTime::from_timestamp_millis)
                    {
                        let entry = (at, Arc::from(instance));
                        state.journeys.entries.insert(&Arc::from(journey), entry);
                    }
                }
            }
        }
        state.next_outbox_seq = state
            .next_outbox_seq
            .max(state.outbox.keys().next_back().map_or(0, |s| s + 1));
        state.outbox_failed = state.count_failed();
        if let Some(slot) = slot {
            state.share(slot);
        }
        Ok(state)
    }

    /// Makes this state one of several workers' on a shared store: its own
    /// numbers start at `slot << 40`, its report counters at zero (written
    /// under its slot's keys; readers add slots up; the variants' counts
    /// were taken from every slot's). People stay in memory only while a
    /// batch not yet durable holds them.
    fn share(&mut self, slot: u64) {
        let (first, _) = super::shared::slot_range(slot);
        self.shared_slot = Some(slot);
        self.people = PeopleCache::new(0);
        self.analytics = Metrics::default();
        self.journeys.timers.raise_order(first);
        self.journeys.identity.graph_mut().raise_created(first);
        self.next_outbox_seq = self.next_outbox_seq.max(first);
        self.next_record_seq = self.next_record_seq.max(first);
        self.next_merge_seq = self.next_merge_seq.max(first);
        self.next_batch_seq = self.next_batch_seq.max(first);
    }

    /// Failed outbox entries, by a scan.
    pub fn count_failed(&self) -> usize {
        self.outbox
            .values()
            .filter(|e| e.status == super::records::OutboxStatus::Failed)
            .count()
    }
}

/// The purchase model saved in the store (`model:bgnbd`), if any.
pub(super) fn purchase_model(
    store: &dyn Store,
) -> Result<Option<waymark_engine::predict::PurchaseModel>, StoreError> {
    let key = model_key("bgnbd");
    store
        .get(Space::Meta, key.as_bytes())?
        .map(|value| decode(Space::Meta, key.as_bytes(), &value))
        .transpose()
}

/// The population's engagement totals `waymark-admin model engagement`
/// saved, if any.
pub(super) fn engagement_model(
    store: &dyn Store,
) -> Result<Option<waymark_engine::Engagement>, StoreError> {
    let key = model_key("engagement");
    store
        .get(Space::Meta, key.as_bytes())?
        .map(|value| decode(Space::Meta, key.as_bytes(), &value))
        .transpose()
}

/// The meta key of the prediction model stored under `name`.
pub(super) fn model_key(name: &str) -> String {
    format!("{MODEL_PREFIX}{name}")
}

/// When the earliest timer at or after `from` in the store is due.
pub(super) fn first_stored_timer(
    store: &dyn Store,
    from: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let first = store.range(Space::Timers, &keys::time(from), &[0xff; 9], 1)?;
    Ok(first.first().and_then(|(key, _)| keys::decode_time(key)))
}

/// A stored timer and the order it was set in.
pub(super) fn decode_timer(key: &[u8], value: &[u8]) -> Result<(Timer, u64), StoreError> {
    decode_timer_in_lane(key, value).map(|(timer, order, _)| (timer, order))
}

/// A stored timer, the order it was set in and its lane (on a shared store).
pub(super) fn decode_timer_in_lane(
    key: &[u8],
    value: &[u8],
) -> Result<(Timer, u64, Option<Arc<str>>), StoreError> {
    let mut stored: StoredTimer = decode(Space::Timers, key, value)?;
    let (order, lane) = (stored.o, stored.l.take());
    let timer = timer_from(key, stored).ok_or_else(|| StoreError::Corrupt {
        space: Space::Timers,
        key: String::from_utf8_lossy(key).into_owned(),
        reason: "a timer key is due time, instance, NUL, token".to_owned(),
    })?;
    Ok((timer, order, lane))
}

/// A timer from its key (due, instance, NUL, token) and stored value.
pub(super) fn timer_from(key: &[u8], stored: StoredTimer) -> Option<Timer> {
    let due = keys::decode_time(key)?;
    let (instance, token) = key.get(8..)?.split_at(key.len().checked_sub(8 + 9)?);
    let token = u64::from_be_bytes(token.get(1..)?.try_into().ok()?);
    let instance: Arc<str> = std::str::from_utf8(instance).ok()?.into();
    Some(Timer {
        key: format!("{instance}/timer/{token}"),
        profile: stored.p,
        journey: stored.j,
        instance,
        token,
        due,
        entry: stored.e,
    })
}

/// The stored value of a timer set `order`-th by an input of `lane`.
pub(super) fn encode_timer(timer: &Timer, order: u64, lane: Option<&Arc<str>>) -> Vec<u8> {
    encode(&StoredTimer {
        p: timer.profile.clone(),
        j: Arc::clone(&timer.journey),
        o: order,
        e: timer.entry,
        l: lane.cloned(),
    })
}
