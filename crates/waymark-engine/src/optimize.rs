//! Choosing a variant of an `optimize` node: Thompson sampling over each
//! variant's goal conversions, with a share of entrants spread evenly
//! (docs/intelligence.md). Draws come from a generator seeded by the
//! workspace seed and the instance: the same counts give the same choice.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution};
use waymark_core::stable_hash;

/// The relative lift below which two variants' draws count as equal.
pub const INDIFFERENCE: f64 = 0.10;

/// How many standard deviations of the difference of two posteriors a
/// lead must pass to count.
pub const EVIDENCE: f64 = 3.0;

/// A variant's entrants and goal conversions so far, all people together
/// (what the analytics counters hold).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VariantStats {
    pub entrants: u64,
    pub conversions: u64,
}

/// How a variant was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// In the `explore` share: evenly at random.
    Explore,
    /// The highest draw from the variants' posteriors.
    Thompson,
}

impl Chosen {
    pub fn as_str(self) -> &'static str {
        match self {
            Chosen::Explore => "explore",
            Chosen::Thompson => "thompson",
        }
    }
}

/// The variant (an index of `stats`) for one entrant: with probability
/// `explore_bp` / 10,000 one at random; otherwise one draw from each
/// Beta(1 + conversions, 1 + entrants − conversions) posterior, the
/// highest winning unless others are within the indifference margin of
/// it (then one of those at random). `keys` name the choice (journey,
/// node, instance): the generator is seeded from them and `seed`.
pub fn choose_variant(
    seed: u64,
    keys: &[&str],
    stats: &[VariantStats],
    explore_bp: u32,
) -> (usize, Chosen) {
    if stats.len() < 2 {
        return (0, Chosen::Explore);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(stable_hash(seed, keys));
    if rng.gen_range(0..10_000u32) < explore_bp {
        return (rng.gen_range(0..stats.len()), Chosen::Explore);
    }
    // Each variant's draw and posterior variance.
    let posteriors: Vec<(f64, f64)> = stats
        .iter()
        .map(|s| {
            let conversions = s.conversions.min(s.entrants);
            let alpha = 1.0 + conversions as f64;
            let beta = 1.0 + (s.entrants - conversions) as f64;
            // Both parameters are at least 1: the distribution always exists.
            let draw = Beta::new(alpha, beta).map_or(0.0, |d| d.sample(&mut rng));
            let n = alpha + beta;
            (draw, alpha * beta / (n * n * (n + 1.0)))
        })
        .collect();
    let (top, (top_draw, top_var)) =
        posteriors
            .iter()
            .copied()
            .enumerate()
            .fold((0, (f64::MIN, 0.0)), |best, (i, p)| {
                if p.0 > best.1.0 { (i, p) } else { best }
            });
    // Variants whose draw is not clearly below the best one share the
    // entrant evenly: a lead must pass the indifference margin and
    // `EVIDENCE` standard deviations of the difference of the posteriors.
    let close: Vec<usize> = posteriors
        .iter()
        .enumerate()
        .filter(|(i, (draw, var))| {
            *i == top
                || top_draw - draw < (draw * INDIFFERENCE).max(EVIDENCE * (top_var + var).sqrt())
        })
        .map(|(i, _)| i)
        .collect();
    let pick = match close.len() {
        1 => top,
        n => close[rng.gen_range(0..n)],
    };
    (pick, Chosen::Thompson)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(entrants: u64, conversions: u64) -> VariantStats {
        VariantStats {
            entrants,
            conversions,
        }
    }

    #[test]
    fn the_same_inputs_choose_the_same() {
        let counts = [stats(100, 10), stats(100, 12)];
        for i in 0..50 {
            let id = format!("j:p{i}:1");
            let keys = ["j", "pick", id.as_str()];
            assert_eq!(
                choose_variant(7, &keys, &counts, 1_000),
                choose_variant(7, &keys, &counts, 1_000)
            );
        }
    }

    #[test]
    fn a_clear_winner_takes_the_exploiting_share() {
        let counts = [stats(5_000, 300), stats(5_000, 600)];
        let mut to_better = 0;
        let mut explored = 0;
        for i in 0..10_000 {
            let id = format!("j:p{i}:1");
            let (variant, how) = choose_variant(1, &["j", "pick", &id], &counts, 1_000);
            to_better += usize::from(variant == 1);
            explored += usize::from(how == Chosen::Explore);
        }
        assert!((900..1_100).contains(&explored), "{explored} explored");
        // All the exploiting share and half the exploring one.
        assert!(to_better > 9_400, "{to_better}");
    }

    #[test]
    fn without_data_the_choice_is_even() {
        let counts = [stats(0, 0); 3];
        let mut per = [0; 3];
        for i in 0..30_000 {
            let id = format!("j:p{i}:1");
            per[choose_variant(3, &["j", "pick", &id], &counts, 0).0] += 1;
        }
        assert!(per.iter().all(|n| (9_500..10_500).contains(n)), "{per:?}");
    }
}
