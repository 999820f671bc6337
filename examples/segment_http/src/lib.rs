//! Segment's HTTP tracking API in front of an embedded Waymark runtime:
//! `POST /v1/track|identify|page|screen|group|alias|batch`, the write key as
//! basic auth, 200 only once the events are durable, 400 with the reason
//! for a bad payload. Segment, RudderStack and Jitsu SDKs can point at it
//! unchanged.
//!
//! It also serves what the channels link back to:
//! - `GET|POST /unsubscribe?token=...`: the one-click unsubscribe of
//!   RFC 8058 (mail clients POST `List-Unsubscribe=One-Click`; a GET shows
//!   a confirmation button, as link scanners must not unsubscribe anyone);
//!   the signed token names the person and channel, and becomes an
//!   `Unsubscribed` event;
//! - `POST /twilio/status`: Twilio's status callbacks, signature checked,
//!   as `SMS Delivered` / `SMS Failed` events (WhatsApp alike).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use waymark::Waymark;
use waymark_channels::signing::{UnsubscribeClaim, UnsubscribeSigner};
use waymark_channels::{CallbackError, TwilioCallback, twilio_status_event, unsubscribe_event};
use waymark_core::{Arrival, Event, stable_hash};

/// What the service shares between requests.
#[derive(Debug, Clone)]
pub struct AppState {
    pub waymark: Arc<Waymark>,
    /// Accepted write keys.
    pub write_keys: Arc<Vec<String>>,
    /// Checks unsubscribe tokens (the worker's `[unsubscribe]` secret).
    pub unsubscribe: Option<UnsubscribeSigner>,
    /// Checks Twilio's status callbacks.
    pub twilio: Option<TwilioCallbacks>,
}

/// How Twilio's callbacks are checked.
#[derive(Debug, Clone)]
pub struct TwilioCallbacks {
    pub auth_token: String,
    /// This service's public base URL as Twilio calls it (the signature
    /// covers the full URL), e.g. `https://hooks.example.com`.
    pub public_url: String,
}

/// The routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/batch", post(batch))
        .route("/v1/{kind}", post(single))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/twilio/status", post(twilio_status))
        .with_state(state)
}

/// Segment's limits: 32 KB per event, 500 KB per batch.
const EVENT_LIMIT: usize = 32 * 1024;
const BATCH_LIMIT: usize = 500 * 1024;

fn error(status: StatusCode, reason: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({ "success": false, "message": reason.into() })),
    )
        .into_response()
}

/// Checks `Authorization: Basic base64(writeKey:)`.
fn authorized(headers: &HeaderMap, state: &AppState) -> bool {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let key = text.split(':').next().unwrap_or_default();
    state.write_keys.iter().any(|k| k == key)
}

/// Fills what Segment's API fills when a client leaves it out: the `type`
/// from the path and a `messageId` derived from the body (so an identical
/// retry is recognised). The time comes from Segment's rules, with the
/// request's time as the receive time ([`Arrival`]).
fn complete(mut value: Value, kind: Option<&str>) -> Value {
    if let Value::Object(map) = &mut value {
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

async fn ingest(state: &AppState, events: Vec<Event>) -> Response {
    let waymark = Arc::clone(&state.waymark);
    match tokio::task::spawn_blocking(move || waymark.ingest_batch(&events, None)).await {
        Ok(Ok(_)) => (StatusCode::OK, axum::Json(json!({ "success": true }))).into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn single(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers, &state) {
        return error(
            StatusCode::UNAUTHORIZED,
            "a valid write key is required (basic auth, the key as user name)",
        );
    }
    if !["track", "identify", "page", "screen", "group", "alias"].contains(&kind.as_str()) {
        return error(
            StatusCode::NOT_FOUND,
            format!("unknown endpoint /v1/{kind}"),
        );
    }
    if body.len() > EVENT_LIMIT {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an event is limited to {EVENT_LIMIT} bytes"),
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not valid JSON: {e}")),
    };
    let arrival = Arrival::at(chrono::Utc::now(), Arrival::DEFAULT_MAX_CLOCK_SKEW);
    match Event::from_json_arrived(complete(value, Some(&kind)), &arrival) {
        Ok(event) => ingest(&state, vec![event]).await,
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn batch(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers, &state) {
        return error(
            StatusCode::UNAUTHORIZED,
            "a valid write key is required (basic auth, the key as user name)",
        );
    }
    if body.len() > BATCH_LIMIT {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a batch is limited to {BATCH_LIMIT} bytes"),
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not valid JSON: {e}")),
    };
    let Some(items) = value.get("batch").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "field `batch`: required, a list of events",
        );
    };
    let arrival = Arrival::at(chrono::Utc::now(), Arrival::DEFAULT_MAX_CLOCK_SKEW);
    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, item) in items.iter().enumerate() {
        // Batch-level context applies to every event without its own.
        let mut item = item.clone();
        // So do its `sentAt` (for the clock-skew correction).
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
        return error(StatusCode::BAD_REQUEST, problems.join("; "));
    }
    ingest(&state, events).await
}

/// The `token` of a query string.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_pairs(query.unwrap_or_default().as_bytes())
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// `a=1&b=2` decoded (`+` and `%XX`).
fn form_pairs(text: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(text).into_owned().collect()
}

fn claim(state: &AppState, query: Option<&str>) -> Result<UnsubscribeClaim, Box<Response>> {
    let Some(signer) = &state.unsubscribe else {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "unsubscribe links are not configured",
        )));
    };
    let token =
        query_param(query, "token").ok_or_else(|| error(StatusCode::BAD_REQUEST, "no token"))?;
    signer.verify(&token).map_err(|reason| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("invalid token: {reason}"),
        ))
    })
}

/// A GET only asks: link scanners and previews fetch links.
async fn unsubscribe_page(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match claim(&state, query.as_deref()) {
        Ok(claim) => Html(format!(
            "<!doctype html><title>Unsubscribe</title>\
             <form method=post><p>Stop {} messages?</p>\
             <button name=List-Unsubscribe value=One-Click>Unsubscribe</button></form>",
            claim.channel
        ))
        .into_response(),
        Err(response) => *response,
    }
}

/// The one-click unsubscribe (RFC 8058): an `Unsubscribed` event for the
/// person and channel the token names; repeating it changes nothing.
async fn unsubscribe(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match claim(&state, query.as_deref()) {
        Ok(claim) => ingest(&state, vec![unsubscribe_event(&claim, chrono::Utc::now())]).await,
        Err(response) => *response,
    }
}

/// Twilio's status callback, its `X-Twilio-Signature` checked, as an event
/// about the person the message was for (named in the callback's query).
async fn twilio_status(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(twilio) = &state.twilio else {
        return error(StatusCode::NOT_FOUND, "Twilio callbacks are not configured");
    };
    let base = format!("{}/twilio/status", twilio.public_url.trim_end_matches('/'));
    let url = match &query {
        Some(q) => format!("{base}?{q}"),
        None => base,
    };
    let callback = TwilioCallback {
        url: &url,
        query: query.as_deref(),
        body: &body,
        signature: headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    };
    match twilio_status_event(&twilio.auth_token, callback, chrono::Utc::now()) {
        Ok(Some(event)) => ingest(&state, vec![event]).await,
        // queued, sent, ...: nothing to tell the journeys yet.
        Ok(None) => (StatusCode::OK, "").into_response(),
        Err(refused) => {
            let status = match refused {
                CallbackError::Signature => StatusCode::FORBIDDEN,
                CallbackError::Nobody => StatusCode::BAD_REQUEST,
            };
            error(status, refused.to_string())
        }
    }
}
