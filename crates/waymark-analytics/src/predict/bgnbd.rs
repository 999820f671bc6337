//! The BG/NBD model of repeat buying (Fader, Hardie & Lee, 2005, "Counting
//! Your Customers the Easy Way: An Alternative to the Pareto/NBD Model",
//! Marketing Science 24(2)): while alive, a customer buys at a Poisson
//! rate λ ~ Gamma(r, α); after each purchase they drop out with
//! probability p ~ Beta(a, b). Fitted by maximum likelihood on each
//! customer's (x, tₓ, T): repeat purchases, time of the last one and age,
//! all measured from their first purchase. Formulas: docs/intelligence.md.

use std::collections::HashMap;

use argmin::core::{CostFunction, Executor};
use argmin::solver::neldermead::NelderMead;
use statrs::function::gamma::ln_gamma;
use waymark_engine::predict::{BgNbd, Customer};

/// Why a fit failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("no customers to fit the model on")]
    Empty,
    #[error(
        "customer {index}: recency {recency} and age {age} must be finite, 0 <= recency <= age, and recency 0 without repeat purchases"
    )]
    Invalid {
        index: usize,
        recency: f64,
        age: f64,
    },
    #[error("the optimiser failed: {0}")]
    Optimiser(String),
}

/// A fitted model and how the fit went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub model: BgNbd,
    /// The log-likelihood at the fitted parameters, summed over customers.
    pub log_likelihood: f64,
    pub iterations: u64,
}

/// Fitting BG/NBD and its likelihood (the model and what it predicts are
/// the engine's: [`BgNbd`]).
pub trait Fitting: Sized {
    /// Fits the model by maximum likelihood: Nelder-Mead over the
    /// parameters' logarithms (so they stay positive), from (1, 1, 1, 1).
    fn fit(customers: &[Customer]) -> Result<Fit, FitError>;
    /// The log-likelihood of many customers, summed.
    fn log_likelihood(&self, customers: &[Customer]) -> f64;
    /// The log-likelihood of one customer's history (equation 6).
    fn customer_log_likelihood(&self, c: &Customer) -> f64;
}

impl Fitting for BgNbd {
    fn fit(customers: &[Customer]) -> Result<Fit, FitError> {
        fit(customers)
    }

    fn log_likelihood(&self, customers: &[Customer]) -> f64 {
        grouped_log_likelihood(self, &Grouped::new(customers))
    }

    fn customer_log_likelihood(&self, c: &Customer) -> f64 {
        let x = f64::from(c.frequency);
        let BgNbd { r, alpha, a, b } = *self;
        let shared =
            ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_gamma(a + b) + ln_gamma(b + x)
                - ln_gamma(b)
                - ln_gamma(a + b + x);
        shared + tail(self, c, x)
    }
}

fn from_log(theta: &[f64]) -> BgNbd {
    let at = |i: usize| theta.get(i).copied().unwrap_or_default().exp();
    BgNbd {
        r: at(0),
        alpha: at(1),
        a: at(2),
        b: at(3),
    }
}

/// The part of the log-likelihood that depends on tₓ and T.
fn tail(m: &BgNbd, c: &Customer, x: f64) -> f64 {
    let BgNbd { r, alpha, a, b } = *m;
    let a3 = -(r + x) * (alpha + c.age).ln();
    if c.frequency == 0 {
        return a3;
    }
    let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + c.recency).ln();
    let top = a3.max(a4);
    top + ((a3 - top).exp() + (a4 - top).exp()).ln()
}

fn grouped_log_likelihood(m: &BgNbd, grouped: &Grouped) -> f64 {
    let BgNbd { r, alpha, a, b } = *m;
    // The terms depending on x alone, once per distinct x.
    let base = r * alpha.ln() + ln_gamma(a + b) - ln_gamma(r) - ln_gamma(b);
    let by_x: Vec<f64> = (0..=grouped.max_frequency)
        .map(|x| {
            let x = f64::from(x);
            base + ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x)
        })
        .collect();
    grouped
        .histories
        .iter()
        .map(|(c, n)| {
            let shared = by_x.get(c.frequency as usize).copied().unwrap_or(f64::NAN);
            n * (shared + tail(m, c, f64::from(c.frequency)))
        })
        .sum()
}

/// See [`Fitting::fit`].
fn fit(customers: &[Customer]) -> Result<Fit, FitError> {
    if customers.is_empty() {
        return Err(FitError::Empty);
    }
    if let Some((index, c)) = customers.iter().enumerate().find(|(_, c)| {
        !(c.recency.is_finite() && c.age.is_finite())
            || c.recency < 0.0
            || c.recency > c.age
            || (c.frequency == 0 && c.recency != 0.0)
    }) {
        return Err(FitError::Invalid {
            index,
            recency: c.recency,
            age: c.age,
        });
    }
    let grouped = Grouped::new(customers);
    let cost = MeanNegativeLogLikelihood { grouped: &grouped };
    let start = vec![0.0; 4];
    let simplex = std::iter::once(start.clone())
        .chain((0..4).map(|i| {
            let mut vertex = start.clone();
            vertex[i] += 1.0;
            vertex
        }))
        .collect();
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-12)
        .map_err(|e| FitError::Optimiser(e.to_string()))?;
    let result = Executor::new(cost, solver)
        .configure(|state| state.max_iters(5_000))
        .run()
        .map_err(|e| FitError::Optimiser(e.to_string()))?;
    let state = result.state();
    let best = state
        .best_param
        .as_ref()
        .ok_or_else(|| FitError::Optimiser("no parameters found".to_owned()))?;
    let model = from_log(best);
    Ok(Fit {
        model,
        log_likelihood: grouped_log_likelihood(&model, &grouped),
        iterations: state.iter,
    })
}

/// Customers with the same history counted once, with their number.
struct Grouped {
    histories: Vec<(Customer, f64)>,
    max_frequency: u32,
}

impl Grouped {
    fn new(customers: &[Customer]) -> Grouped {
        let mut counts: HashMap<(u32, u64, u64), (Customer, f64)> = HashMap::new();
        for c in customers {
            let key = (c.frequency, c.recency.to_bits(), c.age.to_bits());
            counts.entry(key).or_insert((*c, 0.0)).1 += 1.0;
        }
        let mut histories: Vec<(Customer, f64)> = counts.into_values().collect();
        // A fixed order: the same sum, to the last bit, on every run.
        histories.sort_by(|(x, _), (y, _)| {
            (x.frequency, x.recency, x.age)
                .partial_cmp(&(y.frequency, y.recency, y.age))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let max_frequency = customers.iter().map(|c| c.frequency).max().unwrap_or(0);
        Grouped {
            histories,
            max_frequency,
        }
    }

    fn count(&self) -> f64 {
        self.histories.iter().map(|(_, n)| n).sum()
    }
}

/// What the optimiser minimises: the mean negative log-likelihood.
struct MeanNegativeLogLikelihood<'g> {
    grouped: &'g Grouped,
}

impl CostFunction for MeanNegativeLogLikelihood<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let model = from_log(theta);
        let mean = -grouped_log_likelihood(&model, self.grouped) / self.grouped.count();
        // Where the likelihood is not defined, a wall the simplex turns from.
        Ok(if mean.is_finite() { mean } else { f64::MAX })
    }
}
