//! Real-world identity tangles, as Segment events.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use waymark_core::{Event, Identifier};
use waymark_identity::{Identity, IdentityConfig};

fn ingest(identity: &mut Identity, lines: &[&str]) -> Vec<waymark_identity::Resolved> {
    lines
        .iter()
        .map(|l| {
            identity
                .ingest(&Event::from_json_str(l).unwrap())
                .expect("resolves")
        })
        .collect()
}

fn id(text: &str) -> Identifier {
    text.parse().unwrap()
}

#[test]
fn a_shared_family_ipad_stays_two_people() {
    let mut identity = Identity::new(IdentityConfig::default());
    ingest(
        &mut identity,
        &[
            r#"{"type":"identify","messageId":"1","userId":"mum","traits":{"email":"mum@family.example"},"context":{"device":{"id":"ipad-1"}},"timestamp":"2026-01-01T18:00:00Z"}"#,
            r#"{"type":"track","messageId":"2","userId":"mum","event":"Order Completed","properties":{"revenue":30},"context":{"device":{"id":"ipad-1"}},"timestamp":"2026-01-01T18:05:00Z"}"#,
            r#"{"type":"identify","messageId":"3","userId":"kid","traits":{"email":"kid@family.example"},"context":{"device":{"id":"ipad-1"}},"timestamp":"2026-01-01T19:00:00Z"}"#,
            r#"{"type":"track","messageId":"4","userId":"kid","event":"Game Played","context":{"device":{"id":"ipad-1"}},"timestamp":"2026-01-01T19:05:00Z"}"#,
        ],
    );
    let mum = identity.lookup(&id("user_id=mum")).unwrap();
    let kid = identity.lookup(&id("user_id=kid")).unwrap();
    assert_ne!(mum, kid);
    assert_eq!(
        identity.lookup(&id("device_id=ipad-1")),
        Some(mum.clone()),
        "the device stays with its first user"
    );
    assert_eq!(
        identity.lookup(&id("email=kid@family.example")),
        Some(kid.clone())
    );
    assert!(identity.graph().merge_log().is_empty());
    assert_eq!(identity.profile(&mum).unwrap().revenue, 30.0);
    assert!(
        identity
            .profile(&kid)
            .unwrap()
            .events
            .contains_key("Game Played")
    );
    assert!(
        !identity
            .profile(&mum)
            .unwrap()
            .events
            .contains_key("Game Played")
    );
}

#[test]
fn anonymous_browsing_on_phone_and_laptop_then_login_on_both_is_one_person() {
    let mut identity = Identity::new(IdentityConfig::default());
    let resolved = ingest(
        &mut identity,
        &[
            r#"{"type":"page","messageId":"1","anonymousId":"phone-anon","properties":{"path":"/boots"},"timestamp":"2026-01-01T08:00:00Z"}"#,
            r#"{"type":"page","messageId":"2","anonymousId":"laptop-anon","properties":{"path":"/boots"},"timestamp":"2026-01-01T12:00:00Z"}"#,
            r#"{"type":"track","messageId":"3","anonymousId":"laptop-anon","event":"Cart Updated","properties":{"total":80},"timestamp":"2026-01-01T12:05:00Z"}"#,
            r#"{"type":"identify","messageId":"4","anonymousId":"laptop-anon","userId":"ada","traits":{"email":"Ada@Example.com"},"timestamp":"2026-01-01T12:10:00Z"}"#,
            r#"{"type":"identify","messageId":"5","anonymousId":"phone-anon","userId":"ada","timestamp":"2026-01-01T20:00:00Z"}"#,
        ],
    );
    let ada = identity.lookup(&id("user_id=ada")).unwrap();
    assert_eq!(
        identity.lookup(&id("anonymous_id=phone-anon")),
        Some(ada.clone())
    );
    assert_eq!(
        identity.lookup(&id("anonymous_id=laptop-anon")),
        Some(ada.clone())
    );
    assert_eq!(
        identity.lookup(&id("email=ada@example.com")),
        Some(ada.clone())
    );
    // The phone's profile is the older one, so it survives the merge.
    assert_eq!(ada, resolved[0].profile);
    let merge = &resolved[4].merges[0];
    assert_eq!(merge.loser, resolved[1].profile);
    assert_eq!(merge.linked_by, id("user_id=ada"));
    assert_eq!(merge.message_id, "5");
    let profile = identity.profile(&ada).unwrap();
    assert_eq!(
        profile.events.get("Page Viewed").unwrap().count,
        2,
        "counters add up"
    );
    assert_eq!(profile.events.get("Cart Updated").unwrap().count, 1);
    assert_eq!(profile.traits["email"], "Ada@Example.com");
    assert_eq!(
        identity.profile(&resolved[1].profile).map(|p| p.id.clone()),
        Some(ada),
        "the loser's id resolves to the winner"
    );
}

#[test]
fn alias_links_the_previous_id() {
    let mut identity = Identity::new(IdentityConfig::default());
    let r = ingest(
        &mut identity,
        &[
            r#"{"type":"track","messageId":"1","anonymousId":"a-1","event":"Signed Up","timestamp":"2026-01-01T08:00:00Z"}"#,
            r#"{"type":"alias","messageId":"2","userId":"u-1","previousId":"a-1","timestamp":"2026-01-01T08:01:00Z"}"#,
        ],
    );
    assert_eq!(r[1].profile, r[0].profile);
    assert_eq!(
        identity.lookup(&id("user_id=u-1")),
        Some(r[0].profile.clone())
    );
}

#[test]
fn export_holds_everything_and_forget_keeps_late_events_from_rebuilding() {
    let mut identity = Identity::new(IdentityConfig::default());
    ingest(
        &mut identity,
        &[
            r#"{"type":"identify","messageId":"1","userId":"u-1","anonymousId":"a-1","traits":{"email":"gone@example.com","first_name":"Gus"},"timestamp":"2026-01-01T08:00:00Z"}"#,
        ],
    );
    let export = identity.export(&id("email=gone@example.com")).unwrap();
    assert_eq!(export["profile"]["traits"]["first_name"], "Gus");
    assert_eq!(export["identifiers"].as_array().unwrap().len(), 3);
    let forgotten = identity.forget(&id("user_id=u-1")).unwrap();
    assert_eq!(forgotten.identifiers.len(), 3);
    assert!(identity.lookup(&id("user_id=u-1")).is_none());
    assert!(identity.export(&id("user_id=u-1")).is_none());
    // A late event of the forgotten person rebuilds nothing.
    let late = Event::from_json_str(
        r#"{"type":"track","messageId":"2","userId":"u-1","anonymousId":"a-1","event":"Page Viewed","timestamp":"2026-01-02T08:00:00Z"}"#,
    )
    .unwrap();
    assert!(identity.ingest(&late).is_none());
    assert_eq!(identity.profiles().count(), 0);
}
