//! Predictions applied at decision time: the BG/NBD model of repeat
//! buying ([`BgNbd`], fitted by `waymark-analytics`) gives a person's
//! `profile.predictions` from what their profile keeps of the purchase
//! event ([`PurchaseModel`]). Formulas: docs/intelligence.md.

mod bgnbd;
mod history;
mod hyp2f1;
mod purchase;

pub use bgnbd::{BgNbd, Customer};
pub use history::customer_of;
pub use hyp2f1::hyp2f1;
pub use purchase::{Predictions, PurchaseModel};
