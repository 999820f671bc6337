//! The worker's metrics, in Prometheus text format.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use waymark_channels::{Deliver, Delivery, DeliveryError, DeliveryFuture};

use waymark::runtime::Stats;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub topic: String,
    pub partition: i32,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SendLabels {
    pub channel: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// Every metric the worker exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub events_in: Counter,
    /// Events skipped after a restart because the store had them already.
    pub events_replayed: Counter,
    pub dead_letters: Family<ReasonLabels, Counter>,
    pub lag: Family<PartitionLabels, Gauge>,
    pub partitions_assigned: Gauge,
    /// The owner epoch this worker holds per input partition (a store
    /// shared by workers: a commit under an older one is refused).
    pub partition_epoch: Family<PartitionLabels, Gauge>,
    pub batch_commit_seconds: Histogram,
    pub sends: Family<SendLabels, Counter>,
    pub journeys_deployed: Counter,
    pub journey_refusals: Counter,
    /// Enter-topic calls decided (entered or not) and refused.
    pub api_entries: Counter,
    pub api_entry_refusals: Counter,
    timers_pending: Gauge,
    instances_active: Gauge,
    outbox_pending: Gauge,
    outbox_failed: Gauge,
    records_pending: Gauge,
    profiles: Gauge,
    cache_people: Gauge,
    cache_bytes: Gauge,
    cache_hits: Counter,
    cache_misses: Counter,
    cache_evictions: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("waymark");
        let metrics = Metrics {
            events_in: Counter::default(),
            events_replayed: Counter::default(),
            dead_letters: Family::default(),
            lag: Family::default(),
            partitions_assigned: Gauge::default(),
            partition_epoch: Family::default(),
            // 0.5 ms to ~4 s.
            batch_commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            sends: Family::default(),
            journeys_deployed: Counter::default(),
            journey_refusals: Counter::default(),
            api_entries: Counter::default(),
            api_entry_refusals: Counter::default(),
            timers_pending: Gauge::default(),
            instances_active: Gauge::default(),
            outbox_pending: Gauge::default(),
            outbox_failed: Gauge::default(),
            records_pending: Gauge::default(),
            profiles: Gauge::default(),
            cache_people: Gauge::default(),
            cache_bytes: Gauge::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_evictions: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "events_in",
            "Events read from the input topics",
            metrics.events_in.clone(),
        );
        registry.register(
            "events_replayed",
            "Events read again after a restart and skipped (already committed)",
            metrics.events_replayed.clone(),
        );
        registry.register(
            "dead_letters",
            "Events sent to the dead-letter topic, by reason",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "consumer_lag",
            "Events not yet processed, per input partition",
            metrics.lag.clone(),
        );
        registry.register(
            "partitions_assigned",
            "Input partitions assigned to this worker",
            metrics.partitions_assigned.clone(),
        );
        registry.register(
            "partition_epoch",
            "Owner epoch this worker claimed per input partition (PostgreSQL store; a commit under an older one is refused)",
            metrics.partition_epoch.clone(),
        );
        registry.register(
            "batch_commit_seconds",
            "Time to process and durably commit one batch of events",
            metrics.batch_commit_seconds.clone(),
        );
        registry.register(
            "sends",
            "Delivery attempts by channel and outcome",
            metrics.sends.clone(),
        );
        registry.register(
            "journeys_deployed",
            "Journey versions deployed from the journeys topic",
            metrics.journeys_deployed.clone(),
        );
        registry.register(
            "journey_refusals",
            "Journeys from the journeys topic refused at validation",
            metrics.journey_refusals.clone(),
        );
        registry.register(
            "api_entries",
            "Entries by API from the enter topic, decided",
            metrics.api_entries.clone(),
        );
        registry.register(
            "api_entry_refusals",
            "Entries by API from the enter topic refused (unknown journey, no id, ...)",
            metrics.api_entry_refusals.clone(),
        );
        registry.register(
            "timers_pending",
            "Timers waiting",
            metrics.timers_pending.clone(),
        );
        registry.register(
            "instances_active",
            "Journey instances running",
            metrics.instances_active.clone(),
        );
        registry.register(
            "outbox_pending",
            "Deliveries waiting in the outbox",
            metrics.outbox_pending.clone(),
        );
        registry.register(
            "outbox_failed",
            "Deliveries that failed for good",
            metrics.outbox_failed.clone(),
        );
        registry.register(
            "records_pending",
            "Journey records not yet published",
            metrics.records_pending.clone(),
        );
        registry.register("profiles", "Profiles known", metrics.profiles.clone());
        registry.register(
            "cache_people",
            "People held in memory",
            metrics.cache_people.clone(),
        );
        registry.register(
            "cache_bytes",
            "Estimated memory of the people held (budget: store.cache_mb)",
            metrics.cache_bytes.clone(),
        );
        registry.register(
            "cache_hits",
            "People an input needed and found in memory",
            metrics.cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "People an input needed and looked up in the store",
            metrics.cache_misses.clone(),
        );
        registry.register(
            "cache_evictions",
            "People let go from memory to stay within the budget",
            metrics.cache_evictions.clone(),
        );
        // Every reason shows, at 0 until it happens.
        for reason in ["invalid", "not_utf8", "too_large", "empty"] {
            metrics
                .dead_letters
                .get_or_create(&ReasonLabels {
                    reason: reason.to_owned(),
                })
                .inc_by(0);
        }
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The text exposition, with the runtime's gauges read from `stats`.
    pub fn encode(&self, stats: &Stats) -> String {
        let gauge = |g: &Gauge, n: usize| {
            g.set(i64::try_from(n).unwrap_or(i64::MAX));
        };
        gauge(&self.timers_pending, stats.timers_pending);
        gauge(&self.instances_active, stats.instances_active);
        gauge(&self.outbox_pending, stats.outbox_pending);
        gauge(&self.outbox_failed, stats.outbox_failed);
        gauge(&self.records_pending, stats.records_pending);
        gauge(&self.profiles, stats.profiles);
        gauge(&self.cache_people, stats.cache.people);
        gauge(&self.cache_bytes, stats.cache.bytes);
        // The runtime counts; the exposition's counters follow.
        let counter = |c: &Counter, n: u64| {
            let have = c.get();
            if n > have {
                c.inc_by(n - have);
            }
        };
        counter(&self.cache_hits, stats.cache.hits);
        counter(&self.cache_misses, stats.cache.misses);
        counter(&self.cache_evictions, stats.cache.evictions);
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(%error, "metrics could not be encoded");
        }
        out
    }
}

/// A channel that counts what its inner channel does, by channel and
/// outcome (`delivered`, `duplicate`, `transient`, `permanent`).
#[derive(Debug)]
pub struct CountingChannel {
    inner: Arc<dyn Deliver>,
    metrics: Arc<Metrics>,
}

impl CountingChannel {
    pub fn new(inner: Arc<dyn Deliver>, metrics: Arc<Metrics>) -> Self {
        CountingChannel { inner, metrics }
    }
}

impl Deliver for CountingChannel {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let result = self.inner.deliver(delivery).await;
            let outcome = match &result {
                Ok(receipt) if receipt.duplicate => "duplicate",
                Ok(_) => "delivered",
                Err(DeliveryError::Transient { .. }) => "transient",
                Err(DeliveryError::Permanent { .. }) => "permanent",
            };
            self.metrics
                .sends
                .get_or_create(&SendLabels {
                    channel: delivery.channel.to_string(),
                    outcome: outcome.to_owned(),
                })
                .inc();
            result
        })
    }

    fn sync(&self) -> Result<(), DeliveryError> {
        self.inner.sync()
    }

    fn reports_outcomes(&self) -> bool {
        self.inner.reports_outcomes()
    }
}
