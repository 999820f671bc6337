//! The embedded default: fjall, an LSM store with atomic batches across
//! keyspaces. Each commit is one write batch synced to disk once.

use std::collections::HashMap;
use std::path::Path;

use fjall::config::PinningPolicy;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use crate::{Batch, Entry, Error, Op, Space, Store};

/// fjall's block cache (data blocks read recently), beside the runtime's
/// own cache of people.
const BLOCK_CACHE_BYTES: u64 = 64 << 20;

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
        let failed = |reason: String| Error::Open {
            path: path.display().to_string(),
            reason,
        };
        clear_unfinished_creation(path).map_err(failed)?;
        let db = Database::builder(path)
            .cache_size(BLOCK_CACHE_BYTES)
            .open()
            .map_err(|e| failed(e.to_string()))?;
        let mut spaces = HashMap::new();
        for space in Space::ALL {
            // People are read one by one, by key, and most identifiers of
            // new people are not there: filter and index blocks stay in
            // memory at every level (a few bytes per key), or each miss
            // reads and checksums whole blocks (docs/benchmarks.md).
            let options = || {
                KeyspaceCreateOptions::default()
                    .filter_block_pinning_policy(PinningPolicy::all(true))
                    .index_block_pinning_policy(PinningPolicy::all(true))
            };
            spaces.insert(space, db.keyspace(space.name(), options)?);
        }
        Ok(FjallStore { db, spaces })
    }

    /// Whether `path` holds a store (fjall's version marker, written last
    /// when a database is created).
    pub fn exists(path: &Path) -> bool {
        path.join(VERSION_MARKER).exists()
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

/// The file fjall writes last when it creates a database.
const VERSION_MARKER: &str = "version";

/// What fjall writes while it creates a database, before the version
/// marker that says the creation finished. A process killed in between
/// leaves these behind and fjall then refuses the folder ("File exists").
const CREATION_LEFTOVERS: [&str; 3] = ["lock", "0.jnl", "keyspaces"];

/// Removes what an interrupted creation left in `path`, so that fjall
/// creates the database afresh. Without the version marker no write has
/// been made, so nothing is lost; a folder holding anything else is
/// refused rather than touched.
fn clear_unfinished_creation(path: &Path) -> Result<(), String> {
    if !path.exists() || FjallStore::exists(path) {
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|e| e.to_string())?;
    let mut leftovers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let empty_folder = name == "keyspaces"
            && std::fs::read_dir(entry.path())
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !CREATION_LEFTOVERS.contains(&name.as_str()) || (name == "keyspaces" && !empty_folder) {
            return Err(format!(
                "the folder is not empty and holds no store (no fjall `version` file; found `{name}`)"
            ));
        }
        leftovers.push(entry.path());
    }
    for leftover in leftovers {
        let removed = if leftover.is_dir() {
            std::fs::remove_dir(&leftover)
        } else {
            std::fs::remove_file(&leftover)
        };
        removed.map_err(|e| format!("cannot clear {}: {e}", leftover.display()))?;
    }
    Ok(())
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
