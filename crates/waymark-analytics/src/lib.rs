//! `waymark-analytics`: what each journey does and what it earns, from the
//! engine's journey records. Pure: no IO, no clock.
//!
//! [`Counters`] fold records statelessly (each record carries what its
//! count needs), [`Metrics`] keeps them per journey version and day, and
//! [`Metrics::select`] gives what [`to_json`], [`to_table`] and [`to_csv`]
//! report; [`stats`] holds the statistics a report states (Wilson intervals,
//! Newcombe's interval and the pooled z-test for uplift, each variant's
//! probability to be best); the formulas and sources are in
//! docs/analytics.md. [`predict`] fits the BG/NBD model of repeat buying
//! (docs/intelligence.md).

#[cfg(feature = "charts")]
pub mod charts;
mod counters;
mod histogram;
mod metrics;
pub mod predict;
mod report;
mod selection;
pub mod stats;

pub use counters::{Counters, EdgeCount, Group, Groups, NodeCount, VariantCount};
pub use histogram::Histogram;
pub use metrics::{BucketKey, JourneyMetrics, Metrics};
pub use report::{to_csv, to_json, to_table};
pub use selection::{Selection, SelectionError};
