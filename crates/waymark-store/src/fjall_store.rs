//! The embedded default: fjall, an LSM store with atomic batches across
//! keyspaces. Each commit is one write batch synced to disk once.

use std::collections::HashMap;
use std::path::Path;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use crate::{Batch, Entry, Error, Op, Space, Store};

/// A [`Store`] on disk, in one fjall database with a keyspace per [`Space`].
pub struct FjallStore {
    db: Database,
    spaces: HashMap<Space, Keyspace>,
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStore").finish_non_exhaustive()
    }
}

impl FjallStore {
    /// Opens (or creates) the store in folder `path`. Fails with a clear
    /// error when another process holds it.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let db = Database::builder(path).open().map_err(|e| Error::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut spaces = HashMap::new();
        for space in Space::ALL {
            spaces.insert(
                space,
                db.keyspace(space.name(), KeyspaceCreateOptions::default)?,
            );
        }
        Ok(FjallStore { db, spaces })
    }

    fn space(&self, space: Space) -> &Keyspace {
        &self.spaces[&space]
    }

    /// One atomic write batch, persisted as `durability` says.
    fn write(&self, batch: Batch, durability: Option<PersistMode>) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut writes = self.db.batch().durability(durability);
        for op in batch.into_ops() {
            match op {
                Op::Put { space, key, value } => writes.insert(self.space(space), key, value),
                Op::Delete { space, key } => writes.remove(self.space(space), key),
            }
        }
        writes.commit()?;
        Ok(())
    }

    /// Bytes the store takes on disk.
    pub fn disk_space(&self) -> Result<u64, Error> {
        Ok(self.db.disk_space()?)
    }

    /// Bytes one keyspace takes on disk (after flushing its memtable).
    pub fn space_disk_bytes(&self, space: Space) -> Result<u64, Error> {
        let keyspace = self.space(space);
        keyspace.rotate_memtable_and_wait()?;
        Ok(keyspace.disk_space())
    }
}

impl Store for FjallStore {
    fn commit(&self, batch: Batch) -> Result<(), Error> {
        self.write(batch, Some(PersistMode::SyncAll))
    }

    /// Written to the journal, synced by the next [`Store::commit`] (the
    /// journal is one sequence: syncing it makes everything before durable).
    fn commit_unsynced(&self, batch: Batch) -> Result<(), Error> {
        self.write(batch, None)
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.space(space).get(key)?.map(|v| v.to_vec()))
    }

    fn scan(&self, space: Space, prefix: &[u8]) -> Result<Vec<Entry>, Error> {
        let mut out = Vec::new();
        for guard in self.space(space).prefix(prefix) {
            let (k, v) = guard.into_inner()?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn range(
        &self,
        space: Space,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, Error> {
        let mut out = Vec::new();
        for guard in self.space(space).range(from..to).take(limit) {
            let (k, v) = guard.into_inner()?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }
}
