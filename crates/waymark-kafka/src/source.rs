//! The Kafka source: a consumer group over the input topics feeding the
//! runtime in batches, storing offsets only after each batch is durable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::Offset;
use waymark::runtime::Waymark;
use waymark::source::SourceCounters;

use crate::config::KafkaConfig;
use crate::health::Health;
use crate::metrics::{Metrics, PartitionLabels};
use crate::pipeline::Pipeline;
use crate::publisher::{PublishError, Publisher};

mod rebalance;

use rebalance::{SourceContext, commit};

/// What a Kafka source feeds and reports to.
#[derive(Debug, Clone)]
pub struct SourceParts {
    pub waymark: Arc<Waymark>,
    /// For dead letters.
    pub publisher: Arc<Publisher>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub counters: Arc<SourceCounters>,
}

/// Why the source stopped.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("dead-letter topic: {0}")]
    DeadLetters(#[from] PublishError),
    #[error("runtime: {0}")]
    Runtime(#[from] waymark::runtime::Error),
    #[error("stopping: {0}")]
    TooManyDeadLetters(String),
    #[error("starting the source's committer or watch thread: {0}")]
    Committer(String),
    #[error(
        "consumer group `{group}` has had {members} members for {seconds} s: a worker decides \
         for the people of every input partition from its own state, so it runs alone in its \
         group; stop the other worker, or give each worker its own group_id (docs/scale.md)"
    )]
    SharedGroup {
        group: String,
        members: usize,
        seconds: u64,
    },
}

/// How long a worker holds only part of the partitions before it checks
/// whether the group is broken (see [`KafkaSource::rejoin_if_orphaned`]).
const ORPHANED_AFTER: Duration = Duration::from_secs(5);

/// How often the orphaned-group check asks the broker how many partitions
/// the input topics have (partitions are added rarely).
const PARTITIONS_REFRESH: Duration = Duration::from_secs(30);

/// What the watch thread keeps between checks.
#[derive(Debug, Default)]
struct OrphanCheck {
    /// Since when this worker has held fewer than all the partitions.
    short_since: Option<Instant>,
    /// The input topics' partition count, and when it was asked.
    partitions: Option<(usize, Instant)>,
    /// Since when the group has listed other members, and when it was
    /// last asked.
    shared_since: Option<Instant>,
    members_asked: Option<Instant>,
}

/// How often the watch thread asks the broker for the group's members.
const MEMBERS_EVERY: Duration = Duration::from_secs(2);

/// A consumer group member feeding the runtime.
pub struct KafkaSource {
    consumer: BaseConsumer<SourceContext>,
    pipeline: Arc<Pipeline>,
    group_id: String,
    topics: Vec<String>,
    batch_size: usize,
    batch_wait: Duration,
    /// How long other members may be listed before the worker stops: a
    /// member that died stays listed until its session times out.
    shared_grace: Duration,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource").finish_non_exhaustive()
    }
}

