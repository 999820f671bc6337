//! Webhooks: the template's JSON `body` POSTed to its `url` (with its
//! `headers`), signed per Standard Webhooks: `webhook-id` (the idempotency
//! key), `webhook-timestamp`, `webhook-signature`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{client, send};
use crate::rate_limit::RateLimiter;
use crate::signing::{webhook_key, webhook_signature};
use crate::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};

/// `[channels.webhook]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// The signing secret, `whsec_<base64>` as Standard Webhooks issues them.
    pub secret: String,
    pub timeout_ms: u64,
    /// Requests per second at most (0: no limit), `burst` at once.
    pub rate_per_second: f64,
    pub burst: u32,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            secret: String::new(),
            timeout_ms: 10_000,
            rate_per_second: 0.0,
            burst: 1,
        }
    }
}

/// Delivers webhooks.
#[derive(Debug)]
pub struct WebhookChannel {
    client: reqwest::Client,
    key: Vec<u8>,
    limiter: Option<RateLimiter>,
}

impl WebhookChannel {
    pub fn new(config: &WebhookConfig) -> Self {
        WebhookChannel {
            client: client(Duration::from_millis(config.timeout_ms)),
            key: webhook_key(&config.secret),
            limiter: RateLimiter::new(config.rate_per_second, config.burst),
        }
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, DeliveryError> {
        let permanent = |reason: &str| DeliveryError::Permanent {
            reason: format!("webhook: {reason}"),
        };
        let url = delivery
            .text("url")
            .ok_or_else(|| permanent("the template has no `url`"))?;
        // The body: the template's JSON `body` (a string is sent as it is
        // when it holds JSON), else the delivery itself.
        let body = match delivery.content.get("body") {
            Some(Value::String(text)) => text.clone().into_bytes(),
            Some(value) => serde_json::to_vec(value).unwrap_or_default(),
            None => serde_json::to_vec(delivery).unwrap_or_default(),
        };
        let timestamp = chrono::Utc::now().timestamp();
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.key)
            .header("webhook-timestamp", timestamp.to_string())
            .header("idempotency-key", &delivery.key);
        if !self.key.is_empty() {
            request = request.header(
                "webhook-signature",
                webhook_signature(&self.key, &delivery.key, timestamp, &body),
            );
        }
        if let Some(Value::Object(headers)) = delivery.content.get("headers") {
            for (name, value) in headers {
                if let Some(value) = value.as_str() {
                    request = request.header(name.as_str(), value);
                }
            }
        }
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        send("webhook", request.body(body))
            .await?
            .accepted("webhook")?;
        Ok(Receipt {
            provider_id: None,
            duplicate: false,
        })
    }
}

impl Deliver for WebhookChannel {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> DeliveryFuture<'a> {
        Box::pin(self.send(delivery))
    }

    fn reports_outcomes(&self) -> bool {
        true
    }
}
