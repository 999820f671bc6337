//! The Kafka source: a consumer group over the input topics feeding the
//! runtime in batches, storing offsets only after each batch is durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::publisher::{Outgoing, PublishError, Publisher};
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use waymark_core::Event;

use super::dead_letter::{DeadLetterGuard, DeadLetterReason};
use super::metrics::{Metrics, PartitionLabels, ReasonLabels};
use crate::config::KafkaConfig;
use crate::health::Health;
use waymark::runtime::{Ticket, Waymark};
use waymark::source::SourceCounters;

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
}

/// An event that could not be processed, with what the dead-letter topic
/// needs to hold it byte for byte.
#[derive(Debug)]
struct DeadLetter {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    reason: DeadLetterReason,
}

/// What has been read but not yet committed.
#[derive(Debug, Default)]
struct Pending {
    events: Vec<Event>,
    dead: Vec<DeadLetter>,
    /// (topic, partition) -> the offset after the last message read.
    next: HashMap<(String, i32), i64>,
    read: usize,
    first_at: Option<Instant>,
}

/// A batch decided and staged, waiting to be durable before its
/// positions are stored for the group commit.
#[derive(Debug)]
struct InFlight {
    ticket: Ticket,
    next: HashMap<(String, i32), i64>,
    started: Instant,
}

/// How many staged batches the poll thread may be ahead of the store.
const MAX_IN_FLIGHT: usize = 2;

/// Turns messages into committed batches; shared with the rebalance
/// callback, which drains it before partitions are given up.
struct Pipeline {
    waymark: Arc<Waymark>,
    publisher: Arc<Publisher>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    dead_letter_topic: String,
    max_event_bytes: usize,
    pending: Mutex<Pending>,
    /// Staged batches, oldest first; the committer thread makes them
    /// durable while the poll thread reads and decides the next.
    in_flight: Mutex<std::collections::VecDeque<InFlight>>,
    /// Signalled when a batch is staged, settled, or the source stops.
    in_flight_changed: Condvar,
    /// One settler at a time, so positions are stored in order.
    settling: Mutex<()>,
    guard: Mutex<DeadLetterGuard>,
    /// (topic, partition) -> the offset after the last committed message,
    /// from the store (messages below it are replays).
    committed: Mutex<HashMap<(String, i32), i64>>,
    /// An error from inside a rebalance callback, for the poll loop.
    failure: Mutex<Option<SourceError>>,
    counters: Arc<SourceCounters>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock()
}

/// The store's name for a partition's position.
fn position_name(topic: &str, partition: i32) -> String {
    format!("kafka:{topic}:{partition}")
}

