//! Delivery through the runtime: templates rendered for the person at send
//! time, render failures failing only that delivery, signed unsubscribe
//! links, provider outcomes coming back as events (a hard bounce makes the
//! address unreachable), and channels that cannot sync retried.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;

use waymark::runtime::{ManualClock, OutboxStatus, Waymark};
use waymark_channels::signing::UnsubscribeSigner;
use waymark_channels::{DeliveryError, MemoryChannel};
use waymark_core::{Event, parse_timestamp};
use waymark_journey::{Templates, parse_journey};
use waymark_store::FjallStore;

const JOURNEY: &str = r#"
id: welcome
entry: { event: Signed Up }
nodes:
  - { id: hello, type: send, channel: email, template: hello, next: later }
  - { id: later, type: wait, duration: 1h, next: again }
  - { id: again, type: send, channel: email, template: hello }
"#;

fn templates(dir: &Path, hello: &str) -> Templates {
    let dir = dir.join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.yaml"), hello).unwrap();
    Templates::load_dir(&dir).unwrap()
}

fn runtime(
    dir: &Path,
    clock: &Arc<ManualClock>,
    channel: &Arc<MemoryChannel>,
    templates: Templates,
) -> Waymark {
    Waymark::builder()
        .store(Arc::new(FjallStore::open(&dir.join("store")).unwrap()))
        .journeys([parse_journey(Path::new("welcome.yaml"), JOURNEY).unwrap()])
        .clock(clock.clone())
        .default_channel(channel.clone())
        .templates(templates)
        .unsubscribe(UnsubscribeSigner::new(
            "s3cret",
            "https://acme.example/unsubscribe",
        ))
        .build()
        .unwrap()
}

fn events(user: &str, first_name: Option<&str>) -> Vec<Event> {
    let name = first_name.map_or(String::new(), |n| format!(r#","first_name":"{n}""#));
    [
        format!(
            r#"{{"type":"identify","messageId":"i-{user}","userId":"{user}","traits":{{"email":"{user}@example.com"{name}}},"timestamp":"2026-10-01T09:00:00Z"}}"#
        ),
        format!(
            r#"{{"type":"track","messageId":"s-{user}","userId":"{user}","event":"Signed Up","properties":{{"plan":"pro"}},"timestamp":"2026-10-01T09:00:01Z"}}"#
        ),
    ]
    .iter()
    .map(|l| Event::from_json_str(l).unwrap())
    .collect()
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        parse_timestamp("2026-10-01T10:00:00Z").unwrap(),
    ))
}

const HELLO: &str = r#"channel: email
subject: 'Welcome, {{ profile.traits.first_name | default: "friend" }}'
text: 'Your {{ event.properties.plan }} plan is ready. ({{ journey.id }}) Unsubscribe: {{ unsubscribe_url }}'
"#;

#[tokio::test]
async fn templates_render_for_the_person_with_a_signed_unsubscribe_link() {
    let dir = tempfile::tempdir().unwrap();
    let channel = Arc::new(MemoryChannel::new());
    let waymark = runtime(dir.path(), &clock(), &channel, templates(dir.path(), HELLO));
    waymark
        .ingest_batch(&events("ana", Some("Ana")), None)
        .unwrap();
    waymark.ingest_batch(&events("bo", None), None).unwrap();
    assert_eq!(waymark.deliver_due().await.unwrap().delivered, 2);
    let sent = channel.delivered();
    let ana = sent
        .iter()
        .find(|d| d.user_id.as_deref() == Some("ana"))
        .unwrap();
    assert_eq!(ana.text("subject"), Some("Welcome, Ana"));
    let bo = sent
        .iter()
        .find(|d| d.user_id.as_deref() == Some("bo"))
        .unwrap();
    assert_eq!(
        bo.text("subject"),
        Some("Welcome, friend"),
        "a missing trait falls back"
    );
    let url = ana.unsubscribe_url.as_deref().unwrap();
    assert_eq!(
        ana.text("text").unwrap(),
        format!("Your pro plan is ready. (welcome) Unsubscribe: {url}")
    );
    let token = url.split("token=").nth(1).unwrap();
    let claim = UnsubscribeSigner::new("s3cret", "https://acme.example/unsubscribe")
        .verify(token)
        .unwrap();
    assert_eq!(
        (claim.id.as_str(), claim.channel.as_str()),
        ("ana", "email")
    );
}

