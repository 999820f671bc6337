//! Partition ownership on a store several workers share (PostgreSQL):
//! the epochs this runtime claimed, carried as fences by every commit and
//! checked before every delivery round, so that a worker that lost its
//! partitions (a zombie paused past its session timeout) writes and
//! delivers nothing for them (docs/scale.md).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use waymark_store::Batch;

use super::{Error, Waymark};

/// The epochs claimed, by partition.
pub(super) type Fences = BTreeMap<String, i64>;

impl Waymark {
    /// Takes `partitions` (named `topic/partition`) for `owner`: their
    /// epochs go up in the store and this runtime's commits carry them
    /// from now on. A store one process opens alone (fjall) fences
    /// nothing. Claimed epochs are never dropped: a partition another
    /// worker claims since fences this runtime out, and claiming it again
    /// later is refused (the runtime stops).
    pub fn claim(&self, owner: &str, partitions: &[String]) -> Result<Vec<(String, i64)>, Error> {
        // Partitions held before and claimed by someone else since: what
        // this runtime remembers of their people is stale. It stops
        // (restarted, it reads the store afresh) without taking them, so
        // the worker that owns them now is not fenced out.
        let held: Vec<(String, i64)> = {
            let fences = self.fences.lock();
            partitions
                .iter()
                .filter_map(|p| fences.get(p).map(|e| (p.clone(), *e)))
                .collect()
        };
        self.verify(
            &held,
            "partitions came back after another worker owned them: this runtime's memory of them is stale; it stops taking work",
        )?;
        let epochs = self.store.claim(owner, partitions)?;
        let mut fences = self.fences.lock();
        for (partition, epoch) in &epochs {
            fences.insert(partition.clone(), *epoch);
        }
        drop(fences);
        tracing::info!(partitions = epochs.len(), "partitions claimed");
        if self.is_shared() {
            let gained: Vec<String> = epochs
                .iter()
                .filter(|(p, _)| !held.iter().any(|(h, _)| h == p))
                .map(|(p, _)| p.clone())
                .collect();
            self.take_lanes(&gained)?;
        }
        Ok(epochs)
    }

    /// The partitions this runtime claimed and their epochs.
    pub fn epochs(&self) -> Vec<(String, i64)> {
        self.fences
            .lock()
            .iter()
            .map(|(p, e)| (p.clone(), *e))
            .collect()
    }

    /// Adds the claimed epochs to a batch about to be committed.
    pub(super) fn fence(&self, batch: &mut Batch) {
        for (partition, epoch) in self.fences.lock().iter() {
            batch.fence(partition.clone(), *epoch);
        }
    }

    /// Before a delivery round: whether every claimed epoch is still
    /// current. A fenced runtime stops taking work (another worker owns
    /// its people now); a store that cannot answer skips the round.
    pub(super) fn check_fences(&self) -> Result<(), Error> {
        self.verify(
            &self.epochs(),
            "fenced: another worker owns these partitions now; the runtime stops taking work",
        )
    }

    /// Whether `fences` are still current; when one moved on, says `why`
    /// and stops taking work. A store that cannot answer is an error that
    /// stops nothing.
    fn verify(&self, fences: &[(String, i64)], why: &str) -> Result<(), Error> {
        if fences.is_empty() {
            return Ok(());
        }
        match self.store.check_fences(fences) {
            Err(error @ waymark_store::Error::Fenced { .. }) => {
                tracing::error!(%error, "{why}");
                self.poisoned.store(true, Ordering::SeqCst);
                Err(error.into())
            }
            other => Ok(other?),
        }
    }
}
