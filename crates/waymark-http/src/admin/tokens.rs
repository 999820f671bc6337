//! Admin tokens: `Authorization: Bearer <token>` with a `read` or an
//! `admin` scope (`admin` may do everything `read` may). Tokens are
//! compared by their SHA-256 digests in constant time, so neither a
//! token's content nor its length shows in how long a refusal takes.

use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Look: journeys, reports, profiles, timers, the outbox, segments.
    Read,
    /// Also change: deploy, pause, resume, archive, forget, retry.
    Admin,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// The configured tokens, kept as digests.
#[derive(Clone, Default)]
pub struct AdminTokens {
    tokens: Vec<([u8; 32], Scope)>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminTokens")
            .field("count", &self.tokens.len())
            .finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl AdminTokens {
    pub fn new(read: &[String], admin: &[String]) -> Self {
        let tokens = read
            .iter()
            .map(|t| (digest(t), Scope::Read))
            .chain(admin.iter().map(|t| (digest(t), Scope::Admin)))
            .collect();
        AdminTokens { tokens }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The scope of `token`, if it is one of ours. Every configured token
    /// is compared, whichever matches.
    pub fn scope_of(&self, token: &str) -> Option<Scope> {
        let presented = digest(token);
        let mut found = None;
        for (known, scope) in &self.tokens {
            if bool::from(known.ct_eq(&presented)) {
                found = found.max(Some(*scope));
            }
        }
        found
    }

    /// The scope of the request's bearer token, if it has at least `needed`.
    pub fn authorize(&self, headers: &HeaderMap, needed: Scope) -> Result<Scope, ApiError> {
        let token = bearer(headers).ok_or_else(|| {
            unauthorized("an admin token is required: `Authorization: Bearer <token>`")
        })?;
        let scope = self
            .scope_of(token)
            .ok_or_else(|| unauthorized("the token is not valid"))?;
        if scope < needed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!(
                    "this needs a token with the `{}` scope; this one has `{}`",
                    needed.name(),
                    scope.name()
                ),
            ));
        }
        Ok(scope)
    }
}

/// A request whose token has the `read` scope (or `admin`); checked
/// before the body or the query is read, so a refusal for the token
/// comes first.
pub(crate) struct CanRead;

/// A request whose token has the `admin` scope.
pub(crate) struct CanChange;

impl axum::extract::FromRequestParts<super::AdminState> for CanRead {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        admin: &super::AdminState,
    ) -> Result<Self, ApiError> {
        admin.tokens.authorize(&parts.headers, Scope::Read)?;
        Ok(CanRead)
    }
}

impl axum::extract::FromRequestParts<super::AdminState> for CanChange {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        admin: &super::AdminState,
    ) -> Result<Self, ApiError> {
        admin.tokens.authorize(&parts.headers, Scope::Admin)?;
        Ok(CanChange)
    }
}

/// The token of `Authorization: Bearer ...`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = value.split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn scopes_are_ordered_and_checked() {
        let tokens = AdminTokens::new(&["r-token".into()], &["a-token".into()]);
        assert_eq!(tokens.scope_of("r-token"), Some(Scope::Read));
        assert_eq!(tokens.scope_of("a-token"), Some(Scope::Admin));
        assert_eq!(tokens.scope_of("a-toke"), None);
        assert_eq!(tokens.scope_of(""), None);
        let read = headers("Bearer r-token");
        assert_eq!(tokens.authorize(&read, Scope::Read), Ok(Scope::Read));
        let refused = tokens.authorize(&read, Scope::Admin).unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let admin = headers("bearer a-token");
        assert_eq!(tokens.authorize(&admin, Scope::Read), Ok(Scope::Admin));
        let wrong = tokens.authorize(&headers("Basic a-token"), Scope::Read);
        assert_eq!(wrong.unwrap_err().status, StatusCode::UNAUTHORIZED);
    }
}
