//! The frame every dashboard page shares, its stylesheet, and small
//! formatting helpers.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::Viewer;
use crate::error::ApiError;

pub(crate) const STYLE: &str = include_str!("style.css");

/// A whole page: the navigation, sign-out (a POST with its CSRF token),
/// and `body`.
pub(crate) fn page(title: &str, viewer: Option<&Viewer>, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Waymark" }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                header {
                    a.brand href="/" { "Waymark" }
                    @if let Some(viewer) = viewer {
                        nav {
                            a href="/" { "Journeys" }
                            a href="/segments" { "Segments" }
                            a href="/profiles" { "Profiles" }
                            a href="/outbox" { "Outbox" }
                        }
                        @if let Some(csrf) = &viewer.csrf {
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button.secondary type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// A refusal shown as a page with its status.
pub(crate) fn error_page(viewer: Option<&Viewer>, error: &ApiError) -> Response {
    let body = html! {
        h1 { (error.status.canonical_reason().unwrap_or("Refused")) }
        p.error id="error" { (error.message) }
        p { a href="/" { "Back to the journeys" } }
    };
    (error.status, page("Refused", viewer, body)).into_response()
}

pub(crate) fn stylesheet() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

/// A count from a report's JSON.
pub(crate) fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// A rate from a report's JSON as a percentage, `–` when undefined.
pub(crate) fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "–".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// A signed difference of rates in percentage points.
pub(crate) fn points(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "–".to_owned(), |d| format!("{:+.1} pp", d * 100.0))
}
