//! The source's pipeline: messages read into batches (events, and dead
//! letters kept byte for byte), each batch decided and staged with its
//! partitions' positions, then made durable by the committer thread
//! before those positions are stored for the group commit.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use waymark::runtime::{Ticket, Waymark};
use waymark::source::SourceCounters;
use waymark_core::{Arrival, Event, Timestamp};

use crate::config::KafkaConfig;
use crate::dead_letter::{DeadLetterGuard, DeadLetterReason};
use crate::health::Health;
use crate::metrics::{Metrics, ReasonLabels};
use crate::publisher::{Outgoing, Publisher};
use crate::source::{SourceError, SourceParts};

mod lanes;

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
    /// On a shared store, the events instead by topic and partition (a
    /// lane), each partition's in the order read.
    lanes: Vec<(String, i32, Vec<Event>)>,
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
pub(crate) struct Pipeline {
    waymark: Arc<Waymark>,
    publisher: Arc<Publisher>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) health: Arc<Health>,
    dead_letter_topic: String,
    max_event_bytes: usize,
    /// How far ahead of its message's timestamp an event may be dated.
    max_clock_skew: chrono::TimeDelta,
    pending: Mutex<Pending>,
    /// Staged batches, oldest first; the committer thread makes them
    /// durable while the poll thread reads and decides the next.
    in_flight: Mutex<VecDeque<InFlight>>,
    /// Signalled when a batch is staged, settled, or the source stops.
    in_flight_changed: Condvar,
    /// One settler at a time, so positions are stored in order.
    settling: Mutex<()>,
    guard: Mutex<DeadLetterGuard>,
    /// (topic, partition) -> the offset after the last committed message,
    /// from the store (messages below it are replays).
    pub(crate) committed: Mutex<HashMap<(String, i32), i64>>,
    /// An error from inside a rebalance callback, for the poll loop.
    pub(crate) failure: Mutex<Option<SourceError>>,
    counters: Arc<SourceCounters>,
}

/// The store's name for a partition's position.
fn position_name(topic: &str, partition: i32) -> String {
    format!("kafka:{topic}:{partition}")
}

/// The event in `payload` (received as `arrival`), or why there is none.
fn parse(
    payload: Option<&[u8]>,
    max_bytes: usize,
    arrival: &Arrival,
) -> Result<Event, DeadLetterReason> {
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
    Event::from_json_str_arrived(text, arrival)
        .map_err(|e| DeadLetterReason::Invalid(e.to_string()))
}

impl Pipeline {
    pub(crate) fn new(
        kafka: &KafkaConfig,
        parts: SourceParts,
        max_clock_skew: chrono::TimeDelta,
    ) -> Self {
        let SourceParts {
            waymark,
            publisher,
            metrics,
            health,
            counters,
        } = parts;
        Pipeline {
            waymark,
            publisher,
            metrics,
            health,
            dead_letter_topic: kafka.topics.dead_letters.clone(),
            max_event_bytes: kafka.max_event_bytes,
            max_clock_skew,
            pending: Mutex::default(),
            in_flight: Mutex::default(),
            in_flight_changed: Condvar::new(),
            settling: Mutex::default(),
            guard: Mutex::new(DeadLetterGuard::new(kafka.dead_letters.clone())),
            committed: Mutex::default(),
            failure: Mutex::default(),
            counters,
        }
    }

    /// The committer thread's wait: true once a batch is staged, false
    /// once the source stops with nothing left to settle.
    pub(crate) fn wait_for_staged(&self, stopping: &AtomicBool) -> bool {
        let mut in_flight = self.in_flight.lock();
        while in_flight.is_empty() && !stopping.load(Ordering::SeqCst) {
            self.in_flight_changed.wait(&mut in_flight);
        }
        !in_flight.is_empty()
    }

    /// Tells the committer thread to stop once it has settled what is staged.
    pub(crate) fn stop_committer(&self, stopping: &AtomicBool) {
        let _in_flight = self.in_flight.lock();
        stopping.store(true, Ordering::SeqCst);
        self.in_flight_changed.notify_all();
    }

