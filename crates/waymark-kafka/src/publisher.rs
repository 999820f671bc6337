//! Publishing to Kafka: one producer shared by every output topic, which
//! publishes each idempotency key once, and the outbox channel on top.
//!
//! Each message published with a key carries it in the
//! [`IDEMPOTENCY_HEADER`] header. The publisher remembers the keys the
//! broker acknowledged; when it opens, it reads the tail of each topic back
//! (the last `readback` messages of each partition) to learn what an
//! earlier process published before it crashed, so a delivery the outbox
//! still holds is not published twice.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use waymark_channels::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};

/// The header that carries a message's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{count} message(s) were not acknowledged by the broker; first: {first}")]
    NotAcknowledged { count: usize, first: String },
    #[error("reading back topic {topic}: {reason}")]
    Readback { topic: String, reason: String },
}

/// What the producer's delivery callback learned.
#[derive(Debug, Default)]
struct Acks {
    /// `topic NUL key` of every acknowledged keyed message, oldest first
    /// in `order` (bounded: the oldest are forgotten first).
    acked: HashSet<String>,
    order: VecDeque<String>,
    /// Per lane (see [`Lane`]): messages not yet reported, and failures
    /// since the lane's last sync.
    lanes: Vec<LaneAcks>,
}

#[derive(Debug, Default)]
struct LaneAcks {
    in_flight: usize,
    failures: Vec<String>,
}

/// A stream of messages whose [`Publisher::sync_lane`] waits for its own
/// messages only and sees only its own failures: threads publishing
/// through one producer (deliveries, journey records, dead letters) do
/// not wait for one another's acknowledgements, nor take one another's
/// failures for theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane(usize);

impl Lane {
    /// The lane of [`Publisher::send`] and [`Publisher::sync`].
    pub const DEFAULT: Lane = Lane(0);
}

/// What a message carries to its delivery report.
#[derive(Debug)]
struct Opaque {
    lane: usize,
    /// `topic NUL key` for keyed messages, empty for the others.
    slot: String,
}

#[derive(Debug)]
struct AckContext {
    acks: Arc<Mutex<Acks>>,
    /// Signalled after each delivery report (see [`Publisher::sync`]).
    reported: Arc<Condvar>,
    capacity: usize,
}

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Box<Opaque>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Box<Opaque>) {
        let mut acks = lock(&self.acks);
        let Opaque { lane, slot } = *opaque;
        match result {
            Ok(_) => {
                if !slot.is_empty() && acks.acked.insert(slot.clone()) {
                    acks.order.push_back(slot);
                    while acks.order.len() > self.capacity {
                        if let Some(old) = acks.order.pop_front() {
                            acks.acked.remove(&old);
                        }
                    }
                }
            }
            Err((error, _)) => {
                if let Some(lane) = acks.lanes.get_mut(lane) {
                    lane.failures.push(format!("{slot}: {error}"));
                }
            }
        }
        // A sync waits for its lane to have nothing in flight: wake it then
        // only (a wake-up per message was a system call per message).
        if let Some(lane) = acks.lanes.get_mut(lane) {
            lane.in_flight = lane.in_flight.saturating_sub(1);
            if lane.in_flight == 0 {
                self.reported.notify_all();
            }
        }
    }
}

fn lock(acks: &Mutex<Acks>) -> MutexGuard<'_, Acks> {
    acks.lock()
}

fn slot(topic: &str, key: &str) -> String {
    format!("{topic}\u{0}{key}")
}

/// A producer shared by the worker's output topics.
pub struct Publisher {
    producer: ThreadedProducer<AckContext>,
    acks: Arc<Mutex<Acks>>,
    reported: Arc<Condvar>,
    flush_timeout: Duration,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

/// One message to publish.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub topic: &'a str,
    /// The partitioning key.
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
    /// Published at most once per key (see the module doc); `None` for
    /// messages that are not deduplicated (dead letters).
    pub idempotency_key: Option<&'a str>,
    /// More headers, as (name, value).
    pub headers: &'a [(&'a str, &'a [u8])],
}

