//! Pending timers in due order: by due time, then the order they were set
//! in (kept in the store, so a restart fires timers due at the same
//! instant in the same order as an uninterrupted run, and test mode in
//! the same order as the runtime).
//!
//! With a horizon (the runtime), only timers due before it are queued:
//! the store's timer keys, ordered by due time, hold the rest until the
//! horizon moves past them. Entry timers are known by person for the
//! people in memory, whatever their due time (to replace or cancel them).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use waymark_core::{ProfileId, Timestamp};
use waymark_engine::Timer;

/// A timer's identity: its due time, instance and token.
type Id = (Timestamp, Arc<str>, u64);

fn id(timer: &Timer) -> Id {
    (timer.due, Arc::clone(&timer.instance), timer.token)
}

/// Pending timers, earliest first.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    /// By due time, order set, then identity (unique even for timers
    /// restored without an order).
    timers: BTreeMap<(Timestamp, u64, Arc<str>, u64), Timer>,
    /// Each pending timer's order, for removing it.
    orders: HashMap<Id, u64, super::Fast>,
    /// Pending entry timers by their id (one per person and journey), with
    /// their orders.
    entries: HashMap<Arc<str>, (Timer, u64), super::Fast>,
    /// The ids of `entries` by person.
    entries_by_profile: HashMap<ProfileId, Vec<Arc<str>>, super::Fast>,
    next_order: u64,
    /// Timers due at or after this are not queued (None: all are).
    horizon: Option<Timestamp>,
}

impl TimerQueue {
    /// The order of the next timer set: after every timer set before it.
    pub fn next_order(&mut self) -> u64 {
        self.next_order += 1;
        self.next_order
    }

    /// Queues `timer` after every timer set before it.
    #[cfg(test)]
    pub fn insert(&mut self, timer: Timer) {
        let order = self.next_order();
        self.insert_at(timer, order);
    }

    /// The order the last timer was set in (stored, so that timers set
    /// after a restart come after every stored one).
    pub fn last_order(&self) -> u64 {
        self.next_order
    }

    /// Raises the order counter to at least `order`.
    pub fn raise_order(&mut self, order: u64) {
        self.next_order = self.next_order.max(order);
    }

    /// Timers due at or after `horizon` are no longer queued (the caller
    /// reads them from where it keeps them before it moves the horizon).
    pub fn set_horizon(&mut self, horizon: Timestamp) {
        self.horizon = Some(horizon);
    }

    pub fn horizon(&self) -> Option<Timestamp> {
        self.horizon
    }

    /// Drops every timer, keeping the horizon and the order counter (the
    /// caller queues again those it still owns).
    pub fn clear(&mut self) {
        self.timers.clear();
        self.orders.clear();
        self.entries.clear();
        self.entries_by_profile.clear();
    }

    /// Queues a timer with the order it was set in (from
    /// [`TimerQueue::next_order`], or read back from the store); one due
    /// beyond the horizon is queued only later, an entry timer known by
    /// its person now.
    pub fn insert_at(&mut self, timer: Timer, order: u64) {
        self.next_order = self.next_order.max(order);
        if timer.entry {
            let old = self
                .entries
                .insert(Arc::clone(&timer.instance), (timer.clone(), order));
            match old {
                Some((old, _)) if id(&old) != id(&timer) => {
                    self.remove_queued(&old);
                }
                Some(_) => {}
                None => self
                    .entries_by_profile
                    .entry(timer.profile.clone())
                    .or_default()
                    .push(Arc::clone(&timer.instance)),
            }
        }
        if self.horizon.is_some_and(|horizon| timer.due >= horizon) {
            return;
        }
        let (due, instance, token) = id(&timer);
        self.orders
            .insert((due, Arc::clone(&instance), token), order);
        self.timers.insert((due, order, instance, token), timer);
    }

    /// Removes `timer` (matched by due time, instance and token).
    /// Returns it if it was queued or known as an entry timer.
    pub fn remove(&mut self, timer: &Timer) -> Option<Timer> {
        let queued = self.remove_queued(timer);
        if timer.entry
            && self
                .entries
                .get(&timer.instance)
                .is_some_and(|(known, _)| id(known) == id(timer))
        {
            let known = self.forget_entry(&timer.instance);
            return queued.or(known);
        }
        queued
    }

