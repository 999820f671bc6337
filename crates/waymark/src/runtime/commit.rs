//! Group commit: batches are decided under the state lock and staged in
//! order; one thread at a time writes every batch staged by then in one
//! synced store write ([`Waymark::wait_durable`]). Only what is durable is
//! delivered or published.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::MutexGuard;
use waymark_core::Timestamp;
use waymark_store::{Batch, Space, keys};

use super::record_batch::RecordBatch;
use super::records::OutboxEntry;
use super::state::{State, encode};
use super::waymark::{Error, Waymark};
use super::writes::{Finished, Writes};

/// A staged batch's place in line: durable once [`Waymark::wait_durable`]
/// returns for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// Staged batches, oldest first.
#[derive(Default)]
pub(super) struct Staged {
    last_ticket: u64,
    batches: VecDeque<StagedBatch>,
}

impl Staged {
    /// The ticket of the batch staged last: everything staged is durable
    /// once it is.
    pub fn last_ticket(&self) -> Ticket {
        Ticket(self.last_ticket)
    }
}

struct StagedBatch {
    ticket: u64,
    batch: Batch,
    /// Outbox entries and journey records the batch made: encoded into
    /// `batch` by the thread that commits it, off the state lock.
    outbox: Vec<Arc<OutboxEntry>>,
    records: Option<(u64, Arc<RecordBatch>)>,
    /// The outbox and record sequences the state had reached: everything
    /// below them is durable once this batch is.
    outbox_below: u64,
    records_below: u64,
    earliest_timer: Option<Timestamp>,
    /// Person locks the batch holds (a shared store's), given back once
    /// it is durable.
    locks: Vec<i64>,
}

/// How far the store has caught up with the state: only what is durable
/// is delivered or published (a crash must not lose a decision whose
/// message went out).
#[derive(Default)]
pub(super) struct DurableMarks {
    pub ticket: AtomicU64,
    pub outbox_below: AtomicU64,
    pub records_below: AtomicU64,
}

impl Waymark {
    /// Stages a batch for the store, in the order of the state changes it
    /// holds (so under the state lock); [`Waymark::wait_durable`] writes it.
    pub(super) fn stage(&self, state: &mut State, writes: Writes<'_>) -> Ticket {
        let Finished {
            batch,
            touched,
            merged,
            outbox,
            records,
            earliest_timer,
            locks,
        } = writes.finish(state);
        let mut staged = self.staged.lock();
        staged.last_ticket += 1;
        let ticket = staged.last_ticket;
        state.people.written(&touched, &merged, ticket);
        staged.batches.push_back(StagedBatch {
            ticket,
            batch,
            outbox,
            records,
            outbox_below: state.next_outbox_seq,
            records_below: state.next_record_seq,
            earliest_timer,
            locks,
        });
        Ticket(ticket)
    }

    /// Writes staged batches to the store, oldest first, until the one of
    /// `ticket` is durable (another thread may have written it already).
    /// On failure the in-memory state is ahead of the store, so the
    /// runtime refuses further work until rebuilt.
    pub fn wait_durable(&self, ticket: Ticket) -> Result<(), Error> {
        let _one_writer = self.committing.lock();
        let mut woke = false;
        while self.durable.ticket.load(Ordering::SeqCst) < ticket.0 {
            if self.poisoned.load(Ordering::SeqCst) {
                return Err(Error::Poisoned);
            }
            // Group commit: every batch staged by now, oldest first, in one
            // write and one sync (a person changed by several is written once).
            let group: Vec<StagedBatch> = self.staged.lock().batches.drain(..).collect();
            let Some(last) = group.last() else {
                break; // cannot happen: a ticket is staged before it is handed out
            };
            let (ticket, outbox_below, records_below) =
                (last.ticket, last.outbox_below, last.records_below);
            let mut batch = Batch::new();
            let mut locks = Vec::new();
            for next in group {
                locks.extend(next.locks);
                // A timer due before the delivery loop means to wake: wake it.
                woke |= next
                    .earliest_timer
                    .is_some_and(|due| self.loop_wakes_after(due));
                batch.append(next.batch);
                for entry in &next.outbox {
                    batch.put(
                        Space::Outbox,
                        keys::seq(entry.seq).to_vec(),
                        encode(&**entry),
                    );
                }
                if let Some((seq, records)) = &next.records {
                    batch.put(Space::Records, keys::seq(*seq).to_vec(), records.value());
                }
            }
            self.fence(&mut batch);
            let outcome = self.store.commit(batch.superseded_dropped());
            if !locks.is_empty() {
                self.give_back(&locks);
            }
            self.written(outcome)?;
            let marks = &self.durable;
            woke |= marks.outbox_below.swap(outbox_below, Ordering::SeqCst) < outbox_below;
            if marks.records_below.swap(records_below, Ordering::SeqCst) < records_below {
                self.records_wake.raise();
            }
            marks.ticket.store(ticket, Ordering::SeqCst);
        }
        if woke {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Stages `writes` and waits until they are durable.
    pub(super) fn commit(
        &self,
        mut state: MutexGuard<'_, State>,
        writes: Writes<'_>,
    ) -> Result<(), Error> {
        let ticket = self.stage(&mut state, writes);
        drop(state);
        self.wait_durable(ticket)?;
        self.trim_cache();
        Ok(())
    }

    /// Lets people go while the cache is over its budget, now that what
    /// was staged is durable (a runtime that goes idle holds no more than
    /// its budget).
    pub(super) fn trim_cache(&self) {
        if let Ok(mut state) = self.lock() {
            self.make_room(&mut state);
        }
    }

    /// Writes `writes` without waiting for the disk or for staged batches:
    /// for forgetting what a channel or the record sink acknowledged. A
    /// crash may lose it, which only sends or publishes those again with
    /// the same keys (deduplicated downstream); it never touches what a
    /// staged batch writes (outbox and record sequences are never reused).
    pub(super) fn commit_unsynced(
        &self,
        mut state: MutexGuard<'_, State>,
        writes: Writes<'_>,
    ) -> Result<(), Error> {
        let finished = writes.finish(&mut state);
        debug_assert!(finished.locks.is_empty(), "locks go with staged batches");
        debug_assert!(
            finished.outbox.is_empty() && finished.records.is_none(),
            "new outbox entries and records go through staged commits"
        );
        drop(state);
        let mut batch = finished.batch;
        self.fence(&mut batch);
        self.written(self.store.commit_unsynced(batch))
    }

    /// A store write's outcome; a failed one leaves memory ahead of disk,
    /// so the runtime refuses further work until rebuilt.
    fn written(&self, outcome: Result<(), waymark_store::Error>) -> Result<(), Error> {
        outcome.inspect_err(|error| {
            tracing::error!(%error, "commit failed; the runtime stops taking work");
            self.poisoned.store(true, Ordering::SeqCst);
        })?;
        Ok(())
    }
}
