//! A zombie on the PostgreSQL store: a worker paused (SIGSTOP) past its
//! session timeout, its partitions taken over by a new worker on the same
//! store, then resumed (SIGCONT), commits nothing and delivers nothing:
//! every message goes out once, the timers it held fired by the new
//! owner only; the zombie stops with the reason.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

const PEOPLE: usize = 20;

/// How many times each idempotency key of node `node` was delivered.
fn sent_by(topic: &str, node: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for message in read_all(topic) {
        if message.json()["node"] == node {
            *counts
                .entry(message.header("idempotency-key").unwrap())
                .or_default() += 1;
        }
    }
    counts
}

/// A worker config in its own folder (for its log), on the shared schema,
/// its ops endpoint on `ops`.
fn config(
    dir: &Path,
    name: &str,
    topics: &Topics,
    schema: &PgSchema,
    ops: &str,
) -> std::path::PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let (journey, templates) = write_timer_journey(dir, "15s");
    let ops = format!("[ops]\nlisten = \"{ops}\"\n");
    let path = write_config(&folder, &[journey], &templates, topics, &ops);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("[store]\npath = \"{}/store\"", folder.display()),
        &format!(
            "[store]\nkind = \"postgres\"\nurl = \"{}\"\nschema = \"{}\"",
            postgres_url(),
            schema.0
        ),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn signal(worker: &Running, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

#[test]
fn a_paused_worker_that_lost_its_partitions_commits_and_delivers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::new("zombie");
    let schema = PgSchema::new("zombie");
    let first_ops = format!("127.0.0.1:{}", free_port());
    let second_ops = format!("127.0.0.1:{}", free_port());
    let first = config(dir.path(), "first", &topics, &schema, &first_ops);
    let second = config(dir.path(), "second", &topics, &schema, &second_ops);
    let mut zombie = start_worker(&first);
    eventually(
        Duration::from_secs(60),
        "the first worker's assignment",
        &first,
        || log_of(&first).contains("partitions claimed"),
    );
    produce(&topics.input, &sign_ups_now(PEOPLE));
    eventually(Duration::from_secs(60), "every first email", &first, || {
        sent_by(&topics.deliveries, "hello").len() == PEOPLE
    });
    let (_, metrics) = request(&first_ops, "GET", "/metrics", "", "");
    assert!(metrics.contains("waymark_partition_epoch{"), "{metrics}");
    // Paused with every second email's timer pending in its memory.
    signal(&zombie, "STOP");
    let mut owner = start_worker(&second);
    eventually(
        Duration::from_secs(90),
        "every second email, from the new owner",
        &second,
        || sent_by(&topics.deliveries, "again").len() == PEOPLE,
    );
    // The zombie wakes with those timers due in its memory.
    signal(&zombie, "CONT");
    eventually(
        Duration::from_secs(60),
        "the zombie to stop",
        &first,
        || zombie.try_wait().unwrap().is_some(),
    );
    // Whatever the zombie tried, nothing went out twice.
    std::thread::sleep(Duration::from_secs(3));
    for node in ["hello", "again"] {
        let sent = sent_by(&topics.deliveries, node);
        assert_eq!(sent.len(), PEOPLE, "{node}");
        assert!(sent.values().all(|n| *n == 1), "{node}: {sent:?}");
    }
    // It stopped for being fenced out; the owner stays.
    let log = log_of(&first);
    assert!(log.contains("owned by another worker"), "{log}");
    assert!(!zombie.try_wait().unwrap().unwrap().success());
    assert!(owner.try_wait().unwrap().is_none(), "{}", log_of(&second));
    // The owner's epochs are the ones after the first worker's.
    let (_, metrics) = request(&second_ops, "GET", "/metrics", "", "");
    let epochs: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("waymark_partition_epoch{"))
        .collect();
    assert_eq!(epochs.len(), 3, "{metrics}");
    assert!(epochs.iter().all(|l| !l.ends_with(" 1")), "{epochs:?}");
}
