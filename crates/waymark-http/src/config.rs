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
    /// Tokens of the `read` scope: the admin API's GET routes and the
    /// dashboard. With no token at all, neither is served.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "hidden")]
    pub read_tokens: Vec<String>,
    /// Tokens of the `admin` scope: everything `read` may, and deploy,
    /// pause, resume, archive, forget, retry.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "hidden")]
    pub admin_tokens: Vec<String>,
}

/// Secrets shown in the effective configuration as how many there are.
fn hidden<S: serde::Serializer>(tokens: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(tokens.iter().map(|_| "<hidden>"))
}

impl HttpConfig {
    /// What is wrong with the section, every problem at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, tokens) in [
            ("read_tokens", &self.read_tokens),
            ("admin_tokens", &self.admin_tokens),
        ] {
            for (i, token) in tokens.iter().enumerate() {
                if token.trim().is_empty() || token.trim() != token {
                    problems.push(format!(
                        "http.{name}[{i}]: a token must not be empty nor start or end with spaces"
                    ));
                }
            }
        }
        let admin: std::collections::HashSet<&String> = self.admin_tokens.iter().collect();
        if self.read_tokens.iter().any(|t| admin.contains(t)) {
            problems.push(
                "http.read_tokens: a token is also in admin_tokens; give each token one scope"
                    .to_owned(),
            );
        }
        problems
    }

    /// Whether the admin API and the dashboard are served.
    pub fn admin_enabled(&self) -> bool {
        !self.read_tokens.is_empty() || !self.admin_tokens.is_empty()
    }
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
            read_tokens: Vec::new(),
            admin_tokens: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_padded_or_doubly_scoped_tokens_are_refused_together() {
        let config = HttpConfig {
            read_tokens: vec!["same".into(), String::new()],
            admin_tokens: vec!["same".into(), " padded".into()],
            ..HttpConfig::default()
        };
        let problems = config.problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("http.read_tokens[1]"));
        assert!(problems[1].contains("http.admin_tokens[1]"));
        assert!(problems[2].contains("also in admin_tokens"));
        let fine = HttpConfig {
            read_tokens: vec!["r".into()],
            admin_tokens: vec!["a".into()],
            ..HttpConfig::default()
        };
        assert!(fine.problems().is_empty());
        assert!(fine.admin_enabled() && !HttpConfig::default().admin_enabled());
    }
}
