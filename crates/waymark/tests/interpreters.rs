//! Test mode runs the same code as production: every example journey
//! through the simulation and through the durable runtime (on a store,
//! its clock moved as time would pass), compared one for one: the
//! deliveries asked for, the timers set and the journey records.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use waymark::runtime::{ManualClock, OutboxStatus, RecordSink, Waymark};
use waymark::source::read_all;
use waymark::{Simulation, SimulationOptions, TraceLine};
use waymark_core::{Profile, Timestamp};
use waymark_engine::{Engine, Record};
use waymark_journey::load_workspace;
use waymark_store::{Batch, Entry, MemoryStore, Op, Space, Store, keys};

/// A store that remembers every timer written to it (due, instance, token).
#[derive(Debug, Default)]
struct TimerLog {
    store: MemoryStore,
    timers: Mutex<Vec<(Timestamp, String, u64)>>,
}

impl Store for TimerLog {
    fn commit(&self, batch: Batch) -> Result<(), waymark_store::Error> {
        for op in batch.clone().into_ops() {
            if let Op::Put {
                space: Space::Timers,
                key,
                ..
            } = op
            {
                let due = keys::decode_time(&key).unwrap();
                let rest = &key[8..];
                let (instance, token) = rest.split_at(rest.len() - 9);
                let token = u64::from_be_bytes(token[1..].try_into().unwrap());
                let instance = String::from_utf8(instance.to_vec()).unwrap();
                self.timers.lock().unwrap().push((due, instance, token));
            }
        }
        self.store.commit(batch)
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, waymark_store::Error> {
        self.store.get(space, key)
    }

    fn scan(&self, space: Space, prefix: &[u8]) -> Result<Vec<Entry>, waymark_store::Error> {
        self.store.scan(space, prefix)
    }

    fn range(
        &self,
        space: Space,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, waymark_store::Error> {
        self.store.range(space, from, to, limit)
    }
}

/// The journey records the runtime published, in order.
#[derive(Debug, Default)]
struct Records(Mutex<Vec<Record>>);

impl RecordSink for Records {
    fn publish(&self, _key: &str, json: &[u8]) -> Result<(), String> {
        self.0
            .lock()
            .unwrap()
            .push(serde_json::from_slice(json).unwrap());
        Ok(())
    }

    fn sync(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A record as both sides can state it: the trace line's fields without
/// the person's ids (the trace takes them from the profile at the time).
fn comparable(mut line: TraceLine) -> Value {
    line.user_id = None;
    line.anonymous_id = None;
    serde_json::to_value(line).unwrap()
}

fn check(journey: &str, events: &str) {
    check_until(journey, events, None);
}

/// [`check`], both clocks stopped at `until` (schedules recur forever).
fn check_until(journey: &str, events: &str, until: Option<&str>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    check_files(
        journey,
        &[root.join(format!("examples/journeys/{journey}.yaml"))],
        &root.join(format!("examples/events/{events}.jsonl")),
        until,
        &waymark::WorkspaceConfig::default(),
    );
}

/// [`check_until`] for any journey files and event file, under a workspace
/// config's engine settings and policies.
fn check_files(
    journey: &str,
    paths: &[std::path::PathBuf],
    events: &Path,
    until: Option<&str>,
    config: &waymark::WorkspaceConfig,
) {
    let until = until.map(|u| waymark_core::parse_timestamp(u).unwrap());
    let text = std::fs::read_to_string(events).unwrap();
    let set = load_workspace(paths, None, None).unwrap();
    let journeys = set.journeys;

    // Test mode.
    let mut engine = Engine::new(journeys.clone(), config.engine);
    engine.set_segments(set.segments.clone());
    engine.set_policies(config.policies.clone());
    let options = SimulationOptions {
        until,
        ..SimulationOptions::default()
    };
    let simulated = Simulation::new(engine, options).run_all(&text);

    // The durable runtime, its clock moved through the events and every
    // timer's due time, as a live worker's would be.
    let (events, _) = read_all(&text);
    let store = Arc::new(TimerLog::default());
    let records = Arc::new(Records::default());
    let clock = Arc::new(ManualClock::new(events[0].1.timestamp));
    let runtime = Waymark::builder()
        .store(store.clone())
        .journeys(journeys)
        .segments(set.segments)
        .engine(config.engine)
        .policies(config.policies.clone())
        .clock(clock.clone())
        .records(records.clone())
        .build()
        .unwrap();
    let fire_until = |limit: Timestamp| {
        while let Some(due) = runtime
            .next_timer_due()
            .unwrap()
            .filter(|due| *due <= limit)
        {
            clock.set(due);
            runtime.fire_due_timers().unwrap();
        }
    };
    for (_, event) in events
        .iter()
        .filter(|(_, e)| until.is_none_or(|u| e.timestamp <= u))
    {
        fire_until(event.timestamp);
        clock.set(event.timestamp);
        runtime.ingest(event).unwrap();
    }
    fire_until(until.unwrap_or(Timestamp::MAX_UTC));
    while runtime.publish_records().unwrap() > 0 {}

    // Deliveries: every field the decision sets, one for one.
    let delivered: Vec<Value> = runtime
        .outbox(OutboxStatus::Pending)
        .into_iter()
        .map(|entry| serde_json::to_value(entry.delivery).unwrap())
        .collect();
    let asked: Vec<Value> = simulated
        .deliveries
        .iter()
        .map(|delivery| serde_json::to_value(delivery).unwrap())
        .collect();
    assert!(!asked.is_empty(), "{journey}: the example sends something");
    assert_eq!(delivered, asked, "{journey}: deliveries");
    // The trace's send lines carry the deliveries' idempotency keys.
    let traced_keys: Vec<&str> = simulated
        .trace
        .iter()
        .filter(|line| line.kind == "send")
        .map(|line| line.key.as_deref().unwrap())
        .collect();
    let delivered_keys: Vec<&str> = delivered
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(traced_keys, delivered_keys, "{journey}: send keys");

    // Timers: the same set, due at the same times.
    let mut set: Vec<(Timestamp, String, u64)> = simulated
        .timers
        .iter()
        .map(|t| (t.due, t.instance.to_string(), t.token))
        .collect();
    let mut stored = store.timers.lock().unwrap().clone();
    set.sort();
    stored.sort();
    assert!(!set.is_empty(), "{journey}: the example waits");
    assert_eq!(stored, set, "{journey}: timers");

    // Records, in order.
    let published: Vec<Value> = records
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|record| {
            comparable(TraceLine::from_record(
                record,
                &Profile::new(record.profile.clone()),
            ))
        })
        .collect();
    let traced: Vec<Value> = simulated
        .trace
        .into_iter()
        .filter(|line| line.kind != "merged" && line.kind != "rejected")
        .map(comparable)
        .collect();
    assert_eq!(published, traced, "{journey}: records");
}

#[test]
fn welcome() {
    check("welcome", "welcome");
}

#[test]
fn lead_nurture() {
    check("lead-nurture", "lead-nurture");
}

#[test]
fn abandoned_cart() {
    check("abandoned-cart", "abandoned-cart");
}

#[test]
fn abandoned_cart_across_devices_with_merges() {
    check("abandoned-cart", "abandoned-cart-identity");
}

#[test]
fn trial_conversion() {
    check("trial-conversion", "trial-conversion");
}

#[test]
fn missed_appointment() {
    check("missed-appointment", "missed-appointment");
}

#[test]
fn win_back() {
    check("win-back", "win-back");
}

#[test]
fn vip_on_a_named_segment() {
    check("vip", "vip");
}

#[test]
fn inactive_win_back() {
    check_until(
        "inactive-win-back",
        "inactive-win-back",
        Some("2026-10-25T00:00:00Z"),
    );
}

#[test]
fn trial_ending_on_a_date_trait() {
    check("trial-ending", "trial-ending");
}

#[test]
fn weekly_digest_on_a_schedule() {
    check_until(
        "weekly-digest",
        "weekly-digest",
        Some("2026-11-03T00:00:00Z"),
    );
}

#[test]
fn policies_capped_deferred_and_transactional() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies");
    let config = waymark::WorkspaceConfig::load(&root.join("waymark.toml")).unwrap();
    check_files(
        "policies",
        &[root.join("price-drop.yaml"), root.join("receipt.yaml")],
        &root.join("events.jsonl"),
        None,
        &config,
    );
}
