//! `POST /v1/journeys/{id}/enter` over a socket: entered once per
//! Idempotency-Key, durable when answered, refusals as 4xx.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::net::SocketAddr;

use serde_json::{Value, json};
use waymark_http::HttpConfig;

fn post(addr: SocketAddr, path: &str, headers: &str, body: &str) -> (u16, Value) {
    let headers = format!("Content-Type: application/json\r\n{headers}");
    let (status, body) = support::exchange(addr, "POST", path, &headers, body.as_bytes());
    (status, support::json(&body))
}

const AUTH: &str = "Authorization: Basic ZGV2LWtleTo=\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_enters_a_person_once_per_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    let waymark = support::runtime(
        dir.path(),
        &[
            "id: reset\nentry: { api: true }\nnodes:\n  - { id: hold, type: wait, duration: 1d }\n",
            "id: welcome\nentry: { event: Signed Up }\nnodes:\n  - { id: hold, type: wait, duration: 1d }\n",
        ],
    );
    let config = HttpConfig {
        write_keys: vec!["dev-key".into()],
        ..HttpConfig::default()
    };
    let addr = support::serve(&waymark, config, None).await;

    let calls: Vec<(&str, &str, Value, u16, Value)> = vec![
        (
            "/v1/journeys/reset/enter",
            "Idempotency-Key: r-1\r\n",
            json!({"userId": "ana", "traits": {"email": "ana@example.com"}, "data": {"code": 42}}),
            200,
            json!({"success": true, "entered": true, "repeated": false}),
        ),
        // The retry of a call that may have been lost.
        (
            "/v1/journeys/reset/enter",
            "Idempotency-Key: r-1\r\n",
            json!({"userId": "ana"}),
            200,
            json!({"success": true, "entered": false, "repeated": true}),
        ),
        (
            "/v1/journeys/reset/enter",
            "",
            json!({"userId": "bo"}),
            400,
            json!("no_idempotency_key"),
        ),
        (
            "/v1/journeys/nope/enter",
            "Idempotency-Key: r-2\r\n",
            json!({"userId": "bo"}),
            404,
            json!("unknown_journey"),
        ),
        (
            "/v1/journeys/welcome/enter",
            "Idempotency-Key: r-3\r\n",
            json!({"userId": "bo"}),
            409,
            json!("not_by_api"),
        ),
        (
            "/v1/journeys/reset/enter",
            "Idempotency-Key: r-4\r\n",
            json!({"data": {}}),
            400,
            json!("no_identifier"),
        ),
        (
            "/v1/journeys/reset/enter",
            "Idempotency-Key: r-5\r\n",
            json!({"userId": "bo", "who": "?"}),
            400,
            json!("invalid_entry"),
        ),
    ];
    for (path, headers, body, status, expect) in calls {
        let headers = format!("{AUTH}{headers}");
        let body = body.to_string();
        let path = path.to_owned();
        let (got, answer) = tokio::task::spawn_blocking(move || post(addr, &path, &headers, &body))
            .await
            .unwrap();
        assert_eq!(got, status, "{answer}");
        if status == 200 {
            assert_eq!(answer, expect);
        } else {
            assert_eq!(answer["code"], expect, "{answer}");
        }
    }
    // Answered: durable; one person entered once.
    assert_eq!(waymark.stats().instances_active, 1);
    let (status, _) = tokio::task::spawn_blocking(move || {
        post(
            addr,
            "/v1/journeys/reset/enter",
            "Idempotency-Key: r-9\r\n",
            r#"{"userId":"cy"}"#,
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 401, "the write key is required");
}
