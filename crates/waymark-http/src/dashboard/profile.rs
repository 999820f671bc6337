//! `/profiles?id=...`: a person as the worker holds them: identifiers,
//! traits, consent, journeys, recent messages (sent, waiting, failed),
//! and the profile as `profile show` prints it.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::Value;

use super::Viewer;
use super::layout::{error_page, page};
use crate::admin::profiles::exported;
use crate::admin::{AdminState, blocking};

#[derive(Debug, Deserialize)]
pub(super) struct LookupQuery {
    id: Option<String>,
}

/// An identifier as people write it: `kind=value`.
fn identifier(value: &Value) -> String {
    match (value["kind"].as_str(), value["value"].as_str()) {
        (Some(kind), Some(v)) => format!("{kind}={v}"),
        _ => text(value),
    }
}

/// An instance's status: its name, and why it ended when it did.
fn status(value: &Value) -> String {
    match (value["status"].as_str(), value["reason"].as_str()) {
        (Some(status), Some(reason)) => format!("{status} ({reason})"),
        (Some(status), None) => status.to_owned(),
        _ => text(value),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(super) async fn lookup(
    State(admin): State<AdminState>,
    viewer: Viewer,
    Query(query): Query<LookupQuery>,
) -> Response {
    let form = html! {
        h1 { "Profiles" }
        form method="get" action="/profiles" {
            input type="text" name="id" id="lookup" placeholder="user_id=ana, email=ana@example.com, or a user id"
                value=(query.id.as_deref().unwrap_or_default());
            " " button type="submit" id="find" { "Find" }
        }
    };
    let Some(id) = query.id.filter(|i| !i.trim().is_empty()) else {
        return page("Profiles", Some(&viewer), form).into_response();
    };
    let found = blocking(move || {
        let export = exported(&admin, id.trim())?;
        let outbox = match export["profile"]["id"].as_str() {
            Some(profile) => admin
                .waymark
                .outbox_of(&waymark_core::ProfileId::from(profile)),
            None => Vec::new(),
        };
        Ok((export, outbox))
    })
    .await;
    let (export, outbox) = match found {
        Ok(found) => found,
        Err(refused) => return error_page(Some(&viewer), &refused),
    };
    let profile = &export["profile"];
    let empty = serde_json::Map::new();
    let traits = profile["traits"].as_object().unwrap_or(&empty);
    let consent = profile["consent"].as_object().unwrap_or(&empty);
    let identifiers = export["identifiers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let instances = export["instances"].as_array().cloned().unwrap_or_default();
    let sent = profile["sent"].as_array().cloned().unwrap_or_default();
    let shown = serde_json::to_string_pretty(profile).unwrap_or_default();
    let body = html! {
        (form)
        h2 { "Identifiers" }
        ul id="identifiers" { @for i in &identifiers { li { (identifier(i)) } } }
        h2 { "Traits" }
        table id="traits" {
            thead { tr { th { "Trait" } th { "Value" } } }
            tbody { @for (k, v) in traits { tr data-trait=(k) { td { (k) } td.value { (text(v)) } } } }
        }
        h2 { "Consent" }
        @if consent.is_empty() { p.muted { "No consent recorded." } }
        @else {
            table id="consent" {
                thead { tr { th { "Topic" } th { "Subscribed" } } }
                tbody { @for (k, v) in consent { tr { td { (k) } td { (text(&v["subscribed"])) } } } }
            }
        }
        h2 { "Journeys" }
        @if instances.is_empty() { p.muted { "In no journey." } }
        @else {
            table id="instances" {
                thead { tr { th { "Journey" } th { "Version" } th { "Node" } th { "Status" } th { "Entered" } } }
                tbody {
                    @for i in &instances {
                        tr { td { (text(&i["journey"])) } td { "v" (text(&i["version"])) } td { (text(&i["node"])) }
                             td { (status(&i["status"])) } td { (text(&i["entered_at"])) } }
                    }
                }
            }
        }
        h2 { "Recent messages" }
        table id="messages" {
            thead { tr { th { "When" } th { "Channel" } th { "What" } th { "Status" } } }
            tbody {
                @for s in sent.iter().rev() {
                    tr { td { (text(&s["at"])) } td { (text(&s["channel"])) } td { (text(&s["topic"])) } td { "sent" } }
                }
                @for e in &outbox {
                    tr {
                        td { (waymark_core::format_timestamp(e.delivery.decided_at)) }
                        td { (e.delivery.channel) }
                        td { (e.delivery.journey) " / " (e.delivery.template) }
                        td { span.status.failed[e.status == waymark::runtime::OutboxStatus::Failed] { (format!("{:?}", e.status).to_lowercase()) } }
                    }
                }
            }
        }
        h2 { "As `profile show` prints it" }
        pre id="profile-json" { (shown) }
    };
    page("Profile", Some(&viewer), body).into_response()
}
