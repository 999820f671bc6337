//! A profile as the store keeps it: short field names, times as epoch
//! milliseconds, empty parts left out (profiles are rewritten at every
//! event of their person).

use std::collections::BTreeMap;
use std::sync::Arc;

use litemap::LiteMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use waymark_core::{Profile, ProfileId, Timestamp};

use super::records::{instant, millis};

/// A profile as stored: short names, times as epoch milliseconds, empty
/// parts left out. Written from a borrowed [`Profile`] by [`StoredProfileRef`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredProfile {
    id: ProfileId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
    #[serde(default)]
    tr: serde_json::Map<String, Value>,
    /// Trait write times.
    #[serde(default)]
    tt: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pt: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tz: Option<String>,
    /// Consent: subscribed, at.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    c: BTreeMap<String, (bool, i64)>,
    /// Event counters: count, first seen, last seen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    ev: BTreeMap<String, (u64, i64, i64)>,
    #[serde(default, skip_serializing_if = "is_zero")]
    rv: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    eh: Option<[u32; 24]>,
    /// Undeliverable addresses.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    ud: std::collections::BTreeSet<String>,
    /// Segment memberships: since when.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sg: BTreeMap<String, i64>,
    /// Recent sends (for caps): when, channel, topic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sh: Vec<(i64, waymark_core::Channel, Option<Arc<str>>)>,
    /// Per channel: messages sent, messages engaged with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    ce: BTreeMap<waymark_core::Channel, (u32, u32)>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Serializes a profile in the [`StoredProfile`] layout without copying it.
pub struct StoredProfileRef<'a>(pub &'a Profile);

impl Serialize for StoredProfileRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Times<'a>(&'a LiteMap<String, Timestamp>);
        impl Serialize for Times<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, t)| (k, millis(*t))))
            }
        }
        struct Consents<'a>(&'a LiteMap<String, waymark_core::Consent>);
        impl Serialize for Consents<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(
                    self.0
                        .iter()
                        .map(|(k, c)| (k, (c.subscribed, millis(c.at)))),
                )
            }
        }
        struct Events<'a>(&'a LiteMap<String, waymark_core::EventStats>);
        impl Serialize for Events<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(
                    self.0
                        .iter()
                        .map(|(k, e)| (k, (e.count, millis(e.first_seen), millis(e.last_seen)))),
                )
            }
        }
        let p = self.0;
        let mut out = serializer.serialize_struct("StoredProfile", 15)?;
        out.serialize_field("id", &p.id)?;
        if let Some(u) = &p.user_id {
            out.serialize_field("u", u)?;
        }
        if let Some(a) = &p.anonymous_id {
            out.serialize_field("a", a)?;
        }
        out.serialize_field("tr", &p.traits)?;
        out.serialize_field("tt", &Times(&p.trait_times))?;
        if !p.push_tokens.is_empty() {
            out.serialize_field("pt", &p.push_tokens)?;
        }
        if let Some(tz) = &p.timezone {
            out.serialize_field("tz", tz)?;
        }
        if !p.consent.is_empty() {
            out.serialize_field("c", &Consents(&p.consent))?;
        }
        if !p.events.is_empty() {
            out.serialize_field("ev", &Events(&p.events))?;
        }
        if p.revenue != 0.0 {
            out.serialize_field("rv", &p.revenue)?;
        }
        if p.engagement_hours.iter().any(|h| *h > 0) {
            out.serialize_field("eh", &p.engagement_hours)?;
        }
        if !p.undeliverable.is_empty() {
            out.serialize_field("ud", &p.undeliverable)?;
        }
        if !p.segments.is_empty() {
            out.serialize_field("sg", &Times(&p.segments))?;
        }
        if !p.sent.is_empty() {
            let sent: Vec<_> = p
                .sent
                .iter()
                .map(|s| (millis(s.at), s.channel, s.topic.clone()))
                .collect();
            out.serialize_field("sh", &sent)?;
        }
        if !p.channel_engagement.is_empty() {
            let counts: BTreeMap<_, _> = p
                .channel_engagement
                .iter()
                .map(|(c, e)| (*c, (e.sent, e.engaged)))
                .collect();
            out.serialize_field("ce", &counts)?;
        }
        out.end()
    }
}

impl StoredProfile {
    /// The profile this record stands for.
    pub fn load(self) -> Profile {
        Profile {
            id: self.id,
            user_id: self.u,
            anonymous_id: self.a,
            traits: self.tr,
            trait_times: self.tt.into_iter().map(|(k, t)| (k, instant(t))).collect(),
            push_tokens: self.pt.into_iter().collect(),
            timezone: self.tz,
            consent: self
                .c
                .into_iter()
                .map(|(k, (subscribed, at))| {
                    (
                        k,
                        waymark_core::Consent {
                            subscribed,
                            at: instant(at),
                        },
                    )
                })
                .collect(),
            events: self
                .ev
                .into_iter()
                .map(|(k, (count, first, last))| {
                    (
                        k,
                        waymark_core::EventStats {
                            count,
                            first_seen: instant(first),
                            last_seen: instant(last),
                        },
                    )
                })
                .collect(),
            revenue: self.rv,
            engagement_hours: self.eh.unwrap_or_default(),
            undeliverable: self.ud,
            segments: self.sg.into_iter().map(|(k, t)| (k, instant(t))).collect(),
            sent: self
                .sh
                .into_iter()
                .map(|(at, channel, topic)| waymark_core::SentMessage {
                    at: instant(at),
                    channel,
                    topic,
                })
                .collect(),
            channel_engagement: self
                .ce
                .into_iter()
                .map(|(c, (sent, engaged))| (c, waymark_core::ChannelEngagement { sent, engaged }))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_profile_loads_back_identical() {
        let at = |s| waymark_core::parse_timestamp(s).unwrap();
        let mut p = Profile::new(ProfileId::from("p_1"));
        p.user_id = Some("ada".into());
        p.set_trait(
            "email",
            Value::from("ada@example.com"),
            at("2026-11-23T09:00:00.250Z"),
        );
        p.set_trait(
            "timezone",
            Value::from("Europe/Berlin"),
            at("2026-11-23T09:00:00Z"),
        );
        p.push_tokens.insert("ios-1".into(), "tok".into());
        p.consent.insert(
            "channel:sms".into(),
            waymark_core::Consent {
                subscribed: false,
                at: at("2026-11-23T10:00:00Z"),
            },
        );
        p.events.insert(
            "Order Completed".into(),
            waymark_core::EventStats {
                count: 3,
                first_seen: at("2026-11-01T00:00:00Z"),
                last_seen: at("2026-11-20T00:00:00Z"),
            },
        );
        p.revenue = 42.5;
        p.engagement_hours[9] = 2;
        p.record_send(
            at("2026-11-22T09:00:00Z"),
            waymark_core::Channel::Push,
            None,
            waymark_core::Duration::ZERO,
        );
        p.record_engagement(waymark_core::Channel::Push);
        let bytes = serde_json::to_vec(&StoredProfileRef(&p)).unwrap();
        let stored: StoredProfile = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(stored.load(), p);
        let empty = Profile::new(ProfileId::from("p_2"));
        let bytes = serde_json::to_vec(&StoredProfileRef(&empty)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            r#"{"id":"p_2","tr":{},"tt":{}}"#
        );
        assert_eq!(
            serde_json::from_slice::<StoredProfile>(&bytes)
                .unwrap()
                .load(),
            empty
        );
    }
}
