//! The BG/NBD model of repeat buying (Fader, Hardie & Lee, 2005, "Counting
//! Your Customers the Easy Way: An Alternative to the Pareto/NBD Model",
//! Marketing Science 24(2)) as the engine applies it: a customer's
//! probability to be alive and expected purchases ahead, from the fitted
//! parameters. Fitting is `waymark-analytics`'. Formulas:
//! docs/intelligence.md.

use serde::{Deserialize, Serialize};

use super::hyp2f1::hyp2f1;

/// One customer's purchase history, in one time unit (days, weeks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Customer {
    /// Repeat purchases: every purchase after the first (x).
    pub frequency: u32,
    /// From the first purchase to the last (tₓ; 0 without repeats).
    pub recency: f64,
    /// From the first purchase to the end of the observation (T).
    pub age: f64,
}

/// The model's four parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbd {
    /// The probability that a customer with this history is still alive.
    pub fn p_alive(&self, c: &Customer) -> f64 {
        1.0 / (1.0 + self.dropout_odds(c))
    }

    /// [a / (b + x - 1)] ((α + T) / (α + tₓ))^(r + x): the odds the customer
    /// dropped out after their last purchase (0 without repeats).
    pub(crate) fn dropout_odds(&self, c: &Customer) -> f64 {
        if c.frequency == 0 {
            return 0.0;
        }
        let x = f64::from(c.frequency);
        let BgNbd { r, alpha, a, b } = *self;
        a / (b + x - 1.0) * ((alpha + c.age) / (alpha + c.recency)).powf(r + x)
    }

    /// The purchases a customer with this history is expected to make in
    /// the next `t` time units (equation 10); `None` where the series of
    /// ₂F₁ does not settle (`t` many times the age).
    pub fn expected_purchases(&self, t: f64, c: &Customer) -> Option<f64> {
        let x = f64::from(c.frequency);
        let BgNbd { r, alpha, a, b } = *self;
        let z = t / (alpha + c.age + t);
        let hyper = hyp2f1(r + x, b + x, a + b + x - 1.0, z)?;
        let decay = ((alpha + c.age) / (alpha + c.age + t)).powf(r + x);
        let head = (a + b + x - 1.0) / (a - 1.0);
        Some(head * (1.0 - decay * hyper) / (1.0 + self.dropout_odds(c)))
    }
}
