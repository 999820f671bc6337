//! A batch of writes, committed atomically.

use std::fmt;

/// The keyspaces of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    /// Profile id -> the profile, its identifiers and its journey
    /// instances.
    Profiles,
    /// Merged-away profile id -> survivor.
    Redirects,
    /// Identifiers of forgotten people.
    Forgotten,
    /// (due, instance, token) -> timer.
    Timers,
    /// Sequence -> outbox entry (a delivery to make).
    Outbox,
    /// messageId -> when it was processed (dedupe, with a retention window).
    Messages,
    /// (journey id, version) -> deployed journey.
    Journeys,
    /// Sequence -> merge record.
    Merges,
    /// (journey, kind) -> analytics count.
    Counters,
    /// (journey, version, day) -> the journey's report counters that day.
    Analytics,
    /// Runtime bookkeeping: source offsets, sequences.
    Meta,
    /// Sequence -> journey record (analytics) not yet published to a
    /// record sink.
    Records,
    /// Identifier -> the live profile holding it (people are read on
    /// demand, by the identifiers of their events).
    Identifiers,
    /// (segment, NUL, profile id) -> nothing: a segment's members.
    Members,
}

impl Space {
    pub const ALL: [Space; 14] = [
        Space::Profiles,
        Space::Redirects,
        Space::Forgotten,
        Space::Timers,
        Space::Outbox,
        Space::Messages,
        Space::Journeys,
        Space::Merges,
        Space::Counters,
        Space::Analytics,
        Space::Meta,
        Space::Records,
        Space::Identifiers,
        Space::Members,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Space::Profiles => "profiles",
            Space::Redirects => "redirects",
            Space::Forgotten => "forgotten",
            Space::Timers => "timers",
            Space::Outbox => "outbox",
            Space::Messages => "messages",
            Space::Journeys => "journeys",
            Space::Merges => "merges",
            Space::Counters => "counters",
            Space::Analytics => "analytics",
            Space::Meta => "meta",
            Space::Records => "records",
            Space::Identifiers => "identifiers",
            Space::Members => "members",
        }
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        space: Space,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        space: Space,
        key: Vec<u8>,
    },
}

/// Writes to apply together, or not at all; with fences, only while the
/// writer still owns those partitions (see [`Batch::fence`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<Op>,
    fences: Vec<(String, i64)>,
}

impl Batch {
    pub fn new() -> Self {
        Batch::default()
    }

    pub fn put(&mut self, space: Space, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put {
            space,
            key: key.into(),
            value: value.into(),
        });
    }

    pub fn delete(&mut self, space: Space, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete {
            space,
            key: key.into(),
        });
    }

    /// Writes the batch only if `partition`'s owner epoch is still `epoch`
    /// when it commits (a store shared by workers checks it in the same
    /// transaction and refuses the whole batch otherwise: a worker that
    /// lost the partition writes nothing for it). Stores of one worker
    /// (fjall, memory) have no owners and ignore fences.
    pub fn fence(&mut self, partition: impl Into<String>, epoch: i64) {
        self.fences.push((partition.into(), epoch));
    }

    /// The partitions and epochs the batch is fenced by.
    pub fn fences(&self) -> &[(String, i64)] {
        &self.fences
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// Appends `later`'s writes after this batch's: committing the result
    /// is committing the two in order (see [`Batch::superseded_dropped`]).
    pub fn append(&mut self, later: Batch) {
        self.ops.extend(later.ops);
        self.fences.extend(later.fences);
    }

    /// The batch with only the last write to each key: what committing it
    /// leaves is the same, with fewer writes (a person changed by several
    /// appended batches is written once). Stores may then apply the writes
    /// in any order.
    pub fn superseded_dropped(self) -> Batch {
        let keep: Vec<bool> = {
            let mut seen = std::collections::HashSet::with_capacity(self.ops.len());
            let mut keep: Vec<bool> = self
                .ops
                .iter()
                .rev()
                .map(|op| match op {
                    Op::Put { space, key, .. } | Op::Delete { space, key } => {
                        seen.insert((*space, key.as_slice()))
                    }
                })
                .collect();
            keep.reverse();
            keep
        };
        let ops = self
            .ops
            .into_iter()
            .zip(keep)
            .filter_map(|(op, keep)| keep.then_some(op))
            .collect();
        Batch {
            ops,
            fences: self.fences,
        }
    }

    /// Bytes of keys and values written (for metrics and batch bounds).
    pub fn bytes(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                Op::Put { key, value, .. } => key.len() + value.len(),
                Op::Delete { key, .. } => key.len(),
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superseded_writes_are_dropped_keeping_the_last_per_key() {
        let mut first = Batch::new();
        first.put(Space::Profiles, "p1", "old");
        first.put(Space::Outbox, "1", "send");
        first.put(Space::Timers, "t", "timer");
        let mut second = Batch::new();
        second.put(Space::Profiles, "p1", "new");
        second.delete(Space::Timers, "t");
        second.put(Space::Messages, "p1", "same key, other space");
        first.append(second);
        assert_eq!(first.len(), 6);

        let merged = first.superseded_dropped();
        assert_eq!(
            merged.into_ops(),
            vec![
                Op::Put {
                    space: Space::Outbox,
                    key: b"1".to_vec(),
                    value: b"send".to_vec()
                },
                Op::Put {
                    space: Space::Profiles,
                    key: b"p1".to_vec(),
                    value: b"new".to_vec()
                },
                Op::Delete {
                    space: Space::Timers,
                    key: b"t".to_vec()
                },
                Op::Put {
                    space: Space::Messages,
                    key: b"p1".to_vec(),
                    value: b"same key, other space".to_vec()
                },
            ]
        );
    }
}
