//! `waymark-store` persists Waymark's state: the [`Store`] trait (atomic,
//! durable batches of writes over named keyspaces, plus reads), an in-memory
//! [`MemoryStore`] for tests and fakes, and the embedded default
//! [`FjallStore`] (fjall: a pure-Rust LSM store with atomic batches across
//! keyspaces), and with the `postgres` feature `PostgresStore`, the same
//! contract on PostgreSQL. [`keys`] encodes keys so that byte order is the order that
//! matters (timers by due time, outbox by sequence).
//!
//! One commit per batch of inputs, made durable with one sync: group
//! commit, never one fsync per event.
//!
//! Architecture invariant: this crate stores bytes under keys; it knows the
//! layout of keys but nothing about journeys, the engine's rules or
//! delivery, and it never reads the clock.

mod batch;
mod fjall_store;
pub mod keys;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;

pub use batch::{Batch, Op, Space};
pub use fjall_store::FjallStore;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresConfig, PostgresStore, redact_url};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("fjall: {0}")]
    Fjall(#[from] fjall::Error),
    #[error("{space}: cannot decode the value at {key}: {reason}")]
    Corrupt {
        space: Space,
        key: String,
        reason: String,
    },
    #[error("postgres: {0}")]
    Postgres(String),
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "partitions {} are owned by another worker now (their epoch moved on): nothing of the batch was written",
        partitions.join(", ")
    )]
    Fenced { partitions: Vec<String> },
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Durable state: atomic batches over keyspaces, and reads.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Applies every write of `batch` atomically and makes it durable
    /// before returning (one sync for the whole batch).
    fn commit(&self, batch: Batch) -> Result<(), Error>;

    /// Applies every write of `batch` atomically without waiting for the
    /// disk: it is durable once a later [`Store::commit`] returns, and a
    /// crash before may lose it (never part of it). For writes whose loss
    /// only repeats work that is idempotent anyway, such as forgetting
    /// deliveries the channel acknowledged.
    fn commit_unsynced(&self, batch: Batch) -> Result<(), Error> {
        self.commit(batch)
    }

    /// Takes `partitions` for `owner` in a store several workers share:
    /// each one's epoch goes up by one (1 for a partition never claimed).
    /// The owner's batches carry the epochs as fences ([`Batch::fence`]),
    /// so a commit made under an older epoch is refused whole
    /// ([`Error::Fenced`]). A store one process opens alone (fjall) has
    /// nothing to fence: it claims nothing and returns no epoch.
    fn claim(&self, _owner: &str, _partitions: &[String]) -> Result<Vec<(String, i64)>, Error> {
        Ok(Vec::new())
    }

    /// [`Error::Fenced`] when one of `fences` is no longer its partition's
    /// epoch: another worker claimed it since (checked before delivering).
    fn check_fences(&self, _fences: &[(String, i64)]) -> Result<(), Error> {
        Ok(())
    }

    /// A number no other runtime sharing this store was given (0 on a
    /// store one process opens alone): what a runtime writes under keys
    /// it numbers itself carries it, so workers never write the same key.
    fn slot(&self) -> Result<u64, Error> {
        Ok(0)
    }

    /// Takes the locks `keys` (sorted, each once) for this process, all or
    /// none: `false` when another process holds one. Locks are counted:
    /// taken twice, they are held until given back twice
    /// ([`Store::unlock`]). A store one process opens alone locks nothing.
    fn try_lock(&self, _keys: &[i64]) -> Result<bool, Error> {
        Ok(true)
    }

    /// Gives back locks [`Store::try_lock`] took.
    fn unlock(&self, _keys: &[i64]) -> Result<(), Error> {
        Ok(())
    }

    /// The value at `key`, if any.
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, Error>;

    /// The values at `keys`, in their order (one round trip where the
    /// store is remote).
    fn get_many(&self, space: Space, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        keys.iter().map(|key| self.get(space, key)).collect()
    }

    /// Every key/value whose key starts with `prefix`, in key order.
    fn scan(&self, space: Space, prefix: &[u8]) -> Result<Vec<Entry>, Error>;

    /// Key/values in `[from, to)`, in key order, at most `limit`.
    fn range(
        &self,
        space: Space,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, Error>;
}
