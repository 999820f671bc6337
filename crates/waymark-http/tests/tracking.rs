//! The tracking API over a real socket into a runtime on fjall: gzip
//! bodies, both ways of giving the write key, durability before 200, and
//! every kind of bad input refused with a 4xx that SDKs can read, nothing
//! applied.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use waymark::Waymark;
use waymark_http::HttpConfig;

/// `dev-key:` in base64.
const AUTH: &str = "Authorization: Basic ZGV2LWtleTo=\r\n";

/// One POST; the status and the body as JSON (null if none).
fn exchange(addr: SocketAddr, path: &str, headers: &str, body: &[u8]) -> (u16, Value) {
    let (status, body) = support::exchange(addr, "POST", path, headers, body);
    (status, support::json(&body))
}

const JSON: &str = "Content-Type: application/json\r\n";

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

async fn serve(dir: &Path, config: HttpConfig) -> (SocketAddr, Arc<Waymark>) {
    let waymark = support::runtime(
        dir,
        &["id: j\nentry: { event: Signed Up }\nnodes:\n  - { id: hi, type: wait, duration: 1d }\n"],
    );
    let addr = support::serve(&waymark, config, None).await;
    (addr, waymark)
}

fn config() -> HttpConfig {
    HttpConfig {
        write_keys: vec!["dev-key".to_owned()],
        ..HttpConfig::default()
    }
}

fn track(user: &str, id: &str) -> Value {
    json!({"type": "track", "userId": user, "event": "Signed Up", "messageId": id, "timestamp": "2026-11-30T10:00:00Z"})
}

/// Runs blocking socket calls off the runtime's threads.
async fn call(addr: SocketAddr, path: &str, headers: String, body: Vec<u8>) -> (u16, Value) {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || exchange(addr, &path, &headers, &body))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_plain_or_gzip_with_either_key_are_durable_before_200() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, waymark) = serve(dir.path(), config()).await;
    let plain = serde_json::to_vec(&track("u1", "m1")).unwrap();
    assert_eq!(
        call(addr, "/v1/track", format!("{AUTH}{JSON}"), plain).await,
        (200, json!({"success": true}))
    );
    // rudder-sdk-python's default: gzip.
    let zipped = gzip(&serde_json::to_vec(&track("u2", "m2")).unwrap());
    let (status, _) = call(
        addr,
        "/v1/track",
        format!("{AUTH}{JSON}Content-Encoding: gzip\r\n"),
        zipped,
    )
    .await;
    assert_eq!(status, 200);
    // The key in the body, as the spec allows; a batch of two.
    let batch = json!({"writeKey": "dev-key", "batch": [track("u3", "m3"), track("u4", "m4")]});
    let (status, _) = call(
        addr,
        "/v1/batch",
        JSON.to_owned(),
        serde_json::to_vec(&batch).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    // Answered 200: already durable, four people in the journey.
    assert_eq!(waymark.stats().instances_active, 4);
    // A retry of an event is recognised by its messageId.
    let again = serde_json::to_vec(&track("u1", "m1")).unwrap();
    assert_eq!(
        call(addr, "/v1/track", format!("{AUTH}{JSON}"), again)
            .await
            .0,
        200
    );
    assert_eq!(waymark.stats().instances_active, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_4xx_the_sdks_can_read_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, waymark) = serve(dir.path(), config()).await;
    let event = serde_json::to_vec(&track("u1", "m1")).unwrap();
    let big = json!({"userId": "u9", "event": "Signed Up", "properties": {"blob": "x".repeat(40 * 1024)}});
    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        (
            "/v1/track",
            JSON.to_owned(),
            event.clone(),
            401,
            "unauthorized",
        ),
        (
            "/v1/track",
            format!("Authorization: Basic bm9wZTo=\r\n{JSON}"),
            event.clone(),
            401,
            "unauthorized",
        ),
        (
            "/v1/track",
            format!("{AUTH}{JSON}"),
            b"{\"userId\": ".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "/v1/track",
            format!("{AUTH}{JSON}"),
            vec![0xff, 0xfe, b'{'],
            400,
            "invalid_utf8",
        ),
        (
            "/v1/track",
            format!("{AUTH}{JSON}Content-Encoding: gzip\r\n"),
            b"not gzip".to_vec(),
            400,
            "invalid_gzip",
        ),
        (
            "/v1/track",
            format!("{AUTH}Content-Type: text/html\r\n"),
            event.clone(),
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/track",
            format!("{AUTH}{JSON}Content-Encoding: br\r\n"),
            event.clone(),
            415,
            "unsupported_encoding",
        ),
        (
            "/v1/track",
            format!("{AUTH}{JSON}"),
            br#"{"event": "Signed Up"}"#.to_vec(),
            400,
            "invalid_event",
        ),
        (
            "/v1/fly",
            format!("{AUTH}{JSON}"),
            event.clone(),
            404,
            "unknown_endpoint",
        ),
        (
            "/v1/track",
            format!("{AUTH}{JSON}"),
            serde_json::to_vec(&big).unwrap(),
            413,
            "too_large",
        ),
        // A 40 KB event inside a batch is refused too, and its good
        // neighbour is not applied.
        (
            "/v1/batch",
            format!("{AUTH}{JSON}"),
            serde_json::to_vec(&json!({"batch": [track("u5", "m5"), big]})).unwrap(),
            413,
            "too_large",
        ),
        (
            "/v1/batch",
            format!("{AUTH}{JSON}"),
            serde_json::to_vec(&json!({"batch": [track("u6", "m6"), {"event": "no one"}]}))
                .unwrap(),
            400,
            "invalid_event",
        ),
        (
            "/v1/batch",
            format!("{AUTH}{JSON}"),
            br#"{"events": []}"#.to_vec(),
            400,
            "invalid_batch",
        ),
    ];
    for (path, headers, body, status, code) in cases {
        let (got, answer) = call(addr, path, headers.clone(), body).await;
        assert_eq!(got, status, "{path} {headers:?}: {answer}");
        assert_eq!(answer["success"], false, "{answer}");
        assert_eq!(answer["code"], code, "{answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(waymark.stats().instances_active, 0, "nothing applied");
    assert_eq!(waymark.stats().profiles, 0, "nothing applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_rate_gets_429() {
    let dir = tempfile::tempdir().unwrap();
    let limited = HttpConfig {
        rate_limit: std::num::NonZeroU32::new(1),
        ..config()
    };
    let (addr, _) = serve(dir.path(), limited).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let body = serde_json::to_vec(&track("u1", &format!("r{i}"))).unwrap();
        let (status, answer) = call(addr, "/v1/track", format!("{AUTH}{JSON}"), body).await;
        if status == 429 {
            assert_eq!(answer["code"], "rate_limited");
        }
        statuses.push(status);
    }
    // One a second: the first passes, the next ones (well within that
    // second) are refused.
    assert_eq!(statuses[0], 200);
    assert!(statuses[1..].contains(&429), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_slow_to_send_its_body_gets_408() {
    let dir = tempfile::tempdir().unwrap();
    let slow = HttpConfig {
        request_timeout_ms: 300,
        ..config()
    };
    let (addr, waymark) = serve(dir.path(), slow).await;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        // Headers promising 100 bytes, then only a few of them.
        write!(
            stream,
            "POST /v1/track HTTP/1.1\r\nHost: x\r\n{AUTH}{JSON}Content-Length: 100\r\n\r\n{{\"userId\""
        )
        .unwrap();
        let mut response = Vec::new();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
    assert_eq!(waymark.stats().profiles, 0);
}
