//! `waymark-admin --store`: live state of a worker's store, administered.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use waymark::runtime::{ManualClock, Waymark};
use waymark_channels::{DeliveryError, MemoryChannel};
use waymark_core::{Event, parse_timestamp};
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

fn admin(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waymark-admin"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A store holding two people in a journey: one delivery failed for good,
/// one timer pending each.
async fn prepare(dir: &Path) {
    let journey = parse_journey(
        Path::new("j.yaml"),
        "id: j\nentry: { event: Signed Up }\nnodes:\n  - { id: hi, type: send, channel: email, template: t, next: w }\n  - { id: w, type: wait, duration: 1d }\n",
    )
    .unwrap();
    let channel = Arc::new(MemoryChannel::new());
    let waymark = Waymark::builder()
        .store(Arc::new(FjallStore::open(dir).unwrap()))
        .journeys([journey])
        .clock(Arc::new(ManualClock::new(
            parse_timestamp("2026-10-01T10:00:00Z").unwrap(),
        )))
        .default_channel(channel.clone())
        .build()
        .unwrap();
    let lines = [
        r#"{"type":"identify","messageId":"1","userId":"ada","anonymousId":"a-1","traits":{"email":"ada@example.com"},"timestamp":"2026-10-01T09:00:00Z"}"#,
        r#"{"type":"track","messageId":"2","userId":"ada","event":"Signed Up","timestamp":"2026-10-01T09:00:01Z"}"#,
        r#"{"type":"identify","messageId":"3","userId":"bo","traits":{"email":"bo@example.com"},"timestamp":"2026-10-01T09:00:00Z"}"#,
        r#"{"type":"track","messageId":"4","userId":"bo","event":"Signed Up","timestamp":"2026-10-01T09:00:01Z"}"#,
    ];
    let events: Vec<Event> = lines
        .iter()
        .map(|l| Event::from_json_str(l).unwrap())
        .collect();
    waymark.ingest_batch(&events, None).unwrap();
    channel.fail_next(DeliveryError::Permanent {
        reason: "550 mailbox unavailable".into(),
    });
    let report = waymark.deliver_due().await.unwrap();
    assert_eq!((report.failed, report.delivered), (1, 1));
}

#[tokio::test]
async fn profiles_timers_and_outbox_over_the_store() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let store = dir.path();

    let show = admin(store, &["profile", "show", "email=ADA@example.com"]);
    assert!(show.status.success(), "{}", text(&show));
    let profile: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(profile["user_id"], "ada");

    let export = admin(store, &["profile", "export", "ada"]);
    let export: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(export["instances"][0]["journey"], "j");

    let timers = admin(
        store,
        &["timers", "list", "--due-before", "2026-10-03T00:00:00Z"],
    );
    assert_eq!(
        String::from_utf8_lossy(&timers.stdout).lines().count(),
        2,
        "{}",
        text(&timers)
    );
    let none = admin(
        store,
        &["timers", "list", "--due-before", "2026-10-01T12:00:00Z"],
    );
    assert_eq!(String::from_utf8_lossy(&none.stdout).lines().count(), 0);

    let failed = admin(store, &["outbox", "list", "--status", "failed"]);
    let failed_text = String::from_utf8_lossy(&failed.stdout).into_owned();
    assert_eq!(failed_text.lines().count(), 1, "{}", text(&failed));
    assert!(failed_text.contains("550 mailbox unavailable"));
    let retry = admin(store, &["outbox", "retry"]);
    assert!(
        String::from_utf8_lossy(&retry.stdout).contains("1 failed deliveries put back in line")
    );
    let pending = admin(store, &["outbox", "list", "--status", "pending"]);
    assert_eq!(String::from_utf8_lossy(&pending.stdout).lines().count(), 1);

    // Forget Ada: her timer and undelivered message go with her.
    let forget = admin(store, &["profile", "forget", "anonymous_id=a-1"]);
    assert!(forget.status.success(), "{}", text(&forget));
    let gone = admin(store, &["profile", "show", "ada"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone).contains("no profile holds user_id=ada"));
    let timers = admin(store, &["timers", "list"]);
    let timers = String::from_utf8_lossy(&timers.stdout).into_owned();
    assert_eq!(
        timers.lines().count(),
        1,
        "only Bo's timer is left: {timers}"
    );
    let pending = admin(store, &["outbox", "list", "--status", "pending"]);
    assert!(
        !String::from_utf8_lossy(&pending.stdout).contains("ada"),
        "no delivery to a forgotten person"
    );
}

