//! The consumer's rebalance callbacks: before partitions go, the batch in
//! hand is made durable and the offsets committed (on a shared store the
//! lanes are given back); when partitions come, they are claimed in the
//! store (on a shared store their lanes taken, after reading back what
//! other workers published).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use waymark::runtime::Waymark;

use crate::pipeline::Pipeline;

/// The consumer's callbacks: drain and commit before partitions go.
pub(super) struct SourceContext {
    pub(super) pipeline: Arc<Pipeline>,
    pub(super) waymark: Arc<Waymark>,
    /// The input topics' partition count (0 until the broker told).
    pub(super) partitions: AtomicUsize,
    /// This worker's name as an owner of partitions in the store.
    pub(super) owner: String,
    /// On a shared store: what to read back at an assignment (the client,
    /// the topics whose idempotency keys to learn, how far back), so that
    /// a message another worker published for a lane taken over is not
    /// published again.
    pub(super) read_back: Option<(rdkafka::ClientConfig, Vec<String>, i64)>,
}

impl ClientContext for SourceContext {}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            tracing::info!(partitions = list.count(), "partitions revoked: draining");
            let shared = self.waymark.is_shared();
            // Their people's timers are not this worker's to fire now (on
            // a shared store, timers of lanes still held fire on).
            if !shared {
                self.waymark.hold_timers(true);
            }
            if let Err(error) = self.pipeline.drain(consumer) {
                self.pipeline.fail(error);
                return;
            }
            commit(consumer);
            if shared {
                let lanes: Vec<String> = list
                    .elements()
                    .iter()
                    .map(|e| format!("{}/{}", e.topic(), e.partition()))
                    .collect();
                if let Err(error) = self.waymark.release(&lanes) {
                    self.pipeline.fail(error.into());
                    return;
                }
                self.pipeline.forget_positions();
            }
            self.pipeline.health.set_assigned(0);
            self.pipeline.metrics.partitions_assigned.set(0);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let assigned = consumer.assignment().map_or(list.count(), |a| a.count());
            tracing::info!(partitions = assigned, "partitions assigned");
            if let Some((client, topics, per_partition)) = &self.read_back {
                for topic in topics {
                    if let Err(error) =
                        self.pipeline
                            .publisher()
                            .read_back(client, topic, *per_partition)
                    {
                        tracing::warn!(%error, topic, "could not read back what other workers published");
                    }
                }
            }
            // Taken in the store before anything is decided for them.
            let metrics = &self.pipeline.metrics;
            if let Err(error) = crate::ownership::claim(&self.waymark, metrics, &self.owner, list) {
                self.pipeline.fail(error.into());
                return;
            }
            let total = self.partitions.load(Ordering::SeqCst);
            if self.waymark.is_shared() || (total > 0 && assigned >= total) {
                self.waymark.hold_timers(false);
            }
            self.pipeline.health.set_assigned(assigned as u64);
            self.pipeline
                .metrics
                .partitions_assigned
                .set(i64::try_from(assigned).unwrap_or(0));
        }
    }
}

/// Commits the stored offsets now (nothing stored is not an error).
pub(super) fn commit<C: ConsumerContext>(consumer: &BaseConsumer<C>) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(error) => tracing::warn!(%error, "offsets not committed"),
    }
}
