//! The kinds of identifier a person can be known by.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind of identifier. `External` covers configured ids from
/// `context.externalIds` (e.g. a CRM id), named by their type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    UserId,
    AnonymousId,
    Email,
    Phone,
    DeviceId,
    External(String),
}

/// One identifier value of a given kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    pub kind: IdentifierKind,
    pub value: String,
}

impl Identifier {
    pub fn new(kind: IdentifierKind, value: impl Into<String>) -> Self {
        Identifier {
            kind,
            value: value.into(),
        }
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentifierKind::UserId => f.write_str("user_id"),
            IdentifierKind::AnonymousId => f.write_str("anonymous_id"),
            IdentifierKind::Email => f.write_str("email"),
            IdentifierKind::Phone => f.write_str("phone"),
            IdentifierKind::DeviceId => f.write_str("device_id"),
            IdentifierKind::External(name) => write!(f, "external:{name}"),
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.kind, self.value)
    }
}

impl std::str::FromStr for Identifier {
    type Err = String;

    /// `kind=value` (`user_id=u1`, `email=ada@example.com`,
    /// `external:crm_id=42`); a bare value is a `user_id`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((kind, value)) = text.split_once('=') else {
            return Ok(Identifier::new(IdentifierKind::UserId, text));
        };
        let kind = match kind {
            "user_id" => IdentifierKind::UserId,
            "anonymous_id" => IdentifierKind::AnonymousId,
            "email" => IdentifierKind::Email,
            "phone" => IdentifierKind::Phone,
            "device_id" => IdentifierKind::DeviceId,
            other => match other.strip_prefix("external:") {
                Some(name) if !name.is_empty() => IdentifierKind::External(name.to_owned()),
                _ => {
                    return Err(format!(
                        "unknown identifier kind {other:?} (expected user_id, anonymous_id, email, phone, device_id or external:<type>)"
                    ));
                }
            },
        };
        if value.is_empty() {
            return Err(format!("{text:?}: the identifier value is empty"));
        }
        Ok(Identifier::new(kind, value))
    }
}
