//! The journey graph with its flows, laid out by layout-rs (a pure-Rust
//! Graphviz-style layered layout): a box per node reached, with its
//! arrivals and the instances that ended there; an arrow per move between
//! nodes, as wide as the share of arrivals it carried.

use std::collections::HashMap;

use crate::JourneyMetrics;
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

const FONT: usize = 14;
/// The widest flow, in pixels (the graph reads top-down: no arrowheads,
/// which would grow with the line).
const MAX_WIDTH: f64 = 10.0;

pub fn svg(journey: &JourneyMetrics) -> String {
    let counters = &journey.counters;
    let mut graph = VisualGraph::new(Orientation::TopToBottom);
    let entrants = counters.groups.total().entrants;
    let mut handles = HashMap::new();
    let start = {
        let label = format!("{}\nentered {entrants}", journey.journey);
        let shape = ShapeKind::Circle(label);
        let look = StyleAttr::new(
            Color::fast("black"),
            1,
            Some(Color::fast("lightgray")),
            0,
            FONT,
        );
        let size = get_shape_size(Orientation::LeftToRight, &shape, FONT, false);
        graph.add_node(Element::create(shape, look, Orientation::LeftToRight, size))
    };
    for node in &counters.nodes {
        let label = if node.ended_here > 0 {
            format!(
                "{}\nreached {}\nended here {}",
                node.id, node.reached, node.ended_here
            )
        } else {
            format!("{}\nreached {}", node.id, node.reached)
        };
        // The more of its arrivals end at a node, the redder it is.
        let share = node.ended_here as f64 / node.reached.max(1) as f64;
        let fill = Color::new(blend(share));
        let shape = ShapeKind::Box(label);
        let look = StyleAttr::new(Color::fast("black"), 1, Some(fill), 4, FONT);
        let size = get_shape_size(Orientation::LeftToRight, &shape, FONT, false);
        let handle = graph.add_node(Element::create(shape, look, Orientation::LeftToRight, size));
        handles.insert(node.id.clone(), handle);
    }
    let widest = counters
        .edges
        .iter()
        .map(|e| e.n)
        .chain([entrants])
        .max()
        .unwrap_or(1);
    let width = |n: u64| {
        ((n as f64 / widest.max(1) as f64) * MAX_WIDTH)
            .round()
            .max(1.0) as usize
    };
    // People enter at the first node reached.
    if let Some(first) = counters.nodes.first().and_then(|n| handles.get(&n.id)) {
        graph.add_edge(arrow(&entrants.to_string(), width(entrants)), start, *first);
    }
    for edge in &counters.edges {
        if let (Some(from), Some(to)) = (handles.get(&edge.from), handles.get(&edge.to)) {
            graph.add_edge(arrow(&edge.n.to_string(), width(edge.n)), *from, *to);
        }
    }
    let mut svg = SVGWriter::new();
    graph.do_it(false, false, false, &mut svg);
    svg.finalize()
}

fn arrow(label: &str, width: usize) -> Arrow {
    let look = StyleAttr::new(Color::fast("steelblue"), width, None, 0, FONT - 2);
    Arrow::new(
        LineEndKind::None,
        LineEndKind::None,
        LineStyleKind::Normal,
        label,
        &look,
        &None,
        &None,
    )
}

/// White to a soft red as `share` goes from 0 to 1, as 0xRRGGBBAA.
fn blend(share: f64) -> u32 {
    let share = share.clamp(0.0, 1.0);
    let channel = |to: f64| (255.0 - (255.0 - to) * share).round() as u32;
    (channel(255.0) << 24) | (channel(160.0) << 16) | (channel(150.0) << 8) | 0xff
}
