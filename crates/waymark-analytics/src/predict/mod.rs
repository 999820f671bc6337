//! Predictions from purchase histories: fitting the BG/NBD model by
//! maximum likelihood ([`Fitting`]). The model and what it predicts (each
//! customer's probability to be alive, expected purchases ahead) are the
//! engine's, re-exported here. Formulas: docs/intelligence.md.

mod bgnbd;

pub use bgnbd::{Fit, FitError, Fitting};
pub use waymark_engine::predict::{BgNbd, Customer, customer_of, hyp2f1};
