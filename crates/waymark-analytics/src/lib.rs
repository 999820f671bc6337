//! `waymark-analytics`: what each journey does and what it earns, from the
//! engine's journey records. Pure: no IO, no clock.
//!
//! [`stats`] holds the statistics a report states (Wilson intervals,
//! Newcombe's interval and the pooled z-test for uplift, each variant's
//! probability to be best); the formulas and sources are in
//! docs/analytics.md.

pub mod stats;
