//! Whether a profile can be reached on a channel (the Segment spec's traits).

use waymark_core::{Channel, Profile};

/// A channel needs an address ([`Profile::address`]: the `email` or
/// `phone` trait, a device token); webhooks need nothing.
pub fn reachable(profile: &Profile, channel: Channel) -> bool {
    channel == Channel::Webhook || profile.address(channel).is_some()
}
