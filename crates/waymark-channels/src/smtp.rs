//! Email over SMTP (lettre): any MTA or ESP relay (SES, SendGrid,
//! Postmark, Mailgun), with STARTTLS or implicit TLS and authentication.
//! Every email carries `List-Unsubscribe` and `List-Unsubscribe-Post:
//! List-Unsubscribe=One-Click` (RFC 8058) when the runtime signs
//! unsubscribe links, and its idempotency key in `X-Waymark-Key` and in a
//! `Message-ID` derived from it (a resend after a crash has the same id).

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::rate_limit::RateLimiter;
use crate::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text (a local relay only).
    None,
    /// Upgrade with STARTTLS (port 587), refusing servers that cannot.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// `[channels.email]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Accept any certificate (tests against a local server only).
    pub accept_invalid_certs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The sender when the template has no `from`.
    pub from: String,
    /// The domain of generated Message-IDs [default: the sender's domain].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id_domain: Option<String>,
    pub timeout_ms: u64,
    pub rate_per_second: f64,
    pub burst: u32,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "localhost".to_owned(),
            port: 587,
            tls: SmtpTls::Starttls,
            accept_invalid_certs: false,
            username: None,
            password: None,
            from: "Waymark <no-reply@example.com>".to_owned(),
            message_id_domain: None,
            timeout_ms: 30_000,
            rate_per_second: 0.0,
            burst: 1,
        }
    }
}

/// Why the channel could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("channels.email: {0}")]
pub struct SmtpSetupError(String);

/// Sends email.
pub struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
    limiter: Option<RateLimiter>,
}

impl std::fmt::Debug for SmtpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpChannel")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpChannel {
    pub fn new(config: &SmtpConfig) -> Result<Self, SmtpSetupError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| SmtpSetupError(format!("from {:?}: {e}", config.from)))?;
        let tls = || {
            TlsParameters::builder(config.host.clone())
                .dangerous_accept_invalid_certs(config.accept_invalid_certs)
                .build()
                .map_err(|e| SmtpSetupError(format!("tls: {e}")))
        };
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls()?),
            SmtpTls::Tls => Tls::Wrapper(tls()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(Duration::from_millis(config.timeout_ms)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let domain = config
            .message_id_domain
            .clone()
            .unwrap_or_else(|| from.email.domain().to_owned());
        Ok(SmtpChannel {
            transport: builder.build(),
            from,
            domain,
            limiter: RateLimiter::new(config.rate_per_second, config.burst),
        })
    }

    fn message(&self, delivery: &Delivery) -> Result<Message, DeliveryError> {
        let permanent = |reason: String| DeliveryError::Permanent {
            reason: format!("email: {reason}"),
        };
        let to: Mailbox = delivery
            .to
            .as_deref()
            .ok_or_else(|| permanent("no address".to_owned()))?
            .parse()
            .map_err(|e| permanent(format!("bad address: {e}")))?;
        let from = match delivery.text("from") {
            Some(from) => from
                .parse()
                .map_err(|e| permanent(format!("bad `from` {from:?}: {e}")))?,
            None => self.from.clone(),
        };
        let subject = delivery
            .text("subject")
            .ok_or_else(|| permanent("the template has no `subject`".to_owned()))?;
        let digest = waymark_core::stable_hash(0, &[&delivery.key]);
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{digest:016x}.waymark@{}>", self.domain)))
            .raw_header(raw("X-Waymark-Key", &delivery.key)?);
        // Who it is for, as providers hand back with their events
        // (SendGrid's unique args, Postmark's metadata): see email_events.
        let (who, metadata, id) = match (&delivery.user_id, &delivery.anonymous_id) {
            (Some(user), _) => ("waymark_user", "X-PM-Metadata-waymark_user", Some(user)),
            (None, Some(anonymous)) => (
                "waymark_anonymous",
                "X-PM-Metadata-waymark_anonymous",
                Some(anonymous),
            ),
            (None, None) => ("waymark_user", "X-PM-Metadata-waymark_user", None),
        };
        if let Some(id) = id {
            let args = serde_json::json!({"unique_args": {who: id, "waymark_key": delivery.key}});
            builder = builder
                .raw_header(raw("X-SMTPAPI", &args.to_string())?)
                .raw_header(raw(metadata, id)?)
                .raw_header(raw("X-PM-Metadata-waymark_key", &delivery.key)?);
        }
        let reply_to = delivery
            .text("reply_to")
            .or_else(|| delivery.text("reply-to"));
        if let Some(reply_to) = reply_to {
            builder = builder.reply_to(
                reply_to
                    .parse()
                    .map_err(|e| permanent(format!("bad `reply_to` {reply_to:?}: {e}")))?,
            );
        }
        if let Some(url) = &delivery.unsubscribe_url {
            builder = builder
                .raw_header(raw("List-Unsubscribe", &format!("<{url}>"))?)
                .raw_header(raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")?);
        }
        let message = match (delivery.text("text"), delivery.text("html")) {
            (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(
                text.to_owned(),
                html.to_owned(),
            )),
            (Some(text), None) => builder.singlepart(SinglePart::plain(text.to_owned())),
            (None, Some(html)) => builder.singlepart(SinglePart::html(html.to_owned())),
            (None, None) => {
                return Err(permanent("the template has no `text` or `html`".to_owned()));
            }
        };
        message.map_err(|e| permanent(e.to_string()))
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, DeliveryError> {
        let message = self.message(delivery)?;
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        match self.transport.send(message).await {
            Ok(response) => Ok(Receipt {
                provider_id: response.message().next().map(str::to_owned),
                duplicate: false,
            }),
            Err(error) if error.is_permanent() => Err(DeliveryError::Permanent {
                reason: format!("email: refused: {error}"),
            }),
            Err(error) => Err(DeliveryError::Transient {
                reason: format!("email: {error}"),
                retry_after: None,
            }),
        }
    }
}

fn raw(name: &'static str, value: &str) -> Result<HeaderValue, DeliveryError> {
    let name = HeaderName::new_from_ascii_str(name);
    Ok(HeaderValue::new(name, value.to_owned()))
}

impl Deliver for SmtpChannel {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> DeliveryFuture<'a> {
        Box::pin(self.send(delivery))
    }

    fn reports_outcomes(&self) -> bool {
        true
    }
}
