//! The overview, journey, segments and outbox pages. Numbers come from
//! the same report JSON as `GET /admin/v1/reports` and `waymark-admin
//! report`, so the three never disagree.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde_json::Value;
use waymark::deploy::{self, Deployed, JourneyStatus};
use waymark::runtime::OutboxStatus;
use waymark_analytics::Selection;

use super::Viewer;
use super::layout::{count, error_page, page, percent, points};
use crate::admin::{AdminState, blocking, internal};

/// A latest version's status, with whether its people are held.
fn status_name(d: &Deployed) -> String {
    let name = d.status_name(true);
    if d.hold {
        format!("{name} (held)")
    } else {
        name.to_owned()
    }
}

/// Each journey's latest version.
fn latest(all: Vec<Deployed>) -> Vec<Deployed> {
    deploy::with_latest(all)
        .into_iter()
        .filter_map(|(d, latest)| latest.then_some(d))
        .collect()
}

/// The report JSON of every journey, by id.
fn reports(admin: &AdminState, selection: &Selection) -> Result<Vec<Value>, crate::ApiError> {
    let journeys = crate::admin::reports::select(admin, selection)?;
    let mut json = waymark_analytics::to_json(&journeys);
    Ok(match json["journeys"].take() {
        Value::Array(list) => list,
        _ => Vec::new(),
    })
}

fn card(id: &str, label: &str, value: u64, bad: bool) -> Markup {
    html! {
        div.card.bad[bad && value > 0] id=(id) {
            div.value { (value) }
            div.label { (label) }
        }
    }
}

pub(super) async fn overview(State(admin): State<AdminState>, viewer: Viewer) -> Response {
    let gathered = blocking(move || {
        let status = crate::admin::queues::status_now(&admin);
        let deployed = latest(admin.waymark.deployed().map_err(internal)?);
        let reports = reports(&admin, &Selection::default())?;
        Ok((status, deployed, reports))
    })
    .await;
    let (status, deployed, reports) = match gathered {
        Ok(found) => found,
        Err(refused) => return error_page(Some(&viewer), &refused),
    };
    let body = html! {
        h1 { "Journeys" }
        div.cards {
            (card("profiles", "profiles", status.profiles as u64, false))
            (card("running", "in journeys now", status.instances_active as u64, false))
            (card("timers", "timers waiting", status.timers_pending as u64, false))
            (card("outbox-pending", "messages waiting", status.outbox_pending as u64, false))
            (card("outbox-failed", "messages failed", status.outbox_failed as u64, true))
            (card("dead-letters", "events dead-lettered", status.dead_letters, true))
        }
        h2 { "Deployed" }
        table id="journeys" {
            thead { tr {
                th { "Journey" } th { "Version" } th { "Status" }
                th.num { "Entered" } th.num { "Converted" } th.num { "Conversion" }
            } }
            tbody {
                @for d in &deployed {
                    @let report = reports.iter().find(|r| r["journey"] == d.id.as_str());
                    @let total = report.map(|r| &r["entrants"]["total"]).unwrap_or(&Value::Null);
                    @let goal = report.map(|r| &r["goal"]).unwrap_or(&Value::Null);
                    tr data-journey=(d.id) {
                        td { a href={ "/journeys/" (d.id) } { (d.id) } }
                        td { "v" (d.version) }
                        td { span.status.paused[d.status != JourneyStatus::Active] { (status_name(d)) } }
                        td.num.entered { (count(total)) }
                        td.num.converted { (count(&goal["conversions"])) }
                        td.num.rate { (percent(&goal["rate"])) }
                    }
                }
            }
        }
    };
    page("Journeys", Some(&viewer), body).into_response()
}

