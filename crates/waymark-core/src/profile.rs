//! The unified profile as the decision engine reads it.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use litemap::LiteMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::Timestamp;

/// The canonical id of one person's profile.
#[derive(Debug, Clone, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProfileId(pub Arc<str>);

impl PartialEq for ProfileId {
    fn eq(&self, other: &Self) -> bool {
        // Copies of one id share their allocation: compare pointers first.
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for ProfileId {}

impl std::hash::Hash for ProfileId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // By content, as equality is.
        self.0.hash(state);
    }
}

impl ProfileId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ProfileId {
    fn from(s: &str) -> Self {
        ProfileId(Arc::from(s))
    }
}

impl From<String> for ProfileId {
    fn from(s: String) -> Self {
        ProfileId(Arc::from(s))
    }
}

/// What Waymark knows about one person: ids, traits (last write wins by
/// event time, per trait), time zone, push tokens, consent and computed
/// traits. `waymark-identity` keeps it up to date; the engine reads it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Profile {
    pub id: ProfileId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    #[serde(default)]
    pub traits: Map<String, Value>,
    /// When each trait was last written, so an older event never overwrites
    /// a newer value.
    #[serde(default)]
    pub trait_times: LiteMap<String, Timestamp>,
    /// Push tokens by device id (`context.device.token`, kept per device).
    #[serde(default, skip_serializing_if = "LiteMap::is_empty")]
    pub push_tokens: LiteMap<String, String>,
    /// IANA time zone, from `context.timezone` or the `timezone` trait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Consent per channel (`channel:email`) and per topic (`topic:newsletter`).
    #[serde(default, skip_serializing_if = "LiteMap::is_empty")]
    pub consent: LiteMap<String, Consent>,
    /// Per event name: how often, first and last seen.
    #[serde(default, skip_serializing_if = "LiteMap::is_empty")]
    pub events: LiteMap<String, EventStats>,
    /// Lifetime revenue, the sum of `properties.revenue`.
    #[serde(default)]
    pub revenue: f64,
    /// Opens and clicks per local hour of day (0-23), for send-time choice.
    #[serde(default)]
    pub engagement_hours: [u32; 24],
    /// Per channel: messages sent, and how many of them the person opened,
    /// clicked or tapped (for `channel: best`).
    #[serde(default, skip_serializing_if = "LiteMap::is_empty")]
    pub channel_engagement: LiteMap<crate::Channel, ChannelEngagement>,
    /// Addresses (emails, phone numbers) a provider refused for good (a
    /// hard bounce, an invalid number): the channel is unreachable until
    /// the person has another address.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub undeliverable: BTreeSet<String>,
    /// The segments the person is a member of, with when they joined (the
    /// engine decides every transition; this is its durable record).
    #[serde(default, skip_serializing_if = "LiteMap::is_empty")]
    pub segments: LiteMap<String, Timestamp>,
    /// What was sent to the person lately, oldest first, for frequency
    /// caps (kept only as far back as the longest cap's window).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<SentMessage>,
}

/// One message that went out to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub at: Timestamp,
    pub channel: crate::Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Arc<str>>,
}

/// Messages sent to a person on one channel, and how many they engaged with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelEngagement {
    pub sent: u32,
    /// Never above `sent`: an engagement counts once per message, however
    /// often the person opened it.
    pub engaged: u32,
}

impl ChannelEngagement {
    /// Adds another person's counts (a merge).
    pub fn add(&mut self, other: ChannelEngagement) {
        self.sent = self.sent.saturating_add(other.sent);
        self.engaged = self.engaged.saturating_add(other.engaged).min(self.sent);
    }
}

/// Counts of one event name on a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventStats {
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// Whether a person agreed to messages on a channel or topic, and when that
/// was last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub subscribed: bool,
    pub at: Timestamp,
}

impl Profile {
    /// The consent key of a channel.
    pub fn channel_consent_key(channel: crate::Channel) -> String {
        format!("channel:{channel}")
    }

