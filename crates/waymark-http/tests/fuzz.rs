//! Random bytes, random JSON and mangled events at every endpoint, with
//! and without a key, gzip and content types: every answer is a 200 or a
//! 4xx with a JSON reason, never a 5xx, and a refused request changes
//! nothing. Seeded, so a failure replays.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::io::Write;
use std::sync::Arc;

use serde_json::{Value, json};
use waymark_http::HttpConfig;

/// xorshift64*: enough randomness for inputs, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn random_json(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!(f64::from(rng.below(1000) as u32) / 7.0),
        4 => {
            let len = rng.below(12);
            Value::String(
                (0..len)
                    .map(|_| char::from(b' ' + rng.below(95) as u8))
                    .collect(),
            )
        }
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "userId",
                "anonymousId",
                "event",
                "type",
                "timestamp",
                "traits",
                "properties",
                "batch",
                "messageId",
                "context",
                "sentAt",
                "x",
            ];
            let mut map = serde_json::Map::new();
            for _ in 0..rng.below(6) {
                map.insert((*rng.pick(&keys)).to_owned(), random_json(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// A valid event with one field replaced by something random.
fn mangled_event(rng: &mut Rng) -> Value {
    let mut event = json!({"type": "track", "userId": "u1", "event": "Signed Up", "messageId": format!("m{}", rng.next()), "timestamp": "2026-11-30T10:00:00Z", "properties": {"a": 1}});
    let field = *rng.pick(&[
        "type",
        "userId",
        "event",
        "messageId",
        "timestamp",
        "properties",
        "context",
    ]);
    event[field] = random_json(rng, 1);
    event
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_get_200_or_a_4xx_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let waymark = support::runtime(
        dir.path(),
        &["id: reset\nentry: { api: true }\nnodes:\n  - { id: hold, type: wait, duration: 1d }\n"],
    );
    let config = HttpConfig {
        write_keys: vec!["dev-key".into()],
        max_batch_bytes: 2 * 1024,
        ..HttpConfig::default()
    };
    let addr = support::serve(&waymark, config, None).await;

    let waymark_in_test = Arc::clone(&waymark);
    tokio::task::spawn_blocking(move || {
        let waymark = waymark_in_test;
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let paths = ["/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias", "/v1/batch", "/v1/journeys/reset/enter", "/v1/journeys/x/enter", "/unsubscribe?token=abc", "/twilio/status", "/v1/nothing"];
        let mut accepted = 0;
        for round in 0..600 {
            let path = *rng.pick(&paths);
            let method = if rng.below(10) == 0 { "GET" } else { "POST" };
            let mut headers = String::new();
            headers += *rng.pick(&["Authorization: Basic ZGV2LWtleTo=\r\n", "Authorization: Basic ZGV2LWtleTo=\r\n", "Authorization: Basic bm9wZTo=\r\n", "Authorization: Bearer x\r\n", ""]);
            headers += *rng.pick(&["Content-Type: application/json\r\n", "Content-Type: application/json\r\n", "Content-Type: text/xml\r\n", ""]);
            if rng.below(5) == 0 {
                headers += "Idempotency-Key: k\r\n";
            }
            let mut body: Vec<u8> = match rng.below(4) {
                0 => (0..rng.below(4000)).map(|_| rng.next() as u8).collect(),
                1 => random_json(&mut rng, 0).to_string().into_bytes(),
                2 => mangled_event(&mut rng).to_string().into_bytes(),
                _ => json!({"batch": (0..rng.below(4)).map(|_| mangled_event(&mut rng)).collect::<Vec<_>>()}).to_string().into_bytes(),
            };
            if rng.below(4) == 0 {
                headers += "Content-Encoding: gzip\r\n";
                if rng.below(3) > 0 {
                    body = gzip(&body);
                }
            }
            if rng.below(8) == 0 {
                body.truncate(rng.below(body.len() + 1));
            }
            let before = (waymark.stats().profiles, waymark.stats().instances_active);
            let (status, answer) = support::exchange(addr, method, path, &headers, &body);
            assert!(
                status == 200 || (400..500).contains(&status),
                "round {round}: {method} {path} {headers:?} {:?}: {status} {answer}",
                String::from_utf8_lossy(&body)
            );
            if status == 200 {
                accepted += 1;
            } else {
                let reason: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
                assert_eq!(reason["success"], false, "round {round}: {status} {answer}");
                assert!(reason["code"].is_string(), "round {round}: {status} {answer}");
                let after = (waymark.stats().profiles, waymark.stats().instances_active);
                assert_eq!(before, after, "round {round}: a refused request changed state");
            }
        }
        assert!(accepted > 0, "some mangled events are still valid");
    })
    .await
    .unwrap();
}