/// The event in `payload`, or why there is none.
fn parse(payload: Option<&[u8]>, max_bytes: usize) -> Result<Event, DeadLetterReason> {
    let bytes = payload.unwrap_or_default();
    if bytes.is_empty() {
        return Err(DeadLetterReason::Empty);
    }
    if bytes.len() > max_bytes {
        return Err(DeadLetterReason::TooLarge {
            bytes: bytes.len(),
            limit: max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| DeadLetterReason::NotUtf8 {
        at: e.valid_up_to(),
    })?;
    Event::from_json_str(text).map_err(|e| DeadLetterReason::Invalid(e.to_string()))
}

impl Pipeline {
    /// The committed position of a partition (looked up once, then kept).
    fn committed(&self, topic: &str, partition: i32) -> i64 {
        let mut committed = lock(&self.committed);
        if let Some(next) = committed.get(&(topic.to_owned(), partition)) {
            return *next;
        }
        let next = self
            .waymark
            .source_offset(&position_name(topic, partition))
            .and_then(|n| i64::try_from(n).ok())
            .unwrap_or(0);
        committed.insert((topic.to_owned(), partition), next);
        next
    }

    /// Takes one message into the batch in hand.
    fn push(&self, message: &BorrowedMessage<'_>) -> Result<(), SourceError> {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        if offset < self.committed(topic, partition) {
            tracing::trace!(topic, partition, offset, "replayed: skipped");
            self.counters.replayed.fetch_add(1, Ordering::Relaxed);
            self.metrics.events_replayed.inc();
            return Ok(());
        }
        self.metrics.events_in.inc();
        let parsed = parse(message.payload(), self.max_event_bytes);
        lock(&self.guard)
            .observe(parsed.is_err())
            .map_err(SourceError::TooManyDeadLetters)?;
        let mut pending = lock(&self.pending);
        pending.first_at.get_or_insert_with(Instant::now);
        pending.read += 1;
        match pending.next.get_mut(&(topic.to_owned(), partition)) {
            Some(next) => *next = offset + 1,
            None => {
                pending
                    .next
                    .insert((topic.to_owned(), partition), offset + 1);
            }
        }
        match parsed {
            Ok(event) => pending.events.push(event),
            Err(reason) => {
                tracing::warn!(topic, partition, offset, %reason, "event to the dead-letter topic");
                let headers = message
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                            .collect()
                    })
                    .unwrap_or_default();
                pending.dead.push(DeadLetter {
                    topic: topic.to_owned(),
                    partition,
                    offset,
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().unwrap_or_default().to_vec(),
                    headers,
                    reason,
                });
            }
        }
        Ok(())
    }

    fn pending_len(&self) -> usize {
        lock(&self.pending).read
    }

    fn pending_since(&self) -> Option<Instant> {
        lock(&self.pending).first_at
    }

    /// Stages the batch in hand: dead letters acknowledged first, then
    /// its decisions and positions staged as one store commit, made
    /// durable by [`Pipeline::settle`] (on the committer thread). Waits
    /// while [`MAX_IN_FLIGHT`] batches are already staged.
    fn flush(&self) -> Result<(), SourceError> {
        let batch = std::mem::take(&mut *lock(&self.pending));
        if batch.read == 0 {
            return Ok(());
        }
        let started = Instant::now();
        for dead in &batch.dead {
            let reason = dead.reason.to_string();
            let partition = dead.partition.to_string();
            let offset = dead.offset.to_string();
            let mut headers: Vec<(&str, &[u8])> = dead
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_slice()))
                .collect();
            headers.extend([
                ("waymark.dlq.reason", reason.as_bytes()),
                ("waymark.dlq.kind", dead.reason.kind().as_bytes()),
                ("waymark.dlq.topic", dead.topic.as_bytes()),
                ("waymark.dlq.partition", partition.as_bytes()),
                ("waymark.dlq.offset", offset.as_bytes()),
            ]);
            self.publisher.send(Outgoing {
                topic: &self.dead_letter_topic,
                key: dead.key.as_deref(),
                payload: &dead.payload,
                idempotency_key: None,
                headers: &headers,
            })?;
            self.metrics
                .dead_letters
                .get_or_create(&ReasonLabels {
                    reason: dead.reason.kind().to_owned(),
                })
                .inc();
        }
        if !batch.dead.is_empty() {
            self.publisher.sync()?;
        }
        let names: Vec<(String, u64)> = batch
            .next
            .iter()
            .map(|((topic, partition), next)| {
                (
                    position_name(topic, *partition),
                    u64::try_from(*next).unwrap_or(0),
                )
            })
            .collect();
        let offsets: Vec<(&str, u64)> = names.iter().map(|(n, o)| (n.as_str(), *o)).collect();
        let (report, ticket) = self.waymark.stage_batch_at(&batch.events, &offsets)?;
        tracing::debug!(?offsets, events = batch.events.len(), "batch staged");
        self.counters.count(&report, batch.dead.len());
        let mut in_flight = lock(&self.in_flight);
        in_flight.push_back(InFlight {
            ticket,
            next: batch.next,
            started,
        });
        self.in_flight_changed.notify_all();
        let full = Instant::now();
        while in_flight.len() > MAX_IN_FLIGHT && lock(&self.failure).is_none() {
            self.in_flight_changed.wait(&mut in_flight);
        }
        tracing::debug!(
            room_wait_us = full.elapsed().as_micros(),
            flush_us = started.elapsed().as_micros(),
            "batch handed to the committer"
        );
        Ok(())
    }

    /// Makes every staged batch durable, then stores their positions for
    /// the group commit, in order.
    fn settle<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) -> Result<(), SourceError> {
        let _one = lock(&self.settling);
        let Some(last) = lock(&self.in_flight).back().map(|b| b.ticket) else {
            return Ok(());
        };
        self.waymark.wait_durable(last)?;
        let settled: Vec<InFlight> = {
            let mut in_flight = lock(&self.in_flight);
            let n = in_flight.iter().take_while(|b| b.ticket <= last).count();
            let settled = in_flight.drain(..n).collect();
            self.in_flight_changed.notify_all();
            settled
        };
        for batch in settled {
            self.metrics
                .batch_commit_seconds
                .observe(batch.started.elapsed().as_secs_f64());
            // The positions to resume from, exactly: `store_offsets` stores
            // what it is given (`store_offset` would store one past it, and
            // a restart would skip a message). A partition no longer
            // assigned is not stored; the store's position covers it.
            let mut positions = TopicPartitionList::new();
            for ((topic, partition), next) in &batch.next {
                positions.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
            }
            if let Err(error) = consumer.store_offsets(&positions) {
                tracing::debug!(%error, "offsets not stored");
            }
            tracing::debug!(positions = ?batch.next, "batch committed");
            lock(&self.committed).extend(batch.next);
        }
        Ok(())
    }

    /// Stages the batch in hand and makes everything staged durable.
    fn drain<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) -> Result<(), SourceError> {
        self.flush()?;
        self.settle(consumer)
    }

    fn fail(&self, error: SourceError) {
        lock(&self.failure).get_or_insert(error);
        // A poll thread waiting for room must see it.
        let _in_flight = lock(&self.in_flight);
        self.in_flight_changed.notify_all();
    }
}

