//! `waymark-identity` keeps one profile per person, however many devices,
//! emails and anonymous sessions they use, without over-merging.
//!
//! It owns identifier extraction and normalisation ([`identifiers_of`]),
//! the merge rules ([`IdentityConfig`]: per kind a priority and a limit,
//! blocked values), the [`IdentityGraph`] that resolves every event to one
//! canonical profile and merges profiles its identifiers link (unless a
//! limit would break: Segment Unify's rule), the merge log, how events
//! update a profile ([`observe`]: traits, time zone, consent, counters,
//! revenue, engagement hours) and how merged profiles combine
//! ([`absorb`]), and privacy ([`Identity::export`], [`Identity::forget`]).
//!
//! Architecture invariant: this crate knows nothing about journeys, the
//! engine, storage or delivery; it does no IO and reads no clock (times come
//! from events).

mod changes;
mod config;
mod directory;
mod extract;
mod graph;
mod merge;
mod observe;

pub use changes::{ProfileChanges, changes};
pub use config::{IdentityConfig, KindRule};
pub use directory::{Forgotten, Identity, Resolved};
pub use extract::{identifiers_of, normalize, normalize_email, normalize_phone};
pub use graph::{IdentityGraph, MergeRecord, Resolution};
pub use merge::absorb;
pub use observe::observe;
