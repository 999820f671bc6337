//! `waymark-http`: Waymark's HTTP front door, as axum routers a service
//! serves (the worker does, with an `[http]` section) or mounts in its own
//! app.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/group`, `/v1/alias`, `/v1/batch` | Segment's tracking API: write key as basic auth or `writeKey`, gzip bodies, 200 once durable |
//! | `GET`, `POST /unsubscribe?token=...` | RFC 8058 one-click unsubscribe (a GET only asks) |
//! | `POST /v1/journeys/{id}/enter` | a backend enters a person into a journey (entry `api`), once per `Idempotency-Key` |
//! | `POST /twilio/status` | Twilio's status callbacks, signature checked |
//! | `POST /webhooks/sendgrid`, `/webhooks/postmark` | email providers' events, signature or credentials checked |
//!
//! With admin tokens (`read_tokens`, `admin_tokens`), [`admin_router`]
//! adds the live admin API (`/admin/v1/...`, described at `/openapi.json`)
//! and the web dashboard at `/`.
//!
//! Every refusal is a 4xx with `{"success": false, "code", "message"}`
//! and applies nothing of the request (docs/http.md).

pub mod admin;
mod auth;
mod body;
mod callbacks;
mod config;
mod dashboard;
mod enter;
mod error;
mod sink;
mod tracking;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use waymark_channels::signing::UnsubscribeSigner;

pub use admin::{Admin, AdminTokens, Scope};
pub use auth::WriteKeys;
pub use config::HttpConfig;
pub use error::ApiError;
pub use sink::{Accepted, EnterAnswer, EnterRefused, EventSink, RuntimeSink};
pub use tracking::EVENT_LIMIT;

/// What the routes share.
pub struct Front {
    pub config: HttpConfig,
    pub write_keys: WriteKeys,
    pub sink: Box<dyn EventSink>,
    /// Checks unsubscribe tokens (the worker's `[unsubscribe]` secret).
    pub unsubscribe: Option<UnsubscribeSigner>,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front").finish_non_exhaustive()
    }
}

impl Front {
    pub fn new(
        config: HttpConfig,
        sink: Box<dyn EventSink>,
        unsubscribe: Option<UnsubscribeSigner>,
    ) -> Self {
        let write_keys = WriteKeys::new(&config.write_keys, config.rate_limit);
        Front {
            config,
            write_keys,
            sink,
            unsubscribe,
        }
    }
}

/// The tracking API and the callbacks.
pub fn router(front: Arc<Front>) -> Router {
    // Bodies are read whole up to the batch limit (a gzip body is checked
    // again once inflated).
    let limit = front.config.max_batch_bytes.saturating_add(1);
    let timeout = Duration::from_millis(front.config.request_timeout_ms);
    Router::new()
        .route("/v1/batch", post(tracking::batch))
        .route("/v1/journeys/{id}/enter", post(enter::enter))
        .route("/v1/{kind}", post(tracking::single))
        .route(
            "/unsubscribe",
            get(callbacks::unsubscribe_page).post(callbacks::unsubscribe),
        )
        .route("/twilio/status", post(callbacks::twilio_status))
        .route("/webhooks/sendgrid", post(callbacks::sendgrid))
        .route("/webhooks/postmark", post(callbacks::postmark))
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "unknown_endpoint",
                "no such endpoint (docs/http.md)",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(json_refusals))
        .layer(axum::middleware::from_fn(move |request, next| {
            timed(request, next, timeout)
        }))
        .with_state(front)
}

/// The live admin API with its OpenAPI description (`/openapi.json`), and
/// the dashboard.
pub fn admin_router(admin: Arc<Admin>) -> Router {
    let (api, openapi) = admin::api();
    let openapi = Arc::new(openapi);
    let api = api
        .route(
            "/openapi.json",
            get(move || {
                let openapi = Arc::clone(&openapi);
                async move { axum::Json(openapi) }
            }),
        )
        .layer(axum::middleware::map_response(json_refusals));
    api.merge(dashboard::routes())
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .with_state(admin)
}

/// The largest admin request body (a journey file to deploy).
const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

/// A refusal axum made itself (a method not allowed, a body over the
/// limit, a path that does not parse) in the same JSON as ours.
async fn json_refusals(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    let code = match status {
        axum::http::StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        axum::http::StatusCode::NOT_FOUND => "unknown_endpoint",
        _ => "bad_request",
    };
    let reason = status.canonical_reason().unwrap_or("refused").to_owned();
    let mut refused = ApiError::new(status, code, reason).into_response();
    // Keep `Allow` and the like.
    for (name, value) in response.headers() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            refused.headers_mut().insert(name.clone(), value.clone());
        }
    }
    refused
}

/// Cuts off a request (a slow client's body included) after `limit`: 408.
async fn timed(
    request: axum::extract::Request,
    next: axum::middleware::Next,
    limit: Duration,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took longer than {limit:?}"),
        )
        .into_response(),
    }
}
