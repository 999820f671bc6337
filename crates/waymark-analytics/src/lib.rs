//! `waymark-analytics`: what each journey does and what it earns, from the
//! engine's journey records. Pure: no IO, no clock.
//!
//! [`Metrics`] folds records into per-journey counts; [`to_json`] and
//! [`to_table`] report them; [`stats`] holds the statistics a report states (Wilson intervals,
//! Newcombe's interval and the pooled z-test for uplift, each variant's
//! probability to be best); the formulas and sources are in
//! docs/analytics.md.

mod metrics;
mod report;
pub mod stats;

pub use metrics::{Group, Groups, JourneyMetrics, Metrics, NodeMetrics};
pub use report::{to_csv, to_json, to_table};