impl Publisher {
    /// A producer from `config` (brokers, security), remembering up to
    /// `remember` published keys.
    pub fn new(config: &ClientConfig, remember: usize) -> Result<Self, PublishError> {
        let acks = Arc::new(Mutex::new(Acks {
            lanes: vec![LaneAcks::default()],
            ..Acks::default()
        }));
        let reported = Arc::new(Condvar::new());
        let mut config = config.clone();
        // Defaults, unless the configuration says otherwise.
        for (key, value) in [
            ("message.max.bytes", "16777216"),
            ("linger.ms", "2"),
            ("acks", "all"),
        ] {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
        let producer = config.create_with_context(AckContext {
            acks: Arc::clone(&acks),
            reported: Arc::clone(&reported),
            capacity: remember.max(1),
        })?;
        Ok(Publisher {
            producer,
            acks,
            reported,
            flush_timeout: Duration::from_secs(30),
        })
    }

    /// Learns the idempotency keys published in the last `per_partition`
    /// messages of each partition of `topic` (by an earlier process).
    /// Returns how many it read.
    pub fn read_back(
        &self,
        config: &ClientConfig,
        topic: &str,
        per_partition: i64,
    ) -> Result<usize, PublishError> {
        let mut config = config.clone();
        config
            .set("group.id", "waymark-readback")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false");
        let consumer: BaseConsumer = config.create()?;
        let mut keys = Vec::new();
        let read = read_to_end(
            &consumer,
            topic,
            |low, high| (high - per_partition).max(low),
            (Duration::from_secs(1), Duration::from_secs(120)),
            |message| {
                if let Some(key) = message.headers().and_then(|headers| {
                    headers
                        .iter()
                        .find(|h| h.key == IDEMPOTENCY_HEADER)
                        .and_then(|h| h.value)
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .map(str::to_owned)
                }) {
                    keys.push(slot(topic, &key));
                }
            },
        )?;
        if read == 0 {
            return Ok(0);
        }
        let mut acks = lock(&self.acks);
        for key in keys {
            if acks.acked.insert(key.clone()) {
                acks.order.push_back(key);
            }
        }
        tracing::info!(topic, read, "read back what earlier runs published");
        Ok(read)
    }

    /// Whether `key` was already published to `topic`.
    pub fn published(&self, topic: &str, key: &str) -> bool {
        lock(&self.acks).acked.contains(&slot(topic, key))
    }

    /// A new lane: its own in-flight count and failures.
    pub fn lane(&self) -> Lane {
        let mut acks = lock(&self.acks);
        acks.lanes.push(LaneAcks::default());
        Lane(acks.lanes.len() - 1)
    }

    /// Messages of `lane` queued and not yet reported by the broker.
    pub fn in_flight(&self, lane: Lane) -> usize {
        lock(&self.acks)
            .lanes
            .get(lane.0)
            .map_or(0, |l| l.in_flight)
    }

    /// Queues one message on the default lane. Returns false (and queues
    /// nothing) when its idempotency key was already published.
    pub fn send(&self, message: Outgoing<'_>) -> Result<bool, PublishError> {
        self.send_on(Lane::DEFAULT, message)
    }

    /// Queues one message on `lane`. Returns false (and queues nothing)
    /// when its idempotency key was already published.
    pub fn send_on(&self, lane: Lane, message: Outgoing<'_>) -> Result<bool, PublishError> {
        let slot = message
            .idempotency_key
            .map_or_else(String::new, |key| slot(message.topic, key));
        {
            let mut acks = lock(&self.acks);
            if !slot.is_empty() && acks.acked.contains(&slot) {
                return Ok(false); // published already
            }
            // Counted before the producer can report it.
            if let Some(lane) = acks.lanes.get_mut(lane.0) {
                lane.in_flight += 1;
            }
        }
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len() + 1);
        if let Some(key) = message.idempotency_key {
            headers = headers.insert(Header {
                key: IDEMPOTENCY_HEADER,
                value: Some(key.as_bytes()),
            });
        }
        for (name, value) in message.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(*value),
            });
        }
        let opaque = Box::new(Opaque { lane: lane.0, slot });
        let mut record = BaseRecord::with_opaque_to(message.topic, opaque)
            .payload(message.payload)
            .headers(headers);
        if let Some(key) = message.key {
            record = record.key(key);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(true),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => {
                    if let Some(lane) = lock(&self.acks).lanes.get_mut(lane.0) {
                        lane.in_flight = lane.in_flight.saturating_sub(1);
                    }
                    return Err(error.into());
                }
            }
        }
    }

    /// Waits until everything queued on the default lane is acknowledged
    /// (or failed). Fails when any of its messages since its last sync was
    /// not acknowledged.
    pub fn sync(&self) -> Result<(), PublishError> {
        self.sync_lane(Lane::DEFAULT)
    }

    /// [`Publisher::sync`] for `lane`: other lanes' messages are neither
    /// waited for nor reported.
    pub fn sync_lane(&self, lane: Lane) -> Result<(), PublishError> {
        // Not `flush` with a timeout: with the producer's own polling
        // thread serving delivery reports, rdkafka's flush waits in steps
        // of 100 ms on a queue nothing arrives on, which made every sync
        // cost 100 ms. A zero-timeout flush only wakes the broker threads
        // to send what lingers; then wait for the reports.
        let _ = self.producer.flush(Duration::ZERO);
        let deadline = Instant::now() + self.flush_timeout;
        let mut acks = lock(&self.acks);
        while acks.lanes.get(lane.0).is_some_and(|l| l.in_flight > 0) {
            let now = Instant::now();
            if now >= deadline {
                return Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut).into());
            }
            let wait = deadline - now;
            self.reported.wait_for(&mut acks, wait);
        }
        let failures = acks
            .lanes
            .get_mut(lane.0)
            .map(|l| std::mem::take(&mut l.failures))
            .unwrap_or_default();
        drop(acks);
        match failures.first() {
            None => Ok(()),
            Some(first) => Err(PublishError::NotAcknowledged {
                count: failures.len(),
                first: first.clone(),
            }),
        }
    }
}

