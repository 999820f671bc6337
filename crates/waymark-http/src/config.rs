//! The `[http]` section of the worker's configuration.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

/// Where the front door listens and what it accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `host:port` to serve on.
    pub listen: String,
    /// Write keys the tracking API accepts.
    pub write_keys: Vec<String>,
    /// This service's public base URL (`https://hooks.example.com`), as
    /// providers call it: callbacks' signatures cover it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The largest `/v1/batch` body, inflated (RudderStack's SDKs send up
    /// to 4 MB); one event is limited to 32 KB anywhere.
    pub max_batch_bytes: usize,
    /// Requests a second per write key (bursts of as many); none: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<NonZeroU32>,
    /// Checks Twilio's status callbacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twilio_auth_token: Option<String>,
    /// SendGrid's Event Webhook verification key (base64, as SendGrid
    /// shows it): serves `/webhooks/sendgrid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sendgrid_public_key: Option<String>,
    /// `user:password` that Postmark's webhook URL carries (basic auth):
    /// serves `/webhooks/postmark`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postmark_credentials: Option<String>,
    /// How long a request may take to arrive whole, in milliseconds
    /// (slow clients are cut off with 408).
    pub request_timeout_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8088".to_owned(),
            write_keys: Vec::new(),
            public_url: None,
            max_batch_bytes: 4 * 1024 * 1024,
            rate_limit: None,
            twilio_auth_token: None,
            sendgrid_public_key: None,
            postmark_credentials: None,
            request_timeout_ms: 10_000,
        }
    }
}
