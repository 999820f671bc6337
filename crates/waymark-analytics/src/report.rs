//! A report of journey metrics: the JSON documented in docs/analytics.md
//! (`{"journeys": [...]}`) and a table a marketer reads.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::counters::Group;
use crate::metrics::JourneyMetrics;
use crate::stats::{MIN_ENTRANTS, Z95, p_best, uplift, wilson};

/// The report as JSON.
pub fn to_json(journeys: &[JourneyMetrics]) -> Value {
    let journeys: Vec<Value> = journeys.iter().map(journey_json).collect();
    json!({ "journeys": journeys })
}

fn journey_json(j: &JourneyMetrics) -> Value {
    let m = &j.counters;
    let total = m.groups.total();
    let nodes: Vec<Value> = m
        .nodes
        .iter()
        .map(|n| json!({"id": n.id, "reached": n.reached, "ended_here": n.ended_here}))
        .collect();
    let goal = json!({
        "conversions": total.conversions,
        "rate": rate(&total),
        "ci95": ci95(&total),
        "revenue": total.revenue,
        "time_to_goal_s": {
            "p50": m.time_to_goal.quantile(0.5),
            "p90": m.time_to_goal.quantile(0.9),
        },
    });
    let groups = json!({
        "treatment": group_json(&m.groups.treatment),
        "control": group_json(&m.groups.control),
    });
    let (t, c) = (&m.groups.treatment, &m.groups.control);
    let uplift = uplift(t.conversions, t.entrants, c.conversions, c.entrants).map(|u| {
        json!({
            "difference": u.difference,
            "ci95": [u.ci95.0, u.ci95.1],
            "p_value": u.p_value,
            "relative": u.relative,
        })
    });
    let mut variants = Vec::new();
    for v in &m.variants {
        let (node, variant, group) = (&v.node, &v.variant, &v.group);
        let siblings: Vec<(u64, u64)> = m
            .variants
            .iter()
            .filter(|s| s.node == *node)
            .map(|s| (s.group.conversions, s.group.entrants))
            .collect();
        let position = m
            .variants
            .iter()
            .filter(|s| s.node == *node)
            .position(|s| s.variant == *variant);
        let enough = siblings.iter().all(|(_, n)| *n >= MIN_ENTRANTS);
        let best = enough
            .then(|| p_best(&siblings))
            .flatten()
            .zip(position)
            .map(|(p, i)| p[i]);
        let allocation: Vec<Value> = j
            .allocation
            .iter()
            .filter_map(|(day, counts)| {
                let of_node = counts.iter().filter(|(n, _, _)| n == node);
                let total: u64 = of_node.clone().map(|(_, _, k)| k).sum();
                let mine = of_node
                    .filter(|(_, v, _)| v == variant)
                    .map(|(_, _, k)| *k)
                    .sum::<u64>();
                (total > 0).then(|| {
                    json!({"day": day.to_string(), "entrants": mine, "share": mine as f64 / total as f64})
                })
            })
            .collect();
        variants.push(json!({
            "node": node,
            "variant": variant,
            "entrants": group.entrants,
            "conversions": group.conversions,
            "rate": rate(group),
            "ci95": ci95(group),
            "p_best": best,
            "allocation": allocation,
        }));
    }
    json!({
        "journey": j.journey,
        "version": j.version,
        "entrants": {"total": total.entrants, "treatment": t.entrants, "control": c.entrants},
        "nodes": nodes,
        "exits": m.exits,
        "sends": m.sends.iter().map(|(c, n)| (c.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "suppressed": m.suppressed,
        "goal": goal,
        "groups": groups,
        "uplift": uplift,
        "variants": variants,
    })
}

fn group_json(g: &Group) -> Value {
    json!({
        "entrants": g.entrants,
        "conversions": g.conversions,
        "rate": rate(g),
        "ci95": ci95(g),
        "revenue": g.revenue,
    })
}

/// A rate, or null ("not enough data") below the minimum entrants.
fn rate(g: &Group) -> Value {
    if g.entrants < MIN_ENTRANTS {
        return Value::Null;
    }
    json!(g.conversions as f64 / g.entrants as f64)
}

fn ci95(g: &Group) -> Value {
    if g.entrants < MIN_ENTRANTS {
        return Value::Null;
    }
    wilson(g.conversions, g.entrants, Z95).map_or(Value::Null, |(lo, hi)| json!([lo, hi]))
}

/// The report as text: per journey, the funnel by node, channels, the
/// goal, and treatment against control.
pub fn to_table(journeys: &[JourneyMetrics]) -> String {
    let report = to_json(journeys);
    let mut out = String::new();
    let number = |v: &Value| match v {
        Value::Null => "not enough data".to_owned(),
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| n.to_string(), |f| format!("{f:.4}")),
        other => other.to_string(),
    };
    for j in report["journeys"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "journey {}", j["journey"].as_str().unwrap_or(""));
        let e = &j["entrants"];
        let _ = writeln!(
            out,
            "  entrants   {} (treatment {}, control {})",
            e["total"], e["treatment"], e["control"]
        );
        let _ = writeln!(out, "  node                 reached  ended here");
        for n in j["nodes"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  {:<20} {:>7}  {:>10}",
                n["id"].as_str().unwrap_or(""),
                n["reached"],
                n["ended_here"]
            );
        }
        for (title, key) in [
            ("exits", "exits"),
            ("sends", "sends"),
            ("suppressed", "suppressed"),
        ] {
            if let Some(map) = j[key].as_object().filter(|m| !m.is_empty()) {
                let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
                let _ = writeln!(out, "  {title:<10} {}", parts.join(", "));
            }
        }
        let g = &j["goal"];
        let _ = writeln!(
            out,
            "  goal       {} conversions, rate {}, revenue {}",
            g["conversions"],
            number(&g["rate"]),
            g["revenue"]
        );
        let times = &g["time_to_goal_s"];
        if !times["p50"].is_null() {
            let _ = writeln!(
                out,
                "  to goal    p50 {}, p90 {}",
                duration(&times["p50"]),
                duration(&times["p90"])
            );
        }
        for group in ["treatment", "control"] {
            let x = &j["groups"][group];
            let _ = writeln!(
                out,
                "  {group:<10} {} entrants, {} conversions, rate {}",
                x["entrants"],
                x["conversions"],
                number(&x["rate"])
            );
        }
        match &j["uplift"] {
            Value::Null => {
                let _ = writeln!(out, "  uplift     not enough data");
            }
            u => {
                let _ = writeln!(
                    out,
                    "  uplift     {} (95% CI {} to {}), p = {}",
                    number(&u["difference"]),
                    number(&u["ci95"][0]),
                    number(&u["ci95"][1]),
                    number(&u["p_value"])
                );
            }
        }
        for v in j["variants"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  variant    {}/{}: {} entrants, {} conversions, rate {}, p(best) {}",
                v["node"].as_str().unwrap_or(""),
                v["variant"].as_str().unwrap_or(""),
                v["entrants"],
                v["conversions"],
                number(&v["rate"]),
                number(&v["p_best"])
            );
            // The allocation of the last two weeks, oldest first.
            let days = v["allocation"].as_array().map_or(&[][..], Vec::as_slice);
            if days.len() > 1 {
                let shares: Vec<String> = days[days.len().saturating_sub(14)..]
                    .iter()
                    .map(|d| {
                        let day = d["day"].as_str().unwrap_or("");
                        let share = d["share"].as_f64().unwrap_or(0.0) * 100.0;
                        format!("{} {share:.0}%", day.get(5..).unwrap_or(day))
                    })
                    .collect();
                let _ = writeln!(out, "             share by day: {}", shares.join(", "));
            }
        }
    }
    out
}

