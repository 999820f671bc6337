//! Email providers' event webhooks into the runtime: SendGrid's signed
//! Event Webhook (ECDSA P-256, a key made here) and Postmark's (basic
//! auth in the URL). Events about a person Waymark emailed reach her
//! profile; a bad signature or credentials is 403 and changes nothing.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use serde_json::{Value, json};
use waymark::Waymark;
use waymark_http::HttpConfig;

fn post(addr: SocketAddr, path: &str, headers: &str, body: &[u8]) -> u16 {
    let headers = format!("Content-Type: application/json\r\n{headers}");
    support::exchange(addr, "POST", path, &headers, body).0
}

fn profile(waymark: &Waymark, user: &str) -> Value {
    let id: waymark_core::Identifier = format!("user_id={user}").parse().unwrap();
    waymark.export(&id).unwrap().unwrap()["profile"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendgrid_and_postmark_events_reach_the_person() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
    let public = b64.encode(key.public_key_to_der().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let waymark = support::runtime(
        dir.path(),
        &[
            "id: j\nentry: { event: Signed Up }\nnodes:\n  - { id: hold, type: wait, duration: 1d }\n",
        ],
    );
    let config = HttpConfig {
        write_keys: vec!["dev-key".into()],
        sendgrid_public_key: Some(public),
        postmark_credentials: Some("hooks:s3cret".into()),
        ..HttpConfig::default()
    };
    let addr = support::serve(&waymark, config, None).await;

    let w = Arc::clone(&waymark);
    tokio::task::spawn_blocking(move || {
        let identify = br#"{"userId":"ana","traits":{"email":"ana@example.com"}}"#;
        assert_eq!(post(addr, "/v1/identify", "Authorization: Basic ZGV2LWtleTo=\r\n", identify), 200);

        // SendGrid: an open, a hard bounce, and an event about someone
        // Waymark did not email (no custom args): dropped, not refused.
        let body = serde_json::to_vec(&json!([
            {"email": "ana@example.com", "timestamp": 1_790_000_000, "event": "open", "sg_event_id": "e1", "waymark_user": "ana", "waymark_key": "j:p:1/1/send:email"},
            {"email": "ana@example.com", "timestamp": 1_790_000_100, "event": "bounce", "sg_event_id": "e2", "reason": "550 no such user", "waymark_user": "ana", "waymark_key": "j:p:1/1/send:email"},
            {"email": "someone@example.com", "timestamp": 1_790_000_100, "event": "open", "sg_event_id": "e3"},
        ]))
        .unwrap();
        let timestamp = "1790000200";
        let sign = |body: &[u8]| {
            let mut signed = timestamp.as_bytes().to_vec();
            signed.extend_from_slice(body);
            let digest = openssl::sha::sha256(&signed);
            let sig = openssl::ecdsa::EcdsaSig::sign(&digest, &key).unwrap();
            b64.encode(sig.to_der().unwrap())
        };
        let headers = |signature: &str| {
            format!(
                "X-Twilio-Email-Event-Webhook-Signature: {signature}\r\nX-Twilio-Email-Event-Webhook-Timestamp: {timestamp}\r\n"
            )
        };
        // Signed for another body: refused, nothing recorded.
        let forged = headers(&sign(b"[]"));
        assert_eq!(post(addr, "/webhooks/sendgrid", &forged, &body), 403);
        assert!(profile(&w, "ana")["events"].get("Email Opened").is_none());
        assert_eq!(post(addr, "/webhooks/sendgrid", &headers(&sign(&body)), &body), 200);
        let ana = profile(&w, "ana");
        assert_eq!(ana["events"]["Email Opened"]["count"], 1, "{ana}");
        assert_eq!(ana["events"]["Email Bounced"]["count"], 1, "{ana}");
        assert_eq!(ana["undeliverable"], json!(["ana@example.com"]), "a hard bounce: {ana}");
        // SendGrid retries: the same events are recognised.
        assert_eq!(post(addr, "/webhooks/sendgrid", &headers(&sign(&body)), &body), 200);
        assert_eq!(profile(&w, "ana")["events"]["Email Opened"]["count"], 1);

        // Postmark: a click, with the credentials of its webhook URL.
        let click = serde_json::to_vec(&json!({
            "RecordType": "Click", "MessageID": "pm-1", "Recipient": "ana@example.com",
            "OriginalLink": "https://acme.example/pricing", "ReceivedAt": "2026-10-01T10:00:00Z",
            "Metadata": {"waymark_user": "ana", "waymark_key": "j:p:1/1/send:email"}
        }))
        .unwrap();
        let wrong = format!("Authorization: Basic {}\r\n", b64.encode("hooks:guess"));
        assert_eq!(post(addr, "/webhooks/postmark", &wrong, &click), 403);
        assert!(profile(&w, "ana")["events"].get("Email Link Clicked").is_none());
        let right = format!("Authorization: Basic {}\r\n", b64.encode("hooks:s3cret"));
        assert_eq!(post(addr, "/webhooks/postmark", &right, &click), 200);
        assert_eq!(profile(&w, "ana")["events"]["Email Link Clicked"]["count"], 1);
        assert_eq!(post(addr, "/webhooks/postmark", &right, b"not json"), 400);
    })
    .await
    .unwrap();
}
