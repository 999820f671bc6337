//! The statistics a report states, with the formulas in docs/analytics.md:
//! Wilson score intervals for rates, Newcombe's hybrid score interval and
//! the pooled two-proportion z-test for uplift, and each variant's
//! probability to be best under Beta posteriors.

use statrs::distribution::{Beta, Continuous, ContinuousCDF, Normal};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959964;

/// Fewer entrants than this in a group: no rate, interval or test.
pub const MIN_ENTRANTS: u64 = 10;

/// The Wilson score interval of `successes` out of `n` at `z`.
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z2 / n;
    Some((
        (centre - margin) / denominator,
        (centre + margin) / denominator,
    ))
}

/// The uplift of a treatment rate over a control rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uplift {
    /// rate_treatment - rate_control.
    pub difference: f64,
    /// Newcombe's hybrid score interval (method 10) of the difference.
    pub ci95: (f64, f64),
    /// Two-sided p-value of the pooled two-proportion z-test.
    pub p_value: f64,
    /// difference / rate_control (`None` when the control rate is 0).
    pub relative: Option<f64>,
}

/// Treatment (`x1` of `n1`) against control (`x2` of `n2`).
pub fn uplift(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Uplift> {
    if n1 < MIN_ENTRANTS || n2 < MIN_ENTRANTS {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let (l1, u1) = wilson(x1, n1, Z95)?;
    let (l2, u2) = wilson(x2, n2, Z95)?;
    let difference = p1 - p2;
    let lower = difference - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let upper = difference + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    let pooled = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    let p_value = if se == 0.0 {
        1.0
    } else {
        let normal = Normal::new(0.0, 1.0).ok()?;
        2.0 * (1.0 - normal.cdf((difference / se).abs()))
    };
    Some(Uplift {
        difference,
        ci95: (lower, upper),
        p_value,
        relative: (p2 > 0.0).then(|| difference / p2),
    })
}

/// For each variant (conversions, entrants), the probability that its
/// conversion rate is the highest, under independent
/// Beta(1 + conversions, 1 + entrants - conversions) posteriors:
/// P(i best) = integral of f_i(x) * product of F_j(x) over j != i, by
/// Simpson's rule on 4,000 intervals (deterministic: no draws).
pub fn p_best(variants: &[(u64, u64)]) -> Option<Vec<f64>> {
    let posteriors: Vec<Beta> = variants
        .iter()
        .map(|(x, n)| Beta::new(1.0 + *x as f64, 1.0 + n.saturating_sub(*x) as f64))
        .collect::<Result<_, _>>()
        .ok()?;
    const STEPS: usize = 4_000;
    let h = 1.0 / STEPS as f64;
    let mut out = Vec::with_capacity(posteriors.len());
    for (i, own) in posteriors.iter().enumerate() {
        let integrand = |x: f64| {
            let mut v = own.pdf(x);
            for (j, other) in posteriors.iter().enumerate() {
                if j != i {
                    v *= other.cdf(x);
                }
            }
            if v.is_finite() { v } else { 0.0 }
        };
        let mut sum = integrand(0.0) + integrand(1.0);
        for k in 1..STEPS {
            let weight = if k % 2 == 1 { 4.0 } else { 2.0 };
            sum += weight * integrand(k as f64 * h);
        }
        out.push(sum * h / 3.0);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    /// Reference values from statsmodels 0.15.0:
    ///   python3 -c 'from statsmodels.stats.proportion import proportion_confint as c; print(c(81, 263, method="wilson"), c(0, 10, method="wilson"))'
    #[test]
    fn wilson_matches_statsmodels() {
        let (lo, hi) = wilson(81, 263, Z95).unwrap();
        assert!(
            close(lo, 0.255_288_519_878, 1e-8) && close(hi, 0.366_209_576_983, 1e-8),
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 10, Z95).unwrap();
        assert!(
            close(lo, 0.0, 1e-12) && close(hi, 0.277_532_799_863, 1e-8),
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0, Z95), None);
    }

    /// 56/70 against 48/80 (Newcombe 1998, table II, example (a)), with
    /// statsmodels 0.15.0:
    ///   python3 -c 'from statsmodels.stats.proportion import confint_proportions_2indep as ci, proportions_ztest as z; print(ci(56, 70, 48, 80, method="newcomb", compare="diff"), z([56, 48], [70, 80]))'
    #[test]
    fn uplift_matches_statsmodels() {
        let u = uplift(56, 70, 48, 80).unwrap();
        assert!(close(u.difference, 0.2, 1e-12));
        assert!(close(u.ci95.0, 0.052_431_472_402, 1e-8), "{:?}", u.ci95);
        assert!(close(u.ci95.1, 0.333_872_654_037, 1e-8), "{:?}", u.ci95);
        assert!(close(u.p_value, 0.008_045_081_368, 1e-8), "{}", u.p_value);
        assert!(close(u.relative.unwrap(), 0.2 / 0.6, 1e-12));
        assert_eq!(uplift(5, 9, 48, 80), None, "fewer than 10 entrants");
    }

    #[test]
    fn p_best_sums_to_one_and_favours_the_better_variant() {
        let p = p_best(&[(50, 1000), (70, 1000)]).unwrap();
        assert!(close(p[0] + p[1], 1.0, 1e-6), "{p:?}");
        // scipy 1.17.1: python3 -c 'from scipy import stats, integrate;
        // a, b = stats.beta(51, 951), stats.beta(71, 931);
        // print(integrate.quad(lambda x: b.pdf(x) * a.cdf(x), 0, 1, limit=200))'
        assert!(close(p[1], 0.969_853_178_699, 1e-8), "{p:?}");
        let even = p_best(&[(10, 100), (10, 100), (10, 100)]).unwrap();
        assert!(even.iter().all(|v| close(*v, 1.0 / 3.0, 1e-4)), "{even:?}");
    }
}
