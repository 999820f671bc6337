//! The store's layout as the runtime reads it, and the upgrade of a store
//! written before people were read on demand: it gets the identifier
//! index, the member index and the people counts, once.

use std::collections::HashMap;

use waymark_core::ProfileId;
use waymark_store::{Batch, Entry, Error as StoreError, Space, Store, keys};

use super::records::{ProfileRecord, StoredEntryTimer, StoredTimer};
use super::state::{
    CREATED_SEQ, PEOPLE_COUNT, RUNNING_COUNT, TIMER_ORDER, TIMERS_COUNT, decode, encode, timer_from,
};

const LAYOUT: &str = "layout";
const LAYOUT_VERSION: u64 = 2;
/// People indexed per commit while upgrading.
const UPGRADE_CHUNK: usize = 20_000;

/// Calls `each` with a keyspace's entries `page` at a time, in key order:
/// a keyspace of millions (profiles, timers) is never read whole.
pub(super) fn for_each_page<E: From<StoreError>>(
    store: &dyn Store,
    space: Space,
    page: usize,
    mut each: impl FnMut(Vec<Entry>) -> Result<(), E>,
) -> Result<(), E> {
    let mut from = Vec::new();
    loop {
        let entries = store.range(space, &from, &[0xff; 64], page)?;
        let Some((last, _)) = entries.last() else {
            return Ok(());
        };
        // The smallest key after the page's last.
        from = last.clone();
        from.push(0);
        each(entries)?;
    }
}

/// The member index key of `profile` in `segment`.
pub(super) fn member_key(segment: &str, profile: &ProfileId) -> Vec<u8> {
    let mut key = Vec::with_capacity(segment.len() + 1 + profile.as_str().len());
    key.extend_from_slice(segment.as_bytes());
    key.push(0);
    key.extend_from_slice(profile.as_str().as_bytes());
    key
}

/// The member index prefix of `segment`.
pub(super) fn members_prefix(segment: &str) -> Vec<u8> {
    let mut key = segment.as_bytes().to_vec();
    key.push(0);
    key
}

/// Marks a new store with the current layout.
pub(super) fn mark_current(batch: &mut Batch) {
    batch.put(Space::Meta, LAYOUT, encode(&LAYOUT_VERSION));
}

/// Brings a store to the current layout: indexes built from every stored
/// profile, timers counted (idempotent: an upgrade cut short starts
/// again). Entry timers are found by person once their records are
/// rewritten; until then those due beyond the horizon are queued when it
/// reaches them, as every other.
pub(super) fn upgrade(store: &dyn Store) -> Result<(), StoreError> {
    let layout: u64 = match store.get(Space::Meta, LAYOUT.as_bytes())? {
        Some(value) => decode(Space::Meta, LAYOUT.as_bytes(), &value)?,
        None => 1,
    };
    if layout >= LAYOUT_VERSION {
        return Ok(());
    }
    // Timers counted; entry timers kept by person, for their records.
    let (mut timers, mut order) = (0_u64, 0_u64);
    let mut entries: HashMap<ProfileId, Vec<StoredEntryTimer>> = HashMap::new();
    for_each_page(store, Space::Timers, UPGRADE_CHUNK, |page| {
        for (key, value) in page {
            let stored: StoredTimer = decode(Space::Timers, &key, &value)?;
            timers += 1;
            order = order.max(stored.o);
            if stored.e
                && let Some(timer) = timer_from(&key, stored.clone())
            {
                entries
                    .entry(timer.profile.clone())
                    .or_default()
                    .push(StoredEntryTimer {
                        j: timer.journey,
                        d: timer.due.timestamp_millis(),
                        t: timer.token,
                        o: stored.o,
                    });
            }
        }
        Ok::<_, StoreError>(())
    })?;
    let (mut people, mut running, mut created) = (0_u64, 0_u64, 0_u64);
    // A commit per page of people.
    for_each_page(store, Space::Profiles, UPGRADE_CHUNK, |page| {
        let mut batch = Batch::new();
        for (key, value) in page {
            let mut record: ProfileRecord = decode(Space::Profiles, &key, &value)?;
            let id = ProfileId::from(String::from_utf8_lossy(&key).into_owned());
            if let Some(theirs) = entries.remove(&id) {
                record.entry_timers = theirs;
                batch.put(Space::Profiles, key.clone(), encode(&record));
            }
            for identifier in &record.identifiers {
                batch.put(
                    Space::Identifiers,
                    keys::identifier(identifier),
                    id.as_str().as_bytes(),
                );
            }
            let profile = record.profile.load();
            for segment in profile.segments.keys() {
                batch.put(Space::Members, member_key(segment, &id), Vec::new());
            }
            people += 1;
            created = created.max(record.created);
            running += record
                .instances
                .into_iter()
                .map(|i| i.load(&id))
                .filter(waymark_engine::Instance::is_running)
                .count() as u64;
        }
        store.commit(batch)
    })?;
    let mut batch = Batch::new();
    batch.put(Space::Meta, TIMERS_COUNT, encode(&timers));
    batch.put(Space::Meta, TIMER_ORDER, encode(&order));
    batch.put(Space::Meta, PEOPLE_COUNT, encode(&people));
    batch.put(Space::Meta, RUNNING_COUNT, encode(&running));
    batch.put(Space::Meta, CREATED_SEQ, encode(&created));
    mark_current(&mut batch);
    store.commit(batch)?;
    tracing::info!(
        people,
        "store upgraded: identifier and member indexes built"
    );
    Ok(())
}
