//! Predictions from purchase histories: the BG/NBD model ([`BgNbd`]),
//! fitted by maximum likelihood, giving each customer's probability to be
//! alive and expected purchases ahead. Formulas: docs/intelligence.md.

mod bgnbd;
mod history;
mod hyp2f1;

pub use bgnbd::{BgNbd, Customer, Fit, FitError};
pub use history::customer_of;
pub use hyp2f1::hyp2f1;
