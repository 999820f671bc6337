//! `/admin/v1/reports`: the journey report (docs/analytics.md) over what
//! the running worker has committed, as JSON, a table or CSV, and each
//! journey's charts as SVG.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use waymark::analytics::ReportError;
use waymark_analytics::charts::Chart;
use waymark_analytics::{JourneyMetrics, Selection, SelectionError};

use super::tokens::CanRead;
use super::{AdminState, blocking, internal};
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    Table,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// Only this journey (default: every journey).
    journey: Option<String>,
    /// Only this version of `journey` (default: every version, merged).
    version: Option<u32>,
    /// Only days (UTC) from this one on: YYYY-MM-DD.
    #[param(value_type = Option<String>, format = Date)]
    since: Option<chrono::NaiveDate>,
    /// `json` (default), `table` or `csv`.
    #[serde(default)]
    #[param(inline)]
    format: ReportFormat,
}

/// The journeys `selection` names, from the store; an unknown journey or
/// version is a 404 naming what exists.
pub(crate) fn select(
    admin: &AdminState,
    selection: &Selection,
) -> Result<Vec<JourneyMetrics>, ApiError> {
    admin.waymark.report(selection).map_err(|e| match e {
        ReportError::Selection(e @ SelectionError::UnknownJourney { .. }) => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_journey", e.to_string())
        }
        ReportError::Selection(e @ SelectionError::UnknownVersion { .. }) => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_version", e.to_string())
        }
        other => internal(other),
    })
}

#[utoipa::path(get, path = "/admin/v1/reports", tag = "reports",
    params(ReportQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Object, description = "`{\"journeys\": [...]}` as docs/analytics.md documents it (text with `format=table` or `csv`)"),
        (status = 400, description = "A version without a journey, a bad day"),
        (status = 404, description = "An unknown journey or version")))]
pub(super) async fn report(
    _: CanRead,
    State(admin): State<AdminState>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    if query.version.is_some() && query.journey.is_none() {
        return Err(ApiError::bad_request(
            "version_without_journey",
            "`version` needs `journey`",
        ));
    }
    let selection = Selection {
        journey: query.journey,
        version: query.version,
        since: query.since,
    };
    let journeys = blocking(move || select(&admin, &selection)).await?;
    let text = |body: String, kind: &'static str| ([(header::CONTENT_TYPE, kind)], body);
    Ok(match query.format {
        ReportFormat::Json => Json(waymark_analytics::to_json(&journeys)).into_response(),
        ReportFormat::Table => text(
            waymark_analytics::to_table(&journeys),
            "text/plain; charset=utf-8",
        )
        .into_response(),
        ReportFormat::Csv => text(
            waymark_analytics::to_csv(&journeys),
            "text/csv; charset=utf-8",
        )
        .into_response(),
    })
}

/// Draws `chart` (`graph`, `daily`, `variants`) of `journey`, every
/// version merged.
pub(crate) fn draw(admin: &AdminState, journey: &str, chart: &str) -> Result<String, ApiError> {
    let chart = Chart::from_name(chart).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_chart",
            format!("no chart `{chart}` (graph, daily, variants)"),
        )
    })?;
    let selection = Selection {
        journey: Some(journey.to_owned()),
        ..Selection::default()
    };
    let journeys = select(admin, &selection)?;
    let metrics = journeys
        .first()
        .ok_or_else(|| super::unknown_journey(journey))?;
    chart.svg(metrics).map_err(internal)
}

pub(crate) fn svg(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(get, path = "/admin/v1/reports/{journey}/charts/{chart}", tag = "reports",
    params(
        ("journey" = String, Path, description = "The journey's id"),
        ("chart" = String, Path, description = "`graph.svg`, `daily.svg` or `variants.svg`")),
    security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, description = "An unknown journey or chart")))]
pub(super) async fn chart(
    _: CanRead,
    State(admin): State<AdminState>,
    Path((journey, chart)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let name = chart.strip_suffix(".svg").unwrap_or(&chart).to_owned();
    let body = blocking(move || draw(&admin, &journey, &name)).await?;
    Ok(svg(body))
}