#[test]
fn a_missing_store_is_named() {
    let out = admin(Path::new("/nonexistent/store"), &["timers", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("/nonexistent/store: no store here"),
        "{}",
        text(&out)
    );
}

/// Deploy, list, pause, resume and archive through the CLI; the runtime
/// built from the store honours them.
#[test]
fn journey_versions_and_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let journey = dir.path().join("welcome.yaml");
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/t.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    let v1 = "id: welcome\nentry: { event: Signed Up }\nnodes:\n  - { id: hi, type: send, channel: email, template: t }\n";
    std::fs::write(&journey, v1).unwrap();
    let deploy = |store: &Path| admin(store, &["journey", "deploy", journey.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&deploy(&store).stdout),
        "deployed welcome v1\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&deploy(&store).stdout),
        "unchanged welcome v1\n"
    );
    std::fs::write(&journey, v1.replace("Signed Up", "Account Created")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&deploy(&store).stdout),
        "deployed welcome v2\n"
    );
    let all = admin(&store, &["journey", "list", "--all"]);
    let all = String::from_utf8_lossy(&all.stdout).into_owned();
    assert!(
        all.contains("welcome\tv1\tsuperseded") && all.contains("welcome\tv2\tactive"),
        "{all}"
    );

    let enters = |store: &Path, message: &str| -> usize {
        let fjall = Arc::new(FjallStore::open(store).unwrap());
        let waymark = Waymark::builder()
            .store(fjall.clone())
            .deployed(waymark::deploy::load(fjall.as_ref()).unwrap())
            .default_channel(Arc::new(MemoryChannel::new()))
            .build()
            .unwrap();
        let e = Event::from_json_str(&format!(
            r#"{{"type":"track","messageId":"{message}","userId":"u","event":"Account Created","context":{{"traits":{{"email":"u@example.com"}}}},"timestamp":"2026-10-01T09:00:00Z"}}"#
        ))
        .unwrap();
        waymark.ingest(&e).unwrap().sends
    };
    assert_eq!(
        String::from_utf8_lossy(&admin(&store, &["journey", "pause", "welcome"]).stdout),
        "paused welcome v2\n"
    );
    assert_eq!(
        enters(&store, "m1"),
        0,
        "a paused journey takes no new entrants"
    );
    admin(&store, &["journey", "resume", "welcome"]);
    assert_eq!(enters(&store, "m2"), 1);
    admin(&store, &["journey", "archive", "welcome"]);
    let listed = admin(&store, &["journey", "list"]);
    assert!(
        listed.stdout.is_empty(),
        "archived journeys are hidden: {}",
        text(&listed)
    );
    let unknown = admin(&store, &["journey", "pause", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown).contains("no journey `nope` is deployed"));
}

/// `pause --hold` keeps people where they are: their timers wait until
/// `resume`; a plain pause lets them carry on.
#[test]
fn a_held_journey_keeps_its_people_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/t.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    let journey = dir.path().join("drip.yaml");
    std::fs::write(
        &journey,
        "id: drip\nentry: { event: Signed Up }\nnodes:\n  - { id: w, type: wait, duration: 1h, next: hi }\n  - { id: hi, type: send, channel: email, template: t }\n",
    )
    .unwrap();
    admin(&store, &["journey", "deploy", journey.to_str().unwrap()]);
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-10-01T10:00:00Z").unwrap(),
    ));
    let open = |clock: &Arc<ManualClock>| {
        let fjall = Arc::new(FjallStore::open(&store).unwrap());
        Waymark::builder()
            .store(fjall.clone())
            .deployed(waymark::deploy::load(fjall.as_ref()).unwrap())
            .clock(clock.clone())
            .default_channel(Arc::new(MemoryChannel::new()))
            .build()
            .unwrap()
    };
    {
        let waymark = open(&clock);
        let e = Event::from_json_str(
            r#"{"type":"track","messageId":"d1","userId":"u","event":"Signed Up","context":{"traits":{"email":"u@example.com"}},"timestamp":"2026-10-01T10:00:00Z"}"#,
        )
        .unwrap();
        waymark.ingest(&e).unwrap();
    }
    let paused = admin(&store, &["journey", "pause", "drip", "--hold"]);
    assert_eq!(
        String::from_utf8_lossy(&paused.stdout),
        "paused drip v1 (people in it held)\n"
    );
    clock.advance(chrono::TimeDelta::hours(2));
    {
        let waymark = open(&clock);
        assert_eq!(
            waymark.fire_due_timers().unwrap(),
            0,
            "held: the overdue timer waits"
        );
        assert_eq!(waymark.stats().timers_pending, 1);
    }
    admin(&store, &["journey", "pause", "drip"]);
    let waymark = open(&clock);
    assert_eq!(
        waymark.fire_due_timers().unwrap(),
        1,
        "paused without hold: people carry on"
    );
    assert_eq!(waymark.stats().outbox_pending, 1);
}

#[test]
fn journey_enter_enters_once_per_call_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let journeys = dir.path().join("journeys");
    std::fs::create_dir_all(journeys.join("templates")).unwrap();
    std::fs::write(
        journeys.join("reset.yaml"),
        "id: reset\nentry: { api: true }\nnodes:\n  - { id: link, type: send, channel: email, template: reset }\n",
    )
    .unwrap();
    std::fs::write(
        journeys.join("templates/reset.yaml"),
        "channel: email\nsubject: Reset\ntext: 'Your code: {{ event.properties.code }}'\n",
    )
    .unwrap();
    let deployed = admin(
        &store,
        &[
            "journey",
            "deploy",
            journeys.join("reset.yaml").to_str().unwrap(),
        ],
    );
    assert!(deployed.status.success(), "{}", text(&deployed));
    let enter = |id: &str| {
        admin(
            &store,
            &[
                "journey",
                "enter",
                "reset",
                "--id",
                id,
                "--user",
                "cy",
                "--email",
                "cy@example.com",
                "--data",
                r#"{"code":"123456"}"#,
            ],
        )
    };
    let first = enter("c-1");
    assert!(first.status.success(), "{}", text(&first));
    let answer: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(answer["entered"], true, "{answer}");
    let again = enter("c-1");
    let answer: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(answer["repeated"], true, "{answer}");
    let outbox = admin(&store, &["outbox", "list", "--status", "pending"]);
    let listed = text(&outbox);
    assert_eq!(listed.matches("cy@example.com").count(), 1, "{listed}");
    assert!(
        listed.contains("123456"),
        "the call's data rides along: {listed}"
    );

    let unknown = admin(&store, &["journey", "enter", "nope", "--user", "cy"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("no active journey `nope`"),
        "{}",
        text(&unknown)
    );
}
