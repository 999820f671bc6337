//! What an event tells about a person, folded into their profile.

use chrono::Timelike;
use serde_json::Value;
use waymark_core::{Channel, Consent, Event, EventStats, EventType, Profile};

/// Events that show when a person engages, and on which channel (for
/// send-time and best-channel choices).
pub(crate) const ENGAGEMENT_EVENTS: [(&str, Channel); 4] = [
    ("Email Opened", Channel::Email),
    ("Email Link Clicked", Channel::Email),
    ("Push Notification Tapped", Channel::Push),
    ("SMS Link Clicked", Channel::Sms),
];

/// Updates `profile` from `event`: ids, traits (last write wins per trait
/// by event time), time zone, push token, consent (`subscribed_*` traits,
/// `Unsubscribed` and `Email Marked as Spam` events), and the computed
/// traits: per event name count / first / last seen, lifetime revenue, and
/// the engagement-hour histogram.
pub fn observe(profile: &mut Profile, event: &Event) {
    if profile.user_id.is_none() {
        profile.user_id.clone_from(&event.user_id);
    }
    if profile.anonymous_id.is_none() {
        profile.anonymous_id.clone_from(&event.anonymous_id);
    }
    for (key, value) in event.carried_traits() {
        profile.set_trait(key, value.clone(), event.write_time());
        if let (true, Some(topics)) = (key == "subscriptions", value.as_object()) {
            for (topic, subscribed) in topics {
                if let Some(subscribed) = subscribed.as_bool() {
                    set_consent(profile, format!("topic:{topic}"), subscribed, event);
                }
            }
        }
        if let (Some(name), Some(subscribed)) = (key.strip_prefix("subscribed_"), value.as_bool()) {
            let consent_key = match name.parse::<Channel>() {
                Ok(channel) => Profile::channel_consent_key(channel),
                Err(_) => format!("topic:{name}"),
            };
            set_consent(profile, consent_key, subscribed, event);
        }
    }
    let device = event.context.get("device");
    if let Some(token) = device.and_then(|d| d.get("token")).and_then(Value::as_str) {
        let device_id = device
            .and_then(|d| d.get("id"))
            .and_then(Value::as_str)
            .unwrap_or(token);
        profile
            .push_tokens
            .insert(device_id.to_owned(), token.to_owned());
    }
    if let Some(tz) = event
        .timezone()
        .filter(|_| !profile.traits.contains_key("timezone"))
    {
        profile.timezone = Some(tz.to_owned());
    }
    let Some(name) = event.match_name() else {
        return;
    };
    match profile.events.get_mut(name) {
        Some(stats) => {
            stats.count += 1;
            stats.first_seen = stats.first_seen.min(event.timestamp);
            stats.last_seen = stats.last_seen.max(event.timestamp);
        }
        None => {
            let first = EventStats {
                count: 1,
                first_seen: event.timestamp,
                last_seen: event.timestamp,
            };
            profile.events.insert(name.to_owned(), first);
        }
    }
    if event.kind != EventType::Track {
        return;
    }
    if let Some(revenue) = event.properties.get("revenue").and_then(Value::as_f64) {
        profile.revenue += revenue;
    }
    match name {
        "Unsubscribed" | "Subscribed" => {
            let topic = ["topic", "list_name", "list_id"]
                .iter()
                .find_map(|k| event.properties.get(*k).and_then(Value::as_str));
            let key = match topic {
                Some(topic) => format!("topic:{topic}"),
                None => {
                    let channel = event
                        .properties
                        .get("channel")
                        .and_then(Value::as_str)
                        .unwrap_or("email");
                    format!("channel:{channel}")
                }
            };
            set_consent(profile, key, name == "Subscribed", event);
        }
        // Delivery feedback: a hard bounce or an invalid number makes that
        // address undeliverable; an unregistered device token is dropped.
        "Email Bounced" | "SMS Failed" | "WhatsApp Failed" if flag(event, "permanent") => {
            let trait_name = if name == "Email Bounced" {
                "email"
            } else {
                "phone"
            };
            let address = event
                .properties
                .get("to")
                .or_else(|| profile.traits.get(trait_name))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(address) = address {
                profile.undeliverable.insert(address);
            }
        }
        "Push Failed" if flag(event, "unregistered") => {
            if let Some(token) = event.properties.get("to").and_then(Value::as_str) {
                profile.push_tokens.retain(|_, t| t != token);
            }
        }
        "Email Marked as Spam" => set_consent(
            profile,
            Profile::channel_consent_key(Channel::Email),
            false,
            event,
        ),
        _ => {
            let Some((_, channel)) = ENGAGEMENT_EVENTS.iter().find(|(n, _)| *n == name) else {
                return;
            };
            let tz: chrono_tz::Tz = profile
                .timezone
                .as_deref()
                .and_then(|t| t.parse().ok())
                .unwrap_or(chrono_tz::UTC);
            let hour = event.timestamp.with_timezone(&tz).hour() as usize;
            profile.engagement_hours[hour] += 1;
            profile.record_engagement(*channel);
        }
    }
}

