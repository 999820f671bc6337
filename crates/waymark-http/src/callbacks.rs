//! What messages link back to: RFC 8058 one-click unsubscribe
//! (`GET|POST /unsubscribe?token=...`), Twilio's status callbacks (`POST
//! /twilio/status`) and email providers' event webhooks (`POST
//! /webhooks/sendgrid`, `/webhooks/postmark`), each an event about the
//! person, into the same runtime.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use waymark_channels::signing::UnsubscribeClaim;
use waymark_channels::{
    CallbackError, EmailEventsError, TwilioCallback, postmark_event, sendgrid_events,
    twilio_status_event, unsubscribe_event,
};

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

fn not_configured(what: &str) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_configured",
        format!("{what} is not configured"),
    )
    .into_response()
}

fn refused(error: &EmailEventsError) -> Response {
    let (status, code) = match error {
        EmailEventsError::Signature => (StatusCode::FORBIDDEN, "refused"),
        EmailEventsError::Body(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
    };
    ApiError::new(status, code, error.to_string()).into_response()
}

/// SendGrid's signed Event Webhook: a list of events; those about people
/// Waymark emailed become events, the rest are acknowledged and dropped.
pub(crate) async fn sendgrid(
    State(front): State<Arc<Front>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(key) = &front.config.sendgrid_public_key else {
        return not_configured("the SendGrid webhook (http.sendgrid_public_key)");
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signature = header("x-twilio-email-event-webhook-signature");
    let timestamp = header("x-twilio-email-event-webhook-timestamp");
    match sendgrid_events(key, &signature, &timestamp, &body, chrono::Utc::now()) {
        Ok(events) if events.is_empty() => (StatusCode::OK, "").into_response(),
        Ok(events) => accept(&front, events).await,
        Err(error) => refused(&error),
    }
}

/// Postmark's webhooks, authenticated by the credentials in their URL.
pub(crate) async fn postmark(
    State(front): State<Arc<Front>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(credentials) = &front.config.postmark_credentials else {
        return not_configured("the Postmark webhook (http.postmark_credentials)");
    };
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    );
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !waymark_channels::signing::same_signature(given, &expected) {
        return refused(&EmailEventsError::Signature);
    }
    match postmark_event(&body, chrono::Utc::now()) {
        Ok(Some(event)) => accept(&front, vec![event]).await,
        Ok(None) => (StatusCode::OK, "").into_response(),
        Err(error) => refused(&error),
    }
}
