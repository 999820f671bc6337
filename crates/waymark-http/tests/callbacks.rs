//! The routes over a real socket into a runtime on fjall: the tracking
//! API's auth, durability before 200, reasons on 400, batches and retries
//! without a messageId; one-click unsubscribe; Twilio's signed callbacks;
//! an event from the year 9999.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use waymark::Waymark;
use waymark_channels::MemoryChannel;
use waymark_channels::signing::{UnsubscribeClaim, UnsubscribeSigner, twilio_signature};
use waymark_http::{Front, HttpConfig, RuntimeSink, router};
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

/// `dev-key:` in base64.
const AUTH: &str = "Authorization: Basic ZGV2LWtleTo=\r\n";

/// One HTTP/1.1 request with a content type and extra header lines (each
/// ending in CRLF); returns the status and the body.
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    headers: &str,
    body: &str,
) -> (u16, String) {
    let headers = format!("Content-Type: {content_type}\r\n{headers}");
    support::exchange(addr, method, path, &headers, body.as_bytes())
}

async fn serve(dir: &Path) -> (SocketAddr, Arc<Waymark>) {
    let journey = parse_journey(
        Path::new("j.yaml"),
        "id: j\nentry: { event: Signed Up }\nnodes:\n  - { id: hi, type: send, channel: email, template: t }\n",
    )
    .unwrap();
    let waymark = Arc::new(
        Waymark::builder()
            .store(Arc::new(FjallStore::open(dir).unwrap()))
            .journeys([journey])
            .default_channel(Arc::new(MemoryChannel::new()))
            .build()
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = HttpConfig {
        write_keys: vec!["dev-key".into()],
        public_url: Some("https://hooks.example.com".into()),
        twilio_auth_token: Some("twilio-token".into()),
        ..HttpConfig::default()
    };
    let front = Front::new(
        config,
        Box::new(RuntimeSink::new(Arc::clone(&waymark))),
        Some(UnsubscribeSigner::new(
            "unsub-secret",
            "http://127.0.0.1/unsubscribe",
        )),
    );
    tokio::spawn(async move { axum::serve(listener, router(Arc::new(front))).await });
    (addr, waymark)
}

async fn call(
    addr: SocketAddr,
    path: &'static str,
    auth: &'static str,
    body: String,
) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        exchange(addr, "POST", path, "application/json", auth, &body)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_tracking_api() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, waymark) = serve(dir.path()).await;
    let track =
        r#"{"userId":"ana","event":"Signed Up","context":{"traits":{"email":"ana@example.com"}}}"#
            .to_owned();

    let (status, body) = call(addr, "/v1/track", "", track.clone()).await;
    assert_eq!(status, 401, "{body}");

    // 200 only once durable: the send is already in the outbox.
    let (status, body) = call(addr, "/v1/track", AUTH, track.clone()).await;
    assert_eq!((status, body.as_str()), (200, r#"{"success":true}"#));
    assert_eq!(waymark.stats().outbox_pending, 1);
    // An identical retry without a messageId is recognised.
    let (status, _) = call(addr, "/v1/track", AUTH, track).await;
    assert_eq!(status, 200);
    assert_eq!(
        waymark.stats().outbox_pending,
        1,
        "the retry changed nothing"
    );

    let (status, body) = call(addr, "/v1/track", AUTH, r#"{"userId":"ana"}"#.to_owned()).await;
    assert_eq!(status, 400);
    assert!(body.contains("field `event`: is required"), "{body}");
    let (status, body) = call(addr, "/v1/identify", AUTH, "{not json".to_owned()).await;
    assert_eq!(status, 400);
    assert!(body.contains("not valid JSON"), "{body}");
    let (status, _) = call(addr, "/v1/purchase", AUTH, "{}".to_owned()).await;
    assert_eq!(status, 404);

    let batch = r#"{"batch":[
        {"type":"identify","userId":"bo","traits":{"email":"bo@example.com"},"messageId":"b1"},
        {"type":"track","userId":"bo","event":"Signed Up","messageId":"b2"},
        {"type":"page","anonymousId":"x","name":"Home","messageId":"b3"}
    ]}"#;
    let (status, body) = call(addr, "/v1/batch", AUTH, batch.to_owned()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(waymark.stats().outbox_pending, 2);

    let bad = r#"{"batch":[{"type":"track","userId":"cy","event":"Signed Up"},{"type":"track","userId":7,"event":"X"}]}"#;
    let (status, body) = call(addr, "/v1/batch", AUTH, bad.to_owned()).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("batch[1]: field `userId`: must be a string"),
        "{body}"
    );
    assert_eq!(
        waymark.stats().profiles,
        3,
        "a refused batch changes nothing"
    );

    let huge = format!(
        r#"{{"userId":"ana","event":"Signed Up","properties":{{"blob":"{}"}}}}"#,
        "x".repeat(40_000)
    );
    let (status, _) = call(addr, "/v1/track", AUTH, huge).await;
    assert_eq!(status, 413);
}

