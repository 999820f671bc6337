//! SMS and WhatsApp through the Twilio Messages REST API (form-encoded,
//! basic auth; the base URL is configurable, so Twilio-compatible gateways
//! work). The idempotency key goes in `I-Twilio-Idempotency-Token`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use waymark_core::Channel;

use crate::http::{client, json_field, send};
use crate::rate_limit::RateLimiter;
use crate::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};

/// `[channels.sms]` or `[channels.whatsapp]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: String,
    /// The sender: a phone number (`+15005550006`), or for WhatsApp the
    /// number without the `whatsapp:` prefix (it is added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Or a Messaging Service that picks the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messaging_service_sid: Option<String>,
    pub base_url: String,
    /// Where Twilio reports delivery (the Segment HTTP example's
    /// `/twilio/status` turns those reports into events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_callback: Option<String>,
    pub timeout_ms: u64,
    pub rate_per_second: f64,
    pub burst: u32,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        TwilioConfig {
            account_sid: String::new(),
            auth_token: String::new(),
            from: None,
            messaging_service_sid: None,
            base_url: "https://api.twilio.com".to_owned(),
            status_callback: None,
            timeout_ms: 10_000,
            rate_per_second: 0.0,
            burst: 1,
        }
    }
}

/// Sends SMS or WhatsApp messages.
#[derive(Debug)]
pub struct TwilioChannel {
    config: TwilioConfig,
    client: reqwest::Client,
    limiter: Option<RateLimiter>,
}

impl TwilioChannel {
    pub fn new(config: TwilioConfig) -> Self {
        TwilioChannel {
            client: client(Duration::from_millis(config.timeout_ms)),
            limiter: RateLimiter::new(config.rate_per_second, config.burst),
            config,
        }
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, DeliveryError> {
        let permanent = |reason: String| DeliveryError::Permanent {
            reason: format!("twilio: {reason}"),
        };
        let to = delivery
            .to
            .as_deref()
            .ok_or_else(|| permanent("no phone number".to_owned()))?;
        let body = delivery
            .text("body")
            .ok_or_else(|| permanent("the template has no `body`".to_owned()))?;
        let whatsapp = delivery.channel == Channel::Whatsapp;
        let address = |n: &str| {
            if whatsapp && !n.starts_with("whatsapp:") {
                format!("whatsapp:{n}")
            } else {
                n.to_owned()
            }
        };
        let mut form = vec![("To", address(to)), ("Body", body.to_owned())];
        match (&self.config.messaging_service_sid, &self.config.from) {
            (Some(service), _) => form.push(("MessagingServiceSid", service.clone())),
            (None, Some(from)) => form.push(("From", address(from))),
            (None, None) => {
                return Err(permanent(
                    "configure `from` or `messaging_service_sid`".to_owned(),
                ));
            }
        }
        if let Some(callback) = &self.config.status_callback {
            form.push(("StatusCallback", status_callback(callback, delivery)));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.base_url.trim_end_matches('/'),
            self.config.account_sid
        );
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        let request = self
            .client
            .post(url)
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .header("I-Twilio-Idempotency-Token", &delivery.key)
            .form(&form);
        let body = send("twilio", request).await?.accepted("twilio")?;
        Ok(Receipt {
            provider_id: json_field(&body, "sid"),
            duplicate: false,
        })
    }
}

/// The status callback for one message: who it was for and its key ride
/// along in the query (Twilio signs the whole URL), so the report can be
/// turned into an event about that person.
fn status_callback(base: &str, delivery: &Delivery) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let who = match (&delivery.user_id, &delivery.anonymous_id) {
        (Some(user), _) => format!("user={}", encode(user)),
        (None, Some(anonymous)) => format!("anonymous={}", encode(anonymous)),
        (None, None) => String::new(),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{who}&key={}", encode(&delivery.key))
}

impl Deliver for TwilioChannel {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> DeliveryFuture<'a> {
        Box::pin(self.send(delivery))
    }

    fn reports_outcomes(&self) -> bool {
        true
    }
}
