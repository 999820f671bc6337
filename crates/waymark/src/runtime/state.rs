//! The runtime's state in memory, how it is loaded from the store, and the
//! writes one batch accumulates.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use waymark_core::{Identifier, ProfileId, Timestamp};
use waymark_engine::{Instance, RecordKind, Timer};
use waymark_identity::{Identity, IdentityConfig, IdentityGraph, MergeRecord};
use waymark_store::{Batch, Error as StoreError, Space, Store, keys};

use super::records::{
    OutboxEntry, ProfileRecord, StoredInstanceRef, StoredProfileRef, StoredTimer,
};
use super::seen::SeenMessages;

/// Meta keys.
pub(super) const OUTBOX_SEQ: &str = "seq:outbox";
pub(super) const MERGE_SEQ: &str = "seq:merge";
pub(super) const SOURCE_PREFIX: &str = "source:";

/// One commit's journey records, encoded once, by the thread that writes
/// the commit (not under the state lock; the record publisher reads them
/// only once that commit is durable).
#[derive(Debug)]
pub(super) struct RecordBatch {
    records: Vec<waymark_engine::Record>,
    /// The records' keys when read back from the store (`records` is then
    /// empty).
    keys: Vec<String>,
    encoded: std::sync::OnceLock<EncodedRecords>,
}

/// Records as JSON lines in one buffer (the store's value as it is), and
/// where each line ends (its `\n` excluded).
#[derive(Debug)]
struct EncodedRecords {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl RecordBatch {
    pub fn new(records: Vec<waymark_engine::Record>) -> Self {
        RecordBatch {
            records,
            keys: Vec::new(),
            encoded: std::sync::OnceLock::new(),
        }
    }

    /// Records read back from the store: the stored value and each
    /// record's key.
    fn stored(text: Vec<u8>, keys: Vec<String>) -> Self {
        let ends = text
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i)
            .collect();
        RecordBatch {
            records: Vec::new(),
            keys,
            encoded: std::sync::OnceLock::from(EncodedRecords { text, ends }),
        }
    }

    fn encoded(&self) -> &EncodedRecords {
        self.encoded.get_or_init(|| {
            let mut text = Vec::with_capacity(self.records.len() * 256);
            let mut ends = Vec::with_capacity(self.records.len());
            for record in &self.records {
                let start = text.len();
                if let Err(error) = serde_json::to_writer(&mut text, record) {
                    // Cannot happen (a record is strings, numbers and
                    // string-keyed maps); keep the lines aligned with keys.
                    tracing::error!(%error, key = %record.key, "a journey record did not encode");
                    text.truncate(start);
                    text.extend_from_slice(b"{}");
                }
                ends.push(text.len());
                text.push(b'\n');
            }
            EncodedRecords { text, ends }
        })
    }

    /// Each record's key and JSON.
    pub fn lines(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let EncodedRecords { text, ends } = self.encoded();
        let keys = self
            .records
            .iter()
            .map(|record| record.key.as_str())
            .chain(self.keys.iter().map(String::as_str));
        let starts = std::iter::once(0).chain(ends.iter().map(|end| end + 1));
        keys.zip(starts.zip(ends))
            .map(|(key, (start, &end))| (key, &text[start..end]))
    }

    /// The store's value: the records as JSON lines.
    pub fn value(&self) -> Vec<u8> {
        self.encoded().text.clone()
    }

    pub fn len(&self) -> usize {
        self.records.len() + self.keys.len()
    }
}

/// The hasher of the state's maps: looked up several times per event; not
/// SipHash, which took a few percent of ingest (keys are random-seeded).
type Fast = foldhash::fast::RandomState;

/// A journey and a kind of record: what the runtime counts.
pub type CounterKey = (Arc<str>, RecordKind);

/// Everything the runtime keeps between batches.
#[derive(Debug, Default)]
pub(super) struct State {
    pub identity: Identity,
    /// Journey instances by profile; change them through
    /// [`State::take_instances`] and [`State::put_instances`], which keep
    /// `running` (the count `/metrics` reads) up to date.
    pub instances: HashMap<ProfileId, Vec<Instance>, Fast>,
    /// Running instances, counted as they change (not by a scan: stats are
    /// read under the lock, every scrape).
    pub running: usize,
    /// Outbox entries marked failed, counted likewise.
    pub outbox_failed: usize,
    /// Pending timers in due order.
    pub timers: BTreeMap<(Timestamp, Arc<str>, u64), Timer>,
    /// Processed message ids (dedupe) and when they were processed.
    pub seen: SeenMessages,
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
    pub offsets: HashMap<String, u64>,
    /// Journey records waiting for the record sink, a batch per commit,
    /// by commit sequence.
    pub records: BTreeMap<u64, Arc<RecordBatch>>,
    pub next_record_seq: u64,
}