/// The consumer's callbacks: drain and commit before partitions go.
struct SourceContext {
    pipeline: Arc<Pipeline>,
}

impl ClientContext for SourceContext {}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            tracing::info!(partitions = list.count(), "partitions revoked: draining");
            if let Err(error) = self.pipeline.drain(consumer) {
                self.pipeline.fail(error);
                return;
            }
            commit(consumer);
            self.pipeline.health.set_assigned(0);
            self.pipeline.metrics.partitions_assigned.set(0);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let assigned = consumer.assignment().map_or(list.count(), |a| a.count());
            tracing::info!(partitions = assigned, "partitions assigned");
            self.pipeline.health.set_assigned(assigned as u64);
            self.pipeline
                .metrics
                .partitions_assigned
                .set(i64::try_from(assigned).unwrap_or(0));
        }
    }
}

/// Commits the stored offsets now (nothing stored is not an error).
fn commit<C: ConsumerContext>(consumer: &BaseConsumer<C>) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(error) => tracing::warn!(%error, "offsets not committed"),
    }
}

/// How long a worker holds only part of the partitions before it checks
/// whether the group is broken (see [`KafkaSource::rejoin_if_orphaned`]).
const ORPHANED_AFTER: Duration = Duration::from_secs(5);

/// How often the orphaned-group check asks the broker how many partitions
/// the input topics have (partitions are added rarely).
const PARTITIONS_REFRESH: Duration = Duration::from_secs(30);

/// What [`KafkaSource::rejoin_if_orphaned`] keeps between checks.
#[derive(Debug, Default)]
struct OrphanCheck {
    /// Since when this worker has held fewer than all the partitions.
    short_since: Option<Instant>,
    /// The input topics' partition count, and when it was asked.
    partitions: Option<(usize, Instant)>,
}