impl KafkaSource {
    /// Joins the group and subscribes to the input topics.
    pub fn subscribe(
        kafka: &KafkaConfig,
        parts: SourceParts,
        (batch_size, batch_wait): (usize, Duration),
        max_clock_skew: chrono::TimeDelta,
    ) -> Result<Self, SourceError> {
        let waymark = Arc::clone(&parts.waymark);
        let shared = waymark.is_shared();
        // Until this worker holds every partition, timers wait (on a shared
        // store, each lane's fire once claimed).
        waymark.hold_timers(!waymark.is_shared());
        let pipeline = Arc::new(Pipeline::new(kafka, parts, max_clock_skew));
        let mut config = super::client_config(kafka);
        config
            .set("group.id", &kafka.group_id)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.commit.interval.ms", "1000")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        // Tuning defaults, unless `kafka.properties` says otherwise: a
        // fetch returns as soon as there is something (the broker would
        // otherwise hold it up to 500 ms, which is the event's latency).
        for (key, value) in [
            ("fetch.wait.max.ms", "10"),
            ("fetch.message.max.bytes", "16777216"),
        ] {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
        let session = config
            .get("session.timeout.ms")
            .and_then(|ms| ms.parse().ok())
            .map_or(Duration::from_secs(45), Duration::from_millis);
        let consumer: BaseConsumer<SourceContext> = config.create_with_context(SourceContext {
            pipeline: Arc::clone(&pipeline),
            waymark,
            partitions: AtomicUsize::new(0),
            owner: crate::ownership::owner_id(),
            read_back: shared.then(|| {
                (
                    super::client_config(kafka),
                    vec![
                        kafka.topics.deliveries.clone(),
                        kafka.topics.analytics.clone(),
                    ],
                    kafka.readback,
                )
            }),
        })?;
        let topics: Vec<&str> = kafka.topics.input.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        tracing::info!(topics = ?topics, group = %kafka.group_id, "subscribed");
        Ok(KafkaSource {
            consumer,
            pipeline,
            group_id: kafka.group_id.clone(),
            topics: kafka.topics.input.clone(),
            batch_size: batch_size.max(1),
            batch_wait,
            shared_grace: session * 2 + Duration::from_secs(5),
        })
    }

    /// Consumes until `stop` is set (then commits the batch in hand and the
    /// offsets and leaves the group) or an error.
    pub fn run(self, stop: &AtomicBool) -> Result<(), SourceError> {
        let stopping = AtomicBool::new(false);
        std::thread::scope(|scope| {
            // Staged batches are written to the store here while the poll
            // loop reads and decides the next one.
            let committer = std::thread::Builder::new()
                .name("waymark-commit".to_owned())
                .spawn_scoped(scope, || self.settle_until(&stopping));
            // Lag and group checks ask the broker and wait for its answer:
            // on the poll thread they held up every event behind them.
            let watch = std::thread::Builder::new()
                .name("waymark-watch".to_owned())
                .spawn_scoped(scope, || self.watch_until(stop, &stopping));
            let result = match (committer, watch) {
                (Ok(_), Ok(_)) => self.poll_until(stop),
                (Err(error), _) | (_, Err(error)) => Err(SourceError::Committer(error.to_string())),
            };
            self.pipeline.stop_committer(&stopping);
            result
        })
    }

    /// The committer thread: settles staged batches until `stopping`.
    fn settle_until(&self, stopping: &AtomicBool) {
        let pipeline = &self.pipeline;
        while pipeline.wait_for_staged(stopping) {
            if let Err(error) = pipeline.settle(&self.consumer) {
                pipeline.fail(error);
                return;
            }
        }
    }

    /// The watch thread: measures lag and checks the group's assignment
    /// once a second until `stop` or `stopping`.
    fn watch_until(&self, stop: &AtomicBool, stopping: &AtomicBool) {
        let mut orphan_check = OrphanCheck::default();
        let halted = || stop.load(Ordering::SeqCst) || stopping.load(Ordering::SeqCst);
        while !halted() {
            self.measure_lag();
            if halted() {
                return;
            }
            self.rejoin_if_orphaned(&mut orphan_check, &halted);
            // Many workers share a group only on a shared store.
            if !self.consumer.context().waymark.is_shared() {
                self.hold_timers_unless_whole(&mut orphan_check);
                self.stop_if_shared(&mut orphan_check);
            }
            let started = Instant::now();
            while !halted() && started.elapsed() < Duration::from_secs(1) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The poll loop: reads, batches and stages until `stop` or an error.
    fn poll_until(&self, stop: &AtomicBool) -> Result<(), SourceError> {
        let result = loop {
            if stop.load(Ordering::SeqCst) {
                break self.pipeline.drain(&self.consumer);
            }
            let wait = match self.pipeline.pending_since() {
                Some(since) => self.batch_wait.saturating_sub(since.elapsed()),
                None => Duration::from_millis(100),
            };
            match self.consumer.poll(wait) {
                Some(Ok(message)) => {
                    if let Err(error) = self.pipeline.push(&message) {
                        break Err(error);
                    }
                }
                Some(Err(error)) => tracing::warn!(%error, "consumer error"),
                None => {}
            }
            if let Some(error) = self.pipeline.failure.lock().take() {
                break Err(error);
            }
            let due = self
                .pipeline
                .pending_since()
                .is_some_and(|since| since.elapsed() >= self.batch_wait);
            if (due || self.pipeline.pending_len() >= self.batch_size)
                && let Err(error) = self.pipeline.flush()
            {
                break Err(error);
            }
        };
        if result.is_ok() {
            commit(&self.consumer);
            self.consumer.unsubscribe();
        }
        result
    }

    /// Holds timers while this worker lacks some input partition (the
    /// rebalance callbacks hold them at a revoke and release them at a
    /// whole assignment; this catches what they cannot know, such as the
    /// partition count at start).
    fn hold_timers_unless_whole(&self, check: &mut OrphanCheck) {
        let total = self.total_partitions(check);
        let context = self.consumer.context();
        context.partitions.store(total, Ordering::SeqCst);
        let assigned = self.consumer.assignment().map_or(0, |a| a.count());
        context.waymark.hold_timers(total == 0 || assigned < total);
    }

    /// Stops the source when the group has listed other members for longer
    /// than a dead member stays listed: two workers with stores of their
    /// own would each decide for people the other holds.
    fn stop_if_shared(&self, check: &mut OrphanCheck) {
        if check
            .members_asked
            .is_some_and(|at| at.elapsed() < MEMBERS_EVERY)
        {
            return;
        }
        check.members_asked = Some(Instant::now());
        let Some(members) = self.group_members() else {
            return;
        };
        if members <= 1 {
            check.shared_since = None;
            return;
        }
        let since = *check.shared_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= self.shared_grace {
            tracing::error!(group = %self.group_id, members, "another worker shares the consumer group: stopping");
            self.pipeline.fail(SourceError::SharedGroup {
                group: self.group_id.clone(),
                members,
                seconds: since.elapsed().as_secs(),
            });
        }
    }

    /// How many members the broker lists in this worker's group (None: no
    /// answer).
    fn group_members(&self) -> Option<usize> {
        match self
            .consumer
            .fetch_group_list(Some(&self.group_id), Duration::from_secs(2))
        {
            Ok(list) => Some(
                list.groups()
                    .iter()
                    .filter(|g| g.name() == self.group_id)
                    .map(|g| g.members().len())
                    .sum::<usize>(),
            ),
            Err(error) => {
                tracing::debug!(%error, "group not described");
                None
            }
        }
    }

    /// The input topics' partition count, asked again every
    /// `PARTITIONS_REFRESH` (0 while the broker has not answered).
    fn total_partitions(&self, check: &mut OrphanCheck) -> usize {
        match check.partitions {
            Some((total, at)) if at.elapsed() < PARTITIONS_REFRESH => total,
            _ => {
                let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
                let total = self.input_partitions(&topics);
                // An unanswered fetch (0) is asked again next time.
                check.partitions = (total > 0).then(|| (total, Instant::now()));
                total
            }
        }
    }

    /// Rejoins the group when this worker has held only part of the input
    /// partitions for a while and the group lists no other member: a sole
    /// member must hold every partition, so the group's last rebalance went
    /// wrong (tansu 0.6 completes rebalances with partitions left to members
    /// that died, as a SIGKILLed worker does, and never tells the live
    /// one). Never fires while other workers share the partitions.
    ///
    /// `halted` is asked again just before rejoining: the check asks the
    /// broker first, and the poll thread may be leaving the group meanwhile.
    fn rejoin_if_orphaned(&self, check: &mut OrphanCheck, halted: &dyn Fn() -> bool) {
        let assigned = self.consumer.assignment().map_or(0, |a| a.count());
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        let total = self.total_partitions(check);
        let short_since = &mut check.short_since;
        if assigned >= total {
            *short_since = None;
            return;
        }
        let since = *short_since.get_or_insert_with(Instant::now);
        if since.elapsed() < ORPHANED_AFTER {
            return;
        }
        let Some(members) = self.group_members() else {
            return;
        };
        if members > 1 || halted() {
            return;
        }
        tracing::warn!(
            group = %self.group_id,
            members,
            assigned,
            partitions = total,
            "some partitions unassigned and no other member in the group: rejoining"
        );
        self.consumer.unsubscribe();
        if let Err(error) = self.consumer.subscribe(&topics) {
            tracing::warn!(%error, "subscribing again failed; retrying later");
        }
        *short_since = Some(Instant::now());
    }

    /// How many partitions the input topics have, from the broker.
    fn input_partitions(&self, topics: &[&str]) -> usize {
        topics
            .iter()
            .filter_map(|topic| {
                let metadata = self
                    .consumer
                    .fetch_metadata(Some(topic), Duration::from_secs(2))
                    .ok()?;
                Some(
                    metadata
                        .topics()
                        .iter()
                        .filter(|t| t.name() == *topic)
                        .map(|t| t.partitions().len())
                        .sum::<usize>(),
                )
            })
            .sum()
    }

    /// Lag per assigned partition: the high watermark minus the next
    /// offset to process.
    fn measure_lag(&self) {
        let Ok(assignment) = self.consumer.assignment() else {
            return;
        };
        let positions = self.consumer.position().ok();
        let mut total = 0u64;
        for element in assignment.elements() {
            let (topic, partition) = (element.topic(), element.partition());
            let Ok((low, high)) =
                self.consumer
                    .fetch_watermarks(topic, partition, Duration::from_secs(1))
            else {
                return;
            };
            let processed = self
                .pipeline
                .committed
                .lock()
                .get(&(topic.to_owned(), partition))
                .copied();
            let fetched = positions
                .as_ref()
                .and_then(|p| p.find_partition(topic, partition))
                .and_then(|e| match e.offset() {
                    Offset::Offset(n) => Some(n),
                    _ => None,
                });
            let next = processed.or(fetched).unwrap_or(low);
            let lag = u64::try_from(high - next).unwrap_or(0);
            total += lag;
            self.pipeline
                .metrics
                .lag
                .get_or_create(&PartitionLabels {
                    topic: topic.to_owned(),
                    partition,
                })
                .set(i64::try_from(lag).unwrap_or(i64::MAX));
        }
        self.pipeline.health.set_lag(total);
    }
}