pub(super) async fn journey(
    State(admin): State<AdminState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let key = id.clone();
    let gathered = blocking(move || {
        let versions: Vec<Deployed> = admin
            .waymark
            .deployed()
            .map_err(internal)?
            .into_iter()
            .filter(|d| d.id == key)
            .collect();
        if versions.is_empty() {
            return Err(crate::admin::unknown_journey(&key));
        }
        let selection = Selection {
            journey: Some(key),
            ..Selection::default()
        };
        let report = reports(&admin, &selection)?.pop().unwrap_or(Value::Null);
        Ok((versions, report))
    })
    .await;
    let (versions, report) = match gathered {
        Ok(found) => found,
        Err(refused) => return error_page(Some(&viewer), &refused),
    };
    let Some(last) = versions.last() else {
        return error_page(Some(&viewer), &crate::admin::unknown_journey(&id));
    };
    let nodes = report["nodes"].as_array().cloned().unwrap_or_default();
    let goal = &report["goal"];
    let groups = &report["groups"];
    let has_variants = report["variants"].as_array().is_some_and(|v| !v.is_empty());
    let body = html! {
        h1 { (id) " " span.status.paused[last.status != JourneyStatus::Active] id="status" { (status_name(last)) } }
        @if viewer.can_change() {
            @let csrf = viewer.csrf.as_deref().unwrap_or_default();
            div.actions {
                @if last.status == JourneyStatus::Active {
                    form method="post" action={ "/journeys/" (id) "/pause" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" id="pause" { "Pause" }
                    }
                } @else {
                    form method="post" action={ "/journeys/" (id) "/resume" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" id="resume" { "Resume" }
                    }
                }
            }
        }
        div.cards {
            (card("entered", "entered", count(&report["entrants"]["total"]), false))
            (card("converted", "reached the goal", count(&goal["conversions"]), false))
            div.card id="conversion" { div.value { (percent(&goal["rate"])) } div.label { "conversion" } }
            div.card id="uplift" { div.value { (points(&report["uplift"]["difference"])) } div.label { "uplift over control" } }
        }
        h2 { "Graph" }
        div.graph { img src={ "/journeys/" (id) "/charts/graph.svg" } alt={ "The graph of " (id) " with its flows" }; }
        h2 { "Per node" }
        table id="nodes" {
            thead { tr { th { "Node" } th.num { "Reached" } th.num { "Ended here (drop-off)" } } }
            tbody {
                @for node in &nodes {
                    tr data-node=(node["id"].as_str().unwrap_or_default()) {
                        td { (node["id"].as_str().unwrap_or_default()) }
                        td.num.reached { (count(&node["reached"])) }
                        td.num.ended { (count(&node["ended_here"])) }
                    }
                }
            }
        }
        h2 { "Treatment and control" }
        table id="groups" {
            thead { tr { th { "Group" } th.num { "Entrants" } th.num { "Conversions" } th.num { "Rate" } } }
            tbody {
                @for name in ["treatment", "control"] {
                    tr data-group=(name) {
                        td { (name) }
                        td.num.entrants { (count(&groups[name]["entrants"])) }
                        td.num.conversions { (count(&groups[name]["conversions"])) }
                        td.num.rate { (percent(&groups[name]["rate"])) }
                    }
                }
            }
        }
        h2 { "Charts" }
        div.charts {
            img src={ "/journeys/" (id) "/charts/daily.svg" } alt="Conversions per day";
            @if has_variants { img src={ "/journeys/" (id) "/charts/variants.svg" } alt="Variants"; }
        }
        h2 { "Versions" }
        table id="versions" {
            thead { tr { th { "Version" } th { "Deployed" } th { "File" } } }
            tbody {
                @for d in versions.iter().rev() {
                    tr { td { "v" (d.version) } td { (waymark_core::format_timestamp(d.deployed_at)) } td { (d.file) } }
                }
            }
        }
    };
    page(&id, Some(&viewer), body).into_response()
}

pub(super) async fn chart(
    State(admin): State<AdminState>,
    viewer: Viewer,
    Path((id, chart)): Path<(String, String)>,
) -> Response {
    let name = chart.strip_suffix(".svg").unwrap_or(&chart).to_owned();
    match blocking(move || crate::admin::reports::draw(&admin, &id, &name)).await {
        Ok(svg) => crate::admin::reports::svg(svg),
        Err(refused) => error_page(Some(&viewer), &refused),
    }
}

pub(super) async fn segments(State(admin): State<AdminState>, viewer: Viewer) -> Response {
    let sizes = match blocking(move || crate::admin::queues::segment_sizes(&admin)).await {
        Ok(sizes) => sizes,
        Err(refused) => return error_page(Some(&viewer), &refused),
    };
    let body = html! {
        h1 { "Segments" }
        @if sizes.is_empty() { p.muted { "No segments are defined." } }
        @else {
            table id="segments" {
                thead { tr { th { "Segment" } th.num { "Members" } } }
                tbody { @for s in &sizes { tr data-segment=(s.id) { td { (s.id) } td.num.size { (s.size) } } } }
            }
        }
    };
    page("Segments", Some(&viewer), body).into_response()
}

pub(super) async fn outbox(State(admin): State<AdminState>, viewer: Viewer) -> Response {
    let failed = match blocking(move || Ok(admin.waymark.outbox(OutboxStatus::Failed))).await {
        Ok(failed) => failed,
        Err(refused) => return error_page(Some(&viewer), &refused),
    };
    let body = html! {
        h1 { "Outbox" }
        p { span id="failed-count" { (failed.len()) } " failed deliveries." }
        @if viewer.can_change() && !failed.is_empty() {
            form.actions method="post" action="/outbox/retry" {
                input type="hidden" name="csrf" value=(viewer.csrf.as_deref().unwrap_or_default());
                button type="submit" id="retry" { "Retry them all" }
            }
        }
        @if !failed.is_empty() {
            table id="failed" {
                thead { tr { th { "Journey" } th { "Channel" } th { "Template" } th.num { "Attempts" } th { "Last error" } } }
                tbody {
                    @for e in &failed {
                        tr {
                            td { (e.delivery.journey) }
                            td { (e.delivery.channel) }
                            td { (e.delivery.template) }
                            td.num { (e.attempts) }
                            td { (e.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    page("Outbox", Some(&viewer), body).into_response()
}
