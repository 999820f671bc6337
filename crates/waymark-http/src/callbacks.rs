//! What messages link back to: RFC 8058 one-click unsubscribe
//! (`GET|POST /unsubscribe?token=...`) and Twilio's status callbacks
//! (`POST /twilio/status`), each an event about the person, into the same
//! runtime.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use waymark_channels::signing::UnsubscribeClaim;
use waymark_channels::{CallbackError, TwilioCallback, twilio_status_event, unsubscribe_event};

use crate::Front;
use crate::error::ApiError;
use crate::tracking::accept;

fn claim(front: &Front, query: Option<&str>) -> Result<UnsubscribeClaim, ApiError> {
    let Some(signer) = &front.unsubscribe else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_configured",
            "unsubscribe links are not configured",
        ));
    };
    let token = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::bad_request("no_token", "query parameter `token` is required"))?;
    signer.verify(&token).map_err(|reason| {
        ApiError::bad_request("invalid_token", format!("invalid token: {reason}"))
    })
}

/// A GET only asks: link scanners and previews fetch links.
pub(crate) async fn unsubscribe_page(
    State(front): State<Arc<Front>>,
    RawQuery(query): RawQuery,
) -> Response {
    match claim(&front, query.as_deref()) {
        Ok(claim) => Html(format!(
            "<!doctype html><title>Unsubscribe</title>\
             <form method=post><p>Stop {} messages?</p>\
             <button name=List-Unsubscribe value=One-Click>Unsubscribe</button></form>",
            claim.channel
        ))
        .into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// The one-click unsubscribe: an `Unsubscribed` event for the person,
/// channel and topic the token names; repeating it changes nothing.
pub(crate) async fn unsubscribe(
    State(front): State<Arc<Front>>,
    RawQuery(query): RawQuery,
) -> Response {
    match claim(&front, query.as_deref()) {
        Ok(claim) => accept(&front, vec![unsubscribe_event(&claim, chrono::Utc::now())]).await,
        Err(refused) => refused.into_response(),
    }
}

/// Twilio's status callback, its `X-Twilio-Signature` checked (over this
/// service's public URL), as an event about the person it was for.
pub(crate) async fn twilio_status(
    State(front): State<Arc<Front>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (Some(token), Some(public_url)) =
        (&front.config.twilio_auth_token, &front.config.public_url)
    else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_configured",
            "Twilio callbacks are not configured (http.public_url and http.twilio_auth_token)",
        )
        .into_response();
    };
    let base = format!("{}/twilio/status", public_url.trim_end_matches('/'));
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
    match twilio_status_event(token, callback, chrono::Utc::now()) {
        Ok(Some(event)) => accept(&front, vec![event]).await,
        // queued, sent, ...: nothing to tell the journeys yet.
        Ok(None) => (StatusCode::OK, "").into_response(),
        Err(refused) => {
            let status = match refused {
                CallbackError::Signature => StatusCode::FORBIDDEN,
                CallbackError::Nobody => StatusCode::BAD_REQUEST,
            };
            ApiError::new(status, "refused", refused.to_string()).into_response()
        }
    }
}
