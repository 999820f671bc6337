//! Two runtimes deciding side by side on one PostgreSQL store, each for
//! the partition (lane) it claimed, over people whose events arrive on
//! both: anonymous on one, identified on the other, merged across them.
//! Person locks keep them from deciding for one person at once; lanes
//! keep each send and timer with one owner (docs/scale.md).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use std::path::Path;
use std::sync::Arc;

use support::{PgSchema, postgres_url};
use waymark::runtime::{EnterRequest, ManualClock, RuntimeOptions, Waymark};
use waymark_channels::MemoryChannel;
use waymark_core::{Event, parse_timestamp};
use waymark_journey::parse_journey;
use waymark_store::{PostgresConfig, PostgresStore};

const JOURNEY: &str = r#"
id: welcome
entry: { event: Signed Up }
nodes:
  - { id: later, type: wait, duration: 1h, next: hello }
  - { id: hello, type: send, channel: webhook, template: hello }
"#;

const PEOPLE: usize = 150;
const LANES: [&str; 2] = ["events/0", "events/1"];

/// Entered by API: a message right away.
const BY_API: &str = r#"
id: invited
entry: { api: true }
nodes:
  - { id: invite, type: send, channel: webhook, template: invite }
"#;

fn runtime(schema: &PgSchema, clock: &Arc<ManualClock>, channel: &Arc<MemoryChannel>) -> Waymark {
    let store = PostgresStore::open(&PostgresConfig {
        url: postgres_url(),
        schema: schema.0.clone(),
        pool_size: 4,
    })
    .unwrap();
    Waymark::builder()
        .store(Arc::new(store))
        .journeys([
            parse_journey(Path::new("welcome.yaml"), JOURNEY).unwrap(),
            parse_journey(Path::new("invited.yaml"), BY_API).unwrap(),
        ])
        .clock(clock.clone())
        .default_channel(channel.clone())
        .options(RuntimeOptions {
            shared: true,
            ..RuntimeOptions::default()
        })
        .build()
        .unwrap()
}

/// The lane a message key goes to (as a partitioner would send it).
fn lane_of(key: &str) -> usize {
    key.bytes().map(usize::from).sum::<usize>() % LANES.len()
}

/// Each person's events by lane, in order: identified first (keyed by the
/// user id), signing up anonymously (keyed by the anonymous id, often
/// the other lane), then both ids at once (the merge, keyed by the user id).
fn events_by_lane() -> [Vec<Event>; 2] {
    let mut lanes: [Vec<Event>; 2] = Default::default();
    for i in 0..PEOPLE {
        let (user, anon) = (format!("user-{i}"), format!("anon-{i}"));
        let at = |second: usize| format!("2026-10-01T09:00:{second:02}Z");
        let lines = [
            (
                &user,
                format!(
                    r#"{{"type":"identify","messageId":"u{i}","userId":"{user}","timestamp":"{}"}}"#,
                    at(0)
                ),
            ),
            (
                &anon,
                format!(
                    r#"{{"type":"track","messageId":"s{i}","anonymousId":"{anon}","event":"Signed Up","timestamp":"{}"}}"#,
                    at(1)
                ),
            ),
            (
                &user,
                format!(
                    r#"{{"type":"track","messageId":"v{i}","anonymousId":"{anon}","userId":"{user}","event":"Viewed","timestamp":"{}"}}"#,
                    at(2)
                ),
            ),
        ];
        for (key, line) in lines {
            lanes[lane_of(key)].push(Event::from_json_str(&line).unwrap());
        }
    }
    lanes
}

/// Two runtimes on one fresh schema, each having claimed its lane, each
/// delivering to a channel of its own.
struct Side {
    /// Dropped (the schema with it) when the test ends.
    schema: PgSchema,
    clock: Arc<ManualClock>,
    channels: [Arc<MemoryChannel>; 2],
    runtimes: Vec<Arc<Waymark>>,
}

impl Side {
    fn new(test: &str) -> Self {
        let schema = PgSchema::new(test);
        let clock = Arc::new(ManualClock::new(
            parse_timestamp("2026-10-01T09:00:00Z").unwrap(),
        ));
        let channels = [
            Arc::new(MemoryChannel::new()),
            Arc::new(MemoryChannel::new()),
        ];
        let runtimes: Vec<Arc<Waymark>> = channels
            .iter()
            .map(|channel| Arc::new(runtime(&schema, &clock, channel)))
            .collect();
        for (i, waymark) in runtimes.iter().enumerate() {
            waymark
                .claim(&format!("worker-{i}"), &[LANES[i].to_owned()])
                .unwrap();
        }
        Side {
            schema,
            clock,
            channels,
            runtimes,
        }
    }
}

