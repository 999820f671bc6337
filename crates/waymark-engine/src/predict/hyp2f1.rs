//! Gauss's hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1, by its
//! power series: what BG/NBD's conditional expectation needs (statrs has
//! no ₂F₁). Terms are summed until they no longer change the sum.

/// ₂F₁(a, b; c; z) for `0 <= z < 1` and `c > 0`; `None` when the series
/// has not settled within its term budget (z very close to 1).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    const MAX_TERMS: usize = 100_000;
    if !(0.0..1.0).contains(&z) || c <= 0.0 {
        return None;
    }
    let (mut sum, mut term) = (1.0_f64, 1.0_f64);
    for n in 0..MAX_TERMS {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        let next = sum + term;
        if next == sum || term.abs() <= f64::EPSILON * sum.abs() {
            return next.is_finite().then_some(next);
        }
        sum = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // ₂F₁(1, 1; 2; z) = -ln(1 - z) / z.
        for z in [0.0001, 0.3, 0.5, 0.9] {
            let want = -(1.0_f64 - z).ln() / z;
            let got = hyp2f1(1.0, 1.0, 2.0, z).unwrap();
            assert!(
                (got - want).abs() < 1e-12 * want,
                "z = {z}: {got} vs {want}"
            );
        }
        // ₂F₁(a, b; b; z) = (1 - z)^-a.
        let got = hyp2f1(2.5, 3.0, 3.0, 0.4).unwrap();
        assert!((got - 0.6_f64.powf(-2.5)).abs() < 1e-12);
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 1.0), None);
    }
}
