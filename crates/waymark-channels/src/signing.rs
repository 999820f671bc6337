//! Signatures: Standard Webhooks (HMAC-SHA256 over `id.timestamp.body`),
//! and the signed tokens of one-click unsubscribe links.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::hash::MessageDigest;
use openssl::memcmp;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};

/// HMAC-SHA256 of `data` with `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let sign = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let key = PKey::hmac(key)?;
        let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
        signer.update(data)?;
        signer.sign_to_vec()
    };
    sign().unwrap_or_default()
}

/// Twilio's `X-Twilio-Signature` for a request to `url` with form
/// `params`: base64 of HMAC-SHA1 (keyed by the auth token) over the URL
/// followed by each parameter's name and value, sorted by name.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_owned();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let sign = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let key = PKey::hmac(auth_token.as_bytes())?;
        let mut signer = Signer::new(MessageDigest::sha1(), &key)?;
        signer.update(data.as_bytes())?;
        signer.sign_to_vec()
    };
    STANDARD.encode(sign().unwrap_or_default())
}

/// Compares two signatures in constant time.
pub fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len() && memcmp::eq(a.as_bytes(), b.as_bytes())
}

/// The key bytes of a Standard Webhooks secret (`whsec_<base64>`; a
/// secret without the prefix is used as raw bytes).
pub fn webhook_key(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD
            .decode(encoded)
            .unwrap_or_else(|_| encoded.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    }
}

/// The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of
/// "{id}.{timestamp}.{body}">`.
pub fn webhook_signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("v1,{}", STANDARD.encode(hmac_sha256(key, &signed)))
}

/// Who an unsubscribe link is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsubscribeClaim {
    /// The person's user id, or anonymous id when `anonymous`.
    #[serde(rename = "u")]
    pub id: String,
    #[serde(rename = "a", default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// The channel (`email`, `sms`, ...) to stop.
    #[serde(rename = "c")]
    pub channel: String,
    /// The subscription topic the message was about: the person leaves
    /// that topic, not the whole channel.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// Signs and checks unsubscribe tokens (`<payload>.<signature>`, both
/// base64url), and makes the links.
#[derive(Clone)]
pub struct UnsubscribeSigner {
    secret: Vec<u8>,
    base_url: String,
}

impl std::fmt::Debug for UnsubscribeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsubscribeSigner")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl UnsubscribeSigner {
    /// Links are `<base_url>?token=<token>`.
    pub fn new(secret: &str, base_url: &str) -> Self {
        UnsubscribeSigner {
            secret: secret.as_bytes().to_vec(),
            base_url: base_url.to_owned(),
        }
    }

    pub fn token(&self, claim: &UnsubscribeClaim) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claim).unwrap_or_default());
        let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(&self.secret, payload.as_bytes()));
        format!("{payload}.{signature}")
    }

    pub fn url(&self, claim: &UnsubscribeClaim) -> String {
        let separator = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{separator}token={}", self.base_url, self.token(claim))
    }

    /// The claim of a token this signer made, or why it is not one.
    pub fn verify(&self, token: &str) -> Result<UnsubscribeClaim, &'static str> {
        let (payload, signature) = token.split_once('.').ok_or("malformed token")?;
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "malformed signature")?;
        let expected = hmac_sha256(&self.secret, payload.as_bytes());
        if given.len() != expected.len() || !memcmp::eq(&given, &expected) {
            return Err("bad signature");
        }
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| "malformed payload")?;
        serde_json::from_slice(&json).map_err(|_| "malformed payload")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_reference_signature() {
        // The example from the Standard Webhooks specification.
        let key = webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let signature = webhook_signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn twilio_reference_signature() {
        // The example of Twilio's webhook security documentation.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
    }

    #[test]
    fn unsubscribe_tokens_verify_and_refuse_tampering() {
        let signer = UnsubscribeSigner::new("s3cret", "https://example.com/unsubscribe");
        let claim = UnsubscribeClaim {
            id: "ana".into(),
            anonymous: false,
            channel: "email".into(),
            topic: None,
        };
        let url = signer.url(&claim);
        let token = url.split("token=").nth(1).unwrap();
        assert_eq!(signer.verify(token).unwrap(), claim);
        let (payload, signature) = token.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"u":"bob","c":"email"}"#);
        assert_eq!(
            signer.verify(&format!("{forged}.{signature}")),
            Err("bad signature")
        );
        let other = UnsubscribeSigner::new("other", "https://example.com/unsubscribe");
        assert_eq!(
            other.verify(&format!("{payload}.{signature}")),
            Err("bad signature")
        );
        assert!(signer.verify("nonsense").is_err());
    }
}
