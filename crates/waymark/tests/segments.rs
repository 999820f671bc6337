//! Segments and timed entries on the durable runtime (fjall on disk):
//! membership decided once and kept across restarts, entry timers that
//! survive them, and a timed journey deployed live reaching the people
//! known before it (a schedule's members through the member index).
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;

use waymark::deploy::LoadedJourney;
use waymark::runtime::{ManualClock, Waymark};
use waymark_channels::MemoryChannel;
use waymark_core::{Event, Identifier, parse_timestamp};
use waymark_journey::{Expr, Segment, Segments, parse_journey};
use waymark_store::FjallStore;

const VIP: &str = r#"
id: vip
entry: { segment: buyers }
nodes:
  - { id: thanks, type: send, channel: email, template: t }
"#;

const DIGEST: &str = r#"
id: digest
entry: { schedule: { cron: "0 9 * * MON", timezone: profile, segment: readers }, re_entry: after_exit }
nodes:
  - { id: send, type: send, channel: email, template: t }
"#;

fn segments() -> Segments {
    let segment = |id: &str, cel: &str| Segment::new(id, Expr::compile(cel).unwrap());
    Segments::from_list([
        segment("buyers", r#"profile.events["Order Completed"].count >= 3"#),
        segment("readers", "profile.traits.digest == true"),
    ])
}

fn runtime(dir: &Path, clock: &Arc<ManualClock>, channel: &Arc<MemoryChannel>) -> Waymark {
    Waymark::builder()
        .store(Arc::new(FjallStore::open(dir).unwrap()))
        .journeys([parse_journey(Path::new("vip.yaml"), VIP).unwrap()])
        .segments(segments())
        .clock(clock.clone())
        .default_channel(channel.clone())
        .build()
        .unwrap()
}

fn event(line: &str) -> Event {
    Event::from_json_str(line).unwrap()
}

fn order(user: &str, n: u32) -> Event {
    event(&format!(
        r#"{{"type":"track","messageId":"{user}-o{n}","userId":"{user}","event":"Order Completed","context":{{"traits":{{"email":"{user}@example.com"}}}},"timestamp":"2026-11-02T08:0{n}:00Z"}}"#
    ))
}

fn reader(user: &str, zone: &str, digest: bool) -> Event {
    event(&format!(
        r#"{{"type":"identify","messageId":"{user}-r","userId":"{user}","traits":{{"email":"{user}@example.com","digest":{digest}}},"context":{{"timezone":"{zone}"}},"timestamp":"2026-11-02T08:00:00Z"}}"#
    ))
}

fn start() -> (tempfile::TempDir, Arc<ManualClock>, Arc<MemoryChannel>) {
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-11-02T08:00:00Z").unwrap(),
    ));
    (
        tempfile::tempdir().unwrap(),
        clock,
        Arc::new(MemoryChannel::new()),
    )
}

#[tokio::test]
async fn a_transition_is_decided_once_and_kept_across_restarts() {
    let (dir, clock, channel) = start();
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        let orders: Vec<Event> = (1..=3).map(|n| order("ada", n)).collect();
        assert_eq!(waymark.ingest_batch(&orders, None).unwrap().sends, 1);
    }
    let waymark = runtime(dir.path(), &clock, &channel);
    let export = waymark
        .export(&"user_id=ada".parse::<Identifier>().unwrap())
        .unwrap()
        .unwrap();
    let segments = &export["profile"]["segments"];
    assert!(segments.get("buyers").is_some(), "{export}");
    // A fourth order after the restart: still a member, no new transition.
    assert_eq!(
        waymark
            .ingest_batch(&[order("ada", 4)], None)
            .unwrap()
            .sends,
        0
    );
    waymark.deliver_due().await.unwrap();
    assert_eq!(channel.delivered().len(), 1);
}

#[tokio::test]
async fn a_schedule_deployed_live_reaches_the_members_known_before_it() {
    let (dir, clock, channel) = start();
    let digest = || LoadedJourney {
        journey: parse_journey(Path::new("digest.yaml"), DIGEST).unwrap(),
        active: true,
        held: false,
    };
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        let people = [
            reader("berlin", "Europe/Berlin", true),
            reader("tokyo", "Asia/Tokyo", true),
            reader("lurker", "Europe/Berlin", false),
        ];
        waymark.ingest_batch(&people, None).unwrap();
        assert_eq!(waymark.stats().timers_pending, 0, "no schedule yet");
    }
    {
        // After a restart, the member index is rebuilt from the profiles.
        let waymark = runtime(dir.path(), &clock, &channel);
        waymark.apply_journey(digest());
        assert_eq!(waymark.stats().timers_pending, 2, "one per member");
    }
    // The timers are in the store: after another restart they fire at
    // 09:00 local on Monday 9 November; deploying again changes nothing.
    let waymark = runtime(dir.path(), &clock, &channel);
    waymark.apply_journey(digest());
    assert_eq!(waymark.stats().timers_pending, 2, "the same two");
    clock.set(parse_timestamp("2026-11-09T00:00:00Z").unwrap());
    assert_eq!(
        waymark.fire_due_timers().unwrap(),
        1,
        "Tokyo's 09:00 is 00:00 UTC"
    );
    clock.set(parse_timestamp("2026-11-09T08:00:00Z").unwrap());
    assert_eq!(
        waymark.fire_due_timers().unwrap(),
        1,
        "Berlin's is 08:00 UTC"
    );
    waymark.deliver_due().await.unwrap();
    let mut to: Vec<String> = channel
        .delivered()
        .iter()
        .filter_map(|d| d.to.clone())
        .collect();
    to.sort();
    assert_eq!(to, ["berlin@example.com", "tokyo@example.com"]);
    assert_eq!(
        waymark.stats().timers_pending,
        2,
        "and the next Monday's are set"
    );
}
