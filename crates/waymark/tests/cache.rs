//! People on demand: the runtime with a cache too small for anyone
//! decides exactly as one holding everyone, across merges, timers,
//! restarts and a store written before the indexes existed.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;

use waymark::runtime::{ManualClock, OutboxStatus, RuntimeOptions, Waymark};
use waymark_core::{Event, parse_timestamp};
use waymark_journey::parse_journey;
use waymark_store::{Batch, FjallStore, Space, Store};

const JOURNEY: &str = r#"
id: welcome
entry: { event: Signed Up }
nodes:
  - { id: later, type: wait, duration: 1h, next: hello }
  - { id: hello, type: send, channel: email, template: t }
"#;

const PEOPLE: usize = 120;

fn runtime(store: Arc<dyn Store>, clock: &Arc<ManualClock>, cache_bytes: usize) -> Waymark {
    Waymark::builder()
        .store(store)
        .journeys([parse_journey(Path::new("welcome.yaml"), JOURNEY).unwrap()])
        .clock(clock.clone())
        .options(RuntimeOptions {
            cache_bytes,
            ..RuntimeOptions::default()
        })
        .build()
        .unwrap()
}

/// Each person: a user id alone, then an anonymous id alone (a second
/// profile), then both at once (merged into the first), signing up on
/// the anonymous profile before the merge, so the instance and its timer
/// belong to the profile merged away.
fn events() -> Vec<Event> {
    let mut out = Vec::new();
    for i in 0..PEOPLE {
        let at = |minute: usize| format!("2026-10-01T09:{:02}:{:02}Z", minute, i % 60);
        out.push(format!(
            r#"{{"type":"identify","messageId":"u{i}","userId":"user-{i}","traits":{{"email":"p{i}@example.com"}},"timestamp":"{}"}}"#,
            at(0)
        ));
        out.push(format!(
            r#"{{"type":"track","messageId":"s{i}","anonymousId":"anon-{i}","event":"Signed Up","timestamp":"{}"}}"#,
            at(1)
        ));
        out.push(format!(
            r#"{{"type":"track","messageId":"v{i}","anonymousId":"anon-{i}","userId":"user-{i}","event":"Viewed","timestamp":"{}"}}"#,
            at(2)
        ));
    }
    // Order by time, so batches mix people.
    let mut events: Vec<Event> = out
        .iter()
        .map(|line| Event::from_json_str(line).unwrap())
        .collect();
    events.sort_by_key(|e| e.timestamp);
    events
}

/// Runs the events in batches of 25, restarting the runtime halfway
/// (then pipelining batches),
/// then fires every timer. Returns the pending deliveries (key, profile,
/// address) and the runtime's final stats.
fn run(dir: &Path, cache_bytes: usize) -> (Vec<String>, waymark::runtime::Stats) {
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-10-01T09:00:00Z").unwrap(),
    ));
    let events = events();
    let (first, second) = events.split_at(events.len() / 2);
    {
        let store = Arc::new(FjallStore::open(dir).unwrap());
        let waymark = runtime(store, &clock, cache_bytes);
        for batch in first.chunks(25) {
            waymark.ingest_batch(batch, None).unwrap();
        }
    }
    let store = Arc::new(FjallStore::open(dir).unwrap());
    let waymark = runtime(store, &clock, cache_bytes);
    let started = waymark.stats();
    assert_eq!(started.cache.people, 0, "start-up reads no profiles");
    assert!(started.profiles > 0);
    // Pipelined, as the Kafka source runs: batches decided while earlier
    // ones are not yet durable (their people must stay in memory; each
    // person's events are some batches apart).
    let mut tickets = Vec::new();
    for batch in second.chunks(25) {
        tickets.push(waymark.stage_batch_at(batch, &[]).unwrap().1);
    }
    for ticket in tickets {
        waymark.wait_durable(ticket).unwrap();
    }
    clock.set(parse_timestamp("2026-10-01T11:00:00Z").unwrap());
    waymark.fire_due_timers().unwrap();
    let mut sent: Vec<String> = waymark
        .outbox(OutboxStatus::Pending)
        .into_iter()
        .map(|e| {
            let d = e.delivery;
            format!("{} {} {}", d.key, d.profile, d.to.unwrap_or_default())
        })
        .collect();
    sent.sort();
    (sent, waymark.stats())
}

