//! Email providers' event webhooks as events about the person an email was
//! for: `Email Delivered`, `Email Opened`, `Email Link Clicked`, `Email
//! Bounced` (with `permanent`), `Email Marked as Spam`. The SMTP channel
//! names the person in every email (SendGrid's `X-SMTPAPI` unique args,
//! Postmark's `X-PM-Metadata-*` headers): `waymark_user` or
//! `waymark_anonymous`, and `waymark_key`, the delivery's key; providers
//! hand them back with each event.
//!
//! | provider | checked by |
//! |---|---|
//! | SendGrid's Event Webhook | ECDSA P-256 signature over timestamp + body, SendGrid's public key |
//! | Postmark's webhooks | basic auth credentials in the webhook URL (Postmark signs nothing) |

use openssl::ecdsa::EcdsaSig;
use openssl::pkey::PKey;
use serde_json::{Map, Value, json};
use waymark_core::{Event, Timestamp};

use crate::feedback::{Person, track};

/// Why a provider's webhook call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailEventsError {
    #[error("the signature does not match")]
    Signature,
    #[error("the body is not what the provider sends: {0}")]
    Body(String),
}

/// The person and delivery an event names (its custom args / metadata).
fn person_of(args: &Map<String, Value>) -> Option<Person> {
    let text = |k: &str| args.get(k).and_then(Value::as_str);
    Person::of(text("waymark_user"), text("waymark_anonymous"))
}

fn at_unix(seconds: Option<i64>, fallback: Timestamp) -> Timestamp {
    seconds
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or(fallback)
}

/// Verifies a SendGrid Event Webhook call (`X-Twilio-Email-Event-Webhook-
/// Signature` and `-Timestamp`) with the webhook's public key (base64 DER,
/// as SendGrid shows it) and returns its events about people Waymark
/// emailed; events naming nobody are left out.
pub fn sendgrid_events(
    public_key: &str,
    signature: &str,
    timestamp: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<Vec<Event>, EmailEventsError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let verified = (|| {
        let key = PKey::public_key_from_der(&b64.decode(public_key.trim()).ok()?).ok()?;
        let ec = key.ec_key().ok()?;
        let sig = EcdsaSig::from_der(&b64.decode(signature.trim()).ok()?).ok()?;
        let mut signed = timestamp.as_bytes().to_vec();
        signed.extend_from_slice(body);
        let digest = openssl::sha::sha256(&signed);
        sig.verify(&digest, &ec).ok()
    })();
    if verified != Some(true) {
        return Err(EmailEventsError::Signature);
    }
    let items: Vec<Map<String, Value>> = serde_json::from_slice(body)
        .map_err(|e| EmailEventsError::Body(format!("a list of events: {e}")))?;
    let mut events = Vec::new();
    for item in items {
        let Some(person) = person_of(&item) else {
            continue;
        };
        let kind = item.get("event").and_then(Value::as_str).unwrap_or("");
        let (name, permanent) = match kind {
            "delivered" => ("Email Delivered", None),
            "open" => ("Email Opened", None),
            "click" => ("Email Link Clicked", None),
            "bounce" => ("Email Bounced", Some(true)),
            "blocked" => ("Email Bounced", Some(false)),
            "spamreport" => ("Email Marked as Spam", None),
            _ => continue, // processed, deferred, dropped, ...: not news
        };
        let id = item
            .get("sg_event_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!(
                    "{kind}:{}",
                    waymark_core::stable_hash(
                        0,
                        &[&serde_json::to_string(&item).unwrap_or_default()]
                    )
                )
            });
        let mut properties = Map::new();
        properties.insert("channel".into(), json!("email"));
        properties.insert("provider".into(), json!("sendgrid"));
        copy(
            &item,
            &mut properties,
            &[
                ("email", "to"),
                ("waymark_key", "key"),
                ("url", "url"),
                ("reason", "reason"),
            ],
        );
        if let Some(permanent) = permanent {
            properties.insert("permanent".into(), json!(permanent));
        }
        let at = at_unix(item.get("timestamp").and_then(Value::as_i64), now);
        events.push(track(
            person,
            format!("sendgrid:{id}"),
            name.to_owned(),
            properties,
            at,
        ));
    }
    Ok(events)
}

/// A Postmark webhook call (its basic auth checked by the caller) as an
/// event, or `None` for a record type that is not news or names nobody.
pub fn postmark_event(body: &[u8], now: Timestamp) -> Result<Option<Event>, EmailEventsError> {
    let item: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| EmailEventsError::Body(format!("an event object: {e}")))?;
    let text = |k: &str| item.get(k).and_then(Value::as_str);
    let metadata = item
        .get("Metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(person) = person_of(&metadata) else {
        return Ok(None);
    };
    let kind = text("RecordType").unwrap_or("");
    let (name, permanent, when) = match kind {
        "Delivery" => ("Email Delivered", None, "DeliveredAt"),
        "Open" => ("Email Opened", None, "ReceivedAt"),
        "Click" => ("Email Link Clicked", None, "ReceivedAt"),
        "Bounce" => (
            "Email Bounced",
            Some(text("Type") == Some("HardBounce")),
            "BouncedAt",
        ),
        "SpamComplaint" => ("Email Marked as Spam", None, "BouncedAt"),
        _ => return Ok(None),
    };
    let at = text(when)
        .and_then(|t| waymark_core::parse_timestamp(t).ok())
        .unwrap_or(now);
    let mut properties = Map::new();
    properties.insert("channel".into(), json!("email"));
    properties.insert("provider".into(), json!("postmark"));
    let to = text("Recipient").or_else(|| text("Email"));
    if let Some(to) = to {
        properties.insert("to".into(), json!(to));
    }
    copy(&metadata, &mut properties, &[("waymark_key", "key")]);
    copy(
        &item,
        &mut properties,
        &[("OriginalLink", "url"), ("Description", "reason")],
    );
    if let Some(permanent) = permanent {
        properties.insert("permanent".into(), json!(permanent));
    }
    let message = text("MessageID").unwrap_or("");
    let id = format!("postmark:{kind}:{message}:{}", at.timestamp_millis());
    Ok(Some(track(person, id, name.to_owned(), properties, at)))
}

/// Copies `from` keys of `source` into `into` under new names.
fn copy(source: &Map<String, Value>, into: &mut Map<String, Value>, keys: &[(&str, &str)]) {
    for (from, to) in keys {
        if let Some(value) = source.get(*from).filter(|v| !v.is_null()) {
            into.insert((*to).to_owned(), value.clone());
        }
    }
}
