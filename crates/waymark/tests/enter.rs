//! Entries by API on the durable runtime (fjall on disk): a person entered
//! once per call id, the call's data in scope, refused with a reason for
//! unknown journeys, journeys not entered by API and calls naming nobody.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use waymark::runtime::{EnterRequest, Entered, Error, ManualClock, OutboxStatus, Waymark};
use waymark_core::parse_timestamp;
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

const RESET: &str = r#"
id: reset
entry: { api: true, where: 'event.properties.reason == "forgot"' }
nodes:
  - { id: link, type: send, channel: email, template: reset }
"#;

const WELCOME: &str = r#"
id: welcome
entry: { event: Signed Up }
nodes:
  - { id: hello, type: send, channel: email, template: t }
"#;

fn runtime(dir: &Path) -> Waymark {
    Waymark::builder()
        .store(Arc::new(FjallStore::open(dir).unwrap()))
        .journeys([
            parse_journey(Path::new("reset.yaml"), RESET).unwrap(),
            parse_journey(Path::new("welcome.yaml"), WELCOME).unwrap(),
        ])
        .clock(Arc::new(ManualClock::new(
            parse_timestamp("2026-11-30T10:00:00Z").unwrap(),
        )))
        .build()
        .unwrap()
}

fn map(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn request(call_id: &str, reason: &str) -> EnterRequest {
    EnterRequest {
        journey: "reset".into(),
        call_id: call_id.into(),
        user_id: Some("ana".into()),
        anonymous_id: None,
        traits: map(json!({"email": "ana@example.com"})),
        data: map(json!({"reason": reason})),
    }
}

#[test]
fn an_entry_by_api_happens_once_per_call_id_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let waymark = runtime(dir.path());
        assert_eq!(
            waymark.enter(&request("call-1", "forgot")).unwrap(),
            Entered::Decided {
                entered: true,
                sends: 1
            }
        );
        assert_eq!(
            waymark.enter(&request("call-1", "forgot")).unwrap(),
            Entered::Repeated
        );
    }
    // Durable when it returned: the retry after a restart changes nothing.
    let waymark = runtime(dir.path());
    assert_eq!(
        waymark.enter(&request("call-1", "forgot")).unwrap(),
        Entered::Repeated
    );
    let outbox = waymark.outbox(OutboxStatus::Pending);
    assert_eq!(outbox.len(), 1);
    let delivery = &outbox[0].delivery;
    assert_eq!(delivery.to.as_deref(), Some("ana@example.com"));
    assert_eq!(delivery.trigger["properties"]["reason"], "forgot");
    assert_eq!(waymark.stats().instances_active, 0, "the journey completed");
}

#[test]
fn the_journeys_entry_rules_see_the_calls_data() {
    let dir = tempfile::tempdir().unwrap();
    let waymark = runtime(dir.path());
    assert_eq!(
        waymark.enter(&request("call-2", "curious")).unwrap(),
        Entered::Decided {
            entered: false,
            sends: 0
        }
    );
}

#[test]
fn calls_that_cannot_enter_anyone_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let waymark = runtime(dir.path());
    let unknown = EnterRequest {
        journey: "nope".into(),
        ..request("c", "forgot")
    };
    assert!(matches!(waymark.enter(&unknown), Err(Error::UnknownJourney(j)) if j == "nope"));
    let by_event = EnterRequest {
        journey: "welcome".into(),
        ..request("c", "forgot")
    };
    assert!(matches!(waymark.enter(&by_event), Err(Error::NotByApi(j)) if j == "welcome"));
    let nobody = EnterRequest {
        user_id: None,
        ..request("c", "forgot")
    };
    assert!(matches!(waymark.enter(&nobody), Err(Error::NoIdentifier)));
    assert_eq!(waymark.stats().profiles, 0, "nothing was applied");
}

#[test]
fn a_call_for_a_forgotten_person_is_refused_again_when_retried() {
    let dir = tempfile::tempdir().unwrap();
    let waymark = runtime(dir.path());
    waymark.enter(&request("call-1", "forgot")).unwrap();
    let ana = waymark_core::Identifier::new(waymark_core::IdentifierKind::UserId, "ana");
    assert!(waymark.forget(&ana).unwrap().is_some());
    for _ in 0..2 {
        assert!(
            matches!(
                waymark.enter(&request("call-2", "forgot")),
                Err(Error::NoIdentifier)
            ),
            "the same answer each time"
        );
    }
    assert_eq!(waymark.stats().profiles, 0, "the person stays forgotten");
}
