//! The runtime's loops: timers fired and the outbox delivered until
//! shutdown, and journey records published to the record sink on a thread
//! of their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use waymark_core::Timestamp;
use waymark_store::{Space, keys};

use super::record_batch::RecordBatch;
use super::records::OutboxStatus;
use super::waymark::{Error, Waymark};
use super::writes::Writes;

/// `sleeping_until` while the delivery loop is awake, or asleep with no
/// deadline: any timer set must wake it.
const NO_DEADLINE: i64 = i64::MAX;

/// How long the record publisher waits before trying a sink that failed.
const SINK_RETRY: Duration = Duration::from_secs(1);

impl Waymark {
    /// Fires due timers, delivers due messages and publishes journey
    /// records until `shutdown` resolves; then drains what is due. There
    /// is no polling tick: the delivery loop sleeps until the next timer
    /// or delivery attempt is due, and a commit that adds earlier work
    /// wakes it. Records are published on a thread of their own, woken by
    /// the commits that leave records, so a delivery round never waits for
    /// a record round's acknowledgements and commit (nor the other way
    /// round).
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let publisher = {
            let (waymark, stop) = (Arc::clone(&self), Arc::clone(&stop));
            tokio::task::spawn_blocking(move || waymark.publish_records_until(&stop))
        };
        // Stops the publisher however this future ends: also when it is
        // dropped (a runtime shutting down cancels it), since a runtime
        // waits for its blocking threads before it lets the process exit.
        let stop_publisher = StopPublisher {
            waymark: &self,
            stop: &stop,
        };
        let delivered = self.deliver_until(shutdown).await;
        drop(stop_publisher);
        let published = publisher.await.unwrap_or(Err(Error::Poisoned));
        delivered.and(published)
    }

    /// The delivery loop of [`Waymark::run`].
    async fn deliver_until(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), Error> {
        tokio::pin!(shutdown);
        loop {
            self.sleeping_until.store(NO_DEADLINE, Ordering::SeqCst);
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            self.fire_due_timers()?;
            self.deliver_due().await?;
            let next = self.next_wake();
            let wait = match next {
                Some(at) => {
                    self.sleeping_until
                        .store(at.timestamp_millis(), Ordering::SeqCst);
                    (at - self.clock.now()).to_std().unwrap_or_default()
                }
                None => Duration::MAX,
            };
            self.settled.notify_one();
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(wait), if next.is_some() => {}
                () = self.wake.notified() => {}
            }
        }
        self.sleeping_until.store(NO_DEADLINE, Ordering::SeqCst);
        // Drain: what is due now still goes out before stopping.
        self.fire_due_timers()?;
        self.deliver_due().await?;
        self.settled.notify_one();
        Ok(())
    }

    /// When the delivery loop has work next without being woken: the
    /// earliest due timer (a held journey's wait for it to resume) or
    /// delivery attempt (of what is durable; what a commit makes durable
    /// later wakes the loop). None: nothing is pending.
    pub fn next_wake(&self) -> Option<Timestamp> {
        let engine = self.engine();
        let state = self.state.lock();
        let held = self.timers_held();
        let mut timer = state.journeys.next_due(&engine).filter(|_| !held);
        // Timers beyond the horizon: the earliest stored one (firing it
        // moves the horizon first).
        let beyond = state
            .journeys
            .timers
            .horizon()
            .filter(|_| !held && state.timers_pending > state.journeys.timers.len());
        if let Some(horizon) = beyond {
            match super::state::first_stored_timer(self.store.as_ref(), horizon) {
                Ok(Some(due)) => timer = Some(timer.map_or(due, |queued| queued.min(due))),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "could not read the next stored timer"),
            }
        }
        let durable = self.durable.outbox_below.load(Ordering::SeqCst);
        let delivery = self
            .durable_seqs(&state.outbox, durable)
            .map(|(_, entry)| entry)
            .filter(|entry| entry.status == OutboxStatus::Pending)
            .map(|entry| entry.next_attempt_at)
            .min();
        timer.into_iter().chain(delivery).min()
    }

    /// Until when the delivery loop sleeps, if it sleeps with a deadline
    /// (None while it works or has nothing pending).
    pub fn sleeping_until(&self) -> Option<Timestamp> {
        let at = self.sleeping_until.load(Ordering::SeqCst);
        (at != NO_DEADLINE)
            .then(|| Timestamp::from_timestamp_millis(at))
            .flatten()
    }

    /// Whether a timer due at `due` is earlier than the delivery loop
    /// means to wake (true while it works or sleeps without a deadline).
    pub(super) fn loop_wakes_after(&self, due: Timestamp) -> bool {
        due.timestamp_millis() < self.sleeping_until.load(Ordering::SeqCst)
    }

    /// Holds timers (`true`) or lets them fire again (`false`). A Kafka
    /// source holds them while this worker lacks some of its group's
    /// partitions: their people's timers are not its to fire. Deliveries
    /// already decided still go out. Holding waits for a round of timers
    /// being decided to finish, so none fires after it returns.
    pub fn hold_timers(&self, held: bool) {
        if self.timers_held.swap(held, Ordering::SeqCst) == held {
            return;
        }
        tracing::info!(
            held,
            "timers held while partitions are missing, or released"
        );
        if held {
            drop(self.state.lock());
        } else {
            self.wake();
        }
    }

    /// Whether timers are held (see [`Waymark::hold_timers`]).
    pub fn timers_held(&self) -> bool {
        self.timers_held.load(Ordering::SeqCst)
    }

    /// Wakes the delivery loop to look again (after the clock was moved,
    /// a journey resumed, failed deliveries put back in line).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when the runtime's loops finished a round and have nothing
    /// to do right now (for a caller waiting for everything to settle, as
    /// the worker's `exit_when_idle`).
    pub async fn settled(&self) {
        self.settled.notified().await;
    }

    /// The record publisher of [`Waymark::run`]: publishes whenever a
    /// commit leaves records until `stop`, then publishes what is left. A
    /// sink that failed is tried again after [`SINK_RETRY`].
    fn publish_records_until(&self, stop: &AtomicBool) -> Result<(), Error> {
        while !stop.load(Ordering::SeqCst) {
            while self.publish_records()? > 0 {}
            self.settled.notify_one();
            if self.records_waiting() {
                self.records_wake.wait_for(SINK_RETRY);
            } else {
                self.records_wake.wait();
            }
        }
        while self.publish_records()? > 0 {}
        Ok(())
    }

    /// Whether durable records wait for the sink (it failed last round).
    fn records_waiting(&self) -> bool {
        let durable = self.durable.records_below.load(Ordering::SeqCst);
        self.records.is_some()
            && self
                .durable_seqs(&self.state.lock().records, durable)
                .next()
                .is_some()
    }

    /// Hands committed journey records (up to about `record_batch`) to the
    /// record sink, then forgets them once the sink synced. Returns how
    /// many were published (a round at a time: whole commits' worth, up
    /// to about `record_batch`).
    pub fn publish_records(&self) -> Result<usize, Error> {
        let Some(sink) = &self.records else {
            return Ok(0);
        };
        let mut published = 0;
        {
            // Whole commits' worth of records, up to about `record_batch`.
            let batches: Vec<(u64, Arc<RecordBatch>)> = {
                let state = self.lock()?;
                let mut taken = 0;
                let durable = self.durable.records_below.load(Ordering::SeqCst);
                self.durable_seqs(&state.records, durable)
                    .take_while(|(_, records)| {
                        let take = taken < self.options.record_batch;
                        taken += records.len();
                        take
                    })
                    .map(|(seq, records)| (*seq, Arc::clone(records)))
                    .collect()
            };
            if batches.is_empty() {
                return Ok(published);
            }
            for (key, json) in batches.iter().flat_map(|(_, records)| records.lines()) {
                if let Err(error) = sink.publish(key, json) {
                    tracing::warn!(%error, "the record sink refused a record; retrying later");
                    return Ok(published);
                }
            }
            if let Err(error) = sink.sync() {
                tracing::warn!(%error, "the record sink could not sync; retrying later");
                return Ok(published);
            }
            let mut state = self.lock()?;
            let mut writes = Writes::default();
            for (seq, records) in &batches {
                state.records.remove(seq);
                writes
                    .batch
                    .delete(Space::Records, keys::seq(*seq).to_vec());
                published += records.len();
            }
            self.commit_unsynced(state, writes)?;
        }
        Ok(published)
    }
}

/// Tells the record publisher of [`Waymark::run`] to finish, when dropped.
struct StopPublisher<'a> {
    waymark: &'a Waymark,
    stop: &'a AtomicBool,
}

impl Drop for StopPublisher<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.waymark.records_wake.raise();
    }
}