    /// Drops an entry timer from the index by person.
    fn forget_entry(&mut self, instance: &Arc<str>) -> Option<Timer> {
        let (known, _) = self.entries.remove(instance)?;
        if let Some(ids) = self.entries_by_profile.get_mut(&known.profile) {
            ids.retain(|i| i != instance);
            if ids.is_empty() {
                self.entries_by_profile.remove(&known.profile);
            }
        }
        Some(known)
    }

    /// The pending entry timers of a person in memory, with their orders.
    pub fn entries_of(&self, profile: &ProfileId) -> impl Iterator<Item = &(Timer, u64)> {
        self.entries_by_profile
            .get(profile)
            .into_iter()
            .flatten()
            .filter_map(|instance| self.entries.get(instance))
    }

    /// Lets go of a person's entry timers (they stay in the store, and in
    /// the queue when due before the horizon).
    pub fn unload_entries(&mut self, profile: &ProfileId) {
        for instance in self.entries_by_profile.remove(profile).unwrap_or_default() {
            self.entries.remove(&instance);
        }
    }

    fn remove_queued(&mut self, timer: &Timer) -> Option<Timer> {
        let (due, instance, token) = id(timer);
        let order = self.orders.remove(&(due, Arc::clone(&instance), token))?;
        self.timers.remove(&(due, order, instance, token))
    }

    /// Removes the pending entry timer with this id, whatever its due time.
    pub fn remove_entry(&mut self, id: &str) -> Option<Timer> {
        let (pending, _) = self.entries.get(id)?.clone();
        self.remove(&pending)
    }

    /// The timers due at or before `limit`, earliest first.
    pub fn due_by(&self, limit: Timestamp) -> impl Iterator<Item = &Timer> {
        self.timers
            .range(..)
            .take_while(move |((due, ..), _)| *due <= limit)
            .map(|(_, timer)| timer)
    }

    /// Every pending timer, earliest first.
    pub fn iter(&self) -> impl Iterator<Item = &Timer> {
        self.timers.values()
    }

    /// When the earliest timer is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.timers.keys().next().map(|(due, ..)| *due)
    }

    pub fn len(&self) -> usize {
        self.timers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_core::{ProfileId, parse_timestamp};

    fn timer(instance: &str, due: &str) -> Timer {
        Timer {
            key: format!("{instance}/timer/1"),
            profile: ProfileId::from("p"),
            journey: Arc::from("j"),
            instance: Arc::from(instance),
            token: 1,
            due: parse_timestamp(due).unwrap(),
            entry: false,
        }
    }

    #[test]
    fn timers_due_together_fire_in_the_order_they_were_set() {
        let mut queue = TimerQueue::default();
        queue.insert(timer("j:b:1", "2026-01-01T10:00:00Z"));
        queue.insert(timer("j:a:1", "2026-01-01T10:00:00Z"));
        queue.insert(timer("j:c:1", "2026-01-01T09:00:00Z"));
        let order: Vec<&str> = queue.iter().map(|t| &*t.instance).collect();
        assert_eq!(order, ["j:c:1", "j:b:1", "j:a:1"]);
        assert!(
            queue
                .remove(&timer("j:b:1", "2026-01-01T10:00:00Z"))
                .is_some()
        );
        assert!(
            queue
                .remove(&timer("j:b:1", "2026-01-01T10:00:00Z"))
                .is_none()
        );
        let due: Vec<&str> = queue
            .due_by(parse_timestamp("2026-01-01T09:30:00Z").unwrap())
            .map(|t| &*t.instance)
            .collect();
        assert_eq!(due, ["j:c:1"]);
        // Restored with their orders, they keep them; new ones come after.
        let mut again = TimerQueue::default();
        again.insert_at(timer("j:a:1", "2026-01-01T10:00:00Z"), 3);
        again.insert_at(timer("j:b:1", "2026-01-01T10:00:00Z"), 2);
        again.insert(timer("j:0:1", "2026-01-01T10:00:00Z"));
        let order: Vec<&str> = again.iter().map(|t| &*t.instance).collect();
        assert_eq!(order, ["j:b:1", "j:a:1", "j:0:1"]);
        assert_eq!(again.len(), 3);
        assert_eq!(
            again.next_due(),
            Some(parse_timestamp("2026-01-01T10:00:00Z").unwrap())
        );
    }
}
