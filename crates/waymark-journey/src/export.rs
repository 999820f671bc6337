//! Drawing a journey: Graphviz DOT and Mermaid flowcharts.

use std::fmt::Write;

use chrono::Timelike;

use crate::model::{Journey, Node, NodeKind, SegmentRef, Trigger, WaitFor};

/// A one-line description of what a node does.
fn summary(node: &Node) -> String {
    match &node.kind {
        NodeKind::Send {
            channels,
            template,
            best,
            ..
        } => {
            let names: Vec<_> = channels.iter().map(|c| c.as_str()).collect();
            if *best {
                format!("send best of {} · {template}", names.join(" / "))
            } else {
                format!("send {} · {template}", names.join(" / "))
            }
        }
        NodeKind::Wait {
            wait: WaitFor::Duration(d),
            ..
        } => format!("wait {d}"),
        NodeKind::Wait {
            wait: WaitFor::BestTime { within, .. },
            ..
        } => format!("wait until the best hour (within {within})"),
        NodeKind::Wait {
            wait: WaitFor::Until(t),
            ..
        } if t.second() == 0 => format!("wait until {}", t.format("%H:%M")),
        NodeKind::Wait {
            wait: WaitFor::Until(t),
            ..
        } => format!("wait until {}", t.format("%H:%M:%S")),
        NodeKind::WaitForEvent { event, timeout, .. } => match timeout {
            Some(t) => format!("wait for {event} (up to {t})"),
            None => format!("wait for {event}"),
        },
        NodeKind::WaitForSegment {
            segment, timeout, ..
        } => match timeout {
            Some(t) => format!("wait for segment {segment} (up to {t})"),
            None => format!("wait for segment {segment}"),
        },
        NodeKind::Branch { .. } => "branch".to_owned(),
        NodeKind::Split { .. } => "split".to_owned(),
        NodeKind::Optimize {
            goal, explore_bp, ..
        } => {
            let goal = match goal {
                crate::model::OptimizeGoal::Journey => "the journey's goal".to_owned(),
                crate::model::OptimizeGoal::Event { name, within } => {
                    format!("{name} within {within}")
                }
            };
            format!(
                "optimize for {goal} (explore {}%)",
                f64::from(*explore_bp) / 100.0
            )
        }
        NodeKind::UpdateProfile { set, .. } => {
            let keys: Vec<_> = set.keys().map(String::as_str).collect();
            format!("update profile: {}", keys.join(", "))
        }
        NodeKind::Exit => "exit".to_owned(),
    }
}

fn entry_label(journey: &Journey) -> String {
    match &journey.entry.trigger {
        Trigger::Event(name) => format!("on {name}"),
        Trigger::Segment(SegmentRef::Named(id)) => format!("joins segment {id}"),
        Trigger::Segment(SegmentRef::Inline(expr)) => format!("segment {}", expr.source()),
        Trigger::Api => "API entry".to_owned(),
        Trigger::Inactive { events, after } => {
            format!("inactive {after} (no {})", events.join(", "))
        }
        Trigger::Date(date) => format!("date trait {}", date.trait_name),
        Trigger::Schedule(schedule) => format!("schedule {}", schedule.source),
    }
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Renders the journey as a Graphviz `digraph`.
pub fn to_dot(journey: &Journey) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&journey.id));
    let _ = writeln!(out, "  label=\"{}\";", dot_escape(&journey.name));
    out.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    let _ = writeln!(
        out,
        "  \"__entry\" [shape=oval, label=\"{}\"];",
        dot_escape(&entry_label(journey))
    );
    for node in &journey.nodes {
        let shape = match node.kind {
            NodeKind::Branch { .. } | NodeKind::Split { .. } | NodeKind::Optimize { .. } => {
                ", shape=diamond"
            }
            NodeKind::Exit => ", shape=doublecircle",
            _ => "",
        };
        let label = format!("{}\\n{}", dot_escape(&node.id), dot_escape(&summary(node)));
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{label}\"{shape}];",
            dot_escape(&node.id)
        );
    }
    let _ = writeln!(
        out,
        "  \"__entry\" -> \"{}\";",
        dot_escape(&journey.nodes[0].id)
    );
    for node in &journey.nodes {
        for (to, label) in node.kind.edges() {
            let target = dot_escape(&journey.node(to).id);
            if label.is_empty() {
                let _ = writeln!(out, "  \"{}\" -> \"{target}\";", dot_escape(&node.id));
            } else {
                let _ = writeln!(
                    out,
                    "  \"{}\" -> \"{target}\" [label=\"{}\"];",
                    dot_escape(&node.id),
                    dot_escape(&label)
                );
            }
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_escape(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// Renders the journey as a Mermaid `flowchart`.
pub fn to_mermaid(journey: &Journey) -> String {
    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(
        out,
        "  entry([\"{}\"])",
        mermaid_escape(&entry_label(journey))
    );
    for (i, node) in journey.nodes.iter().enumerate() {
        let label = format!(
            "{}<br/>{}",
            mermaid_escape(&node.id),
            mermaid_escape(&summary(node))
        );
        let (open, close) = match node.kind {
            NodeKind::Branch { .. } | NodeKind::Split { .. } | NodeKind::Optimize { .. } => {
                ("{", "}")
            }
            NodeKind::Exit => ("((", "))"),
            NodeKind::Wait { .. }
            | NodeKind::WaitForEvent { .. }
            | NodeKind::WaitForSegment { .. } => ("[/", "/]"),
            _ => ("[", "]"),
        };
        let _ = writeln!(out, "  n{i}{open}\"{label}\"{close}");
    }
    out.push_str("  entry --> n0\n");
    for (i, node) in journey.nodes.iter().enumerate() {
        for (to, label) in node.kind.edges() {
            if label.is_empty() {
                let _ = writeln!(out, "  n{i} --> n{}", to.0);
            } else {
                let _ = writeln!(out, "  n{i} -->|\"{}\"| n{}", mermaid_escape(&label), to.0);
            }
        }
    }
    out
}
