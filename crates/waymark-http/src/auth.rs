//! Write keys: `Authorization: Basic base64(key:)` (what the SDKs send) or
//! a `writeKey` field in the body (which Segment's spec also allows), and
//! a request rate per key (governor's GCRA).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;

use crate::error::ApiError;

/// The accepted write keys, each with its request rate limiter.
#[derive(Debug, Clone, Default)]
pub struct WriteKeys {
    keys: Arc<HashMap<String, Option<Arc<DefaultDirectRateLimiter>>>>,
}

impl WriteKeys {
    /// `keys`, each allowed `per_second` requests a second (bursts of as
    /// many) when set.
    pub fn new(keys: &[String], per_second: Option<NonZeroU32>) -> Self {
        let keys = keys
            .iter()
            .map(|key| {
                let limiter =
                    per_second.map(|rate| Arc::new(RateLimiter::direct(Quota::per_second(rate))));
                (key.clone(), limiter)
            })
            .collect();
        WriteKeys {
            keys: Arc::new(keys),
        }
    }

    /// The request's key (header first, then `body.writeKey`) if accepted
    /// and within its rate; 401 or 429 otherwise.
    pub fn admit(&self, headers: &HeaderMap, body: &Value) -> Result<(), ApiError> {
        let key = basic_auth_user(headers)
            .or_else(|| {
                body.get("writeKey")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .ok_or_else(ApiError::unauthorized)?;
        let limiter = self.keys.get(&key).ok_or_else(ApiError::unauthorized)?;
        if let Some(limiter) = limiter
            && limiter.check().is_err()
        {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for this write key; retry shortly",
            ));
        }
        Ok(())
    }
}

/// The user name of `Authorization: Basic ...`.
fn basic_auth_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split(':').next().unwrap_or_default().to_owned())
}