fn decode<T: DeserializeOwned>(space: Space, key: &[u8], value: &[u8]) -> Result<T, StoreError> {
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
    /// Loads everything from the store. Message ids processed before
    /// `seen_after` are dropped (retention window).
    pub fn load(
        store: &dyn Store,
        identity: IdentityConfig,
        seen_after: Timestamp,
    ) -> Result<Self, StoreError> {
        let mut state = State::default();
        let mut profiles = Vec::new();
        let mut members = Vec::new();
        for (key, value) in store.scan(Space::Profiles, b"")? {
            let record: ProfileRecord = decode(Space::Profiles, &key, &value)?;
            let profile = record.profile.load();
            let id = profile.id.clone();
            members.push((id.clone(), record.created, record.identifiers));
            if !record.instances.is_empty() {
                let instances = record.instances.into_iter().map(|i| i.load(&id)).collect();
                state.instances.insert(id, instances);
            }
            profiles.push(profile);
        }
        let mut redirects = Vec::new();
        for (key, value) in store.scan(Space::Redirects, b"")? {
            let to: String = decode(Space::Redirects, &key, &value)?;
            redirects.push((
                ProfileId::from(String::from_utf8_lossy(&key).into_owned()),
                ProfileId::from(to),
            ));
        }
        let mut forgotten = Vec::new();
        for (key, value) in store.scan(Space::Forgotten, b"")? {
            let id: Identifier = decode(Space::Forgotten, &key, &value)?;
            forgotten.push(id);
        }
        let mut merges: Vec<MergeRecord> = Vec::new();
        for (key, value) in store.scan(Space::Merges, b"")? {
            merges.push(decode(Space::Merges, &key, &value)?);
            state.next_merge_seq = keys::decode_seq(&key).map_or(state.next_merge_seq, |s| s + 1);
        }
        let graph = IdentityGraph::restore(identity, members, redirects, forgotten, merges);
        state.identity = Identity::restore(graph, profiles);
        for (key, value) in store.scan(Space::Timers, b"")? {
            let stored: StoredTimer = decode(Space::Timers, &key, &value)?;
            let timer = timer_from(&key, stored).ok_or_else(|| StoreError::Corrupt {
                space: Space::Timers,
                key: String::from_utf8_lossy(&key).into_owned(),
                reason: "a timer key is due time, instance, NUL, token".to_owned(),
            })?;
            state
                .timers
                .insert((timer.due, Arc::clone(&timer.instance), timer.token), timer);
        }
        for (key, value) in store.scan(Space::Outbox, b"")? {
            let entry: OutboxEntry = decode(Space::Outbox, &key, &value)?;
            state.outbox.insert(entry.seq, Arc::new(entry));
        }
        for (key, value) in store.scan(Space::Records, b"")? {
            if let Some(seq) = keys::decode_seq(&key) {
                // Each non-empty line a record: its key read, the line kept
                // (newline-terminated, as `RecordBatch::stored` expects).
                let (mut keys, mut text) = (Vec::new(), Vec::with_capacity(value.len()));
                for line in value.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    let record: serde_json::Value = decode(Space::Records, &key, line)?;
                    let id = record
                        .get("key")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    keys.push(id);
                    text.extend_from_slice(line);
                    text.push(b'\n');
                }
                state
                    .records
                    .insert(seq, Arc::new(RecordBatch::stored(text, keys)));
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
                    state.seen.insert(id);
                }
                state.seen.close_batch(at, key);
            } else {
                state.expired_messages.push(key);
            }
        }
        for (key, value) in store.scan(Space::Counters, b"")? {
            let n: u64 = decode(Space::Counters, &key, &value)?;
            let text = String::from_utf8_lossy(&key);
            let parsed = text
                .split_once('\u{0}')
                .and_then(|(journey, kind)| Some((Arc::from(journey), RecordKind::parse(kind)?)));
            match parsed {
                Some(counter) => {
                    state.counters.insert(counter, n);
                }
                None => {
                    tracing::warn!(key = %text.escape_debug(), "unknown counter in the store; ignored")
                }
            }
        }
        for (key, value) in store.scan(Space::Meta, b"")? {
            let key = String::from_utf8_lossy(&key).into_owned();
            let n: u64 = decode(Space::Meta, key.as_bytes(), &value)?;
            match key.as_str() {
                OUTBOX_SEQ => state.next_outbox_seq = n,
                MERGE_SEQ => state.next_merge_seq = state.next_merge_seq.max(n),
                _ => {
                    if let Some(source) = key.strip_prefix(SOURCE_PREFIX) {
                        state.offsets.insert(source.to_owned(), n);
                    }
                }
            }
        }
        state.next_outbox_seq = state
            .next_outbox_seq
            .max(state.outbox.keys().next_back().map_or(0, |s| s + 1));
        state.recount();
        Ok(state)
    }

    /// Number of running journey instances.
    pub fn instances_active(&self) -> usize {
        self.running
    }

    /// Removes and returns a profile's instances.
    pub fn take_instances(&mut self, id: &ProfileId) -> Vec<Instance> {
        let instances = self.instances.remove(id).unwrap_or_default();
        self.running -= running(&instances);
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

    /// Recounts `running` and `outbox_failed` from scratch (after loading).
    fn recount(&mut self) {
        (self.running, self.outbox_failed) = self.recount_scan();
    }

    /// Running instances and failed outbox entries, by a scan.
    pub fn recount_scan(&self) -> (usize, usize) {
        let failed = self
            .outbox
            .values()
            .filter(|e| e.status == super::records::OutboxStatus::Failed)
            .count();
        (self.instances.values().map(|i| running(i)).sum(), failed)
    }
}

