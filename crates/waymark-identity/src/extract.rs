//! The identifiers an event carries, normalised, blocked values removed,
//! highest priority first.

use serde_json::Value;
use waymark_core::{Event, EventType, Identifier, IdentifierKind};

use crate::config::IdentityConfig;

/// Trimmed and lower-cased; `None` unless it looks like an address.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    (!local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace))
        .then_some(email)
}

/// E.164 where the number says its country (`+49 151 ...`, `0049...`);
/// otherwise its digits. `None` for what is not a phone number.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let mut digits = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            '+' if digits.is_empty() => {}
            _ => return None,
        }
    }
    let international = trimmed.starts_with('+') || digits.starts_with("00");
    let digits = if trimmed.starts_with('+') {
        digits
    } else {
        digits.trim_start_matches("00").to_owned()
    };
    if !(6..=15).contains(&digits.len()) {
        return None;
    }
    Some(if international {
        format!("+{digits}")
    } else {
        digits
    })
}

/// An identifier in the form it is stored: emails and phones normalised.
pub fn normalize(identifier: &Identifier) -> Identifier {
    let value = match identifier.kind {
        IdentifierKind::Email => normalize_email(&identifier.value),
        IdentifierKind::Phone => normalize_phone(&identifier.value),
        _ => None,
    };
    match value {
        Some(value) => Identifier::new(identifier.kind.clone(), value),
        None => identifier.clone(),
    }
}

/// Every identifier of `event` the configuration accepts, sorted by
/// priority (stable, so the event's own order breaks ties), without
/// duplicates. `alias` calls contribute `previousId` separately (the graph
/// decides which kind it is).
pub fn identifiers_of(event: &Event, config: &IdentityConfig) -> Vec<Identifier> {
    let mut ids: Vec<Identifier> = Vec::with_capacity(4);
    let mut push = |kind: IdentifierKind, value: Option<String>| {
        if let Some(value) = value.filter(|v| !config.is_blocked(v)) {
            let id = Identifier::new(kind, value);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    };
    push(IdentifierKind::UserId, event.user_id.clone());
    push(IdentifierKind::AnonymousId, event.anonymous_id.clone());
    let traits = |key: &str| {
        let own = matches!(event.kind, EventType::Identify)
            .then(|| event.traits.get(key))
            .flatten();
        own.or_else(|| event.context.get("traits").and_then(|t| t.get(key)))
            .and_then(Value::as_str)
    };
    push(
        IdentifierKind::Email,
        traits("email").and_then(normalize_email),
    );
    push(
        IdentifierKind::Phone,
        traits("phone").and_then(normalize_phone),
    );
    let device = event
        .context
        .get("device")
        .and_then(|d| d.get("id"))
        .and_then(Value::as_str);
    push(IdentifierKind::DeviceId, device.map(str::to_owned));
    if let Some(Value::Array(external)) = event.context.get("externalIds") {
        for entry in external {
            let id_type = entry.get("type").and_then(Value::as_str);
            let id = entry.get("id").and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            if let (Some(id_type), Some(id)) = (id_type, id)
                && config.accepts_external(id_type)
            {
                push(IdentifierKind::External(id_type.to_owned()), Some(id));
            }
        }
    }
    ids.sort_by_key(|id| config.rule(&id.kind).0);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_email(raw: &str, expect: Option<&str>) {
        assert_eq!(normalize_email(raw).as_deref(), expect, "{raw}");
    }

    fn check_phone(raw: &str, expect: Option<&str>) {
        assert_eq!(normalize_phone(raw).as_deref(), expect, "{raw}");
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        check_email("  Ada@Example.COM ", Some("ada@example.com"));
        check_email("ada@localhost", None);
        check_email("not an email", None);
        check_email("@example.com", None);
    }

    #[test]
    fn phones_become_e164_where_possible() {
        check_phone("+49 151 2345-6789", Some("+4915123456789"));
        check_phone("0049 (151) 23456789", Some("+4915123456789"));
        check_phone("(212) 555-0101", Some("2125550101"));
        check_phone("+1 212 555 0101", Some("+12125550101"));
        check_phone("call me", None);
        check_phone("123", None);
    }

    #[test]
    fn extraction_orders_by_priority_and_skips_blocked_values() {
        let event = Event::from_json_str(
            r#"{"type":"identify","messageId":"1","anonymousId":"a-1","userId":"u-1",
                "traits":{"email":"Ada@Example.com","phone":"undefined"},
                "context":{"device":{"id":"null"},"externalIds":[{"id":"123","type":"crm_id"}]},
                "timestamp":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let ids: Vec<String> = identifiers_of(&event, &IdentityConfig::default())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            ids,
            [
                "user_id=u-1",
                "email=ada@example.com",
                "anonymous_id=a-1",
                "external:crm_id=123"
            ]
        );
    }
}