    /// Where a message on `channel` goes (the Segment spec's traits): the
    /// `email` trait, the `phone` trait for SMS and WhatsApp, a device
    /// token for push; none for webhooks, which need no address. An empty
    /// address or one a provider refused for good (a hard bounce) is none.
    pub fn address(&self, channel: crate::Channel) -> Option<&str> {
        let deliverable = |name: &str| {
            self.traits
                .get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.trim().is_empty() && !self.undeliverable.contains(*v))
        };
        match channel {
            crate::Channel::Email => deliverable("email"),
            crate::Channel::Sms | crate::Channel::Whatsapp => deliverable("phone"),
            crate::Channel::Push => self.push_tokens.values().next().map(String::as_str),
            crate::Channel::Webhook => None,
        }
    }

    /// False when the person unsubscribed from `channel`; true otherwise
    /// (no answer is not a refusal: transactional journeys rely on that).
    pub fn allows_channel(&self, channel: crate::Channel) -> bool {
        self.consent
            .get(&Self::channel_consent_key(channel))
            .is_none_or(|c| c.subscribed)
    }
}

impl Default for ProfileId {
    fn default() -> Self {
        ProfileId(Arc::from(""))
    }
}

impl Profile {
    pub fn new(id: ProfileId) -> Self {
        Profile {
            id,
            ..Profile::default()
        }
    }

    /// Sets one trait unless a newer write of it is already known.
    pub fn set_trait(&mut self, key: &str, value: Value, at: Timestamp) {
        if self.trait_times.get(key).is_some_and(|known| *known > at) {
            return;
        }
        if let Some(tz) = value.as_str().filter(|_| key == "timezone") {
            self.timezone = Some(tz.to_owned());
        }
        // Update in place when the trait exists: no new key strings.
        match self.trait_times.get_mut(key) {
            Some(known) => *known = at,
            None => {
                self.trait_times.insert(key.to_owned(), at);
            }
        }
        match self.traits.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                self.traits.insert(key.to_owned(), value);
            }
        }
    }

    /// Records an open, click or tap of a message on `channel`: one more
    /// message engaged with, unless every message sent there already was.
    pub fn record_engagement(&mut self, channel: crate::Channel) {
        if let Some(c) = self.channel_engagement.get_mut(&channel) {
            c.engaged = (c.engaged + 1).min(c.sent);
        }
    }

    /// Records a send in the history (and counts it on its channel), dropping what is older than
    /// `horizon` before `at` (nothing is kept with a zero horizon).
    pub fn record_send(
        &mut self,
        at: Timestamp,
        channel: crate::Channel,
        topic: Option<Arc<str>>,
        horizon: crate::Duration,
    ) {
        let counts = self.channel_engagement.get_mut(&channel);
        match counts {
            Some(c) => c.sent = c.sent.saturating_add(1),
            None => {
                self.channel_engagement.insert(
                    channel,
                    ChannelEngagement {
                        sent: 1,
                        engaged: 0,
                    },
                );
            }
        }
        if horizon == crate::Duration::ZERO {
            return;
        }
        // Milliseconds, as the store keeps them: a profile read from
        // memory and one loaded from the store are the same.
        let at = chrono::SubsecRound::trunc_subsecs(at, 3);
        let oldest = at - horizon.to_delta();
        self.sent.retain(|s| s.at > oldest);
        let position = self.sent.partition_point(|s| s.at <= at);
        self.sent
            .insert(position, SentMessage { at, channel, topic });
    }

    /// A trait by name, if set.
    pub fn trait_value(&self, key: &str) -> Option<&Value> {
        self.traits.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;

    #[test]
    fn traits_are_last_write_wins_by_event_time() {
        let mut p = Profile::new("u1".into());
        let t1 = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        let t2 = parse_timestamp("2026-01-02T00:00:00Z").unwrap();
        p.set_trait("plan", Value::from("pro"), t2);
        p.set_trait("plan", Value::from("free"), t1);
        assert_eq!(p.trait_value("plan"), Some(&Value::from("pro")));
        p.set_trait("timezone", Value::from("Asia/Tokyo"), t2);
        assert_eq!(p.timezone.as_deref(), Some("Asia/Tokyo"));
    }
}
