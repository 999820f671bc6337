//! Whether a profile can be reached on a channel (the Segment spec's traits).

use serde_json::Value;
use waymark_core::{Channel, Profile};

/// Email needs the `email` trait, SMS and WhatsApp the `phone` trait, push a
/// device token; webhooks need nothing. An address a provider refused for
/// good (a hard bounce) does not count.
pub fn reachable(profile: &Profile, channel: Channel) -> bool {
    let has_trait = |name: &str| {
        profile
            .traits
            .get(name)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.trim().is_empty() && !profile.undeliverable.contains(v))
    };
    match channel {
        Channel::Email => has_trait("email"),
        Channel::Sms | Channel::Whatsapp => has_trait("phone"),
        Channel::Push => !profile.push_tokens.is_empty(),
        Channel::Webhook => true,
    }
}
