//! Segment's HTTP tracking API: `POST /v1/track|identify|page|screen|
//! group|alias` (one event) and `/v1/batch`. 200 only once the events are
//! durable; a refusal applies nothing of the request.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use waymark_core::{Arrival, Event, stable_hash};

use crate::Front;
use crate::body::json_body;
use crate::error::ApiError;

/// Segment's limit for one event, in a batch or alone.
pub const EVENT_LIMIT: usize = 32 * 1024;

const KINDS: [&str; 6] = ["track", "identify", "page", "screen", "group", "alias"];

pub(crate) async fn single(
    State(front): State<Arc<Front>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match single_events(&front, &kind, &headers, &body) {
        Ok(events) => accept(&front, events).await,
        Err(refused) => refused.into_response(),
    }
}

pub(crate) async fn batch(
    State(front): State<Arc<Front>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match batch_events(&front, &headers, &body) {
        Ok(events) => accept(&front, events).await,
        Err(refused) => refused.into_response(),
    }
}

fn single_events(
    front: &Front,
    kind: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Vec<Event>, ApiError> {
    if !KINDS.contains(&kind) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
            format!(
                "unknown endpoint /v1/{kind} (track, identify, page, screen, group, alias, batch)"
            ),
        ));
    }
    let value = json_body(headers, body, EVENT_LIMIT)?;
    front.write_keys.admit(headers, &value)?;
    let arrival = Arrival::at(chrono::Utc::now(), Arrival::DEFAULT_MAX_CLOCK_SKEW);
    let event = Event::from_json_arrived(complete(value, Some(kind)), &arrival)
        .map_err(|e| ApiError::bad_request("invalid_event", e.to_string()))?;
    Ok(vec![event])
}

fn batch_events(front: &Front, headers: &HeaderMap, body: &Bytes) -> Result<Vec<Event>, ApiError> {
    let mut value = json_body(headers, body, front.config.max_batch_bytes)?;
    front.write_keys.admit(headers, &value)?;
    // Taken out whole: each event is moved into its parse, not copied.
    let Some(Value::Array(items)) = value.get_mut("batch").map(Value::take) else {
        return Err(ApiError::bad_request(
            "invalid_batch",
            "field `batch`: required, a list of events",
        ));
    };
    let too_large: Vec<String> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| json_len(item) > EVENT_LIMIT)
        .map(|(i, _)| format!("batch[{i}]"))
        .collect();
    if !too_large.is_empty() {
        return Err(ApiError::too_large(format!(
            "an event is limited to {EVENT_LIMIT} bytes: {}",
            too_large.join(", ")
        )));
    }
    let arrival = Arrival::at(chrono::Utc::now(), Arrival::DEFAULT_MAX_CLOCK_SKEW);
    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, mut item) in items.into_iter().enumerate() {
        // The batch's context and sentAt apply to events without their own.
        if let Value::Object(map) = &mut item {
            for shared in ["context", "sentAt"] {
                if let Some(given) = value.get(shared) {
                    map.entry(shared).or_insert_with(|| given.clone());
                }
            }
        }
        match Event::from_json_arrived(complete(item, None), &arrival) {
            Ok(e) => events.push(e),
            Err(e) => problems.push(format!("batch[{i}]: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::bad_request("invalid_event", problems.join("; ")));
    }
    Ok(events)
}

/// How many bytes `value` takes as JSON, counted without writing it out.
fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Fills what Segment's API fills when a client leaves it out: the `type`
/// from the path and a `messageId` derived from the body (so an identical
/// retry is recognised); drops `writeKey`, which is not part of the event.
fn complete(mut value: Value, kind: Option<&str>) -> Value {
    if let Value::Object(map) = &mut value {
        map.remove("writeKey");
        if let Some(kind) = kind {
            map.entry("type").or_insert_with(|| Value::from(kind));
        }
        if !map.contains_key("messageId") {
            let body = Value::Object(map.clone()).to_string();
            map.insert(
                "messageId".into(),
                Value::from(format!("auto-{:016x}", stable_hash(0, &[&body]))),
            );
        }
    }
    value
}

/// Hands the events to the sink; 200 once durable.
pub(crate) async fn accept(front: &Front, events: Vec<Event>) -> Response {
    let count = events.len();
    match front.sink.accept(events).await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "success": true }))).into_response(),
        Err(error) => {
            tracing::error!(%error, count, "events not accepted");
            // Not the client's fault: it retries (with the same messageIds).
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the events could not be made durable; retry",
            )
            .into_response()
        }
    }
}
