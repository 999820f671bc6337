//! The workspace configuration file (TOML): engine settings and identity
//! resolution rules. Every key is optional; defaults apply.
//!
//! ```toml
//! [engine]
//! seed = 42                       # splits and holdouts
//! default_timezone = "Europe/Berlin"
//!
//! [policies]
//! caps = [{ channel = "any", max = 3, per = "1d" }]
//! quiet_hours = { from = "21:00", to = "08:00", action = "defer" }
//!
//! [identity]
//! blocked_values = ["null", "undefined", "test@test.com"]
//! rules = [
//!   { kind = "user_id", priority = 1, limit = 1 },
//!   { kind = "email", priority = 2, limit = 3 },
//! ]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use waymark_engine::{EngineConfig, Policies, PoliciesSection};
use waymark_identity::IdentityConfig;

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Everything a workspace configures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceConfig {
    pub engine: EngineConfig,
    pub identity: IdentityConfig,
    /// Caps, quiet hours, suppression windows, topics (`docs/policies.md`).
    pub policies: Policies,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    engine: EngineSection,
    #[serde(default)]
    identity: IdentityConfig,
    #[serde(default)]
    policies: PoliciesSection,
    // A worker's config is a workspace config too: its own keys are read
    // by the worker, and ignored here.
    #[serde(default, rename = "journeys")]
    _journeys: Option<toml::Value>,
    #[serde(default, rename = "templates")]
    _templates: Option<toml::Value>,
    #[serde(default, rename = "segments")]
    _segments: Option<toml::Value>,
    #[serde(default, rename = "source")]
    _source: Option<toml::Value>,
    #[serde(default, rename = "store")]
    _store: Option<toml::Value>,
    #[serde(default, rename = "channels")]
    _channels: Option<toml::Value>,
    #[serde(default, rename = "runtime")]
    _runtime: Option<toml::Value>,
    #[serde(default, rename = "kafka")]
    _kafka: Option<toml::Value>,
    #[serde(default, rename = "ops")]
    _ops: Option<toml::Value>,
    #[serde(default, rename = "unsubscribe")]
    _unsubscribe: Option<toml::Value>,
    #[serde(default, rename = "analytics")]
    _analytics: Option<toml::Value>,
    #[serde(default, rename = "http")]
    _http: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EngineSection {
    seed: Option<u64>,
    default_timezone: Option<String>,
}

impl WorkspaceConfig {
    /// Reads a TOML file; errors name the file and the key at fault.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let file: File =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_owned()))?;
        let mut engine = EngineConfig::default();
        if let Some(seed) = file.engine.seed {
            engine.seed = seed;
        }
        if let Some(tz) = file.engine.default_timezone {
            engine.default_timezone = tz.parse().map_err(|_| {
                invalid(format!("engine.default_timezone: unknown time zone {tz:?}"))
            })?;
        }
        for rule in &file.identity.rules {
            if rule.limit == 0 {
                return Err(invalid(format!(
                    "identity.rules: the limit of {} must be at least 1",
                    rule.kind
                )));
            }
        }
        // Rules given override the defaults kind by kind; kinds not named
        // keep their default priority and limit.
        let mut identity = file.identity;
        let mut rules = IdentityConfig::default().rules;
        for rule in std::mem::take(&mut identity.rules) {
            match rules.iter_mut().find(|r| r.kind == rule.kind) {
                Some(known) => *known = rule,
                None => rules.push(rule),
            }
        }
        identity.rules = rules;
        let policies = file
            .policies
            .check()
            .map_err(|problems| invalid(problems.join("; ")))?;
        Ok(WorkspaceConfig {
            engine,
            identity,
            policies,
        })
    }
}

/// A problem for every topic a journey names that `policies.topics` does
/// not define.
pub fn check_topics(journeys: &[waymark_journey::Journey], policies: &Policies) -> Vec<String> {
    let mut problems = Vec::new();
    for journey in journeys {
        for topic in journey.topics() {
            if !policies.topics.contains_key(&**topic) {
                problems.push(format!(
                    "journey `{}`: unknown topic `{topic}` (define it in [policies] topics)",
                    journey.id
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: Result<(), &str>) -> WorkspaceConfig {
        match (
            WorkspaceConfig::parse(Path::new("waymark.toml"), text),
            expect,
        ) {
            (Ok(c), Ok(())) => c,
            (Err(e), Err(fragment)) => {
                assert!(e.to_string().contains(fragment), "{e}");
                WorkspaceConfig::default()
            }
            (got, _) => panic!("{text}: {got:?}"),
        }
    }

    #[test]
    fn reads_engine_and_identity_sections() {
        let c = check(
            "[engine]\nseed = 7\ndefault_timezone = \"Europe/Berlin\"\n[identity]\nrules = [{ kind = \"email\", priority = 1, limit = 2 }]\n",
            Ok(()),
        );
        assert_eq!(c.engine.seed, 7);
        assert_eq!(c.engine.default_timezone, chrono_tz::Europe::Berlin);
        assert_eq!(
            c.identity.rule(&waymark_core::IdentifierKind::Email),
            (1, 2)
        );
        assert!(
            c.identity.is_blocked("undefined"),
            "defaults kept for keys not given"
        );
        assert_eq!(
            c.identity.rule(&waymark_core::IdentifierKind::UserId),
            (1, 1),
            "other kinds keep their rules"
        );
        assert_eq!(check("", Ok(())), WorkspaceConfig::default());
    }

    #[test]
    fn names_what_is_wrong() {
        check(
            "[engine]\nsede = 7\n",
            Err("waymark.toml: TOML parse error at line 2"),
        );
        check(
            "[engine]\ndefault_timezone = \"Mars/Olympus\"\n",
            Err("unknown time zone \"Mars/Olympus\""),
        );
        check(
            "[identity]\nrules = [{ kind = \"email\", priority = 1, limit = 0 }]\n",
            Err("must be at least 1"),
        );
        check("[identity]\nblocked = []\n", Err("unknown field `blocked`"));
        check("[polices]\ncaps = []\n", Err("unknown field `polices`"));
        // A worker's config is accepted; its own sections are the worker's.
        check("journeys = [\"a.yaml\"]\n[store]\npath = \"x\"\n", Ok(()));
    }
}