/// Reads every partition of `topic` from `start(low, high)` (its
/// watermarks) to its end, handing each message to `each`; returns how
/// many it read. Past the high watermarks it reads on until no message
/// came for `quiet` (tansu 0.6 reports a watermark short of the last
/// batch), and fails after `limit`.
pub fn read_to_end<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    start: impl Fn(i64, i64) -> i64,
    (quiet, limit): (Duration, Duration),
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<usize, PublishError> {
    let failed = |reason: String| PublishError::Readback {
        topic: topic.to_owned(),
        reason,
    };
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut list = TopicPartitionList::new();
    let mut ends = Vec::new();
    for partition in partitions {
        let (low, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
        if high > low {
            list.add_partition_offset(topic, partition, Offset::Offset(start(low, high)))?;
            ends.push((partition, high));
        }
    }
    if ends.is_empty() {
        return Ok(0);
    }
    consumer.assign(&list)?;
    let mut read = 0;
    let deadline = Instant::now() + limit;
    let mut positions: Vec<(i32, i64)> = ends.iter().map(|(p, _)| (*p, -1)).collect();
    let mut quiet_since = Instant::now();
    loop {
        let reached = positions
            .iter()
            .zip(&ends)
            .all(|((_, at), (_, high))| *at + 1 >= *high);
        if reached && quiet_since.elapsed() >= quiet {
            break;
        }
        if Instant::now() > deadline {
            return Err(failed(format!(
                "timed out before the end of the topic, {read} messages read"
            )));
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        quiet_since = Instant::now();
        let message = message.map_err(|e| failed(e.to_string()))?;
        read += 1;
        if let Some(at) = positions
            .iter_mut()
            .find(|(p, _)| *p == message.partition())
        {
            at.1 = message.offset();
        }
        each(&message);
    }
    Ok(read)
}

/// The Kafka outbox channel: each delivery as a JSON message on a topic,
/// keyed by profile (one person's messages stay in order), its idempotency
/// key in a header, published once per key.
#[derive(Debug)]
pub struct KafkaChannel {
    publisher: Arc<Publisher>,
    lane: Lane,
    topic: String,
}

impl KafkaChannel {
    pub fn new(publisher: Arc<Publisher>, topic: impl Into<String>) -> Self {
        KafkaChannel {
            lane: publisher.lane(),
            publisher,
            topic: topic.into(),
        }
    }
}

impl Deliver for KafkaChannel {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let payload = serde_json::to_vec(delivery).map_err(|e| DeliveryError::Permanent {
                reason: e.to_string(),
            })?;
            let channel = delivery.channel.to_string();
            let sent = self
                .publisher
                .send_on(
                    self.lane,
                    Outgoing {
                        topic: &self.topic,
                        key: Some(delivery.profile.as_str().as_bytes()),
                        payload: &payload,
                        idempotency_key: Some(&delivery.key),
                        headers: &[("channel", channel.as_bytes())],
                    },
                )
                .map_err(|e| DeliveryError::Transient {
                    reason: e.to_string(),
                    retry_after: None,
                })?;
            Ok(Receipt {
                provider_id: None,
                duplicate: !sent,
            })
        })
    }

    fn sync(&self) -> Result<(), DeliveryError> {
        self.publisher
            .sync_lane(self.lane)
            .map_err(|e| DeliveryError::Transient {
                reason: e.to_string(),
                retry_after: None,
            })
    }
}
