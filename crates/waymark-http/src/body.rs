//! Reading a request body: its content type, its encoding (gzip) and its
//! size, each refused with a 4xx naming what is wrong. A gzip body is
//! inflated only up to the limit, so a small bomb cannot fill memory.

use std::io::Read;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use crate::error::ApiError;

/// The JSON of a body at most `limit` bytes long once inflated.
pub fn json_body(headers: &HeaderMap, body: &Bytes, limit: usize) -> Result<Value, ApiError> {
    check_content_type(headers)?;
    let bytes = inflate(headers, body, limit)?;
    if bytes.len() > limit {
        return Err(ApiError::too_large(format!(
            "the body is limited to {limit} bytes"
        )));
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ApiError::bad_request("invalid_utf8", format!("the body is not UTF-8: {e}"))
    })?;
    serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("not valid JSON: {e}")))
}

/// JSON, or no type at all (some SDKs send none); anything else is 415.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or_default().to_ascii_lowercase();
    let essence = text.split(';').next().unwrap_or_default().trim();
    if essence == "application/json" || essence == "text/plain" || essence.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the body must be application/json, not {essence:?}"),
        ))
    }
}

/// The body, inflated when `Content-Encoding: gzip`; at most `limit + 1`
/// bytes are produced (enough to tell it is too large).
fn inflate(headers: &HeaderMap, body: &Bytes, limit: usize) -> Result<Vec<u8>, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "identity" | "" => Ok(body.to_vec()),
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            flate2::read::MultiGzDecoder::new(&body[..])
                .take(cap)
                .read_to_end(&mut out)
                .map_err(|e| {
                    ApiError::bad_request("invalid_gzip", format!("the gzip body is broken: {e}"))
                })?;
            Ok(out)
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("content encoding {other:?} is not supported (gzip is)"),
        )),
    }
}
