//! Many workers in one consumer group on one PostgreSQL store
//! (`[store] shared = true`), side by side in one run: for each count of
//! workers (`--workers 1,2,3`), a fresh six-partition topic holding the
//! same backlog (10 events for each of `--people`, keyed by anonymous and
//! user ids so that a person's events cross partitions), a fresh schema,
//! and that many release workers started at once. Reports the wall time
//! to take the backlog in, and each process's CPU per event it took.
//!
//! On a machine with fewer cores than workers plus PostgreSQL plus the
//! broker, this shows what a worker costs, not a speed-up.
//!
//! ```text
//! scripts/kafka-dev.sh start
//! cargo build --release -p waymark-worker -p waymark-benches --bin workers-bench
//! target/release/workers-bench --people 20000 --workers 1,2,3
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used)] // a command-line tool reporting results

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use waymark_benches::{Worker, arg, cpu_seconds, metric};

const PARTITIONS: i32 = 6;

fn client(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    c
}

fn create(brokers: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = client(brokers).create().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let topics = [NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))];
    for r in rt
        .block_on(admin.create_topics(&topics, &AdminOptions::new()))
        .unwrap()
    {
        r.unwrap();
    }
}

/// Ten events a person: identified, signing up anonymously, both ids at
/// once (a merge across partitions), then views alternating the keys.
fn events(people: usize) -> Vec<(String, String)> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = Vec::with_capacity(people * 10);
    for i in 0..people {
        let (user, anon) = (format!("user-{i}"), format!("anon-{i}"));
        out.push((user.clone(), format!(r#"{{"type":"identify","messageId":"{i}-0","userId":"{user}","traits":{{"email":"{user}@example.com"}},"timestamp":"{now}"}}"#)));
        out.push((anon.clone(), format!(r#"{{"type":"track","messageId":"{i}-1","anonymousId":"{anon}","event":"Signed Up","timestamp":"{now}"}}"#)));
        out.push((user.clone(), format!(r#"{{"type":"identify","messageId":"{i}-2","anonymousId":"{anon}","userId":"{user}","timestamp":"{now}"}}"#)));
        for n in 3..10 {
            let (key, ids) = if n % 2 == 0 {
                (&user, format!(r#""userId":"{user}""#))
            } else {
                (&anon, format!(r#""anonymousId":"{anon}""#))
            };
            out.push((key.clone(), format!(r#"{{"type":"track","messageId":"{i}-{n}","event":"Viewed",{ids},"timestamp":"{now}"}}"#)));
        }
    }
    out
}

/// One record per batch: tansu 0.6 skips or stalls on a fetch that starts
/// inside a record batch, which is where a worker taking a partition over
/// starts (docs/kafka.md, "Known limits of tansu 0.6").
fn produce(brokers: &str, topic: &str, events: &[(String, String)]) {
    let producer: ThreadedProducer<DefaultProducerContext> = client(brokers)
        .set("batch.num.messages", "1")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    for (key, payload) in events {
        let mut record = BaseRecord::to(topic)
            .key(key.as_bytes())
            .payload(payload.as_bytes());
        while let Err((_, back)) = producer.send(record) {
            record = back;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
}

/// A journey that sends on sign-up and waits an hour before the next.
fn write_journey(dir: &Path) -> (PathBuf, PathBuf) {
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    let journey = dir.join("welcome.yaml");
    std::fs::write(
        &journey,
        "id: welcome\nentry: { event: Signed Up }\nnodes:\n  - { id: hello, type: send, channel: email, template: hello, next: pause }\n  - { id: pause, type: wait, duration: 1h, next: again }\n  - { id: again, type: send, channel: email, template: hello }\n",
    )
    .unwrap();
    std::fs::write(
        templates.join("hello.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    (journey, templates)
}

#[allow(clippy::too_many_arguments)]
fn write_config(
    dir: &Path,
    journey: &Path,
    templates: &Path,
    brokers: &str,
    base: &str,
    schema: &str,
    pg: &str,
    ops: &str,
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        r#"journeys = ["{journey}"]
templates = "{templates}"
[source]
kind = "kafka"
batch_size = {batch}
batch_wait_ms = 2
[store]
kind = "postgres"
url = "{pg}"
schema = "{schema}"
shared = true
[channels]
default = "kafka"
[ops]
listen = "{ops}"
[kafka]
brokers = "{brokers}"
group_id = "{base}.group"
create_topics = true
partitions = {PARTITIONS}
[kafka.properties]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[kafka.topics]
input = ["{base}.events"]
deliveries = "{base}.deliveries"
analytics = "{base}.analytics"
dead_letters = "{base}.dlq"
journeys = "{base}.journeys"
"#,
        journey = journey.display(),
        templates = templates.display(),
        batch = arg("--batch-size", "2000"),
    );
    let path = dir.join("worker.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn main() {
    let brokers = arg("--brokers", "127.0.0.1:19092");
    let people: usize = arg("--people", "20000").parse().unwrap();
    let pg = arg("--postgres", "postgres://postgres@127.0.0.1:5432/test");
    let worker_bin = PathBuf::from(arg("--worker", "target/release/waymark-worker"));
    let counts: Vec<usize> = arg("--workers", "1,2,3")
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let stamp = chrono::Utc::now().timestamp_millis();
    let events = events(people);
    let n = events.len();
    println!("{n} events from {people} people, {PARTITIONS} partitions, workers {counts:?}");
    println!(
        "| workers | wall s | events/s | per worker: events, CPU s, CPU us/event | all workers' CPU us/event |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for workers in counts {
        let dir = tempfile::tempdir().unwrap();
        let (journey, templates) = write_journey(dir.path());
        let base = format!("workers-{stamp}-{workers}");
        let schema = format!("workers_bench_{stamp}_{workers}");
        create(&brokers, &format!("{base}.events"));
        produce(&brokers, &format!("{base}.events"), &events);
        let ops: Vec<String> = (0..workers)
            .map(|i| format!("127.0.0.1:{}", 19470 + i))
            .collect();
        let started = Instant::now();
        let running: Vec<(Worker, f64)> = ops
            .iter()
            .enumerate()
            .map(|(i, ops)| {
                let config = write_config(
                    &dir.path().join(format!("w{i}")),
                    &journey,
                    &templates,
                    &brokers,
                    &base,
                    &schema,
                    &pg,
                    ops,
                );
                let worker = Worker::start(&worker_bin, &config, false);
                let cpu = cpu_seconds(worker.pid()).unwrap_or(0.0);
                (worker, cpu)
            })
            .collect();
        let taken = |ops: &str| metric(ops, "waymark_events_in_total").unwrap_or(0.0);
        loop {
            let done: f64 = ops.iter().map(|o| taken(o)).sum();
            if done as usize >= n {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "stalled at {done}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let wall = started.elapsed().as_secs_f64();
        let mut cells = Vec::new();
        let mut cpu_total = 0.0;
        for ((worker, cpu_at_start), ops) in running.iter().zip(&ops) {
            let cpu = cpu_seconds(worker.pid()).unwrap_or(0.0) - cpu_at_start;
            let took = taken(ops);
            cpu_total += cpu;
            cells.push(format!(
                "{took:.0}, {cpu:.1}, {:.0}",
                if took > 0.0 { cpu * 1e6 / took } else { 0.0 }
            ));
        }
        println!(
            "| {workers} | {wall:.1} | {:.0} | {} | {:.0} |",
            n as f64 / wall,
            cells.join("; "),
            cpu_total * 1e6 / n as f64
        );
        drop(running);
        // Every person entered once, whoever decided for them (the
        // counters of every worker's slot added up).
        let entered = Command::new("psql")
            .args([
                &pg,
                "-tAc",
                &format!(
                    "SELECT sum(convert_from(value, 'UTF8')::bigint) FROM {schema}.waymark_kv \
                     WHERE space = 8 AND position('entered' IN encode(key, 'escape')) > 0"
                ),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        println!("  entered: {entered} of {people}");
        let _ = Command::new("psql")
            .args([
                &pg,
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            ])
            .output();
    }
}
