//! The unified profile as the decision engine reads it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::Event;
use crate::time::Timestamp;

/// The canonical id of one person's profile.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProfileId(pub Arc<str>);

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
/// event time, per trait) and time zone.
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
    pub trait_times: BTreeMap<String, Timestamp>,
    /// Push tokens by device id (`context.device.token`, kept per device).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub push_tokens: BTreeMap<String, String>,
    /// IANA time zone, from `context.timezone` or the `timezone` trait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
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
        self.trait_times.insert(key.to_owned(), at);
        self.traits.insert(key.to_owned(), value);
    }

    /// Folds what an event tells about the person into the profile: its ids,
    /// its traits and its time zone.
    pub fn observe(&mut self, event: &Event) {
        if self.user_id.is_none() {
            self.user_id.clone_from(&event.user_id);
        }
        if self.anonymous_id.is_none() {
            self.anonymous_id.clone_from(&event.anonymous_id);
        }
        for (key, value) in event.carried_traits() {
            self.set_trait(key, value.clone(), event.timestamp);
        }
        let device = event.context.get("device");
        if let Some(token) = device.and_then(|d| d.get("token")).and_then(Value::as_str) {
            let device_id = device
                .and_then(|d| d.get("id"))
                .and_then(Value::as_str)
                .unwrap_or(token);
            self.push_tokens
                .insert(device_id.to_owned(), token.to_owned());
        }
        if let Some(tz) = event
            .timezone()
            .filter(|_| !self.traits.contains_key("timezone"))
        {
            self.timezone = Some(tz.to_owned());
        }
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