/// Seconds as a person reads them: `45 s`, `12 min`, `5.2 h`, `3.0 d`.
fn duration(seconds: &Value) -> String {
    let Some(s) = seconds.as_f64() else {
        return "-".to_owned();
    };
    match s {
        s if s < 60.0 => format!("{s} s"),
        s if s < 3600.0 => format!("{:.0} min", s / 60.0),
        s if s < 86_400.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} d", s / 86_400.0),
    }
}

/// The report as CSV, one number per row: `journey,section,key,value`
/// (sections: entrants, reached, ended_here, exits, sends, suppressed,
/// goal, treatment, control, uplift, and `variant:<node>:<name>` with
/// its share of the node's entrants per day, `share:<day>`); a
/// number that is not there for lack of data is an empty value.
pub fn to_csv(journeys: &[JourneyMetrics]) -> String {
    let report = to_json(journeys);
    let mut out = String::from("journey,section,key,value\n");
    let cell = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        other => other.to_string(),
    };
    for j in report["journeys"].as_array().into_iter().flatten() {
        let id = csv_field(j["journey"].as_str().unwrap_or(""));
        let mut row = |section: &str, key: &str, value: &Value| {
            let _ = writeln!(
                out,
                "{id},{},{},{}",
                csv_field(section),
                csv_field(key),
                cell(value)
            );
        };
        for (key, value) in j["entrants"].as_object().into_iter().flatten() {
            row("entrants", key, value);
        }
        for n in j["nodes"].as_array().into_iter().flatten() {
            let node = n["id"].as_str().unwrap_or("");
            row("reached", node, &n["reached"]);
            row("ended_here", node, &n["ended_here"]);
        }
        for section in ["exits", "sends", "suppressed"] {
            for (key, value) in j[section].as_object().into_iter().flatten() {
                row(section, key, value);
            }
        }
        let goal = &j["goal"];
        for key in ["conversions", "rate", "revenue"] {
            row("goal", key, &goal[key]);
        }
        row("goal", "ci95_low", &goal["ci95"][0]);
        row("goal", "ci95_high", &goal["ci95"][1]);
        row("goal", "time_to_goal_p50_s", &goal["time_to_goal_s"]["p50"]);
        row("goal", "time_to_goal_p90_s", &goal["time_to_goal_s"]["p90"]);
        for group in ["treatment", "control"] {
            for key in ["entrants", "conversions", "rate", "revenue"] {
                row(group, key, &j["groups"][group][key]);
            }
        }
        let u = &j["uplift"];
        for key in ["difference", "p_value", "relative"] {
            row("uplift", key, &u[key]);
        }
        row("uplift", "ci95_low", &u["ci95"][0]);
        row("uplift", "ci95_high", &u["ci95"][1]);
        for v in j["variants"].as_array().into_iter().flatten() {
            let section = format!(
                "variant:{}:{}",
                v["node"].as_str().unwrap_or(""),
                v["variant"].as_str().unwrap_or("")
            );
            for key in ["entrants", "conversions", "rate", "p_best"] {
                row(&section, key, &v[key]);
            }
            for day in v["allocation"].as_array().into_iter().flatten() {
                let key = format!("share:{}", day["day"].as_str().unwrap_or(""));
                row(&section, &key, &day["share"]);
            }
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