#[tokio::test]
async fn a_render_failure_fails_that_delivery_with_the_reason_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let channel = Arc::new(MemoryChannel::new());
    let broken =
        "channel: email\nsubject: '{{ 10 | divided_by: event.properties.zero }}'\ntext: hi\n";
    let waymark = runtime(
        dir.path(),
        &clock(),
        &channel,
        templates(dir.path(), broken),
    );
    waymark.ingest_batch(&events("ana", None), None).unwrap();
    let report = waymark.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.failed), (0, 1));
    let failed = waymark.outbox(OutboxStatus::Failed);
    let reason = failed[0].last_error.as_deref().unwrap();
    assert!(
        reason.contains("render: template `hello`, field `subject`"),
        "{reason}"
    );
    assert!(channel.calls().is_empty(), "the provider was never called");
    // The runtime carries on.
    waymark.ingest_batch(&events("bo", None), None).unwrap();
    assert_eq!(waymark.stats().instances_active, 2);
}

#[tokio::test]
async fn a_hard_bounce_comes_back_as_an_event_and_makes_the_address_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let channel = Arc::new(MemoryChannel::reporting_outcomes());
    let waymark = runtime(dir.path(), &clock, &channel, templates(dir.path(), HELLO));
    waymark.ingest_batch(&events("ana", None), None).unwrap();
    waymark.ingest_batch(&events("bo", None), None).unwrap();
    channel.fail_next(DeliveryError::Permanent {
        reason: "email: refused: 550 5.1.1 no such user".into(),
    });
    let report = waymark.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.failed), (1, 1));
    let bounced = waymark.outbox(OutboxStatus::Failed)[0]
        .delivery
        .user_id
        .clone()
        .unwrap();
    let delivered = if bounced == "ana" { "bo" } else { "ana" };
    let profile = |user: &str| {
        let id = waymark_core::Identifier {
            kind: waymark_core::IdentifierKind::UserId,
            value: user.to_owned(),
        };
        waymark.export(&id).unwrap().unwrap()
    };
    let events_of = |user: &str| profile(user)["profile"]["events"].clone();
    assert!(
        events_of(&bounced).get("Email Bounced").is_some(),
        "{}",
        events_of(&bounced)
    );
    assert!(events_of(delivered).get("Email Delivered").is_some());
    // An hour later the second email goes to the one still reachable only.
    clock.advance(chrono::TimeDelta::hours(2));
    waymark.fire_due_timers().unwrap();
    let report = waymark.deliver_due().await.unwrap();
    assert_eq!(report.delivered, 1);
    let last = channel.delivered().last().unwrap().clone();
    assert_eq!(last.user_id.as_deref(), Some(delivered));
    assert_eq!(last.node, "again");
}

#[tokio::test]
async fn what_a_channel_could_not_make_durable_is_retried_and_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let channel = Arc::new(MemoryChannel::new());
    let waymark = runtime(dir.path(), &clock, &channel, templates(dir.path(), HELLO));
    waymark.ingest_batch(&events("ana", None), None).unwrap();
    channel.fail_next_sync();
    let report = waymark.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.retried), (0, 1));
    assert_eq!(waymark.stats().outbox_pending, 1);
    clock.advance(chrono::TimeDelta::minutes(5));
    assert_eq!(waymark.deliver_due().await.unwrap().delivered, 1);
    assert_eq!(waymark.deliver_due().await.unwrap().delivered, 0);
    assert_eq!(channel.delivered().len(), 1, "one message for one key");
    assert_eq!(channel.calls().len(), 2, "the retry carried the same key");
    assert_eq!(channel.calls()[0], channel.calls()[1]);
}
