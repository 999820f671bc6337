//! `POST /v1/journeys/{id}/enter`: a backend enters a person into a
//! journey whose entry is `api` (a password reset, a receipt), once per
//! `Idempotency-Key`, answered once the entry is durable: decided (200),
//! or queued on Kafka's enter topic to be decided there (202).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use waymark::runtime::{EnterRequest, Entered};

use crate::Front;
use crate::body::json_body;
use crate::error::ApiError;
use crate::sink::EnterRefused;
use crate::tracking::EVENT_LIMIT;

/// The body: who, how to reach them, and the call's data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnterBody {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    anonymous_id: Option<String>,
    #[serde(default)]
    traits: Map<String, Value>,
    #[serde(default)]
    data: Map<String, Value>,
}

pub(crate) async fn enter(
    State(front): State<Arc<Front>>,
    Path(journey): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match request(&front, journey, &headers, &body) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    match front.sink.enter(request).await {
        Ok(None) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"success": true, "queued": true})),
        )
            .into_response(),
        Ok(Some(Entered::Decided { entered, .. })) => (
            StatusCode::OK,
            axum::Json(json!({"success": true, "entered": entered, "repeated": false})),
        )
            .into_response(),
        Ok(Some(Entered::Repeated)) => (
            StatusCode::OK,
            axum::Json(json!({"success": true, "entered": false, "repeated": true})),
        )
            .into_response(),
        Err(refused) => {
            let (status, code) = match &refused {
                EnterRefused::UnknownJourney(_) => (StatusCode::NOT_FOUND, "unknown_journey"),
                EnterRefused::NotByApi(_) => (StatusCode::CONFLICT, "not_by_api"),
                EnterRefused::NoIdentifier => (StatusCode::BAD_REQUEST, "no_identifier"),
                EnterRefused::Unsupported => (StatusCode::NOT_FOUND, "not_configured"),
                EnterRefused::Unavailable(error) => {
                    tracing::error!(%error, "entry not made");
                    (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
                }
            };
            ApiError::new(status, code, refused.to_string()).into_response()
        }
    }
}

fn request(
    front: &Front,
    journey: String,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<EnterRequest, ApiError> {
    let mut value = json_body(headers, body, EVENT_LIMIT)?;
    front.write_keys.admit(headers, &value)?;
    // The write key may come in the body, as for the tracking API; it is
    // not part of the entry.
    if let Some(fields) = value.as_object_mut() {
        fields.remove("writeKey");
    }
    let call_id = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::bad_request(
                "no_idempotency_key",
                "header `Idempotency-Key` is required (1 to 255 characters): a retry with the same key enters nobody twice",
            )
        })?
        .to_owned();
    let body: EnterBody = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request("invalid_entry", format!("the body: {e}")))?;
    Ok(EnterRequest {
        journey,
        call_id,
        user_id: body.user_id,
        anonymous_id: body.anonymous_id,
        traits: body.traits,
        data: body.data,
    })
}
