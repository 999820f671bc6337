//! Delivery outcomes as events the journeys see: `Email Delivered`,
//! `Email Bounced` (with `permanent`), `SMS Delivered`, `SMS Failed`,
//! `Push Failed` (with `unregistered`), ... Journeys branch on them, and
//! identity folds them in: a hard bounce or an invalid number makes that
//! address undeliverable, an unregistered device token is dropped.

use serde_json::{Map, Value, json};
use waymark_core::{Channel, Timestamp};

use crate::{Delivery, DeliveryError, Receipt};

/// The channel's name in event names (`Email`, `SMS`, `WhatsApp`, ...).
fn title(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "Email",
        Channel::Sms => "SMS",
        Channel::Whatsapp => "WhatsApp",
        Channel::Push => "Push",
        Channel::Webhook => "Webhook",
    }
}

/// The Segment `track` event for an outcome, or none (a transient failure
/// is retried, not reported; a person without an id cannot be named).
pub fn feedback_event(
    delivery: &Delivery,
    outcome: Result<&Receipt, &DeliveryError>,
    at: Timestamp,
) -> Option<Value> {
    let mut properties = Map::new();
    properties.insert("key".into(), json!(delivery.key));
    properties.insert("channel".into(), json!(delivery.channel.to_string()));
    properties.insert("journey".into(), json!(delivery.journey));
    properties.insert("node".into(), json!(delivery.node));
    properties.insert("template".into(), json!(delivery.template));
    if let Some(to) = &delivery.to {
        properties.insert("to".into(), json!(to));
    }
    let (name, what) = match outcome {
        Ok(receipt) if receipt.duplicate => return None,
        Ok(receipt) => {
            if let Some(id) = &receipt.provider_id {
                properties.insert("provider_id".into(), json!(id));
            }
            (
                format!("{} Delivered", title(delivery.channel)),
                "delivered",
            )
        }
        Err(DeliveryError::Transient { .. }) => return None,
        Err(DeliveryError::Permanent { reason }) => {
            properties.insert("reason".into(), json!(reason));
            properties.insert("permanent".into(), json!(true));
            if delivery.channel == Channel::Push {
                properties.insert(
                    "unregistered".into(),
                    json!(reason.to_ascii_lowercase().contains("unregistered")),
                );
            }
            let name = match delivery.channel {
                Channel::Email => "Email Bounced".to_owned(),
                other => format!("{} Failed", title(other)),
            };
            (name, "failed")
        }
    };
    let mut event = json!({
        "type": "track",
        "messageId": format!("feedback:{}:{what}", delivery.key),
        "event": name,
        "properties": properties,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    match (&delivery.user_id, &delivery.anonymous_id) {
        (Some(user), _) => event["userId"] = json!(user),
        (None, Some(anonymous)) => event["anonymousId"] = json!(anonymous),
        (None, None) => return None,
    }
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_core::ProfileId;

    fn delivery(channel: Channel) -> Delivery {
        Delivery {
            key: "j:p:1/1/send:x".into(),
            channel,
            profile: ProfileId::from("p"),
            user_id: Some("ana".into()),
            anonymous_id: None,
            to: Some("token-1".into()),
            template: "t".into(),
            journey: "j".into(),
            node: "n".into(),
            trigger: Default::default(),
            decided_at: Timestamp::default(),
            content: Map::new(),
            unsubscribe_url: None,
        }
    }

    #[test]
    fn outcomes_become_named_events() {
        let ok = Receipt {
            provider_id: Some("SM1".into()),
            duplicate: false,
        };
        let e = feedback_event(&delivery(Channel::Sms), Ok(&ok), Timestamp::default()).unwrap();
        assert_eq!(e["event"], "SMS Delivered");
        assert_eq!(e["properties"]["provider_id"], "SM1");
        assert_eq!(e["userId"], "ana");
        let bounce = DeliveryError::Permanent {
            reason: "email: refused: 550 no such user".into(),
        };
        let e = feedback_event(
            &delivery(Channel::Email),
            Err(&bounce),
            Timestamp::default(),
        )
        .unwrap();
        assert_eq!(e["event"], "Email Bounced");
        assert_eq!(e["properties"]["permanent"], true);
        let gone = DeliveryError::Permanent {
            reason: "fcm: unregistered device token: HTTP 404".into(),
        };
        let e = feedback_event(&delivery(Channel::Push), Err(&gone), Timestamp::default()).unwrap();
        assert_eq!(e["event"], "Push Failed");
        assert_eq!(e["properties"]["unregistered"], true);
        let retry = DeliveryError::Transient {
            reason: "503".into(),
            retry_after: None,
        };
        assert!(
            feedback_event(&delivery(Channel::Email), Err(&retry), Timestamp::default()).is_none()
        );
    }
}
