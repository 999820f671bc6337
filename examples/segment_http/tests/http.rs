//! The Segment HTTP API over a real socket: auth, durability before 200,
//! reasons on 400, batches, retries without a messageId.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use segment_http::{AppState, app};
use waymark::Waymark;
use waymark_channels::MemoryChannel;
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

/// `dev-key:` in base64.
const AUTH: &str = "Authorization: Basic ZGV2LWtleTo=\r\n";

/// One HTTP/1.1 POST; returns the status and the body.
fn post(addr: SocketAddr, path: &str, auth: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{auth}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
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
    let state = AppState {
        waymark: Arc::clone(&waymark),
        write_keys: Arc::new(vec!["dev-key".into()]),
    };
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    (addr, waymark)
}

async fn call(
    addr: SocketAddr,
    path: &'static str,
    auth: &'static str,
    body: String,
) -> (u16, String) {
    tokio::task::spawn_blocking(move || post(addr, path, auth, &body))
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