fn running(instances: &[Instance]) -> usize {
    instances.iter().filter(|i| i.is_running()).count()
}

/// A [`ProfileRecord`] serialized from borrows: no copy of the profile.
#[derive(Serialize)]
struct ProfileRecordRef<'a> {
    profile: StoredProfileRef<'a>,
    created: u64,
    identifiers: &'a [Identifier],
    instances: Instances<'a>,
}

/// A profile's instances in the stored layout, written from borrows.
struct Instances<'a>(&'a [Instance]);

impl Serialize for Instances<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(StoredInstanceRef))
    }
}

/// A timer from its key (due, instance, NUL, token) and stored value.
fn timer_from(key: &[u8], stored: StoredTimer) -> Option<Timer> {
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
    })
}

/// The stored value of a timer.
pub(super) fn encode_timer(timer: &Timer) -> Vec<u8> {
    encode(&StoredTimer {
        p: timer.profile.clone(),
        j: Arc::clone(&timer.journey),
    })
}

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
    pub counters: BTreeSet<CounterKey>,
    /// Journey records for the record sink (encoded by the committer).
    pub records: Vec<waymark_engine::Record>,
    /// Outbox entries made by this batch (encoded by the committer).
    pub outbox: Vec<Arc<OutboxEntry>>,
}

impl Writes<'_> {
    /// Completes the batch from the state: profile records, counters and
    /// sequences.
    pub fn finish(mut self, state: &State) -> Batch {
        for id in &self.removed {
            self.batch.delete(Space::Profiles, id.as_str().as_bytes());
        }
        for id in self.dirty.difference(&self.removed) {
            let Some(profile) = state.identity.profile(id) else {
                continue;
            };
            let graph = state.identity.graph();
            let record = ProfileRecordRef {
                profile: StoredProfileRef(profile),
                created: graph.created_order(id).unwrap_or_default(),
                identifiers: graph.identifiers(id),
                instances: Instances(state.instances.get(id).map_or(&[], Vec::as_slice)),
            };
            self.batch
                .put(Space::Profiles, id.as_str().as_bytes(), encode(&record));
        }
        for key in &self.counters {
            let n = state.counters.get(key).copied().unwrap_or_default();
            let (journey, kind) = key;
            let stored = format!("{journey}\u{0}{}", kind.as_str());
            self.batch.put(Space::Counters, stored, encode(&n));
        }
        self.batch
            .put(Space::Meta, OUTBOX_SEQ, encode(&state.next_outbox_seq));
        self.batch
            .put(Space::Meta, MERGE_SEQ, encode(&state.next_merge_seq));
        self.batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_engine::Record;

    fn record(key: &str, kind: RecordKind) -> Record {
        Record {
            key: key.to_owned(),
            at: waymark_core::parse_timestamp("2026-11-27T10:00:00Z").unwrap(),
            kind,
            profile: ProfileId::from("p1"),
            journey: Arc::from("welcome"),
            instance: Arc::from("welcome:p1:1"),
            node: Some(Arc::from("hello")),
            channel: None,
            template: None,
            reason: Some("line\nbreak inside a string".to_owned()),
            value: None,
            next: None,
            variant: None,
            until: None,
            control: false,
        }
    }

    #[test]
    fn a_record_batch_reads_back_from_its_stored_value_line_for_line() {
        let fresh = RecordBatch::new(vec![
            record("k1", RecordKind::Entered),
            record("k2", RecordKind::Send),
        ]);
        let lines: Vec<(String, Vec<u8>)> = fresh
            .lines()
            .map(|(k, json)| (k.to_owned(), json.to_vec()))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, "k1");
        let first: Record = serde_json::from_slice(&lines[0].1).unwrap();
        assert_eq!(first, record("k1", RecordKind::Entered));
        let value = fresh.value();
        assert_eq!(
            value.iter().filter(|b| **b == b'\n').count(),
            2,
            "JSON lines"
        );

        let keys = lines.iter().map(|(k, _)| k.clone()).collect();
        let stored = RecordBatch::stored(value, keys);
        assert_eq!(stored.len(), 2);
        let again: Vec<(String, Vec<u8>)> = stored
            .lines()
            .map(|(k, json)| (k.to_owned(), json.to_vec()))
            .collect();
        assert_eq!(again, lines);
    }
}