/// Both runtimes decide their lane's events at once, in small batches.
fn decide_side_by_side(runtimes: &[Arc<Waymark>]) {
    let lanes = events_by_lane();
    std::thread::scope(|scope| {
        for (i, events) in lanes.iter().enumerate() {
            let waymark = Arc::clone(&runtimes[i]);
            scope.spawn(move || {
                for batch in events.chunks(7) {
                    let (_, ticket) = waymark.stage_batch_in(Some(LANES[i]), batch, &[]).unwrap();
                    waymark.wait_durable(ticket).unwrap();
                }
            });
        }
    });
}

/// Every user id, sorted as strings.
fn everyone() -> Vec<String> {
    let mut expected: Vec<String> = (0..PEOPLE).map(|i| format!("user-{i}")).collect();
    expected.sort();
    expected
}

/// A worker stops with its lane's timers pending; the other claims the
/// lane (a rebalance), takes its timers from the store and fires them:
/// still each message once.
#[test]
fn a_lane_claimed_from_a_stopped_worker_brings_its_timers() {
    let Side {
        schema: _schema,
        clock,
        channels,
        mut runtimes,
    } = Side::new("shared_takeover");
    decide_side_by_side(&runtimes);
    drop(runtimes.pop());
    let survivor = &runtimes[0];
    clock.advance(chrono::TimeDelta::hours(2));
    survivor.fire_due_timers().unwrap();
    let tokio = tokio::runtime::Runtime::new().unwrap();
    tokio.block_on(survivor.deliver_due()).unwrap();
    let fired_alone = channels[0].delivered().len();
    assert!(fired_alone < PEOPLE, "the other lane's timers waited");
    survivor.claim("worker-0", &[LANES[1].to_owned()]).unwrap();
    survivor.fire_due_timers().unwrap();
    tokio.block_on(survivor.deliver_due()).unwrap();
    let mut sent: Vec<String> = channels[0]
        .delivered()
        .into_iter()
        .map(|d| d.user_id.unwrap_or_default())
        .collect();
    sent.sort();
    assert_eq!(sent, everyone(), "each person's message exactly once");
}

#[test]
fn two_runtimes_on_one_store_send_each_message_once() {
    let Side {
        schema: _schema,
        clock,
        channels,
        runtimes,
    } = Side::new("shared");
    decide_side_by_side(&runtimes);
    // An hour later both fire their timers and deliver, at once again.
    clock.advance(chrono::TimeDelta::hours(2));
    let tokio = tokio::runtime::Runtime::new().unwrap();
    std::thread::scope(|scope| {
        for waymark in &runtimes {
            let tokio = &tokio;
            scope.spawn(move || {
                waymark.fire_due_timers().unwrap();
                tokio.block_on(waymark.deliver_due()).unwrap();
            });
        }
    });
    let mut sent: Vec<String> = channels
        .iter()
        .flat_map(|c| c.delivered())
        .map(|d| d.user_id.unwrap_or_else(|| "(no user id)".to_owned()))
        .collect();
    sent.sort();
    assert_eq!(sent, everyone(), "each person's message exactly once");
    // Each worker delivered for its own lane only: both had some.
    assert!(channels.iter().all(|c| !c.delivered().is_empty()));
}

/// One runtime enters people by API while the other decides their
/// events: both lock the person, so neither decision is lost.
#[test]
fn entries_by_api_beside_events_lose_nothing() {
    let Side {
        schema: _schema,
        clock,
        channels,
        runtimes,
    } = Side::new("shared_enter");
    std::thread::scope(|scope| {
        let events = Arc::clone(&runtimes[0]);
        scope.spawn(move || {
            let sign_ups: Vec<Event> = (0..PEOPLE)
                .map(|i| {
                    Event::from_json_str(&format!(
                        r#"{{"type":"track","messageId":"s{i}","userId":"user-{i}","event":"Signed Up","timestamp":"2026-10-01T09:00:01Z"}}"#
                    ))
                    .unwrap()
                })
                .collect();
            for batch in sign_ups.chunks(10) {
                events.ingest_batch(batch, None).unwrap();
            }
        });
        let api = Arc::clone(&runtimes[1]);
        scope.spawn(move || {
            for i in 0..PEOPLE {
                let request = EnterRequest {
                    journey: "invited".to_owned(),
                    call_id: format!("call-{i}"),
                    user_id: Some(format!("user-{i}")),
                    anonymous_id: None,
                    traits: Default::default(),
                    data: Default::default(),
                };
                api.enter(&request).unwrap();
            }
        });
    });
    clock.advance(chrono::TimeDelta::hours(2));
    let tokio = tokio::runtime::Runtime::new().unwrap();
    for waymark in &runtimes {
        waymark.fire_due_timers().unwrap();
        tokio.block_on(waymark.deliver_due()).unwrap();
    }
    for node in ["hello", "invite"] {
        let mut sent: Vec<String> = channels
            .iter()
            .flat_map(|c| c.delivered())
            .filter(|d| d.node == node)
            .map(|d| d.user_id.unwrap_or_default())
            .collect();
        sent.sort();
        assert_eq!(sent, everyone(), "{node}: each person's message once");
    }
}
