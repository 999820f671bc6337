//! Merge rules: per identifier kind a priority and a limit, and values that
//! never link anything.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use waymark_core::IdentifierKind;

/// How one kind of identifier takes part in resolution. A lower `priority`
/// number wins; `limit` is how many values of the kind a profile may hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindRule {
    pub kind: IdentifierKind,
    pub priority: u32,
    pub limit: usize,
}

/// The identity resolution settings of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Rules per kind; kinds not listed (external ids) use `external`.
    pub rules: Vec<KindRule>,
    /// The rule for `context.externalIds` types without a rule of their own.
    pub external: ExternalRule,
    /// Values that never identify anyone (compared case-insensitively).
    pub blocked_values: BTreeSet<String>,
    /// `context.externalIds` types to use; empty means all.
    pub external_id_types: BTreeSet<String>,
}

/// Priority and limit of external ids without a rule of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalRule {
    pub priority: u32,
    pub limit: usize,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        let rule = |kind, priority, limit| KindRule {
            kind,
            priority,
            limit,
        };
        IdentityConfig {
            rules: vec![
                rule(IdentifierKind::UserId, 1, 1),
                rule(IdentifierKind::Email, 2, 5),
                rule(IdentifierKind::Phone, 3, 5),
                rule(IdentifierKind::DeviceId, 4, 20),
                rule(IdentifierKind::AnonymousId, 5, 100),
            ],
            external: ExternalRule {
                priority: 6,
                limit: 5,
            },
            blocked_values: [
                "null",
                "undefined",
                "unknown",
                "none",
                "nil",
                "n/a",
                "0",
                "-1",
                "anonymous",
                "test@test.com",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
            external_id_types: BTreeSet::new(),
        }
    }
}

impl IdentityConfig {
    /// Priority and limit of `kind`.
    pub fn rule(&self, kind: &IdentifierKind) -> (u32, usize) {
        self.rules
            .iter()
            .find(|r| &r.kind == kind)
            .map_or((self.external.priority, self.external.limit), |r| {
                (r.priority, r.limit)
            })
    }

    pub fn is_blocked(&self, value: &str) -> bool {
        let value = value.trim();
        value.is_empty()
            || self.blocked_values.contains(value)
            || self
                .blocked_values
                .iter()
                .any(|b| b.eq_ignore_ascii_case(value))
    }

    pub fn accepts_external(&self, id_type: &str) -> bool {
        self.external_id_types.is_empty() || self.external_id_types.contains(id_type)
    }
}
