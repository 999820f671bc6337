//! The worker against a real Kafka-protocol broker on loopback: every
//! expected send exactly once on the deliveries topic, every journey record
//! on the analytics topic, dead letters byte for byte with their reason,
//! SIGKILL mid-stream losing nothing, live deploys and the ops endpoint.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;
use waymark::{Simulation, SimulationOptions};

/// Events for `people` people, `per_person` each (at most 10), timestamped
/// over the last minute, keyed by user id. Returns them as (key, JSON) and
/// as one JSONL text for the simulator.
fn events(people: usize, per_person: usize) -> (Vec<(String, Vec<u8>)>, String) {
    let base = chrono::Utc::now() - chrono::TimeDelta::seconds(60);
    let mut out = Vec::with_capacity(people * per_person);
    let mut jsonl = String::new();
    for u in 0..people {
        let user = format!("user-{u}");
        let at = |i: usize| {
            (base + chrono::TimeDelta::milliseconds((u % 1000 * 40 + i * 3) as i64))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let all = [
            format!(
                r#"{{"type":"identify","messageId":"{user}-0","userId":"{user}","traits":{{"email":"{user}@example.com","phone":"+1555{u:07}","vip":{vip}}},"timestamp":"{t}"}}"#,
                vip = u % 7 == 0,
                t = at(0)
            ),
            format!(
                r#"{{"type":"track","messageId":"{user}-1","userId":"{user}","event":"Signed Up","timestamp":"{}"}}"#,
                at(1)
            ),
            format!(
                r#"{{"type":"page","messageId":"{user}-2","userId":"{user}","name":"Pricing","timestamp":"{}"}}"#,
                at(2)
            ),
            format!(
                r#"{{"type":"track","messageId":"{user}-3","userId":"{user}","event":"Trial Started","timestamp":"{}"}}"#,
                at(3)
            ),
            format!(
                r#"{{"type":"track","messageId":"{user}-4","userId":"{user}","event":"Cart Updated","properties":{{"total":{}}},"timestamp":"{}"}}"#,
                u % 5 * 10,
                at(4)
            ),
            format!(
                r#"{{"type":"track","messageId":"{user}-5","userId":"{user}","event":"Guide Downloaded","properties":{{"guide":"pricing"}},"timestamp":"{}"}}"#,
                at(5)
            ),
            format!(
                r#"{{"type":"track","messageId":"{user}-6","userId":"{user}","event":"Appointment Missed","timestamp":"{}"}}"#,
                at(6)
            ),
            format!(
                r#"{{"type":"track","messageId":"{user}-7","userId":"{user}","event":"Subscription Cancelled","properties":{{"reason":"{}"}},"timestamp":"{}"}}"#,
                if u % 4 == 0 { "fraud" } else { "price" },
                at(7)
            ),
            format!(
                r#"{{"type":"track","messageId":"{user}-8","userId":"{user}","event":"Order Completed","properties":{{"revenue":20}},"timestamp":"{}"}}"#,
                at(8)
            ),
            format!(
                r#"{{"type":"screen","messageId":"{user}-9","userId":"{user}","name":"Home","timestamp":"{}"}}"#,
                at(9)
            ),
        ];
        for line in all.into_iter().take(per_person) {
            jsonl.push_str(&line);
            jsonl.push('\n');
            out.push((user.clone(), line.into_bytes()));
        }
    }
    (out, jsonl)
}

fn example_journeys() -> (Vec<PathBuf>, PathBuf) {
    let dir = workspace().join("examples/journeys");
    let mut journeys: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    journeys.sort();
    (journeys, dir.join("templates"))
}

/// What the simulator decides for `jsonl` up to `until`: (journey, node,
/// user) of each send, and the count of records by (journey, kind).
type Expected = (Sends, BTreeMap<(String, String), usize>);

fn simulate(
    journeys: &[PathBuf],
    templates: &Path,
    jsonl: &str,
    until: chrono::DateTime<chrono::Utc>,
) -> Expected {
    let (loaded, _) = waymark_journey::load_journey_set(journeys, Some(templates)).unwrap();
    let engine = waymark_engine::Engine::new(loaded, waymark_engine::EngineConfig::default());
    let trace = Simulation::new(
        engine,
        SimulationOptions {
            until: Some(until),
            ..Default::default()
        },
    )
    .run(jsonl);
    let mut sends = BTreeMap::new();
    let mut records = BTreeMap::new();
    for line in trace {
        let Some(journey) = line.journey.as_deref() else {
            continue;
        };
        if line.kind == "send" {
            *sends
                .entry((
                    journey.to_owned(),
                    line.node.as_deref().unwrap().to_owned(),
                    line.user_id.clone().unwrap(),
                ))
                .or_default() += 1;
        }
        *records
            .entry((journey.to_owned(), line.kind.clone()))
            .or_default() += 1;
    }
    (sends, records)
}

/// Sends by (journey, node, user), with how many times each was made.
type Sends = BTreeMap<(String, String, String), usize>;

/// Deliveries by idempotency key, and by (journey, node, user).
fn deliveries(topic: &str) -> (HashMap<String, usize>, Sends) {
    let mut by_key = HashMap::new();
    let mut by_send = BTreeMap::new();
    for m in read_all(topic) {
        let d = m.json();
        let key = m.header("idempotency-key").unwrap();
        assert_eq!(
            key,
            d["key"].as_str().unwrap(),
            "the header carries the key"
        );
        *by_key.entry(key).or_default() += 1;
        *by_send
            .entry((
                d["journey"].as_str().unwrap().to_owned(),
                d["node"].as_str().unwrap().to_owned(),
                d["user_id"].as_str().unwrap().to_owned(),
            ))
            .or_default() += 1;
    }
    (by_key, by_send)
}

/// Distinct analytics records by (journey, kind); panics on a key seen
/// with two different records.
fn analytics(topic: &str) -> BTreeMap<(String, String), usize> {
    let mut seen: HashMap<String, serde_json::Value> = HashMap::new();
    for m in read_all(topic) {
        let record = m.json();
        let key = record["key"].as_str().unwrap().to_owned();
        if let Some(before) = seen.get(&key) {
            assert_eq!(before, &record, "one key, two different records");
        }
        seen.insert(key, record);
    }
    let mut counts = BTreeMap::new();
    for record in seen.values() {
        *counts
            .entry((
                record["journey"].as_str().unwrap().to_owned(),
                record["kind"].as_str().unwrap().to_owned(),
            ))
            .or_default() += 1;
    }
    counts
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < limit,
            "the worker did not finish in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the worker until the deliveries and analytics topics hold what
/// the simulator expects (or a timeout), then stops it with SIGTERM.
#[allow(clippy::print_stderr)] // progress, shown when the test fails
fn run_until(config: &Path, expected: &Expected, topics: &Topics) {
    let mut worker = start_worker(config);
    let want_sends: usize = expected.0.values().sum();
    let mut checks = 0;
    eventually(
        Duration::from_secs(300),
        "every expected delivery",
        config,
        || {
            if let Some(status) = worker.try_wait().unwrap() {
                panic!("the worker exited ({status}): {}", log_of(config));
            }
            let (by_key, by_send) = deliveries(&topics.deliveries);
            let sent = by_key.len();
            let records = analytics(&topics.analytics);
            checks += 1;
            if checks % 25 == 0 {
                // Shown only when the test fails: how far it got.
                let differ: Vec<_> = expected
                    .1
                    .iter()
                    .filter(|(k, n)| records.get(*k) != Some(n))
                    .map(|(k, n)| format!("{k:?}: want {n}, have {:?}", records.get(k)))
                    .collect();
                let missing: Vec<_> = expected
                    .0
                    .iter()
                    .filter(|(k, n)| by_send.get(*k) != Some(n))
                    .take(5)
                    .collect();
                eprintln!(
                    "deliveries {sent}/{want_sends}, missing {missing:?}; analytics differ: {differ:?}"
                );
            }
            sent >= want_sends && records == expected.1
        },
    );
    terminate(&mut worker, config);
}

fn terminate(worker: &mut std::process::Child, config: &Path) {
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(worker.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let status = wait_exit(worker, Duration::from_secs(60));
    assert!(
        status.success(),
        "SIGTERM: not a clean exit: {}",
        log_of(config)
    );
}

#[test]
fn hundred_thousand_events_every_send_once_every_record_published() {
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::new("e2e");
    let (journeys, templates) = example_journeys();
    let (messages, jsonl) = events(10_000, 10);
    assert_eq!(messages.len(), 100_000);
    let expected = simulate(&journeys, &templates, &jsonl, chrono::Utc::now());
    assert!(
        expected.0.values().sum::<usize>() > 10_000,
        "the events should make sends: {:?}",
        expected.1
    );
    create_topics(&[&topics.input], 3);
    produce(&topics.input, &messages);
    let config = write_config(dir.path(), &journeys, &templates, &topics, "");
    run_until(&config, &expected, &topics);

    let (by_key, by_send) = deliveries(&topics.deliveries);
    assert!(
        by_key.values().all(|n| *n == 1),
        "an idempotency key was published twice"
    );
    assert_eq!(
        by_send, expected.0,
        "the deliveries are the simulator's sends"
    );
    assert_eq!(analytics(&topics.analytics), expected.1);
    assert!(read_all(&topics.dlq).is_empty(), "no dead letters");
}

#[test]
fn sigkill_three_times_mid_stream_loses_nothing_and_publishes_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::new("kill");
    let (journey, templates) = write_timer_journey(dir.path(), "1s");
    let journeys = vec![journey];
    let (messages, jsonl) = events(4_000, 3);
    create_topics(&[&topics.input], 3);
    let config = write_config(dir.path(), &journeys, &templates, &topics, "");
    // Half before the first start, half while the worker is being killed.
    let (first, second) = messages.split_at(messages.len() / 2);
    produce_one_per_batch(&topics.input, first);
    let mut kills = 0;
    for (round, delay_ms) in [1500u64, 900, 1300].into_iter().enumerate() {
        let mut worker = start_worker(&config);
        if round == 1 {
            produce_one_per_batch(&topics.input, second);
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        if let Some(status) = worker.try_wait().unwrap() {
            panic!("the worker exited ({status}): {}", log_of(&config));
        }
        worker.kill().unwrap(); // SIGKILL
        worker.wait().unwrap();
        kills += 1;
    }
    assert_eq!(kills, 3);
    let expected = simulate(
        &journeys,
        &templates,
        &jsonl,
        chrono::Utc::now() + chrono::TimeDelta::hours(1),
    );
    assert_eq!(
        expected.0.values().sum::<usize>(),
        8_000,
        "hello and again for each"
    );
    run_until(&config, &expected, &topics);

    let (by_key, by_send) = deliveries(&topics.deliveries);
    let twice: Vec<_> = by_key.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "published twice: {twice:?}");
    assert_eq!(by_send, expected.0, "every send, the timed ones included");
    assert_eq!(analytics(&topics.analytics), expected.1);
}

#[test]
fn malformed_events_go_to_the_dead_letter_topic_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::new("dlq");
    let (journey, templates) = write_timer_journey(dir.path(), "1s");
    let journeys = vec![journey];
    let (good, jsonl) = events(50, 2);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"hello, world".to_vec()),
        (
            "wrong types",
            br#"{"type":"track","messageId":"w1","userId":"u","event":42,"timestamp":"2026-10-01T08:00:00Z"}"#.to_vec(),
        ),
        (
            "missing ids",
            br#"{"type":"track","messageId":"m1","event":"Signed Up","timestamp":"2026-10-01T08:00:00Z"}"#.to_vec(),
        ),
        ("5 MB", {
            let mut big = br#"{"type":"track","messageId":"big","userId":"u","event":"Signed Up","properties":{"blob":""#.to_vec();
            big.extend(std::iter::repeat_n(b'x', 5 << 20));
            big.extend_from_slice(br#""}}"#);
            big
        }),
        (
            "invalid UTF-8",
            b"{\"type\":\"track\",\"event\":\"\xff\xfe\"}".to_vec(),
        ),
    ];
    let mut messages = Vec::new();
    for (i, m) in good.iter().enumerate() {
        messages.push(m.clone());
        if let Some((_, payload)) = bad.get(i / 20)
            && i % 20 == 0
        {
            messages.push(("bad".to_owned(), payload.clone()));
        }
    }
    create_topics(&[&topics.input], 3);
    produce(&topics.input, &messages);
    let config = write_config(dir.path(), &journeys, &templates, &topics, "");
    let expected = simulate(
        &journeys,
        &templates,
        &jsonl,
        chrono::Utc::now() + chrono::TimeDelta::hours(1),
    );
    let mut worker = start_worker(&config);
    eventually(
        Duration::from_secs(120),
        "five dead letters and every send",
        &config,
        || {
            if let Some(status) = worker.try_wait().unwrap() {
                panic!("the worker exited ({status}): {}", log_of(&config));
            }
            read_all(&topics.dlq).len() >= bad.len()
                && deliveries(&topics.deliveries).1 == expected.0
        },
    );
    terminate(&mut worker, &config);

    let dead = read_all(&topics.dlq);
    assert_eq!(dead.len(), bad.len(), "each bad event once");
    for (what, payload) in &bad {
        let m = dead
            .iter()
            .find(|m| &m.payload == payload)
            .unwrap_or_else(|| panic!("{what}: not in the dead-letter topic byte for byte"));
        let reason = m.header("waymark.dlq.reason").unwrap();
        assert!(!reason.is_empty(), "{what}: no reason");
        assert_eq!(m.header("waymark.dlq.topic").unwrap(), topics.input);
        assert!(
            m.header("waymark.dlq.partition")
                .unwrap()
                .parse::<i32>()
                .is_ok()
        );
        assert!(
            m.header("waymark.dlq.offset")
                .unwrap()
                .parse::<i64>()
                .is_ok()
        );
        let kind = m.header("waymark.dlq.kind").unwrap();
        let want = match *what {
            "5 MB" => "too_large",
            "invalid UTF-8" => "not_utf8",
            _ => "invalid",
        };
        assert_eq!(kind, want, "{what}: {reason}");
    }
    let missing = dead
        .iter()
        .find(|m| {
            m.payload
                .starts_with(br#"{"type":"track","messageId":"m1""#)
        })
        .unwrap();
    assert!(
        missing
            .header("waymark.dlq.reason")
            .unwrap()
            .contains("userId"),
        "the reason names the missing field: {:?}",
        missing.header("waymark.dlq.reason")
    );
}

fn http_get(address: &str, path: &str) -> (u16, String) {
    request(address, "GET", path, "", "")
}

#[test]
fn journeys_deploy_live_through_the_topic_and_the_ops_endpoint_reports() {
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::new("live");
    let (journey, templates) = write_timer_journey(dir.path(), "1s");
    let reset = dir.path().join("reset.yaml");
    std::fs::write(
        &reset,
        "id: reset\nentry: { api: true }\nnodes:\n  - { id: link, type: send, channel: email, template: hello }\n",
    )
    .unwrap();
    let ops = format!("127.0.0.1:{}", free_port());
    let front = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &[journey, reset],
        &templates,
        &topics,
        &format!(
            "[ops]\nlisten = \"{ops}\"\nready_max_lag = 0\n[http]\nlisten = \"{front}\"\nwrite_keys = [\"key\"]\n"
        ),
    );
    let mut worker = start_worker(&config);
    eventually(Duration::from_secs(60), "/healthz ready", &config, || {
        if let Some(status) = worker.try_wait().unwrap() {
            panic!("the worker exited ({status}): {}", log_of(&config));
        }
        std::net::TcpStream::connect(&ops).is_ok() && http_get(&ops, "/healthz").0 == 200
    });

    // A new journey, published with the admin tool, takes entrants at once.
    let live = dir.path().join("live.yaml");
    std::fs::write(
        &live,
        "id: live\nentry: { event: Demo Booked }\nnodes:\n  - { id: thanks, type: send, channel: email, template: hello }\n",
    )
    .unwrap();
    let admin = |file: &Path| {
        std::process::Command::new(admin_bin())
            .args([
                "journey",
                "deploy",
                "--kafka",
                &brokers(),
                "--topic",
                &topics.journeys,
                "--templates",
            ])
            .arg(&templates)
            .arg(file)
            .output()
            .unwrap()
    };
    for _ in 0..2 {
        // Deployed twice: the second, the same definition, makes no new
        // version (checked below: the journeys topic has one partition, so
        // once the refusal after them is counted, both were applied).
        let out = admin(&live);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One that does not validate is refused locally, with its problem.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "id: broken\nentry: { event: X }\nnodes:\n  - { id: a, type: send, channel: email, template: nope }\n").unwrap();
    let out = admin(&broken);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    // Published behind the tool's back, the worker refuses it and counts it.
    let message = serde_json::json!({"file": "broken.yaml", "source": std::fs::read_to_string(&broken).unwrap()});
    // So is one naming a segment the worker does not have.
    let ghosts = serde_json::json!({"file": "ghosts.yaml", "source": "id: ghosts\nentry: { segment: ghosts }\nnodes:\n  - { id: a, type: send, channel: email, template: hello }\n"});
    produce(
        &topics.journeys,
        &[
            ("broken".to_owned(), serde_json::to_vec(&message).unwrap()),
            ("ghosts".to_owned(), serde_json::to_vec(&ghosts).unwrap()),
        ],
    );

    eventually(
        Duration::from_secs(30),
        "the journeys applied",
        &config,
        || {
            let (_, metrics) = http_get(&ops, "/metrics");
            metrics.contains("waymark_journeys_deployed_total 1")
                && metrics.contains("waymark_journey_refusals_total 2")
        },
    );
    // Events through the front door: produced to the input topic (acks
    // from all replicas) before the 200, then consumed like any other.
    let batch = r#"{"batch":[{"type":"identify","messageId":"d0","userId":"user-1","traits":{"email":"one@example.com"},"timestamp":"2026-11-23T08:00:00Z"},{"type":"track","messageId":"d1","userId":"user-1","event":"Demo Booked","timestamp":"2026-11-23T08:00:01Z"}]}"#;
    let json = "Authorization: Basic a2V5Og==\r\nContent-Type: application/json\r\n";
    let (status, answer) = request(&front, "POST", "/v1/batch", json, batch);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        http_get(&front, "/readyz").0,
        200,
        "ops beside the front door"
    );
    eventually(
        Duration::from_secs(30),
        "the live journey's send",
        &config,
        || {
            deliveries(&topics.deliveries)
                .1
                .keys()
                .any(|(journey, node, _)| journey == "live" && node == "thanks")
        },
    );

    // Entries by API through the enter topic: a call retried with the same
    // id enters once; a call for an unknown journey is refused and counted.
    let enter = |journey: &str, id: &str, user: &str| {
        let out = std::process::Command::new(admin_bin())
            .args([
                "journey",
                "enter",
                journey,
                "--kafka",
                &brokers(),
                "--topic",
            ])
            .args([&topics.enter, "--id", id, "--user", user, "--email"])
            .arg(format!("{user}@example.com"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    enter("reset", "call-1", "user-2");
    enter("reset", "call-1", "user-2");
    enter("reset", "call-2", "user-3");
    enter("nope", "call-3", "user-4");
    // And through the front door: queued on the enter topic (202).
    let body = r#"{"userId":"user-5","traits":{"email":"user-5@example.com"}}"#;
    let headers = format!("{json}Idempotency-Key: call-5\r\n");
    let (status, answer) = request(&front, "POST", "/v1/journeys/reset/enter", &headers, body);
    assert_eq!(status, 202, "{answer}");
    eventually(
        Duration::from_secs(30),
        "the enter calls applied",
        &config,
        || {
            let (_, metrics) = http_get(&ops, "/metrics");
            metrics.contains("waymark_api_entries_total 4")
                && metrics.contains("waymark_api_entry_refusals_total 1")
        },
    );
    eventually(
        Duration::from_secs(30),
        "the entries' sends",
        &config,
        || {
            deliveries(&topics.deliveries)
                .1
                .keys()
                .filter(|(journey, ..)| journey == "reset")
                .count()
                == 3
        },
    );
    let (status, metrics) = http_get(&ops, "/metrics");
    assert_eq!(status, 200);
    for name in [
        "waymark_events_in_total 2",
        "waymark_consumer_lag{",
        "waymark_batch_commit_seconds_bucket",
        "waymark_sends_total{channel=\"email\",outcome=\"delivered\"} 4",
        "waymark_dead_letters_total{reason=\"invalid\"} 0",
        "waymark_timers_pending",
        "waymark_instances_active",
        "waymark_cache_people",
        "waymark_cache_bytes",
        "waymark_cache_hits_total",
        "waymark_cache_evictions_total",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
    // Two events from people the store did not hold: looked up there.
    assert!(
        metrics.contains("waymark_cache_misses_total")
            && !metrics.contains("waymark_cache_misses_total 0\n"),
        "{metrics}"
    );
    terminate(&mut worker, &config);
}

#[test]
fn a_stream_of_garbage_stops_the_worker_instead_of_filling_the_dead_letter_topic() {
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::new("garbage");
    let (journey, templates) = write_timer_journey(dir.path(), "1s");
    let config = write_config(
        dir.path(),
        &[journey],
        &templates,
        &topics,
        "[kafka.dead_letters]\nmax_consecutive = 50\n",
    );
    create_topics(&[&topics.input], 3);
    let garbage: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| (format!("k{i}"), format!("<avro bytes {i}>").into_bytes()))
        .collect();
    produce(&topics.input, &garbage);
    let mut worker = start_worker(&config);
    let status = wait_exit(&mut worker, Duration::from_secs(60));
    assert!(!status.success(), "the worker must stop with an error");
    let log = log_of(&config);
    assert!(
        log.contains("50 events in a row could not be processed"),
        "the error says why: {log}"
    );
    let dead = read_all(&topics.dlq).len();
    assert!(dead < 300, "not the whole stream: {dead} dead letters");
}

#[test]
fn a_publisher_lane_waits_for_and_answers_for_its_own_messages_only() {
    use waymark_kafka::{Outgoing, Publisher};
    let delivered = unique("lanes-delivered");
    create_topics(&[&delivered], 1);
    // Never created (the broker does not create topics on first use): its
    // message fails once it times out.
    let missing = unique("lanes-missing");
    let mut config = rdkafka::ClientConfig::new();
    config
        .set("bootstrap.servers", brokers())
        .set("message.timeout.ms", "20000");
    let publisher = Publisher::new(&config, 100).unwrap();
    let (records, deliveries) = (publisher.lane(), publisher.lane());
    let message = |topic, key| Outgoing {
        topic,
        key: Some(b"p1"),
        payload: b"{}",
        idempotency_key: Some(key),
        headers: &[],
    };
    assert!(publisher.send_on(records, message(&missing, "r1")).unwrap());
    assert!(
        publisher
            .send_on(deliveries, message(&delivered, "d1"))
            .unwrap()
    );
    // The deliveries lane is synced while the records lane still waits for
    // the broker, and its sync is not failed by the other lane's message.
    publisher.sync_lane(deliveries).unwrap();
    assert!(publisher.published(&delivered, "d1"));
    assert_eq!(publisher.in_flight(deliveries), 0);
    assert_eq!(publisher.in_flight(records), 1, "not waited for");
    // The records lane answers for its own failure.
    let failed = publisher.sync_lane(records).unwrap_err().to_string();
    assert!(failed.contains("not acknowledged"), "{failed}");
    assert!(!publisher.published(&missing, "r1"));
    // Nothing left over for the next syncs.
    publisher.sync_lane(records).unwrap();
    publisher.sync().unwrap();
}
