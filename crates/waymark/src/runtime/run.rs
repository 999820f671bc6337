//! The runtime's loops: timers fired and the outbox delivered until
//! shutdown, and journey records published to the record sink on a thread
//! of their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use waymark_store::{Space, keys};

use super::record_batch::RecordBatch;
use super::waymark::{Error, Waymark};
use super::writes::Writes;

impl Waymark {
    /// Fires due timers, delivers due messages and publishes journey
    /// records until `shutdown` resolves; then drains what is due. Records
    /// are published on a thread of their own, so a delivery round never
    /// waits for a record round's acknowledgements and commit (nor the
    /// other way round).
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()>,
        tick: Duration,
    ) -> Result<(), Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let publisher = {
            let (waymark, stop) = (Arc::clone(&self), Arc::clone(&stop));
            tokio::task::spawn_blocking(move || waymark.publish_records_until(&stop, tick))
        };
        // Stops the publisher however this future ends: also when it is
        // dropped (a runtime shutting down cancels it), since a runtime
        // waits for its blocking threads before it lets the process exit.
        let stop_publisher = StopPublisher {
            waymark: &self,
            stop: &stop,
        };
        let delivered = self.deliver_until(shutdown, tick).await;
        drop(stop_publisher);
        let published = publisher.await.unwrap_or(Err(Error::Poisoned));
        delivered.and(published)
    }

    /// The delivery loop of [`Waymark::run`].
    async fn deliver_until(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
        tick: Duration,
    ) -> Result<(), Error> {
        tokio::pin!(shutdown);
        loop {
            self.fire_due_timers()?;
            self.deliver_due().await?;
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(tick) => {}
                () = self.wake.notified() => {}
            }
        }
        // Drain: what is due now still goes out before stopping.
        self.fire_due_timers()?;
        self.deliver_due().await?;
        Ok(())
    }

    /// The record publisher of [`Waymark::run`]: publishes whenever a
    /// commit leaves records (or every `tick`) until `stop`, then
    /// publishes what is left.
    fn publish_records_until(&self, stop: &AtomicBool, tick: Duration) -> Result<(), Error> {
        while !stop.load(Ordering::SeqCst) {
            while self.publish_records()? > 0 {}
            self.records_wake.wait(tick);
        }
        while self.publish_records()? > 0 {}
        Ok(())
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
                state
                    .records
                    .range(..durable)
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
