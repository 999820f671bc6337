//! Recent entries per journey, for journeys with an entry `limit`: what
//! the engine counts (as [`Population`]) before letting one more in.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use waymark_core::{Duration, Timestamp};
use waymark_engine::Population;

/// One entry: when, and the instance it started.
pub(crate) type Entry = (Timestamp, Arc<str>);

/// Entries by journey, oldest first, kept for the journey's window.
#[derive(Debug, Default)]
pub(crate) struct EntryLog {
    by_journey: HashMap<Arc<str>, VecDeque<Entry>, super::Fast>,
}

impl EntryLog {
    /// Adds an entry (read back from the store, or just decided).
    pub fn insert(&mut self, journey: &Arc<str>, entry: Entry) {
        let entries = self.by_journey.entry(Arc::clone(journey)).or_default();
        let position = entries.partition_point(|(t, _)| *t <= entry.0);
        entries.insert(position, entry);
    }

    /// Drops the entries of `journey` older than `per` before `now`;
    /// returns them (the store forgets them too).
    pub fn expire(&mut self, journey: &str, now: Timestamp, per: Duration) -> Vec<Entry> {
        let Some(entries) = self.by_journey.get_mut(journey) else {
            return Vec::new();
        };
        let oldest = now - per.to_delta();
        let mut gone = Vec::new();
        while entries.front().is_some_and(|(t, _)| *t <= oldest) {
            gone.extend(entries.pop_front());
        }
        gone
    }
}

impl Population for EntryLog {
    fn entered_since(&self, journey: &str, since: Timestamp) -> usize {
        self.by_journey.get(journey).map_or(0, |entries| {
            entries.len() - entries.partition_point(|(t, _)| *t <= since)
        })
    }
}
