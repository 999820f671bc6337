//! The channel a person engages with most (`channel: best`): each
//! channel's rate of messages opened, clicked or tapped per message sent,
//! Beta-smoothed towards the population's rate on that channel
//! (docs/intelligence.md).

use std::collections::BTreeMap;

use waymark_core::{Channel, ChannelEngagement};

use crate::engagement::ChannelTotals;

/// How many sends the population's rate weighs as: a person's own rate
/// takes over once they have had more than a few messages on a channel.
pub const PRIOR_WEIGHT: f64 = 10.0;

/// The rate assumed on a channel the population has no figure for.
pub const DEFAULT_RATE: f64 = 0.1;

/// The population's engagement rate per channel (engaged / sent over
/// everyone), the prior of each person's rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelPrior(BTreeMap<Channel, f64>);

impl ChannelPrior {
    /// The rates of summed counts; a channel nothing was sent on keeps
    /// [`DEFAULT_RATE`].
    pub fn from_totals(totals: &BTreeMap<Channel, ChannelTotals>) -> Self {
        ChannelPrior(
            totals
                .iter()
                .filter(|(_, c)| c.sent > 0)
                .map(|(channel, c)| (*channel, c.engaged.min(c.sent) as f64 / c.sent as f64))
                .collect(),
        )
    }

    pub fn rate(&self, channel: Channel) -> f64 {
        self.0.get(&channel).copied().unwrap_or(DEFAULT_RATE)
    }
}

/// A person's smoothed rate on one channel:
/// (engaged + k·prior) / (sent + k), the mean of the
/// Beta(k·prior + engaged, k·(1 − prior) + sent − engaged) posterior.
pub fn smoothed_rate(counts: ChannelEngagement, prior: f64) -> f64 {
    (f64::from(counts.engaged) + PRIOR_WEIGHT * prior) / (f64::from(counts.sent) + PRIOR_WEIGHT)
}

/// The best of `candidates` (in listed order) for a person with these
/// counts: the highest smoothed rate, the first listed on a tie. `None`
/// when there is no candidate.
pub fn best_channel(
    candidates: &[Channel],
    counts: impl Fn(Channel) -> ChannelEngagement,
    prior: &ChannelPrior,
) -> Option<(Channel, Vec<(Channel, f64)>)> {
    let rates: Vec<(Channel, f64)> = candidates
        .iter()
        .map(|c| (*c, smoothed_rate(counts(*c), prior.rate(*c))))
        .collect();
    let mut best: Option<(Channel, f64)> = None;
    for (channel, rate) in &rates {
        if best.is_none_or(|(_, top)| *rate > top) {
            best = Some((*channel, *rate));
        }
    }
    best.map(|(channel, _)| (channel, rates))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(sent: u32, engaged: u32) -> ChannelEngagement {
        ChannelEngagement { sent, engaged }
    }

    #[test]
    fn no_data_and_ties_go_to_the_first_listed() {
        let prior = ChannelPrior::default();
        let none = |_| ChannelEngagement::default();
        let (chosen, rates) = best_channel(&[Channel::Sms, Channel::Email], none, &prior).unwrap();
        assert_eq!(chosen, Channel::Sms);
        assert_eq!(rates, vec![(Channel::Sms, 0.1), (Channel::Email, 0.1)]);
        assert_eq!(best_channel(&[], none, &prior), None);
    }

    #[test]
    fn a_channel_never_engaged_with_loses_to_one_untried() {
        let prior = ChannelPrior::default();
        let history = |c| match c {
            Channel::Email => counts(1, 0),
            _ => counts(0, 0),
        };
        let (chosen, _) = best_channel(&[Channel::Email, Channel::Push], history, &prior).unwrap();
        assert_eq!(chosen, Channel::Push);
    }

    #[test]
    fn the_population_rate_is_the_prior() {
        let mut population = BTreeMap::new();
        let totals = |sent, engaged| ChannelTotals { sent, engaged };
        population.insert(Channel::Email, totals(1_000, 300));
        population.insert(Channel::Push, totals(1_000, 50));
        let prior = ChannelPrior::from_totals(&population);
        assert_eq!(prior.rate(Channel::Email), 0.3);
        assert_eq!(prior.rate(Channel::Sms), DEFAULT_RATE);
        // One tap on one push is not enough to beat the population's email.
        let one_tap = |c| match c {
            Channel::Push => counts(1, 1),
            _ => counts(0, 0),
        };
        let (chosen, _) = best_channel(&[Channel::Push, Channel::Email], one_tap, &prior).unwrap();
        assert_eq!(chosen, Channel::Email);
        // Five taps of five are.
        let five = |c| match c {
            Channel::Push => counts(5, 5),
            _ => counts(0, 0),
        };
        let (chosen, rates) = best_channel(&[Channel::Email, Channel::Push], five, &prior).unwrap();
        assert_eq!(chosen, Channel::Push, "{rates:?}");
    }
}
