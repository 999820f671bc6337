//! The message ids processed within the dedupe window, for dropping
//! redeliveries of the same event.
//!
//! Kept as 128-bit hashes (xxh3), not as the ids' text: an entry costs the
//! same whatever the id's length, and checking an event allocates nothing.
//! Two distinct ids collide with a probability of about n²/2¹²⁹ (n ids in
//! the window): about 1.5·10⁻²¹ for a billion. Ids are remembered per batch,
//! in processing order, so that those past the window are forgotten from
//! the oldest batch on, with the store value of each forgotten batch.

use std::collections::{HashSet, VecDeque};

use waymark_core::Timestamp;

/// A message id as remembered.
type IdHash = u128;

fn hash(id: &str) -> IdHash {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}

/// Processed message ids, by batch.
#[derive(Debug, Default)]
pub(crate) struct SeenMessages {
    ids: HashSet<IdHash, foldhash::fast::RandomState>,
    /// Oldest first: when a batch was processed, the key of its value in
    /// the store's `messages` space, and its ids.
    batches: VecDeque<(Timestamp, Vec<u8>, Vec<IdHash>)>,
    /// Ids of the batch being processed.
    pending: Vec<IdHash>,
}

impl SeenMessages {
    /// Remembers `id` unless it is remembered already (then false: a
    /// duplicate). It belongs to the batch [`SeenMessages::close_batch`]
    /// closes next.
    pub fn insert(&mut self, id: &str) -> bool {
        let id = hash(id);
        if !self.ids.insert(id) {
            return false;
        }
        self.pending.push(id);
        true
    }

    /// Takes back the id just inserted (a call refused without effect must
    /// get the same answer when retried).
    pub fn take_back(&mut self, id: &str) {
        let id = hash(id);
        if self.pending.last() == Some(&id) {
            self.pending.pop();
            self.ids.remove(&id);
        }
    }

    /// Closes the batch of the ids inserted since the last one: processed
    /// at `at`, its value stored under `stored_at`. Nothing for a batch
    /// without ids.
    pub fn close_batch(&mut self, at: Timestamp, stored_at: Vec<u8>) {
        if !self.pending.is_empty() {
            let ids = std::mem::take(&mut self.pending);
            self.batches.push_back((at, stored_at, ids));
        }
    }

    /// Forgets the batches processed before `cutoff`; returns their store
    /// keys (to delete).
    pub fn forget_before(&mut self, cutoff: Timestamp) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        while self.batches.front().is_some_and(|(at, _, _)| *at < cutoff) {
            let Some((_, key, hashes)) = self.batches.pop_front() else {
                break;
            };
            for id in hashes {
                self.ids.remove(&id);
            }
            keys.push(key);
        }
        keys
    }

    /// Ids remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        waymark_core::parse_timestamp(text).unwrap()
    }

    #[test]
    fn ids_are_remembered_until_their_batch_leaves_the_window() {
        let mut seen = SeenMessages::default();
        assert!(seen.insert("a") && seen.insert("b"));
        assert!(!seen.insert("a"), "a duplicate within the batch");
        seen.close_batch(t("2026-11-01T00:00:00Z"), b"k1".to_vec());
        assert!(seen.insert("c"));
        assert!(!seen.insert("b"), "a duplicate of an earlier batch");
        seen.close_batch(t("2026-11-05T00:00:00Z"), b"k2".to_vec());
        seen.close_batch(t("2026-11-05T00:00:00Z"), b"k3".to_vec());
        assert_eq!(seen.len(), 3);

        assert!(seen.forget_before(t("2026-11-01T00:00:00Z")).is_empty());
        assert_eq!(
            seen.forget_before(t("2026-11-03T00:00:00Z")),
            vec![b"k1".to_vec()],
            "the empty batch k3 was never remembered"
        );
        assert!(seen.insert("a"), "forgotten past the window");
        assert!(!seen.insert("c"));
        seen.close_batch(t("2026-11-06T00:00:00Z"), b"k4".to_vec());
        assert_eq!(
            seen.forget_before(t("2026-12-01T00:00:00Z")),
            vec![b"k2".to_vec(), b"k4".to_vec()]
        );
        assert_eq!(seen.len(), 0);
    }
}
