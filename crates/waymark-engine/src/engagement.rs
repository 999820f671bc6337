//! What everyone's engagement adds up to: opens and clicks per local hour
//! and, per channel, messages sent and engaged with. The priors of
//! `best_time` waits and `channel: best` sends, computed over the store
//! by `waymark-admin model engagement` and read by the worker at start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use waymark_core::{Channel, Profile};

use crate::best_channel::ChannelPrior;
use crate::best_time::EngagementPrior;

/// The population's engagement totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    /// People counted.
    pub people: u64,
    /// Opens, clicks and taps per local hour of day.
    pub hours: [u64; 24],
    /// Per channel: messages sent and messages engaged with.
    pub channels: BTreeMap<Channel, ChannelTotals>,
}

/// Sends and engaged messages on one channel, all people together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelTotals {
    pub sent: u64,
    pub engaged: u64,
}

impl Engagement {
    /// Adds one person's counts.
    pub fn add(&mut self, profile: &Profile) {
        self.people += 1;
        for (total, n) in self.hours.iter_mut().zip(profile.engagement_hours) {
            *total += u64::from(n);
        }
        for (channel, counts) in profile.channel_engagement.iter() {
            let total = self.channels.entry(*channel).or_default();
            total.sent += u64::from(counts.sent);
            total.engaged += u64::from(counts.engaged);
        }
    }

    /// The population's share of engagements per hour.
    pub fn hour_prior(&self) -> EngagementPrior {
        EngagementPrior::from_counts(&self.hours)
    }

    /// The population's engagement rate per channel.
    pub fn channel_prior(&self) -> ChannelPrior {
        ChannelPrior::from_totals(&self.channels)
    }
}
