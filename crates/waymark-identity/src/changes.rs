//! Which parts of a profile an event may change: what segments reading
//! those parts must be re-evaluated for (the rest cannot have changed).

use waymark_core::{Event, EventType};

/// The profile fields an event may have written (a superset: re-checking a
/// segment that did not change costs an evaluation, missing one a transition).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges<'e> {
    /// Traits written (`traits`, `context.traits`).
    pub traits: Vec<&'e str>,
    /// The event name whose counters moved (`events[name]`).
    pub event: Option<&'e str>,
    pub revenue: bool,
    pub consent: bool,
    pub timezone: bool,
    pub engagement: bool,
    /// `id`, `user_id`, `anonymous_id`.
    pub ids: bool,
    /// Anything at all (a merge): every segment is re-evaluated.
    pub everything: bool,
}

impl ProfileChanges<'_> {
    /// Everything may have changed (profiles merged).
    pub fn everything() -> Self {
        ProfileChanges {
            everything: true,
            ..ProfileChanges::default()
        }
    }

    /// Whether a trait named `name` may have changed.
    pub fn touches_trait(&self, name: &str) -> bool {
        self.everything || self.traits.contains(&name)
    }
}

/// What [`crate::observe`] may change on a profile for `event`.
pub fn changes(event: &Event) -> ProfileChanges<'_> {
    let traits: Vec<&str> = event.carried_traits().map(|(k, _)| k.as_str()).collect();
    let consent = traits
        .iter()
        .any(|k| k.starts_with("subscribed_") || *k == "subscriptions");
    let timezone = event.timezone().is_some() || traits.contains(&"timezone");
    let name = event.match_name();
    let track = event.kind == EventType::Track;
    ProfileChanges {
        consent: consent
            || (track
                && matches!(
                    name,
                    Some("Unsubscribed" | "Subscribed" | "Email Marked as Spam")
                )),
        timezone,
        engagement: track
            && name.is_some_and(|n| {
                crate::observe::ENGAGEMENT_EVENTS
                    .iter()
                    .any(|(e, _)| *e == n)
            }),
        revenue: track && event.properties.contains_key("revenue"),
        ids: event.user_id.is_some() || event.anonymous_id.is_some(),
        traits,
        event: name,
        everything: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_changes_its_counter_and_revenue_an_identify_its_traits() {
        let track = Event::from_json_str(
            r#"{"type":"track","messageId":"1","userId":"u","event":"Order Completed","properties":{"revenue":5},"timestamp":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let c = changes(&track);
        assert_eq!(c.event, Some("Order Completed"));
        assert!(c.revenue && c.ids && !c.consent && c.traits.is_empty());
        let identify = Event::from_json_str(
            r#"{"type":"identify","messageId":"2","userId":"u","traits":{"plan":"pro","subscribed_email":false},"context":{"timezone":"Europe/Berlin"},"timestamp":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let c = changes(&identify);
        assert!(c.touches_trait("plan") && c.consent && c.timezone && !c.revenue);
        assert!(!c.touches_trait("vip"));
    }
}