/// A consumer group member feeding the runtime.
pub struct KafkaSource {
    consumer: BaseConsumer<SourceContext>,
    pipeline: Arc<Pipeline>,
    group_id: String,
    topics: Vec<String>,
    batch_size: usize,
    batch_wait: Duration,
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
        waymark: Arc<Waymark>,
        publisher: Arc<Publisher>,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        counters: Arc<SourceCounters>,
        (batch_size, batch_wait): (usize, Duration),
    ) -> Result<Self, SourceError> {
        let pipeline = Arc::new(Pipeline {
            waymark,
            publisher,
            metrics,
            health,
            dead_letter_topic: kafka.topics.dead_letters.clone(),
            max_event_bytes: kafka.max_event_bytes,
            pending: Mutex::default(),
            in_flight: Mutex::default(),
            in_flight_changed: Condvar::new(),
            settling: Mutex::default(),
            guard: Mutex::new(DeadLetterGuard::new(kafka.dead_letters.clone())),
            committed: Mutex::default(),
            failure: Mutex::default(),
            counters,
        });
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
        let consumer: BaseConsumer<SourceContext> = config.create_with_context(SourceContext {
            pipeline: Arc::clone(&pipeline),
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
            let _in_flight = lock(&self.pipeline.in_flight);
            stopping.store(true, Ordering::SeqCst);
            self.pipeline.in_flight_changed.notify_all();
            result
        })
    }

    /// The committer thread: settles staged batches until `stopping`.
    fn settle_until(&self, stopping: &AtomicBool) {
        let pipeline = &self.pipeline;
        loop {
            {
                let mut in_flight = lock(&pipeline.in_flight);
                while in_flight.is_empty() && !stopping.load(Ordering::SeqCst) {
                    pipeline.in_flight_changed.wait(&mut in_flight);
                }
                if in_flight.is_empty() {
                    return;
                }
            }
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
            if let Some(error) = lock(&self.pipeline.failure).take() {
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
        let total = match check.partitions {
            Some((total, at)) if at.elapsed() < PARTITIONS_REFRESH => total,
            _ => {
                let total = self.input_partitions(&topics);
                // An unanswered fetch (0) is asked again next time.
                check.partitions = (total > 0).then(|| (total, Instant::now()));
                total
            }
        };
        let short_since = &mut check.short_since;
        if assigned >= total {
            *short_since = None;
            return;
        }
        let since = *short_since.get_or_insert_with(Instant::now);
        if since.elapsed() < ORPHANED_AFTER {
            return;
        }
        let members = match self
            .consumer
            .fetch_group_list(Some(&self.group_id), Duration::from_secs(2))
        {
            Ok(list) => list
                .groups()
                .iter()
                .filter(|g| g.name() == self.group_id)
                .map(|g| g.members().len())
                .sum::<usize>(),
            Err(error) => {
                tracing::debug!(%error, "group not described");
                return;
            }
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
            let processed = lock(&self.pipeline.committed)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_what_is_wrong() {
        let max = 64;
        assert_eq!(parse(None, max).unwrap_err(), DeadLetterReason::Empty);
        assert_eq!(
            parse(Some(&[b'{'; 65]), max).unwrap_err(),
            DeadLetterReason::TooLarge {
                bytes: 65,
                limit: 64
            }
        );
        assert_eq!(
            parse(Some(b"{\"a\xff"), max).unwrap_err(),
            DeadLetterReason::NotUtf8 { at: 3 }
        );
        let not_json = parse(Some(b"hello"), max).unwrap_err().to_string();
        assert!(!not_json.is_empty());
        let wrong = parse(
            Some(br#"{"type":"track","messageId":"m","userId":"u","event":3}"#),
            max,
        )
        .unwrap_err()
        .to_string();
        assert!(wrong.contains("event"), "{wrong}");
        let no_ids = parse(
            Some(br#"{"type":"track","messageId":"m","event":"A"}"#),
            max,
        )
        .unwrap_err()
        .to_string();
        assert!(no_ids.contains("userId"), "{no_ids}");
        assert!(
            parse(
                Some(br#"{"type":"track","event":"A","userId":"u","messageId":"m","timestamp":"2026-10-01T08:00:00Z"}"#),
                1024
            )
            .is_ok()
        );
    }
}
