//! Measures the Kafka worker against the broker it runs on, in one run:
//!
//! 1. consume-only: how fast one plain rdkafka consumer reads the input
//!    topic (the broker's ceiling on this machine);
//! 2. end to end: how fast `waymark-worker` processes the same events
//!    through the example journeys, deliveries and records published;
//! 3. latency: events produced at half the consume-only rate, each making
//!    a send; event -> delivery time from the input message's timestamp to
//!    the delivery message's, p50/p99, after a warm-up (`--warmup N`).
//!    `--relay` measures a bare Kafka relay in the worker's place instead:
//!    the floor of any worker on this broker and machine.
//!
//! `scripts/bench-kafka.sh` builds the release binaries, starts the broker
//! and runs this; see docs/benchmarks.md.
#![allow(clippy::print_stdout, clippy::unwrap_used)] // a command-line tool reporting results

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use waymark_benches::{Worker, arg, cpu_seconds, metric, percentile};

fn client(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    c
}

fn create(brokers: &str, topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> = client(brokers).create().unwrap();
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, 3, TopicReplication::Fixed(1)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for r in rt
        .block_on(admin.create_topics(&new, &AdminOptions::new()))
        .unwrap()
    {
        r.unwrap();
    }
}

/// The load generator's producer. `--load-linger-ms` (default 1): how long
/// it lets messages gather into one produce request; an event's latency is
/// counted from its hand-over to this producer, so its linger is included.
fn producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    client(brokers)
        .set("linger.ms", arg("--load-linger-ms", "1"))
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap()
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, key: &str, payload: &[u8]) {
    let mut record = BaseRecord::to(topic).key(key.as_bytes()).payload(payload);
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((_, back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// 10 events for each of `people`. `journeys` (the default): 8 of 10 start
/// or move a journey of the examples (a stress mix); `browsing`: an
/// identify, a sign-up and a cart among page and screen views and product
/// views, as a site's stream mostly is. People are named `{prefix}-{n}`.
fn mixed_events(people: usize, mix: &str, prefix: &str) -> Vec<(String, String)> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = Vec::with_capacity(people * 10);
    for u in 0..people {
        let user = format!("{prefix}-{u}");
        let t = |i: usize, body: String| {
            (
                user.clone(),
                format!(
                    r#"{{"messageId":"{user}-{i}","userId":"{user}","timestamp":"{now}",{body}}}"#
                ),
            )
        };
        if mix == "browsing" {
            out.extend([
                t(
                    0,
                    format!(r#""type":"identify","traits":{{"email":"{user}@example.com"}}"#),
                ),
                t(1, r#""type":"page","name":"Home""#.to_owned()),
                t(2, r#""type":"track","event":"Signed Up""#.to_owned()),
                t(3, r#""type":"page","name":"Pricing""#.to_owned()),
                t(4, r#""type":"track","event":"Product Viewed""#.to_owned()),
                t(5, r#""type":"screen","name":"Catalog""#.to_owned()),
                t(6, r#""type":"track","event":"Product Viewed""#.to_owned()),
                t(
                    7,
                    format!(
                        r#""type":"track","event":"Cart Updated","properties":{{"total":{}}}"#,
                        u % 5 * 10
                    ),
                ),
                t(8, r#""type":"page","name":"Checkout""#.to_owned()),
                t(9, r#""type":"screen","name":"Home""#.to_owned()),
            ]);
            continue;
        }
        out.extend([
            t(0, format!(r#""type":"identify","traits":{{"email":"{user}@example.com","phone":"+1555{u:07}"}}"#)),
            t(1, r#""type":"track","event":"Signed Up""#.to_owned()),
            t(2, r#""type":"page","name":"Pricing""#.to_owned()),
            t(3, r#""type":"track","event":"Trial Started""#.to_owned()),
            t(4, format!(r#""type":"track","event":"Cart Updated","properties":{{"total":{}}}"#, u % 5 * 10)),
            t(5, r#""type":"track","event":"Guide Downloaded","properties":{"guide":"pricing"}"#.to_owned()),
            t(6, r#""type":"track","event":"Product Viewed""#.to_owned()),
            t(7, r#""type":"track","event":"Subscription Cancelled","properties":{"reason":"price"}"#.to_owned()),
            t(8, r#""type":"track","event":"Order Completed","properties":{"revenue":20}"#.to_owned()),
            t(9, r#""type":"screen","name":"Home""#.to_owned()),
        ]);
    }
    out
}

/// A consumer reading `topic` from its start, in a group of its own
/// (`{purpose}-{topic}`) that commits nothing.
fn reader(brokers: &str, purpose: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = client(brokers)
        .set("group.id", format!("{purpose}-{topic}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    consumer
}

/// Reads `n` messages of `topic` with a fresh group; returns the seconds
/// from the first message to the last.
fn consume_only(brokers: &str, topic: &str, n: usize) -> f64 {
    let consumer = reader(brokers, "bench-raw", topic);
    let mut read = 0;
    let mut first = None;
    while read < n {
        if let Some(m) = consumer.poll(Duration::from_millis(500)) {
            m.unwrap();
            first.get_or_insert_with(Instant::now);
            read += 1;
        }
    }
    first.unwrap().elapsed().as_secs_f64()
}

fn write_config(
    dir: &Path,
    journeys: &[PathBuf],
    templates: &Path,
    brokers: &str,
    base: &str,
    ops: &str,
) -> PathBuf {
    let list = journeys
        .iter()
        .map(|p| format!("\"{}\"", p.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"journeys = [{list}]
templates = "{t}"
[source]
kind = "kafka"
batch_size = {batch}
batch_wait_ms = {wait}
[store]
path = "{d}/store"
[channels]
default = "kafka"
[runtime]
[ops]
listen = "{ops}"
[kafka]
brokers = "{brokers}"
group_id = "{base}.group"
create_topics = true
[kafka.topics]
input = ["{base}.events"]
deliveries = "{base}.deliveries"
analytics = "{base}.analytics"
dead_letters = "{base}.dlq"
journeys = "{base}.journeys"
"#,
        t = templates.display(),
        d = dir.display(),
        batch = arg("--batch-size", "2000"),
        wait = arg("--batch-wait-ms", "2"),
    );
    // `--properties k=v,k=v`: librdkafka properties for the worker's clients.
    let properties = arg("--properties", "");
    let text = if properties.is_empty() {
        text
    } else {
        let lines: String = properties
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| format!("\"{k}\" = \"{v}\"\n"))
            .collect();
        format!("{text}[kafka.properties]\n{lines}")
    };
    let path = dir.join("worker.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn main() {
    let brokers = arg("--brokers", "127.0.0.1:19092");
    let people: usize = arg("--people", "20000").parse().unwrap();
    let latency_events: usize = arg("--latency-events", "20000").parse().unwrap();
    let worker_bin = PathBuf::from(arg("--worker", "target/release/waymark-worker"));
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let journeys_dir = workspace.join("examples/journeys");
    let mut journeys: Vec<PathBuf> = std::fs::read_dir(&journeys_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    journeys.sort();
    let templates = journeys_dir.join("templates");
    let stamp = chrono::Utc::now().timestamp_millis();
    let ops = "127.0.0.1:19464";

    // 1 + 2: the same topic, read by a plain consumer, then by the worker
    // (`--latency-only RATE` skips both and measures latency at RATE).
    let latency_only = arg("--latency-only", "");
    let raw_rate = if latency_only.is_empty() {
        throughput(
            &brokers,
            people,
            &journeys,
            &templates,
            &worker_bin,
            stamp,
            ops,
        )
    } else {
        2.0 * latency_only.parse::<f64>().unwrap()
    };

    // 3: latency at half the consume-only rate, one send per event.
    latency(
        &brokers,
        latency_events,
        raw_rate,
        &journeys,
        &templates,
        &worker_bin,
        stamp,
        ops,
    );
}

/// Phases 1 and 2; returns the consume-only rate.
fn throughput(
    brokers: &str,
    people: usize,
    journeys: &[PathBuf],
    templates: &Path,
    worker_bin: &Path,
    stamp: i64,
    ops: &str,
) -> f64 {
    let base = format!("bench-{stamp}-a");
    let input = format!("{base}.events");
    create(brokers, &[&input]);
    let mix = arg("--mix", "journeys");
    println!("event mix: {mix}");
    let events = mixed_events(people, &mix, "user");
    let n = events.len();
    let p = producer(brokers);
    for (key, payload) in &events {
        send(&p, &input, key, payload.as_bytes());
    }
    p.flush(Duration::from_secs(120)).unwrap();
    let raw_secs = consume_only(brokers, &input, n);
    let raw_rate = n as f64 / raw_secs;
    println!("consume-only: {n} messages in {raw_secs:.2}s = {raw_rate:.0} msg/s");

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), journeys, templates, brokers, &base, ops);
    let started = Instant::now();
    let worker = Worker::start(worker_bin, &config, false);
    let mut first: Option<Instant> = None;
    loop {
        let done = metric(ops, "waymark_events_in_total").unwrap_or(0.0);
        if done > 0.0 {
            first.get_or_insert_with(Instant::now);
        }
        if done as usize >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the worker stalled at {done}"
        );
        std::thread::sleep(Duration::from_millis(100)); // /metrics reads counts under the runtime lock: not too often
    }
    let e2e_secs = first.unwrap().elapsed().as_secs_f64();
    let e2e_rate = n as f64 / e2e_secs;
    // Wait for the deliveries of those events to be published too.
    while metric(ops, "waymark_outbox_pending").unwrap_or(1.0) > 0.0
        || metric(ops, "waymark_records_pending").unwrap_or(1.0) > 0.0
    {
        std::thread::sleep(Duration::from_millis(100)); // /metrics reads counts under the runtime lock: not too often
    }
    let drained = first.unwrap().elapsed().as_secs_f64();
    drop(worker);
    println!(
        "worker end to end: {n} events in {e2e_secs:.2}s = {e2e_rate:.0} events/s ({:.0}% of consume-only); outbox and records drained at {drained:.2}s",
        100.0 * e2e_rate / raw_rate
    );

    raw_rate
}

/// Phase 3: event -> delivery latency at half of `raw_rate` (or `--latency-rate`).
///
/// `--warmup N` sign-ups (500 by default) go first, slowly, and are waited
/// for: the first fetches after a consumer joins its group take ~100 ms to
/// find their positions, and a run's first events would otherwise measure
/// that start-up rather than the rate. `--relay` puts [`relay`] (a bare
/// Kafka relay with no journeys and no store) in the worker's place: the
/// floor any worker reaches on this broker and machine.
#[allow(clippy::too_many_arguments)]
fn latency(
    brokers: &str,
    latency_events: usize,
    raw_rate: f64,
    journeys: &[PathBuf],
    templates: &Path,
    worker_bin: &Path,
    stamp: i64,
    ops: &str,
) {
    let base = format!("bench-{stamp}-b");
    let input = format!("{base}.events");
    let deliveries = format!("{base}.deliveries");
    create(brokers, &[&input]);
    let dir = tempfile::tempdir().unwrap();
    let bare = std::env::args().any(|a| a == "--relay");
    let (worker, relay_stop) = if bare {
        create(brokers, &[&deliveries, &format!("{base}.analytics")]);
        let records: usize = arg("--relay-records", "3").parse().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (brokers, base, stop) = (brokers.to_owned(), base.clone(), stop.clone());
            std::thread::spawn(move || relay(&brokers, &base, records, &stop))
        };
        (None, Some((stop, thread)))
    } else {
        let config = write_config(dir.path(), journeys, templates, brokers, &base, ops);
        let worker = Worker::start(worker_bin, &config, false);
        while metric(ops, "waymark_partitions_assigned").unwrap_or(0.0) < 1.0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        (Some(worker), None)
    };
    let payload = |user: &str, now: &str| {
        format!(
            r#"{{"type":"track","messageId":"{user}","userId":"{user}","event":"Signed Up","timestamp":"{now}","context":{{"traits":{{"email":"{user}@example.com"}}}}}}"#
        )
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let p = producer(brokers);
    // Warm-up: a trickle, then wait until its deliveries are out.
    let warmup: usize = arg("--warmup", "500").parse().unwrap();
    for i in 0..warmup {
        let user = format!("warm-{i}");
        send(&p, &input, &user, payload(&user, &now).as_bytes());
        std::thread::sleep(Duration::from_micros(500));
    }
    p.flush(Duration::from_secs(60)).unwrap();
    if warmup > 0 {
        wait_for_messages(brokers, &deliveries, warmup);
    }
    // CPU time from here to the last delivery read: the worker's and the
    // broker's (when its pid is known), a measure the machine's noise
    // moves less than latency.
    let (worker_pid, broker_pid) = (worker.as_ref().map(|w| w.0.id()), broker_pid());
    let cpu_now = || {
        (
            worker_pid.and_then(cpu_seconds),
            broker_pid.and_then(cpu_seconds),
            cpu_seconds(std::process::id()),
        )
    };
    let cpu_before = cpu_now();
    // Half the consume-only rate, as the target says; `--latency-rate`
    // measures at another (one the worker sustains, say).
    let rate: f64 = arg("--latency-rate", &(raw_rate / 2.0).to_string())
        .parse()
        .unwrap();
    // `--latency-mix signups` (the default): every event a sign-up making
    // one email, the worst case; `browsing` or `journeys`: the streams of
    // phase 1 (a tenth of browsing events make an email at once).
    let mix = arg("--latency-mix", "signups");
    let events: Vec<(String, String)> = if mix == "signups" {
        (0..latency_events)
            .map(|i| {
                let user = format!("lat-{i}");
                let body = payload(&user, &now);
                (user, body)
            })
            .collect()
    } else {
        assert!(!bare, "--relay measures sign-ups only");
        mixed_events(latency_events.div_ceil(10), &mix, "lat")
    };
    let started = Instant::now();
    for (i, (key, body)) in events.iter().enumerate() {
        let due = Duration::from_secs_f64(i as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        send(&p, &input, key, body.as_bytes());
    }
    p.flush(Duration::from_secs(60)).unwrap();
    let sent_secs = started.elapsed().as_secs_f64();
    // Read the input's timestamps and the deliveries' back, by message id
    // (a delivery names the event that started its journey).
    let total = warmup + events.len();
    let produced = read_timestamps(brokers, &input, total, |m| {
        let e: serde_json::Value = serde_json::from_slice(m.payload().unwrap_or_default()).unwrap();
        e["messageId"].as_str().unwrap_or_default().to_owned()
    });
    let expected = (mix == "signups").then_some(total);
    let delivered = read_timestamps(brokers, &deliveries, expected.unwrap_or(usize::MAX), |m| {
        let d: serde_json::Value = serde_json::from_slice(m.payload().unwrap_or_default()).unwrap();
        // The bare relay's deliveries carry no trigger: their user is the message id.
        d["trigger"]["messageId"]
            .as_str()
            .or(d["user_id"].as_str())
            .unwrap_or_default()
            .to_owned()
    });
    let cpu_after = cpu_now();
    if let Some(worker) = worker {
        drop(worker);
    }
    if let Some((flag, thread)) = relay_stop {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        thread.join().unwrap();
    }
    let mut latencies: Vec<f64> = delivered
        .iter()
        .filter(|(id, _)| id.starts_with("lat-"))
        .filter_map(|(id, at)| produced.get(id).map(|from| (at - from) as f64))
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "latency{} at {rate:.0} events/s ({mix}: {} events sent in {sent_secs:.2}s, after {warmup} warm-up): {} deliveries, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        if bare { " (bare relay)" } else { "" },
        events.len(),
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    let per_event = |before: Option<f64>, after: Option<f64>| {
        let used = after? - before?;
        Some(format!(
            "{used:.2} s ({:.1} us/event)",
            used * 1e6 / events.len() as f64
        ))
    };
    // This process: the load generator and the readers, and with
    // `--relay` the relay too (its share is this less a worker run's).
    println!(
        "cpu from the warm-up's end to the last delivery: worker {}, broker {}, kafka-bench {}",
        per_event(cpu_before.0, cpu_after.0).unwrap_or_else(|| "-".to_owned()),
        per_event(cpu_before.1, cpu_after.1).unwrap_or_else(|| "- (pid unknown)".to_owned()),
        per_event(cpu_before.2, cpu_after.2).unwrap_or_else(|| "-".to_owned()),
    );
}

/// The broker's pid: `--broker-pid PID`, or the one `scripts/kafka-dev.sh`
/// wrote when it started the broker.
fn broker_pid() -> Option<u32> {
    let given = arg("--broker-pid", "");
    let text = if given.is_empty() {
        let dir = std::env::var("WAYMARK_KAFKA_DIR").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/kafka-dev").to_owned()
        });
        std::fs::read_to_string(Path::new(&dir).join("pid")).ok()?
    } else {
        given
    };
    text.trim().parse().ok()
}

/// Waits until `n` messages can be read from `topic` (read, not taken
/// from its watermarks: tansu's high watermark can trail the last batch).
fn wait_for_messages(brokers: &str, topic: &str, n: usize) {
    let consumer = reader(brokers, "bench-wait", topic);
    let (mut read, started) = (0, Instant::now());
    while read < n {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{topic}: {read} of {n} messages after 120 s"
        );
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            m.unwrap();
            read += 1;
        }
    }
}

/// The floor of any Kafka worker here: consumes `{base}.events` with the
/// worker's consumer settings and, for each event, produces one delivery
/// (carrying the event's key as `user_id`) and `records` analytics
/// messages (3 by default: a sign-up in `welcome` records entered, send
/// and wait) with the worker's producer settings, storing offsets as it
/// goes. No journeys, no store, no fsync, no waiting for acknowledgements.
fn relay(brokers: &str, base: &str, records: usize, stop: &std::sync::atomic::AtomicBool) {
    let consumer: BaseConsumer = client(brokers)
        .set("group.id", format!("{base}.relay"))
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .set("fetch.message.max.bytes", "16777216")
        .create()
        .unwrap();
    consumer.subscribe(&[&format!("{base}.events")]).unwrap();
    let producer: ThreadedProducer<DefaultProducerContext> = client(brokers)
        .set("linger.ms", "2")
        .set("acks", "all")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let (deliveries, analytics) = (format!("{base}.deliveries"), format!("{base}.analytics"));
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let Some(message) = consumer.poll(Duration::from_millis(10)) else {
            continue;
        };
        let message = message.unwrap();
        let user = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        let delivery = serde_json::json!({
            "key": format!("{user}:welcome"), "channel": "email", "user_id": user,
            "content": {"subject": "Welcome", "body": format!("Hello {user}, welcome aboard.")},
        })
        .to_string();
        send(&producer, &deliveries, &user, delivery.as_bytes());
        for i in 0..records {
            let record = format!(
                r#"{{"kind":"node_reached","profile":"{user}","journey":"welcome","seq":{i}}}"#
            );
            send(&producer, &analytics, &user, record.as_bytes());
        }
        consumer.store_offset_from_message(&message).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// The first message timestamp (ms) per `key_of` among `n` messages, or
/// among all the topic holds (`n` = `usize::MAX`: read until nothing new
/// came for 3 s).
fn read_timestamps(
    brokers: &str,
    topic: &str,
    n: usize,
    key_of: impl Fn(&rdkafka::message::BorrowedMessage<'_>) -> String,
) -> HashMap<String, i64> {
    let consumer = reader(brokers, "bench-ts", topic);
    let mut out = HashMap::new();
    let (started, mut last) = (Instant::now(), Instant::now());
    while out.len() < n && started.elapsed() < Duration::from_secs(120) {
        if n == usize::MAX && last.elapsed() > Duration::from_secs(3) {
            break;
        }
        if let Some(m) = consumer.poll(Duration::from_millis(500)) {
            last = Instant::now();
            let m = m.unwrap();
            let at = m.timestamp().to_millis().unwrap_or_default();
            out.entry(key_of(&m)).or_insert(at);
        }
    }
    out
}
