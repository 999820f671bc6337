//! Fencing on the PostgreSQL store: a runtime whose partitions another
//! worker claimed since (a zombie, paused past its session timeout while
//! the group moved on) commits nothing and delivers nothing; the new
//! owner, started on the same store, delivers what was pending once.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use std::path::Path;
use std::sync::Arc;

use support::{PgSchema, postgres_url};
use waymark::runtime::{ManualClock, Waymark};
use waymark_channels::MemoryChannel;
use waymark_core::{Event, parse_timestamp};
use waymark_journey::parse_journey;
use waymark_store::{PostgresConfig, PostgresStore};

const JOURNEY: &str = r#"
id: welcome
entry: { event: Signed Up }
nodes:
  - { id: hello, type: send, channel: webhook, template: hello }
"#;

fn runtime(schema: &PgSchema, clock: &Arc<ManualClock>, channel: &Arc<MemoryChannel>) -> Waymark {
    let store = PostgresStore::open(&PostgresConfig {
        url: postgres_url(),
        schema: schema.0.clone(),
        pool_size: 2,
    })
    .unwrap();
    Waymark::builder()
        .store(Arc::new(store))
        .journeys([parse_journey(Path::new("welcome.yaml"), JOURNEY).unwrap()])
        .clock(clock.clone())
        .default_channel(channel.clone())
        .build()
        .unwrap()
}

fn sign_up(user: &str) -> Event {
    Event::from_json_str(&format!(
        r#"{{"type":"track","messageId":"{user}-s","userId":"{user}","event":"Signed Up","timestamp":"2026-06-01T10:00:00Z"}}"#
    ))
    .unwrap()
}

#[test]
fn a_runtime_whose_partitions_were_claimed_again_writes_and_delivers_nothing() {
    let schema = PgSchema::new("fencing");
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-06-01T10:00:00Z").unwrap(),
    ));
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let partitions = ["events/0".to_owned(), "events/1".to_owned()];
    // The first worker takes both partitions and decides a send, not yet
    // delivered when it is paused.
    let zombie_channel = Arc::new(MemoryChannel::new());
    let zombie = runtime(&schema, &clock, &zombie_channel);
    assert_eq!(
        zombie.claim("worker-1", &partitions).unwrap(),
        [("events/0".to_owned(), 1), ("events/1".to_owned(), 1)]
    );
    zombie.ingest(&sign_up("ada")).unwrap();
    // The group moves on: a second worker on the same store claims them.
    let owner_channel = Arc::new(MemoryChannel::new());
    let owner = runtime(&schema, &clock, &owner_channel);
    assert_eq!(
        owner.claim("worker-2", &partitions).unwrap(),
        [("events/0".to_owned(), 2), ("events/1".to_owned(), 2)]
    );
    assert_eq!(
        owner.epochs(),
        [("events/0".to_owned(), 2), ("events/1".to_owned(), 2)]
    );
    // The zombie wakes: its delivery round is refused before anything goes
    // out, and it takes no more work.
    let refused = tokio.block_on(zombie.deliver_due());
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("owned by another worker")),
        "{refused:?}"
    );
    assert!(zombie.ingest(&sign_up("bob")).is_err());
    assert!(zombie_channel.delivered().is_empty());
    // Given the partitions again (it rejoined the group), it does not take
    // them: its memory of their people is stale. The owner's epochs stand.
    assert!(zombie.claim("worker-1", &partitions).is_err());
    assert_eq!(
        owner.epochs(),
        [("events/0".to_owned(), 2), ("events/1".to_owned(), 2)]
    );
    // The owner delivers the pending send once, and decides on (its epochs
    // still current: the zombie's refused claim took nothing).
    tokio.block_on(owner.deliver_due()).unwrap();
    owner.ingest(&sign_up("cy")).unwrap();
    tokio.block_on(owner.deliver_due()).unwrap();
    let delivered: Vec<Option<String>> = owner_channel
        .delivered()
        .iter()
        .map(|d| d.user_id.clone())
        .collect();
    assert_eq!(delivered, [Some("ada".to_owned()), Some("cy".to_owned())]);
}

#[test]
fn a_zombie_commit_is_refused_whole() {
    let schema = PgSchema::new("fenced_commit");
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-06-01T10:00:00Z").unwrap(),
    ));
    let channel = Arc::new(MemoryChannel::new());
    let zombie = runtime(&schema, &clock, &channel);
    zombie.claim("worker-1", &["events/0".to_owned()]).unwrap();
    let owner = runtime(&schema, &clock, &channel);
    owner.claim("worker-2", &["events/0".to_owned()]).unwrap();
    // The zombie decides for someone and tries to commit: refused, and the
    // store holds nothing of it.
    let refused = zombie.ingest(&sign_up("dan"));
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("owned by another worker")),
        "{refused:?}"
    );
    let reopened = runtime(&schema, &clock, &channel);
    assert_eq!(reopened.stats().profiles, 0);
    assert_eq!(reopened.stats().outbox_pending, 0);
}
