//! `waymark-admin model engagement`: everyone's engagement added up, over
//! an event file (then given to test mode with `simulate --model`) and
//! over a worker's store (saved there; a runtime started on the store
//! uses it as the prior of `best_time` waits and `channel: best` sends).
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use waymark::runtime::{ManualClock, OutboxStatus, Waymark};
use waymark_core::{Channel, Event, parse_timestamp};
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

const DIGEST: &str = r#"
id: digest
entry: { event: Signed Up }
nodes:
  - { id: best, type: wait, until: best_time, within: 24h, next: hello }
  - { id: hello, type: send, channel: email, template: hello }
"#;

const WEEKLY: &str = r#"
id: weekly
entry: { event: Week Started, re_entry: { policy: after_exit, cooldown: 1h } }
nodes:
  - { id: tip, type: send, channel: { best_of: [email, push] }, template: tip }
"#;

fn admin(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_waymark-admin"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_population_hour_leads_someone_with_one_open() {
    let dir = tempfile::tempdir().unwrap();
    // Thirty people open at 19:xx UTC, three times each; `early` opened
    // once, at 08:10, then signs up at midnight.
    let mut lines = Vec::new();
    for p in 0..30 {
        for day in 1..=3 {
            lines.push(format!(
                r#"{{"type":"track","messageId":"o{p}-{day}","userId":"p{p}","event":"Email Opened","timestamp":"2026-05-0{day}T19:{:02}:00Z"}}"#,
                p + 10
            ));
        }
    }
    lines.push(r#"{"type":"identify","messageId":"e-i","userId":"early","traits":{"email":"early@example.com"},"timestamp":"2026-05-01T00:00:00Z"}"#.to_owned());
    lines.push(r#"{"type":"track","messageId":"e-o","userId":"early","event":"Email Opened","timestamp":"2026-05-10T08:10:00Z"}"#.to_owned());
    lines.push(r#"{"type":"track","messageId":"e-s","userId":"early","event":"Signed Up","timestamp":"2026-06-01T00:00:00Z"}"#.to_owned());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, lines.join("\n")).unwrap();
    let out = admin(&["model", "engagement", "--events", events.to_str().unwrap()]);
    let model: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(model["model"], "engagement");
    assert_eq!(model["people"], 31);
    assert_eq!(model["hours"][19], 90);
    assert_eq!(model["hours"][8], 1);
    let model_file = dir.path().join("engagement.json");
    std::fs::write(&model_file, model.to_string()).unwrap();
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/hello.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    let journey = dir.path().join("digest.yaml");
    std::fs::write(&journey, DIGEST).unwrap();
    let send_time = |with_model: bool| -> String {
        let mut args = vec![
            "simulate",
            "--journey",
            journey.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
        ];
        if with_model {
            args.extend(["--model", model_file.to_str().unwrap()]);
        }
        let out = admin(&args);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|l| l["kind"] == "send")
            .unwrap()["at"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(send_time(false), "2026-06-01T08:00:00Z", "their own hour");
    assert_eq!(send_time(true), "2026-06-01T19:00:00Z", "the population's");
    // Not a model: refused with the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_waymark-admin"))
        .args(["simulate", "--journey", journey.to_str().unwrap()])
        .args(["--events", events.to_str().unwrap()])
        .args(["--model", journey.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("digest.yaml: not JSON"), "{err}");
}

/// Twenty people who tap pushes and never open email: the first weekly
/// tip goes by email (no data), the next two by push. The runtime decides
/// at its clock's time: the clock follows the events.
fn tappers(waymark: &Waymark, clock: &ManualClock) {
    let start = parse_timestamp("2026-01-05T09:00:00Z").unwrap();
    for p in 0..20 {
        let mut events = vec![format!(
            r#"{{"type":"identify","messageId":"t{p}-i","userId":"t{p}","traits":{{"email":"t{p}@example.com"}},"context":{{"device":{{"id":"d","token":"tok{p}"}}}},"timestamp":"2026-01-01T00:00:00Z"}}"#
        )];
        for week in 0..3 {
            let at = start + chrono::TimeDelta::weeks(week);
            events.push(format!(
                r#"{{"type":"track","messageId":"t{p}-w{week}","userId":"t{p}","event":"Week Started","timestamp":"{}"}}"#,
                waymark_core::format_timestamp(at)
            ));
            if week > 0 {
                events.push(format!(
                    r#"{{"type":"track","messageId":"t{p}-tap{week}","userId":"t{p}","event":"Push Notification Tapped","timestamp":"{}"}}"#,
                    waymark_core::format_timestamp(at + chrono::TimeDelta::hours(1))
                ));
            }
        }
        for event in events {
            let event = Event::from_json_str(&event).unwrap();
            clock.set(event.timestamp);
            waymark.ingest(&event).unwrap();
        }
    }
}

/// The channel of the first tip to someone new on a runtime over `store`.
fn newcomers_channel(store: &Path) -> Channel {
    let waymark = Waymark::builder()
        .store(Arc::new(FjallStore::open(store).unwrap()))
        .journeys([parse_journey(Path::new("weekly.yaml"), WEEKLY).unwrap()])
        .clock(Arc::new(ManualClock::new(
            parse_timestamp("2026-02-01T00:00:00Z").unwrap(),
        )))
        .build()
        .unwrap();
    for event in [
        r#"{"type":"identify","messageId":"n-i","userId":"new","traits":{"email":"new@example.com"},"context":{"device":{"id":"d","token":"tokn"}},"timestamp":"2026-02-01T00:00:00Z"}"#,
        r#"{"type":"track","messageId":"n-w","userId":"new","event":"Week Started","timestamp":"2026-02-01T09:00:00Z"}"#,
    ] {
        waymark
            .ingest(&Event::from_json_str(event).unwrap())
            .unwrap();
    }
    waymark
        .outbox(OutboxStatus::Pending)
        .iter()
        .find(|e| e.delivery.user_id.as_deref() == Some("new"))
        .unwrap()
        .delivery
        .channel
}

#[test]
fn engagement_over_the_store_is_saved_and_guides_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    {
        let clock = Arc::new(ManualClock::new(
            parse_timestamp("2026-01-01T00:00:00Z").unwrap(),
        ));
        let waymark = Waymark::builder()
            .store(Arc::new(FjallStore::open(dir.path()).unwrap()))
            .journeys([parse_journey(Path::new("weekly.yaml"), WEEKLY).unwrap()])
            .clock(clock.clone())
            .build()
            .unwrap();
        tappers(&waymark, &clock);
    }
    let other = tempfile::tempdir().unwrap();
    let store = dir.path().to_str().unwrap();
    // Before any model: the listed order, email.
    assert_eq!(newcomers_channel(other.path()), Channel::Email);
    let out = admin(&["--store", store, "model", "engagement"]);
    let model: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(model["channels"]["email"]["sent"], 20, "{model}");
    assert_eq!(model["channels"]["email"]["engaged"], 0, "{model}");
    assert_eq!(model["channels"]["push"]["sent"], 40, "{model}");
    assert_eq!(model["channels"]["push"]["engaged"], 40, "{model}");
    assert_eq!(model["rates"]["push"], 1.0);
    // Saved: a runtime on the store now starts newcomers on push.
    assert_eq!(newcomers_channel(dir.path()), Channel::Push);
}
