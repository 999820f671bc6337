//! Event time and shutdown on Kafka, against a real broker (tansu on
//! loopback): a message's timestamp is its receive time, an event from the
//! year 9999 cannot freeze a person's traits, an event without a timestamp
//! is no dead letter; and the worker exits within `drain_timeout_ms` of
//! SIGTERM even with its broker gone, losing nothing it had acknowledged.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{
    Topics, admin_bin, create_topics, eventually, log_of, produce, produce_to, read_all,
    start_worker, workspace, write_config,
};

/// A journey that emails everyone who signs up, then waits a day before
/// a second email (so each sign-up leaves a timer pending).
fn write_journey(dir: &Path) -> (PathBuf, PathBuf) {
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    let journey = dir.join("hello.yaml");
    std::fs::write(
        &journey,
        "id: hello\nentry: { event: Signed Up }\nnodes:\n  - { id: hello, type: send, channel: email, template: hello, next: later }\n  - { id: later, type: wait, duration: 1d, next: again }\n  - { id: again, type: send, channel: email, template: hello }\n",
    )
    .unwrap();
    std::fs::write(
        templates.join("hello.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    (journey, templates)
}

fn message(user: &str, json: String) -> (String, Vec<u8>) {
    (user.to_owned(), json.into_bytes())
}

#[test]
fn an_event_from_the_year_9999_cannot_freeze_a_persons_email() {
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::new("event-time");
    let (journey, templates) = write_journey(dir.path());
    create_topics(&[&topics.input], 3);
    // The poisoned identify, then a real one and a sign-up without any
    // timestamp: their messages' timestamps (the producer's clock) are
    // their receive times.
    produce(
        &topics.input,
        &[
            message(
                "ana",
                r#"{"type":"identify","messageId":"i1","userId":"ana","traits":{"email":"old@example.com"},"timestamp":"9999-12-31T23:59:59Z"}"#.to_owned(),
            ),
            message(
                "ana",
                r#"{"type":"identify","messageId":"i2","userId":"ana","traits":{"email":"new@example.com"}}"#.to_owned(),
            ),
            message(
                "ana",
                r#"{"type":"track","messageId":"s1","userId":"ana","event":"Signed Up"}"#.to_owned(),
            ),
        ],
    );
    let config = write_config(dir.path(), &[journey], &templates, &topics, "");
    let mut worker = start_worker(&config);
    eventually(Duration::from_secs(60), "the first email", &config, || {
        if let Some(status) = worker.try_wait().unwrap() {
            panic!("the worker exited ({status}): {}", log_of(&config));
        }
        !read_all(&topics.deliveries).is_empty()
    });
    let deliveries = read_all(&topics.deliveries);
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].json()["to"], "new@example.com");
    assert!(read_all(&topics.dlq).is_empty(), "no dead letter");
}

/// A broker of its own (this test kills it), on a free port.
struct Broker {
    dir: tempfile::TempDir,
    brokers: String,
}

impl Broker {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = Command::new(workspace().join("scripts/kafka-dev.sh"))
            .arg("start")
            .env("WAYMARK_KAFKA_PORT", port.to_string())
            .env("WAYMARK_KAFKA_DIR", dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Broker {
            dir,
            brokers: format!("127.0.0.1:{port}"),
        }
    }

    /// SIGKILL; false when it was not running.
    fn kill(&self) -> bool {
        let pid = std::fs::read_to_string(self.dir.path().join("pid")).unwrap();
        Command::new("kill")
            .args(["-KILL", pid.trim()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn sigterm_with_the_broker_gone_exits_within_the_drain_timeout() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::new("sigterm");
    let (journey, templates) = write_journey(dir.path());
    let people = 200;
    let config = write_config(
        dir.path(),
        &[journey],
        &templates,
        &topics,
        &format!(
            "[channels.log]\npath = \"{}/deliveries.jsonl\"\n",
            dir.path().display()
        ),
    );
    // This broker, deliveries to the log channel, a 3 s drain deadline.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&support::brokers(), &broker.brokers)
        .replace("default = \"kafka\"", "default = \"log\"")
        .replace("drain_timeout_ms = 20000", "drain_timeout_ms = 3000");
    std::fs::write(&config, text).unwrap();
    let mut worker = start_worker(&config);
    let sign_ups: Vec<(String, Vec<u8>)> = (0..people)
        .map(|i| {
            message(
                &format!("u{i}"),
                format!(
                    r#"{{"type":"track","messageId":"s{i}","userId":"u{i}","event":"Signed Up","context":{{"traits":{{"email":"u{i}@example.com"}}}}}}"#
                ),
            )
        })
        .collect();
    // The worker creates the topics; produce once it has.
    eventually(Duration::from_secs(60), "the input topic", &config, || {
        log_of(&config).contains("subscribed")
    });
    produce_to(&broker.brokers, &topics.input, &sign_ups);
    let deliveries = dir.path().join("deliveries.jsonl");
    eventually(
        Duration::from_secs(60),
        "every first email",
        &config,
        || {
            if let Some(status) = worker.try_wait().unwrap() {
                panic!("the worker exited ({status}): {}", log_of(&config));
            }
            std::fs::read_to_string(&deliveries)
                .unwrap_or_default()
                .lines()
                .count()
                >= people
        },
    );

    assert!(broker.kill(), "the broker was running");
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    while worker.try_wait().unwrap().is_none() {
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "no exit 10 s after SIGTERM: {}",
            log_of(&config)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = signalled.elapsed();
    assert!(
        took <= Duration::from_millis(3000 + 1000),
        "exit {took:?} after SIGTERM, drain_timeout_ms = 3000: {}",
        log_of(&config)
    );

    // What it had done is in its store: every person's second email waits.
    let out = Command::new(admin_bin())
        .arg("--store")
        .arg(dir.path().join("store"))
        .args(["timers", "list", "--due-before", "2100-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let timers = String::from_utf8(out.stdout).unwrap();
    assert_eq!(timers.lines().count(), people, "{timers}");
}