/// One form-encoded request of any method with extra header lines.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: String,
    headers: String,
    body: String,
) -> (u16, String) {
    let method = method.to_owned();
    tokio::task::spawn_blocking(move || {
        exchange(
            addr,
            &method,
            &path,
            "application/x-www-form-urlencoded",
            &headers,
            &body,
        )
    })
    .await
    .unwrap()
}

fn profile(waymark: &Waymark, user: &str) -> serde_json::Value {
    let id: waymark_core::Identifier = format!("user_id={user}").parse().unwrap();
    waymark.export(&id).unwrap().unwrap()["profile"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_click_unsubscribe_with_a_signed_token() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, waymark) = serve(dir.path()).await;
    let (status, _) = call(
        addr,
        "/v1/identify",
        AUTH,
        r#"{"userId":"ana","traits":{"email":"ana@example.com"}}"#.to_owned(),
    )
    .await;
    assert_eq!(status, 200);
    let signer = UnsubscribeSigner::new("unsub-secret", "http://127.0.0.1/unsubscribe");
    let token = signer.token(&UnsubscribeClaim {
        id: "ana".into(),
        anonymous: false,
        channel: "email".into(),
        topic: None,
    });
    // A GET (a link scanner, a preview) only asks.
    let (status, page) = request(
        addr,
        "GET",
        format!("/unsubscribe?token={token}"),
        String::new(),
        String::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Stop email messages?"), "{page}");
    assert!(profile(&waymark, "ana").get("consent").is_none());
    // A forged token is refused.
    let forged = UnsubscribeSigner::new("guess", "x").token(&UnsubscribeClaim {
        id: "ana".into(),
        anonymous: false,
        channel: "email".into(),
        topic: None,
    });
    let (status, body) = request(
        addr,
        "POST",
        format!("/unsubscribe?token={forged}"),
        String::new(),
        "List-Unsubscribe=One-Click".into(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // The mail client's one-click POST (RFC 8058).
    let (status, _) = request(
        addr,
        "POST",
        format!("/unsubscribe?token={token}"),
        String::new(),
        "List-Unsubscribe=One-Click".into(),
    )
    .await;
    assert_eq!(status, 200);
    let consent = &profile(&waymark, "ana")["consent"]["channel:email"];
    assert_eq!(consent["subscribed"], false, "{consent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_status_callbacks_are_checked_and_become_events() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, waymark) = serve(dir.path()).await;
    let (status, _) = call(
        addr,
        "/v1/identify",
        AUTH,
        r#"{"userId":"bo","traits":{"phone":"+15550001111"}}"#.to_owned(),
    )
    .await;
    assert_eq!(status, 200);
    let query = "user=bo&key=j%3Ap%3A1%2F1%2Fsend%3Asms";
    let params: Vec<(String, String)> = [
        ("MessageSid", "SM77"),
        ("MessageStatus", "undelivered"),
        ("To", "+15550001111"),
        ("ErrorCode", "30005"),
        ("AccountSid", "AC123"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let body = "MessageSid=SM77&MessageStatus=undelivered&To=%2B15550001111&ErrorCode=30005&AccountSid=AC123".to_owned();
    let signature = twilio_signature(
        "twilio-token",
        &format!("https://hooks.example.com/twilio/status?{query}"),
        &params,
    );
    // Unsigned or wrongly signed: refused, nothing recorded.
    let (status, _) = request(
        addr,
        "POST",
        format!("/twilio/status?{query}"),
        "X-Twilio-Signature: AAAA\r\n".into(),
        body.clone(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        profile(&waymark, "bo")["events"]
            .get("SMS Failed")
            .is_none()
    );
    let (status, reply) = request(
        addr,
        "POST",
        format!("/twilio/status?{query}"),
        format!("X-Twilio-Signature: {signature}\r\n"),
        body,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let bo = profile(&waymark, "bo");
    assert_eq!(bo["events"]["SMS Failed"]["count"], 1, "{bo}");
    assert_eq!(
        bo["undeliverable"],
        serde_json::json!(["+15550001111"]),
        "an unknown destination is permanent: the number is undeliverable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_from_the_year_9999_cannot_freeze_a_persons_email() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, waymark) = serve(dir.path()).await;
    let poisoned = r#"{"userId":"bea","traits":{"email":"old@example.com"},"timestamp":"9999-12-31T23:59:59Z"}"#;
    let (status, body) = call(addr, "/v1/identify", AUTH, poisoned.to_owned()).await;
    assert_eq!(status, 200, "{body}");
    // A real identify a moment later, with the SDK's sentAt/originalTimestamp
    // instead of a timestamp: corrected by the skew, dated after the first.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let real = format!(
        r#"{{"userId":"bea","traits":{{"email":"new@example.com"}},"originalTimestamp":"{now}","sentAt":"{now}"}}"#
    );
    let (status, body) = call(addr, "/v1/identify", AUTH, real).await;
    assert_eq!(status, 200, "{body}");
    let id = waymark
        .export(&waymark_core::Identifier::new(
            waymark_core::IdentifierKind::UserId,
            "bea",
        ))
        .unwrap()
        .unwrap();
    assert_eq!(id["profile"]["traits"]["email"], "new@example.com", "{id}");
}
