//! Dashboard sign-in: a token (read or admin) is exchanged for a session
//! cookie, `scope.expiry.mac`, signed with a key drawn at start (sessions
//! end with the process; the token itself is never stored in the cookie
//! nor shown). Forms carry a CSRF token derived from the session (or, on
//! the sign-in form, the double-submit value of a cookie), checked on
//! every POST.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::admin::Scope;

pub(crate) const SESSION_COOKIE: &str = "waymark_session";
pub(crate) const LOGIN_COOKIE: &str = "waymark_login";
/// How long a session lasts, in seconds.
pub(crate) const SESSION_SECONDS: i64 = 12 * 3600;

/// The key sessions and CSRF tokens are signed with.
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut key = [0; 32];
        // The OS random source failing leaves no safe way to sign sessions.
        getrandom::fill(&mut key).expect("the OS random source is unavailable");
        SessionKey(key)
    }

    fn mac(&self, purpose: &str, text: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(text.as_bytes());
        b64(&mac.finalize().into_bytes())
    }

    /// A session for `scope`, valid until `now + SESSION_SECONDS` (epoch seconds).
    pub(crate) fn issue(&self, scope: Scope, now: i64) -> String {
        let body = format!("{}.{}", scope.name(), now + SESSION_SECONDS);
        let mac = self.mac("session", &body);
        format!("{body}.{mac}")
    }

    /// The scope of a session cookie, if it is ours and not expired.
    pub(crate) fn check(&self, cookie: &str, now: i64) -> Option<Scope> {
        let (body, mac) = cookie.rsplit_once('.')?;
        if !equal(&self.mac("session", body), mac) {
            return None;
        }
        let (scope, expiry) = body.split_once('.')?;
        if expiry.parse::<i64>().ok()? <= now {
            return None;
        }
        match scope {
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// The CSRF token of forms shown in session `cookie`.
    pub(crate) fn csrf(&self, cookie: &str) -> String {
        self.mac("csrf", cookie)
    }

    pub(crate) fn check_csrf(&self, cookie: &str, token: &str) -> bool {
        equal(&self.csrf(cookie), token)
    }
}

/// A random value for the sign-in form's double-submit cookie.
pub(crate) fn login_nonce() -> String {
    let mut nonce = [0; 16];
    getrandom::fill(&mut nonce).expect("the OS random source is unavailable");
    b64(&nonce)
}

pub(crate) fn equal(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HTTP only, same-site strict, for the whole site.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_signed_scoped_and_expire() {
        let key = SessionKey::random();
        let session = key.issue(Scope::Read, 1_000);
        assert_eq!(key.check(&session, 1_001), Some(Scope::Read));
        assert_eq!(key.check(&session, 1_000 + SESSION_SECONDS), None);
        // Changing the scope breaks the signature.
        let forged = session.replacen("read", "admin", 1);
        assert_eq!(key.check(&forged, 1_001), None);
        // Another process's key does not accept it.
        assert_eq!(SessionKey::random().check(&session, 1_001), None);
        let csrf = key.csrf(&session);
        assert!(key.check_csrf(&session, &csrf));
        assert!(!key.check_csrf(&key.issue(Scope::Read, 1_001), &csrf));
    }
}
