//! Policies on the durable runtime (fjall on disk): the send history that
//! caps count and the entries that entry limits count survive restarts.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use waymark::runtime::{ManualClock, Waymark};
use waymark_channels::MemoryChannel;
use waymark_core::{Event, parse_timestamp};
use waymark_engine::PoliciesSection;
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

const PING: &str = "id: ping\nentry: { event: Ping, re_entry: after_exit }\nnodes:\n  - { id: hello, type: send, channel: email, template: t }\n";
const LAUNCH: &str = "id: launch\nentry: { event: Signed Up, limit: { max: 2, per: 1d } }\nnodes:\n  - { id: hello, type: send, channel: email, template: t }\n";

fn runtime(dir: &Path, clock: &Arc<ManualClock>, channel: &Arc<MemoryChannel>) -> Waymark {
    let section: PoliciesSection =
        serde_json::from_value(json!({ "caps": [{ "channel": "any", "max": 1, "per": "1d" }] }))
            .unwrap();
    Waymark::builder()
        .store(Arc::new(FjallStore::open(dir).unwrap()))
        .journeys([
            parse_journey(Path::new("ping.yaml"), PING).unwrap(),
            parse_journey(Path::new("launch.yaml"), LAUNCH).unwrap(),
        ])
        .policies(section.check().unwrap())
        .clock(clock.clone())
        .default_channel(channel.clone())
        .build()
        .unwrap()
}

fn event(user: &str, name: &str, id: &str) -> Event {
    Event::from_json_str(&format!(
        r#"{{"type":"track","messageId":"{id}","userId":"{user}","event":"{name}","context":{{"traits":{{"email":"{user}@example.com"}}}},"timestamp":"2026-11-30T10:00:00Z"}}"#
    ))
    .unwrap()
}

#[tokio::test]
async fn caps_and_entry_limits_count_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-11-30T10:00:00Z").unwrap(),
    ));
    let channel = Arc::new(MemoryChannel::new());
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        let first = [
            event("ada", "Ping", "p1"),
            event("ada", "Signed Up", "s1"),
            event("bo", "Signed Up", "s2"),
        ];
        // Ada's ping is sent; her sign-up's send is capped; Bo's is sent.
        assert_eq!(waymark.ingest_batch(&first, None).unwrap().sends, 2);
    }
    clock.advance(chrono::TimeDelta::hours(2));
    let waymark = runtime(dir.path(), &clock, &channel);
    // Ada's cap still counts her morning send; the launch's limit (2 a
    // day) still counts Ada's and Bo's entries: Cy is turned away.
    let ping = waymark.ingest_batch(&[event("ada", "Ping", "p2")], None);
    assert_eq!(ping.unwrap().sends, 0, "capped");
    let cy = waymark.ingest_batch(&[event("cy", "Signed Up", "s3")], None);
    assert_eq!(cy.unwrap().sends, 0, "over the entry limit");
    let stats = waymark.stats();
    assert_eq!(stats.instances_active, 0);
    clock.advance(chrono::TimeDelta::days(1));
    let next_day = [event("ada", "Ping", "p3"), event("dee", "Signed Up", "s4")];
    assert_eq!(waymark.ingest_batch(&next_day, None).unwrap().sends, 2);
}