/// Whether `properties[name]` is `true`.
fn flag(event: &Event, name: &str) -> bool {
    event.properties.get(name).and_then(Value::as_bool) == Some(true)
}

/// Records a consent answer unless a later one is already known.
fn set_consent(profile: &mut Profile, key: String, subscribed: bool, event: &Event) {
    let newer = profile
        .consent
        .get(&key)
        .is_none_or(|c| c.at <= event.write_time());
    if newer {
        profile.consent.insert(
            key,
            Consent {
                subscribed,
                at: event.write_time(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_core::ProfileId;

    fn apply(lines: &[&str]) -> Profile {
        let mut p = Profile::new(ProfileId::from("p"));
        for line in lines {
            observe(&mut p, &Event::from_json_str(line).unwrap());
        }
        p
    }

    #[test]
    fn computed_traits_count_events_and_revenue() {
        let p = apply(&[
            r#"{"type":"track","messageId":"1","userId":"u","event":"Order Completed","properties":{"revenue":20.5},"timestamp":"2026-01-02T00:00:00Z"}"#,
            r#"{"type":"track","messageId":"2","userId":"u","event":"Order Completed","properties":{"revenue":10},"timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"type":"page","messageId":"3","userId":"u","timestamp":"2026-01-03T00:00:00Z"}"#,
        ]);
        let orders = p.events.get("Order Completed").unwrap();
        assert_eq!(orders.count, 2);
        assert_eq!(
            waymark_core::format_timestamp(orders.first_seen),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            waymark_core::format_timestamp(orders.last_seen),
            "2026-01-02T00:00:00Z"
        );
        assert_eq!(p.revenue, 30.5);
        assert_eq!(p.events.get("Page Viewed").unwrap().count, 1);
    }

    #[test]
    fn consent_from_events_and_traits() {
        let p = apply(&[
            r#"{"type":"identify","messageId":"1","userId":"u","traits":{"subscribed_sms":false,"subscribed_newsletter":true},"timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"type":"track","messageId":"2","userId":"u","event":"Unsubscribed","properties":{"list_name":"weekly"},"timestamp":"2026-01-02T00:00:00Z"}"#,
            r#"{"type":"track","messageId":"3","userId":"u","event":"Email Marked as Spam","timestamp":"2026-01-03T00:00:00Z"}"#,
        ]);
        assert!(!p.allows_channel(Channel::Sms));
        assert!(!p.allows_channel(Channel::Email));
        assert!(p.allows_channel(Channel::Push));
        assert!(p.consent.get("topic:newsletter").unwrap().subscribed);
        assert!(!p.consent.get("topic:weekly").unwrap().subscribed);
        // A topic unsubscribe leaves the channel alone; `subscriptions` and
        // `Subscribed` answer per topic too.
        let p = apply(&[
            r#"{"type":"track","messageId":"1","userId":"u","event":"Unsubscribed","properties":{"topic":"promotions","channel":"email"},"timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"type":"identify","messageId":"2","userId":"u","traits":{"subscriptions":{"newsletter":true,"digest":false}},"timestamp":"2026-01-02T00:00:00Z"}"#,
            r#"{"type":"track","messageId":"3","userId":"u","event":"Subscribed","properties":{"topic":"digest"},"timestamp":"2026-01-03T00:00:00Z"}"#,
        ]);
        assert!(p.allows_channel(Channel::Email));
        assert!(!p.consent.get("topic:promotions").unwrap().subscribed);
        assert!(p.consent.get("topic:newsletter").unwrap().subscribed);
        assert!(p.consent.get("topic:digest").unwrap().subscribed);
    }

    #[test]
    fn engagement_hours_are_local() {
        let p = apply(&[
            r#"{"type":"identify","messageId":"1","userId":"u","context":{"timezone":"Asia/Tokyo"},"timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"type":"track","messageId":"2","userId":"u","event":"Email Opened","timestamp":"2026-01-01T01:30:00Z"}"#,
        ]);
        assert_eq!(p.engagement_hours[10], 1);
    }
}