#[test]
fn a_cache_too_small_for_anyone_decides_as_one_holding_everyone() {
    let (roomy, tiny) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (expected, all_in) = run(roomy.path(), usize::MAX);
    let (sent, stats) = run(tiny.path(), 1);
    assert_eq!(expected.len(), PEOPLE, "one send each");
    assert_eq!(sent, expected);
    assert_eq!(stats.profiles, PEOPLE, "merged profiles are not counted");
    assert_eq!(stats.profiles, all_in.profiles);
    assert_eq!(stats.instances_active, all_in.instances_active);
    assert_eq!(stats.timers_pending, 0);
    // Everyone was let go after each batch; the roomy one let nobody go.
    assert!(stats.cache.evictions > 0 && stats.cache.misses > 0);
    assert_eq!(all_in.cache.evictions, 0);
    assert!(
        stats.cache.people == 0,
        "nobody stays once durable: {:?}",
        stats.cache
    );
    assert_eq!(all_in.cache.people, PEOPLE);
}

#[test]
fn a_store_written_before_the_indexes_gets_them_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-10-01T09:00:00Z").unwrap(),
    ));
    let events = events();
    let (first, second) = events.split_at(events.len() / 2);
    let before = {
        let store = Arc::new(FjallStore::open(dir.path()).unwrap());
        let waymark = runtime(store.clone(), &clock, 1);
        waymark.ingest_batch(first, None).unwrap();
        // Back to the old layout: no indexes, no counts.
        let mut old = Batch::new();
        for space in [Space::Identifiers, Space::Members] {
            for (key, _) in store.scan(space, b"").unwrap() {
                old.delete(space, key);
            }
        }
        for key in ["layout", "count:people", "count:running", "seq:created"] {
            old.delete(Space::Meta, key);
        }
        store.commit(old).unwrap();
        waymark.stats()
    };
    let store = Arc::new(FjallStore::open(dir.path()).unwrap());
    let waymark = runtime(store.clone(), &clock, 1);
    let after = waymark.stats();
    assert_eq!(after.profiles, before.profiles);
    assert_eq!(after.instances_active, before.instances_active);
    assert!(!store.scan(Space::Identifiers, b"").unwrap().is_empty());
    // People already known are found again: no one is created twice.
    waymark.ingest_batch(second, None).unwrap();
    assert_eq!(waymark.stats().profiles, PEOPLE);
}

#[test]
fn timers_beyond_the_window_wait_in_the_store_and_fire_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-10-01T09:00:00Z").unwrap(),
    ));
    let build = || {
        Waymark::builder()
            .store(Arc::new(FjallStore::open(dir.path()).unwrap()))
            .journeys([parse_journey(Path::new("welcome.yaml"), JOURNEY).unwrap()])
            .clock(clock.clone())
            .options(RuntimeOptions {
                cache_bytes: 1,
                timer_window: chrono::TimeDelta::minutes(10),
                ..RuntimeOptions::default()
            })
            .build()
            .unwrap()
    };
    let events = events();
    {
        let waymark = build();
        waymark.ingest_batch(&events, None).unwrap();
        let stats = waymark.stats();
        assert_eq!(stats.timers_pending, PEOPLE, "one wait each");
        assert_eq!(stats.timers_queued, 0, "due in an hour: in the store only");
    }
    // After a restart, still out of the window; then the window reaches
    // them, and each fires at its due time, not before.
    clock.set(parse_timestamp("2026-10-01T09:40:00Z").unwrap());
    let waymark = build();
    assert_eq!(waymark.stats().timers_queued, 0);
    assert_eq!(
        waymark.next_timer_due().unwrap(),
        parse_timestamp("2026-10-01T10:00:00Z").ok(),
        "the earliest stored one"
    );
    assert_eq!(waymark.fire_due_timers().unwrap(), 0, "none due yet");
    assert_eq!(
        waymark.stats().timers_queued,
        0,
        "the window is still short of them"
    );
    clock.set(parse_timestamp("2026-10-01T09:56:00Z").unwrap());
    assert_eq!(waymark.fire_due_timers().unwrap(), 0, "none due yet");
    assert_eq!(waymark.stats().timers_queued, PEOPLE, "the window moved");
    clock.set(parse_timestamp("2026-10-01T09:59:59Z").unwrap());
    assert_eq!(waymark.fire_due_timers().unwrap(), 0, "none due yet");
    clock.set(parse_timestamp("2026-10-01T10:00:00Z").unwrap());
    assert_eq!(waymark.fire_due_timers().unwrap(), PEOPLE);
    let stats = waymark.stats();
    assert_eq!((stats.timers_pending, stats.timers_queued), (0, 0));
    assert_eq!(waymark.outbox(OutboxStatus::Pending).len(), PEOPLE);
}