    /// The committed position of a partition (looked up once, then kept).
    fn committed(&self, topic: &str, partition: i32) -> i64 {
        let mut committed = self.committed.lock();
        if let Some(next) = committed.get(&(topic.to_owned(), partition)) {
            return *next;
        }
        let name = position_name(topic, partition);
        // On a shared store another worker may have moved it: the store's.
        let stored = if self.waymark.is_shared() {
            self.waymark
                .stored_source_offset(&name)
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "could not read a partition's position");
                    None
                })
        } else {
            self.waymark.source_offset(&name)
        };
        let next = stored.and_then(|n| i64::try_from(n).ok()).unwrap_or(0);
        committed.insert((topic.to_owned(), partition), next);
        next
    }

    /// Takes one message into the batch in hand.
    pub(crate) fn push(&self, message: &BorrowedMessage<'_>) -> Result<(), SourceError> {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        if offset < self.committed(topic, partition) {
            tracing::trace!(topic, partition, offset, "replayed: skipped");
            self.counters.replayed.fetch_add(1, Ordering::Relaxed);
            self.metrics.events_replayed.inc();
            return Ok(());
        }
        self.metrics.events_in.inc();
        // The receive time of a message is its Kafka timestamp (the
        // producer's or the broker's, as the topic is configured).
        let received = message
            .timestamp()
            .to_millis()
            .and_then(Timestamp::from_timestamp_millis)
            .unwrap_or_else(chrono::Utc::now);
        let arrival = Arrival::at(received, self.max_clock_skew);
        let parsed = parse(message.payload(), self.max_event_bytes, &arrival);
        self.guard
            .lock()
            .observe(parsed.is_err())
            .map_err(SourceError::TooManyDeadLetters)?;
        let mut pending = self.pending.lock();
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
            Ok(event) if self.waymark.is_shared() => {
                let lane =
                    (pending.lanes.iter_mut()).find(|(t, p, _)| t == topic && *p == partition);
                match lane {
                    Some((_, _, events)) => events.push(event),
                    None => pending
                        .lanes
                        .push((topic.to_owned(), partition, vec![event])),
                }
            }
            Ok(event) => pending.events.push(event),
            Err(reason) => {
                tracing::warn!(
                    topic,
                    partition,
                    offset,
                    reason = %waymark_core::redact(&reason.to_string()),
                    "event to the dead-letter topic"
                );
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

    pub(crate) fn pending_len(&self) -> usize {
        self.pending.lock().read
    }

    pub(crate) fn pending_since(&self) -> Option<Instant> {
        self.pending.lock().first_at
    }

    /// Stages the batch in hand: dead letters acknowledged first, then
    /// its decisions and positions staged as one store commit, made
    /// durable by [`Pipeline::settle`] (on the committer thread). Waits
    /// while [`MAX_IN_FLIGHT`] batches are already staged.
    pub(crate) fn flush(&self) -> Result<(), SourceError> {
        let batch = std::mem::take(&mut *self.pending.lock());
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
        let (report, ticket) = if self.waymark.is_shared() {
            self.stage_by_lane(&batch, &offsets)?
        } else {
            self.waymark.stage_batch_at(&batch.events, &offsets)?
        };
        let events =
            batch.events.len() + batch.lanes.iter().map(|(_, _, e)| e.len()).sum::<usize>();
        tracing::debug!(?offsets, events, "batch staged");
        self.counters.count(&report, batch.dead.len());
        let mut in_flight = self.in_flight.lock();
        in_flight.push_back(InFlight {
            ticket,
            next: batch.next,
            started,
        });
        self.in_flight_changed.notify_all();
        let full = Instant::now();
        while in_flight.len() > MAX_IN_FLIGHT && self.failure.lock().is_none() {
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
    pub(crate) fn settle<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), SourceError> {
        let _one = self.settling.lock();
        let Some(last) = self.in_flight.lock().back().map(|b| b.ticket) else {
            return Ok(());
        };
        self.waymark.wait_durable(last)?;
        let settled: Vec<InFlight> = {
            let mut in_flight = self.in_flight.lock();
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
            self.committed.lock().extend(batch.next);
        }
        Ok(())
    }

    /// Stages the batch in hand and makes everything staged durable.
    pub(crate) fn drain<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), SourceError> {
        self.flush()?;
        self.settle(consumer)
    }

    pub(crate) fn fail(&self, error: SourceError) {
        self.failure.lock().get_or_insert(error);
        // A poll thread waiting for room must see it.
        let _in_flight = self.in_flight.lock();
        self.in_flight_changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received() -> Arrival {
        Arrival::at(
            waymark_core::parse_timestamp("2026-11-30T12:00:00Z").unwrap(),
            Arrival::DEFAULT_MAX_CLOCK_SKEW,
        )
    }

    #[test]
    fn an_event_without_a_timestamp_takes_its_message_time() {
        let event = parse(
            Some(br#"{"type":"track","event":"A","userId":"u","messageId":"m"}"#),
            1024,
            &received(),
        )
        .unwrap();
        assert_eq!(
            waymark_core::format_timestamp(event.timestamp),
            "2026-11-30T12:00:00Z"
        );
    }

    #[test]
    fn parse_names_what_is_wrong() {
        let max = 64;
        assert_eq!(
            parse(None, max, &received()).unwrap_err(),
            DeadLetterReason::Empty
        );
        assert_eq!(
            parse(Some(&[b'{'; 65]), max, &received()).unwrap_err(),
            DeadLetterReason::TooLarge {
                bytes: 65,
                limit: 64
            }
        );
        assert_eq!(
            parse(Some(b"{\"a\xff"), max, &received()).unwrap_err(),
            DeadLetterReason::NotUtf8 { at: 3 }
        );
        let not_json = parse(Some(b"hello"), max, &received())
            .unwrap_err()
            .to_string();
        assert!(!not_json.is_empty());
        let wrong = parse(
            Some(br#"{"type":"track","messageId":"m","userId":"u","event":3}"#),
            max,
            &received(),
        )
        .unwrap_err()
        .to_string();
        assert!(wrong.contains("event"), "{wrong}");
        let no_ids = parse(
            Some(br#"{"type":"track","messageId":"m","event":"A"}"#),
            max,
            &received(),
        )
        .unwrap_err()
        .to_string();
        assert!(no_ids.contains("userId"), "{no_ids}");
        assert!(
            parse(
                Some(br#"{"type":"track","event":"A","userId":"u","messageId":"m","timestamp":"2026-10-01T08:00:00Z"}"#),
                1024,
                &received(),
            )
            .is_ok()
        );
    }
}
