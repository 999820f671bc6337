//! One worker per consumer group: a worker that lacks some of its group's
//! partitions fires no timer (their people are not its to decide for),
//! and a group that keeps another member stops the worker with the
//! reason, instead of two workers deciding for the same people.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use support::*;

const PEOPLE: usize = 20;

/// Deliveries on `topic` made by node `node`, by idempotency key.
fn sent_by(topic: &str, node: &str) -> Vec<String> {
    read_all(topic)
        .iter()
        .filter(|m| m.json()["node"] == node)
        .map(|m| m.header("idempotency-key").unwrap())
        .collect()
}

/// Another member of `group`, polling in a thread until dropped.
struct Intruder {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    holds: Arc<AtomicBool>,
}

impl Intruder {
    fn join(group: &str, topic: &str) -> Intruder {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("group.id", group)
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        let (stop, holds) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let thread = {
            let (stop, holds) = (Arc::clone(&stop), Arc::clone(&holds));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    // Messages are left unread by this member's commits.
                    let _ = consumer.poll(Duration::from_millis(100));
                    let assigned = consumer.assignment().map_or(0, |a| a.count());
                    holds.store(assigned > 0, Ordering::SeqCst);
                }
                consumer.unsubscribe();
            })
        };
        Intruder {
            stop,
            thread: Some(thread),
            holds,
        }
    }
}

impl Drop for Intruder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_worker_without_every_partition_fires_no_timer_and_a_shared_group_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::new("group");
    // Reminders 8 seconds after the welcome: pending long enough for
    // another member to take partitions first.
    let (journey, templates) = write_timer_journey(dir.path(), "8s");
    create_topics(&[&topics.input], 3);
    let config = write_config(dir.path(), &[journey], &templates, &topics, "");
    let mut worker = start_worker(&config);
    produce(&topics.input, &sign_ups_now(PEOPLE));
    eventually(
        Duration::from_secs(60),
        "every welcome email",
        &config,
        || sent_by(&topics.deliveries, "hello").len() == PEOPLE,
    );
    let decided = Instant::now();

    // Another member takes some partitions before the reminders are due.
    let intruder = Intruder::join(&topics.group, &topics.input);
    eventually(
        Duration::from_secs(30),
        "the other member holds partitions",
        &config,
        || intruder.holds.load(Ordering::SeqCst),
    );
    // Well past their due time, no reminder went out.
    std::thread::sleep(Duration::from_secs(12).saturating_sub(decided.elapsed()));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        sent_by(&topics.deliveries, "again").is_empty(),
        "a timer fired while the worker lacked partitions: {}",
        log_of(&config)
    );

    // The other member stays: the worker stops and says why.
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(
            decided.elapsed() < Duration::from_secs(90),
            "the worker kept running in a shared group: {}",
            log_of(&config)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(!status.success());
    let log = log_of(&config);
    assert!(log.contains("runs alone in its group"), "{log}");
    assert!(sent_by(&topics.deliveries, "again").is_empty());

    // Alone again, the worker fires every reminder, once.
    drop(intruder);
    let mut worker = start_worker(&config);
    eventually(Duration::from_secs(60), "every reminder", &config, || {
        sent_by(&topics.deliveries, "again").len() >= PEOPLE
    });
    let mut again = sent_by(&topics.deliveries, "again");
    again.sort();
    again.dedup();
    assert_eq!(again.len(), PEOPLE, "each reminder once");
    worker.kill().unwrap();
    worker.wait().unwrap();
}
