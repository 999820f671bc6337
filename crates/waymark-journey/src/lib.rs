//! `waymark-journey` owns the journey definition format: YAML or JSON files
//! (the schema in `docs/journeys.md`) read into a validated [`Journey`] whose
//! nodes form a petgraph-checked graph, CEL conditions compiled once
//! ([`Expr`]), the message [`Templates`] that `send` nodes name (their
//! fields Liquid templates, parsed at load and rendered with
//! [`Template::render`]), and exports to Graphviz DOT and Mermaid.
//!
//! Named [`Segments`] (`segments/<id>.yaml`) are conditions over the
//! profile that journeys enter on, exit on, wait for and schedule to.
//!
//! Validation reports every problem at once, each naming the node and field.
//!
//! Architecture invariant: this crate describes journeys; it never runs
//! them. It knows nothing about profiles' state, time passing, storage or
//! delivery; it reads files only in [`load_journey`] and [`Templates::load_dir`].

mod decode;
mod export;
mod expr;
mod liquid_view;
mod load;
mod model;
mod problem;
mod render;
mod segment;
mod shape;
mod template;

pub use decode::{BEST_CHANNELS, decode};
pub use export::{to_dot, to_mermaid};
pub use expr::{Expr, PathTrie, Reads, VARIABLES};
pub use liquid_view::{Scope, SharedValue};
pub use load::{
    Error, Errors, JourneySet, load_journey, load_journey_set, load_workspace, parse_document,
    parse_journey,
};
pub use model::{
    DateTrigger, Entry, EntryLimit, Goal, Journey, Node, NodeIndex, NodeKind, OptimizeGoal,
    ReEntry, ScheduleTrigger, ScheduleZone, SegmentRef, Trigger, Variant, WaitFor,
};
pub use problem::Problem;
pub use render::RenderError;
pub use segment::{Segment, Segments, decode_segment, load_segment};
pub use template::{Template, Templates};
