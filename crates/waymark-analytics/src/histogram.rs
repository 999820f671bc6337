//! A histogram of durations in seconds with a bounded size: exact below
//! 128 s, then 128 buckets per power of two (a value is rounded down by
//! less than 1/128, 0.8 %). Percentiles read from it are the lower bound
//! of the bucket they fall in. Kept beside the other counters, so its size
//! must not grow with the number of conversions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Mantissa bits kept: 2^7 = 128 buckets per power of two.
const BITS: u32 = 7;
const EXACT_BELOW: u64 = 1 << BITS;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Histogram {
    /// Bucket index -> count.
    buckets: BTreeMap<u32, u64>,
}

impl Histogram {
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// Adds a duration (negative ones, from clock skew, count as zero).
    pub fn add(&mut self, seconds: i64) {
        *self
            .buckets
            .entry(bucket(seconds.max(0).unsigned_abs()))
            .or_default() += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (bucket, n) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += n;
        }
    }

    /// The nearest-rank `q` quantile (0 < q ≤ 1), as its bucket's lower
    /// bound; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(lower_bound(*bucket));
            }
        }
        None
    }
}

fn bucket(v: u64) -> u32 {
    if v < EXACT_BELOW {
        return v as u32;
    }
    let exponent = 63 - v.leading_zeros(); // ≥ BITS
    let shift = exponent - BITS;
    let mantissa = (v >> shift) as u32 & (EXACT_BELOW as u32 - 1);
    EXACT_BELOW as u32 + shift * EXACT_BELOW as u32 + mantissa
}

fn lower_bound(bucket: u32) -> u64 {
    let b = u64::from(bucket);
    if b < EXACT_BELOW {
        return b;
    }
    let shift = (b - EXACT_BELOW) / EXACT_BELOW;
    let mantissa = (b - EXACT_BELOW) % EXACT_BELOW;
    (EXACT_BELOW + mantissa) << shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact_and_large_ones_within_one_128th() {
        for v in [
            0u64, 1, 59, 127, 128, 129, 3600, 86_400, 259_200, 31_536_000,
        ] {
            let low = lower_bound(bucket(v));
            assert!(low <= v, "{v}: {low}");
            if v < EXACT_BELOW {
                assert_eq!(low, v);
            }
            assert!((v - low) as f64 <= v as f64 / 128.0, "{v}: {low}");
        }
        // Buckets are ordered as their values.
        let mut last = 0;
        for v in 0..1_000_000u64 {
            let b = bucket(v);
            assert!(b >= last);
            last = b;
        }
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut h = Histogram::default();
        for v in [10, 20, 30, 40, 50, 60, 70, 80, 90, 100] {
            h.add(v);
        }
        assert_eq!(h.quantile(0.5), Some(50));
        assert_eq!(h.quantile(0.9), Some(90));
        assert_eq!(h.quantile(1.0), Some(100));
        assert_eq!(Histogram::default().quantile(0.5), None);
        h.add(-5);
        assert_eq!(h.quantile(0.01), Some(0));
    }
}
