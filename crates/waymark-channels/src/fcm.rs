//! Push through Firebase Cloud Messaging HTTP v1. The service account's
//! key signs a JWT (RS256), exchanged at the key's token URI for an OAuth
//! access token, cached until shortly before it expires.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::http::{client, json_field, send};
use crate::rate_limit::RateLimiter;
use crate::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// `[channels.push]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FcmConfig {
    /// The service account key file (JSON, as the Firebase console gives it).
    pub service_account_file: PathBuf,
    /// The Firebase project [default: the key's `project_id`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    pub base_url: String,
    pub timeout_ms: u64,
    pub rate_per_second: f64,
    pub burst: u32,
}

impl Default for FcmConfig {
    fn default() -> Self {
        FcmConfig {
            service_account_file: PathBuf::from("firebase-service-account.json"),
            project_id: None,
            base_url: "https://fcm.googleapis.com".to_owned(),
            timeout_ms: 10_000,
            rate_per_second: 0.0,
            burst: 1,
        }
    }
}

/// The fields of a service account key this channel uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    pub token_uri: String,
    #[serde(default)]
    pub project_id: Option<String>,
}

/// Why the channel could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum FcmSetupError {
    #[error("{path}: {reason}")]
    Key { path: String, reason: String },
    #[error("no project id: set `project_id` or use a key that has one")]
    NoProject,
}

#[derive(Debug)]
struct Token {
    value: String,
    refresh_at: Instant,
}

/// Sends push notifications.
#[derive(Debug)]
pub struct FcmChannel {
    account: ServiceAccount,
    key: PKey<openssl::pkey::Private>,
    project: String,
    base_url: String,
    client: reqwest::Client,
    token: Mutex<Option<Token>>,
    limiter: Option<RateLimiter>,
}

impl FcmChannel {
    pub fn new(config: &FcmConfig) -> Result<Self, FcmSetupError> {
        let path = config.service_account_file.display().to_string();
        let key_error = |reason: String| FcmSetupError::Key {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(&config.service_account_file)
            .map_err(|e| key_error(e.to_string()))?;
        let account: ServiceAccount =
            serde_json::from_str(&text).map_err(|e| key_error(e.to_string()))?;
        Self::with_account(account, config).map_err(|e| match e {
            FcmSetupError::Key { reason, .. } => key_error(reason),
            other => other,
        })
    }

    pub fn with_account(
        account: ServiceAccount,
        config: &FcmConfig,
    ) -> Result<Self, FcmSetupError> {
        let key = PKey::private_key_from_pem(account.private_key.as_bytes()).map_err(|e| {
            FcmSetupError::Key {
                path: String::new(),
                reason: format!("private_key: {e}"),
            }
        })?;
        let project = config
            .project_id
            .clone()
            .or_else(|| account.project_id.clone())
            .ok_or(FcmSetupError::NoProject)?;
        Ok(FcmChannel {
            account,
            key,
            project,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            client: client(Duration::from_millis(config.timeout_ms)),
            token: Mutex::new(None),
            limiter: RateLimiter::new(config.rate_per_second, config.burst),
        })
    }

    /// The signed JWT assertion for the token exchange.
    fn assertion(&self) -> Result<String, DeliveryError> {
        let now = chrono::Utc::now().timestamp();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = json!({
            "iss": self.account.client_email,
            "scope": SCOPE,
            "aud": self.account.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let sign = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
            let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
            signer.update(signing_input.as_bytes())?;
            signer.sign_to_vec()
        };
        let signature = sign().map_err(|e| DeliveryError::Permanent {
            reason: format!("fcm: cannot sign the token request: {e}"),
        })?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// A valid access token: the cached one, or a new one.
    async fn access_token(&self) -> Result<String, DeliveryError> {
        let mut token = self.token.lock().await;
        if let Some(t) = token.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(t.value.clone());
        }
        let assertion = self.assertion()?;
        let request = self.client.post(&self.account.token_uri).form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ]);
        let text = send("fcm token", request).await?.accepted("fcm token")?;
        let body: Value = serde_json::from_str(&text).unwrap_or_default();
        let value = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| DeliveryError::Transient {
                reason: "fcm token: no access_token in the answer".to_owned(),
                retry_after: None,
            })?
            .to_owned();
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        *token = Some(Token {
            value: value.clone(),
            refresh_at: Instant::now() + Duration::from_secs(lifetime.saturating_sub(60)),
        });
        Ok(value)
    }

    /// The FCM message for a delivery: notification title/body, `data` as
    /// strings (FCM's rule), the idempotency key in `data.waymark_key`.
    fn message(delivery: &Delivery, token: &str) -> Value {
        let mut data = Map::new();
        if let Some(Value::Object(fields)) = delivery.content.get("data") {
            for (k, v) in fields {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                data.insert(k.clone(), Value::String(text));
            }
        }
        data.insert(
            "waymark_key".to_owned(),
            Value::String(delivery.key.clone()),
        );
        let mut notification = Map::new();
        for field in ["title", "body", "image"] {
            if let Some(text) = delivery.text(field) {
                notification.insert(field.to_owned(), Value::String(text.to_owned()));
            }
        }
        json!({"message": {"token": token, "notification": notification, "data": data}})
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, DeliveryError> {
        let device = delivery
            .to
            .as_deref()
            .ok_or_else(|| DeliveryError::Permanent {
                reason: "fcm: no device token".to_owned(),
            })?;
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        let access = self.access_token().await?;
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.base_url, self.project
        );
        let request = self
            .client
            .post(url)
            .bearer_auth(access)
            .json(&Self::message(delivery, device));
        let answer = send("fcm", request).await?;
        let status = answer.status;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // The token was revoked or expired early: fetch a new one next time.
            *self.token.lock().await = None;
            return Err(DeliveryError::Transient {
                reason: format!("fcm: HTTP {status}: access token refused"),
                retry_after: None,
            });
        }
        if !status.is_success() && answer.body.contains("UNREGISTERED") {
            return Err(DeliveryError::Permanent {
                reason: format!("fcm: unregistered device token: HTTP {status}"),
            });
        }
        let body = answer.accepted("fcm")?;
        Ok(Receipt {
            provider_id: json_field(&body, "name"),
            duplicate: false,
        })
    }
}

impl Deliver for FcmChannel {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> DeliveryFuture<'a> {
        Box::pin(self.send(delivery))
    }

    fn reports_outcomes(&self) -> bool {
        true
    }
}
