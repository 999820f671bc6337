//! The in-memory store: the same contract, no disk. For tests and fakes.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::ops::Bound;

use crate::{Batch, Entry, Error, Op, Space, Store};

/// Every key of every keyspace, in one ordered map.
type Entries = BTreeMap<(Space, Vec<u8>), Vec<u8>>;

/// A [`Store`] in memory. Batches are atomic (one lock); nothing survives
/// the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    spaces: Mutex<Entries>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave a half-applied batch:
        // batches are applied from a fully built list.
        self.spaces.lock()
    }
}

impl Store for MemoryStore {
    fn commit(&self, batch: Batch) -> Result<(), Error> {
        let mut spaces = self.lock();
        for op in batch.into_ops() {
            match op {
                Op::Put { space, key, value } => {
                    spaces.insert((space, key), value);
                }
                Op::Delete { space, key } => {
                    spaces.remove(&(space, key));
                }
            }
        }
        Ok(())
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.lock().get(&(space, key.to_vec())).cloned())
    }

    fn scan(&self, space: Space, prefix: &[u8]) -> Result<Vec<Entry>, Error> {
        let spaces = self.lock();
        Ok(spaces
            .range((space, prefix.to_vec())..)
            .take_while(|((s, k), _)| *s == space && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn range(
        &self,
        space: Space,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, Error> {
        let spaces = self.lock();
        let bounds = (
            Bound::Included((space, from.to_vec())),
            Bound::Excluded((space, to.to_vec())),
        );
        Ok(spaces
            .range(bounds)
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }
}
