//! What people and providers call back with, as the events journeys see:
//! a one-click unsubscribe (the signed claim of the link) becomes
//! `Unsubscribed`; Twilio's status callback (its signature checked)
//! becomes `SMS Delivered` / `SMS Failed` (WhatsApp alike). An HTTP front
//! end only routes requests here and ingests what comes back.

use serde_json::{Map, Value, json};
use waymark_core::{Event, Timestamp};

use crate::feedback::{Person, track};
use crate::signing::{UnsubscribeClaim, same_signature, twilio_signature};

/// Why a callback was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("bad X-Twilio-Signature")]
    Signature,
    #[error("the callback names nobody")]
    Nobody,
}

/// The `Unsubscribed` event of a verified one-click unsubscribe: the
/// person and channel the link's claim names. Repeating it is the same
/// event (same message id), so it changes nothing twice.
pub fn unsubscribe_event(claim: &UnsubscribeClaim, at: Timestamp) -> Event {
    let person = if claim.anonymous {
        Person::Anonymous(claim.id.clone())
    } else {
        Person::User(claim.id.clone())
    };
    let mut properties = Map::new();
    properties.insert("channel".into(), json!(claim.channel));
    properties.insert("source".into(), json!("one-click"));
    let mut message_id = format!("unsubscribe:{}:{}", claim.id, claim.channel);
    if let Some(topic) = &claim.topic {
        properties.insert("topic".into(), json!(topic));
        message_id = format!("{message_id}:{topic}");
    }
    track(
        person,
        message_id,
        "Unsubscribed".to_owned(),
        properties,
        at,
    )
}

/// Twilio error codes that mean the number will never work.
const PERMANENT_TWILIO_ERRORS: [&str; 5] = ["21211", "21614", "30003", "30005", "30006"];

/// One Twilio status callback as received.
#[derive(Debug, Clone, Copy)]
pub struct TwilioCallback<'a> {
    /// The URL Twilio called, query included, as Twilio saw it (the
    /// signature covers it): the service's public URL plus path and query.
    pub url: &'a str,
    /// The query string (the person and key `TwilioChannel` put there).
    pub query: Option<&'a str>,
    /// The form-encoded body.
    pub body: &'a [u8],
    /// The `X-Twilio-Signature` header.
    pub signature: &'a str,
}

/// The event of a Twilio status callback signed with `auth_token`: `None`
/// for statuses the journeys need not hear of (queued, sent, ...).
pub fn twilio_status_event(
    auth_token: &str,
    callback: TwilioCallback<'_>,
    at: Timestamp,
) -> Result<Option<Event>, CallbackError> {
    let params = form_pairs(callback.body);
    let expected = twilio_signature(auth_token, callback.url, &params);
    if !same_signature(callback.signature, &expected) {
        return Err(CallbackError::Signature);
    }
    let field = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let status = field("MessageStatus");
    let outcome = match status.as_str() {
        "delivered" => "Delivered",
        "failed" | "undelivered" => "Failed",
        _ => return Ok(None),
    };
    let query = form_pairs(callback.query.unwrap_or_default().as_bytes());
    let in_query = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let person =
        Person::of(in_query("user"), in_query("anonymous")).ok_or(CallbackError::Nobody)?;
    let to = field("To");
    let channel = if to.starts_with("whatsapp:") {
        "WhatsApp"
    } else {
        "SMS"
    };
    let code = field("ErrorCode");
    let sid = field("MessageSid");
    let mut properties = Map::new();
    properties.insert(
        "key".into(),
        in_query("key").map_or(Value::Null, Value::from),
    );
    properties.insert("provider_id".into(), json!(sid));
    properties.insert("to".into(), json!(to.trim_start_matches("whatsapp:")));
    properties.insert("error_code".into(), json!(code));
    properties.insert(
        "permanent".into(),
        json!(outcome == "Failed" && PERMANENT_TWILIO_ERRORS.contains(&code.as_str())),
    );
    Ok(Some(track(
        person,
        format!("twilio:{sid}:{status}"),
        format!("{channel} {outcome}"),
        properties,
        at,
    )))
}

/// `a=1&b=2` decoded (`+` and `%XX`).
fn form_pairs(text: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(text).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        waymark_core::parse_timestamp("2026-11-30T10:00:00.123456Z").unwrap()
    }

    #[test]
    fn an_unsubscribe_click_is_one_event_per_person_and_channel() {
        let claim = UnsubscribeClaim {
            id: "anon-1".into(),
            anonymous: true,
            channel: "sms".into(),
            topic: None,
        };
        let event = unsubscribe_event(&claim, at());
        assert_eq!(event.event.as_deref(), Some("Unsubscribed"));
        assert_eq!(event.anonymous_id.as_deref(), Some("anon-1"));
        assert_eq!(event.user_id, None);
        assert_eq!(event.properties["channel"], "sms");
        assert_eq!(event.message_id, "unsubscribe:anon-1:sms");
        assert_eq!(
            waymark_core::format_timestamp(event.timestamp),
            "2026-11-30T10:00:00.123Z"
        );
    }

    #[test]
    fn a_link_from_a_topic_message_leaves_that_topic_only() {
        let claim = UnsubscribeClaim {
            id: "ana".into(),
            anonymous: false,
            channel: "email".into(),
            topic: Some("promotions".into()),
        };
        let event = unsubscribe_event(&claim, at());
        assert_eq!(event.properties["topic"], "promotions");
        // The topic is what identity records the answer for (its tests).
        assert_eq!(event.message_id, "unsubscribe:ana:email:promotions");
    }

    #[test]
    fn a_twilio_callback_is_checked_then_told_as_an_event() {
        let url = "https://hooks.example.com/twilio/status?user=ana&key=k1";
        let body = b"MessageSid=SM1&MessageStatus=undelivered&To=%2B15551234&ErrorCode=30003";
        let params = form_pairs(body);
        let signature = twilio_signature("token", url, &params);
        let callback = TwilioCallback {
            url,
            query: Some("user=ana&key=k1"),
            body,
            signature: &signature,
        };
        let event = twilio_status_event("token", callback, at())
            .unwrap()
            .unwrap();
        assert_eq!(event.event.as_deref(), Some("SMS Failed"));
        assert_eq!(event.user_id.as_deref(), Some("ana"));
        assert_eq!(event.properties["permanent"], true);
        assert_eq!(event.properties["key"], "k1");
        assert_eq!(event.message_id, "twilio:SM1:undelivered");
        assert_eq!(
            twilio_status_event("other", callback, at()),
            Err(CallbackError::Signature)
        );
        let queued = b"MessageSid=SM1&MessageStatus=queued";
        let signature = twilio_signature("token", url, &form_pairs(queued));
        let callback = TwilioCallback {
            body: queued,
            signature: &signature,
            ..callback
        };
        assert_eq!(twilio_status_event("token", callback, at()), Ok(None));
        let nobody = TwilioCallback {
            url: "https://hooks.example.com/twilio/status",
            query: None,
            body,
            signature: &twilio_signature(
                "token",
                "https://hooks.example.com/twilio/status",
                &params,
            ),
        };
        assert_eq!(
            twilio_status_event("token", nobody, at()),
            Err(CallbackError::Nobody)
        );
    }
}
