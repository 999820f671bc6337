//! Timers on time: the delivery loop sleeps until the next due time (no
//! polling tick) and a commit that brings earlier work wakes it.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use waymark::runtime::{ManualClock, Waymark};
use waymark_channels::MemoryChannel;
use waymark_core::{Event, Timestamp, parse_timestamp};
use waymark_journey::parse_journey;
use waymark_store::MemoryStore;

const LONG: &str = r#"
id: long
entry: { event: Signed Up }
nodes:
  - { id: later, type: wait, duration: 1h, next: hello }
  - { id: hello, type: send, channel: email, template: t }
"#;

const SHORT: &str = r#"
id: short
entry: { event: Trial Started }
nodes:
  - { id: soon, type: wait, duration: 10m, next: nudge }
  - { id: nudge, type: send, channel: email, template: t }
"#;

fn at(text: &str) -> Timestamp {
    parse_timestamp(text).unwrap()
}

fn event(name: &str, id: &str) -> Event {
    Event::from_json_str(&format!(
        r#"{{"type":"track","messageId":"{id}","userId":"ada","event":"{name}","context":{{"traits":{{"email":"ada@example.com"}}}},"timestamp":"2026-10-01T10:00:00Z"}}"#
    ))
    .unwrap()
}

/// Polls `condition` for up to five seconds.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn the_loop_sleeps_until_the_next_due_time_and_an_earlier_timer_wakes_it() {
    let clock = Arc::new(ManualClock::new(at("2026-10-01T10:00:00Z")));
    let channel = Arc::new(MemoryChannel::new());
    let waymark = Arc::new(
        Waymark::builder()
            .store(Arc::new(MemoryStore::default()))
            .journeys([
                parse_journey(Path::new("long.yaml"), LONG).unwrap(),
                parse_journey(Path::new("short.yaml"), SHORT).unwrap(),
            ])
            .clock(clock.clone())
            .default_channel(channel.clone())
            .build()
            .unwrap(),
    );
    let running = tokio::spawn(Arc::clone(&waymark).run(std::future::pending()));

    // Nothing pending: asleep without a deadline, and it stays asleep.
    eventually("the first round", || waymark.stats().loop_wakeups >= 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(waymark.next_wake(), None);
    assert_eq!(waymark.sleeping_until(), None);
    let idle = waymark.stats().loop_wakeups;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(waymark.stats().loop_wakeups, idle, "no polling tick");

    // A one-hour wait: the loop sleeps until exactly its due time.
    waymark.ingest(&event("Signed Up", "e1")).unwrap();
    eventually("a deadline of an hour", || {
        waymark.sleeping_until() == Some(at("2026-10-01T11:00:00Z"))
    })
    .await;
    assert_eq!(waymark.next_wake(), Some(at("2026-10-01T11:00:00Z")));

    // A ten-minute wait set while it sleeps wakes it, for the earlier time.
    waymark.ingest(&event("Trial Started", "e2")).unwrap();
    eventually("a deadline of ten minutes", || {
        waymark.sleeping_until() == Some(at("2026-10-01T10:10:00Z"))
    })
    .await;

    // At that time the timer fires and its send goes out; then the loop
    // sleeps for the hour's timer again.
    clock.set(at("2026-10-01T10:10:00Z"));
    waymark.wake();
    eventually("the nudge delivered", || channel.delivered().len() == 1).await;
    let nudge = &channel.delivered()[0];
    assert_eq!(nudge.node, "nudge");
    assert_eq!(nudge.decided_at, at("2026-10-01T10:10:00Z"));
    assert_eq!(nudge.sent_at, Some(at("2026-10-01T10:10:00Z")));
    eventually("back to the hour", || {
        waymark.sleeping_until() == Some(at("2026-10-01T11:00:00Z"))
    })
    .await;
    running.abort();
}
