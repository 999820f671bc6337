//! Delivery outcomes as events the journeys see: `Email Delivered`,
//! `Email Bounced` (with `permanent`), `SMS Delivered`, `SMS Failed`,
//! `Push Failed` (with `unregistered`), ... Journeys branch on them, and
//! identity folds them in: a hard bounce or an invalid number makes that
//! address undeliverable, an unregistered device token is dropped.

use chrono::SubsecRound;
use serde_json::{Map, Value, json};
use waymark_core::{Channel, Event, EventType, Timestamp};

use crate::{Delivery, DeliveryError, Receipt};

/// Who an outcome is about: a user id, else an anonymous id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    User(String),
    Anonymous(String),
}

impl Person {
    /// The user id if there is one, else the anonymous id, else nobody.
    pub fn of(user_id: Option<&str>, anonymous_id: Option<&str>) -> Option<Self> {
        match (user_id, anonymous_id) {
            (Some(user), _) => Some(Person::User(user.to_owned())),
            (None, Some(anonymous)) => Some(Person::Anonymous(anonymous.to_owned())),
            (None, None) => None,
        }
    }
}

/// A Segment `track` event about `person` at `at` (to the millisecond,
/// as events arrive over the wire).
pub(crate) fn track(
    person: Person,
    message_id: String,
    name: String,
    properties: Map<String, Value>,
    at: Timestamp,
) -> Event {
    let (user_id, anonymous_id) = match person {
        Person::User(id) => (Some(id), None),
        Person::Anonymous(id) => (None, Some(id)),
    };
    Event {
        kind: EventType::Track,
        message_id,
        user_id,
        anonymous_id,
        previous_id: None,
        group_id: None,
        event: Some(name),
        properties,
        traits: Map::new(),
        context: Map::new(),
        timestamp: at.trunc_subsecs(3),
        received_at: at.trunc_subsecs(3),
    }
}

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
) -> Option<Event> {
    let person = Person::of(
        delivery.user_id.as_deref(),
        delivery.anonymous_id.as_deref(),
    )?;
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
    Some(track(
        person,
        format!("feedback:{}:{what}", delivery.key),
        name,
        properties,
        at,
    ))
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
            sent_at: None,
            unsubscribe_url: None,
            topic: None,
        }
    }

    #[test]
    fn outcomes_become_named_events() {
        let ok = Receipt {
            provider_id: Some("SM1".into()),
            duplicate: false,
        };
        let e = feedback_event(&delivery(Channel::Sms), Ok(&ok), Timestamp::default()).unwrap();
        assert_eq!(e.event.as_deref(), Some("SMS Delivered"));
        assert_eq!(e.properties["provider_id"], "SM1");
        assert_eq!(e.user_id.as_deref(), Some("ana"));
        assert_eq!(e.message_id, "feedback:j:p:1/1/send:x:delivered");
        let bounce = DeliveryError::Permanent {
            reason: "email: refused: 550 no such user".into(),
        };
        let e = feedback_event(
            &delivery(Channel::Email),
            Err(&bounce),
            Timestamp::default(),
        )
        .unwrap();
        assert_eq!(e.event.as_deref(), Some("Email Bounced"));
        assert_eq!(e.properties["permanent"], true);
        let gone = DeliveryError::Permanent {
            reason: "fcm: unregistered device token: HTTP 404".into(),
        };
        let e = feedback_event(&delivery(Channel::Push), Err(&gone), Timestamp::default()).unwrap();
        assert_eq!(e.event.as_deref(), Some("Push Failed"));
        assert_eq!(e.properties["unregistered"], true);
        let retry = DeliveryError::Transient {
            reason: "503".into(),
            retry_after: None,
        };
        assert!(
            feedback_event(&delivery(Channel::Email), Err(&retry), Timestamp::default()).is_none()
        );
    }
}
