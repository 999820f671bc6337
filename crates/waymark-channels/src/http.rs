//! What an HTTP provider's answer means for a delivery: accepted,
//! worth retrying (timeouts, connection failures, 408, 429, 5xx; with the
//! provider's `Retry-After`), or refused for good (other 4xx).

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use crate::DeliveryError;

/// A client with the provider's timeout.
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A provider's answer, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    headers: HeaderMap,
    pub body: String,
}

/// Sends `request` to `provider` and reads its answer; a transport
/// failure is a transient error.
pub(crate) async fn send(provider: &str, request: RequestBuilder) -> Result<Answer, DeliveryError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, &e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

impl Answer {
    /// The body of a success; otherwise the refusal, classified.
    pub fn accepted(self, provider: &str) -> Result<String, DeliveryError> {
        if self.status.is_success() {
            Ok(self.body)
        } else {
            Err(refused(provider, self.status, &self.headers, &self.body))
        }
    }
}

/// A string field of a JSON body (a provider's id for the message).
pub(crate) fn json_field(body: &str, name: &str) -> Option<String> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get(name)?
        .as_str()
        .map(str::to_owned)
}

/// A transport failure: always worth retrying.
fn transport_error(provider: &str, error: &reqwest::Error) -> DeliveryError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    DeliveryError::Transient {
        reason: format!("{provider}: {what}: {error}"),
        retry_after: None,
    }
}

/// `Retry-After` in seconds (the HTTP-date form is read as "soon").
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    match value.parse::<u64>() {
        Ok(seconds) => Some(Duration::from_secs(seconds)),
        Err(_) => chrono::DateTime::parse_from_rfc2822(value).ok().map(|at| {
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        }),
    }
}

/// Classifies a non-success answer.
fn refused(provider: &str, status: StatusCode, headers: &HeaderMap, body: &str) -> DeliveryError {
    let body: String = body.chars().take(500).collect();
    let reason = format!("{provider}: HTTP {status}: {body}");
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        DeliveryError::Transient {
            reason,
            retry_after: retry_after(headers),
        }
    } else {
        DeliveryError::Permanent { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn server_errors_and_throttling_are_retried_client_errors_are_not() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        for status in [500, 502, 503, 429, 408] {
            let error = refused("x", StatusCode::from_u16(status).unwrap(), &headers, "");
            assert_eq!(
                error,
                DeliveryError::Transient {
                    reason: format!("x: HTTP {}: ", StatusCode::from_u16(status).unwrap()),
                    retry_after: Some(Duration::from_secs(7)),
                },
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 410, 422] {
            let error = refused("x", StatusCode::from_u16(status).unwrap(), &headers, "no");
            assert!(matches!(error, DeliveryError::Permanent { .. }), "{status}");
        }
    }
}
