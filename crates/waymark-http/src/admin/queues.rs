//! `/admin/v1/timers`, `/outbox`, `/outbox/retry`, `/segments`, `/status`:
//! what is waiting, what failed, how big each segment is, the counts.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use utoipa::{IntoParams, ToSchema};
use waymark::runtime::{OutboxEntry, OutboxStatus};
use waymark_core::Timestamp;
use waymark_engine::Timer;

use super::tokens::{CanChange, CanRead};
use super::{AdminState, blocking, runtime_error};
use crate::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
pub struct TimersQuery {
    /// Only timers due before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    due_before: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimerList {
    /// In due order.
    #[schema(value_type = Vec<Object>)]
    pub timers: Vec<Timer>,
}

#[utoipa::path(get, path = "/admin/v1/timers", tag = "operations",
    params(TimersQuery), security(("bearer" = [])),
    responses((status = 200, body = TimerList), (status = 400, description = "Not an RFC 3339 instant")))]
pub(super) async fn timers(
    _: CanRead,
    State(admin): State<AdminState>,
    Query(query): Query<TimersQuery>,
) -> Result<Json<TimerList>, ApiError> {
    let before = query.due_before.unwrap_or(Timestamp::MAX_UTC);
    blocking(move || {
        Ok(Json(TimerList {
            timers: admin
                .waymark
                .timers_due_before(before)
                .map_err(runtime_error)?,
        }))
    })
    .await
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxFilter {
    Pending,
    #[default]
    Failed,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OutboxQuery {
    /// `failed` (default) or `pending`.
    #[serde(default)]
    #[param(inline)]
    status: OutboxFilter,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxList {
    /// Oldest first.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<OutboxEntry>,
}

#[utoipa::path(get, path = "/admin/v1/outbox", tag = "operations",
    params(OutboxQuery), security(("bearer" = [])),
    responses((status = 200, body = OutboxList), (status = 400, description = "An unknown status")))]
pub(super) async fn outbox(
    _: CanRead,
    State(admin): State<AdminState>,
    Query(query): Query<OutboxQuery>,
) -> Result<Json<OutboxList>, ApiError> {
    let status = match query.status {
        OutboxFilter::Pending => OutboxStatus::Pending,
        OutboxFilter::Failed => OutboxStatus::Failed,
    };
    blocking(move || {
        Ok(Json(OutboxList {
            entries: admin.waymark.outbox(status),
        }))
    })
    .await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Retried {
    /// Failed deliveries put back in line (attempts reset).
    pub retried: usize,
}

#[utoipa::path(post, path = "/admin/v1/outbox/retry", tag = "operations",
    security(("bearer" = [])),
    responses((status = 200, body = Retried), (status = 403, description = "Needs the admin scope")))]
pub(super) async fn retry(
    _: CanChange,
    State(admin): State<AdminState>,
) -> Result<Json<Retried>, ApiError> {
    blocking(move || {
        let retried = admin.waymark.retry_failed().map_err(runtime_error)?;
        Ok(Json(Retried { retried }))
    })
    .await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SegmentSize {
    pub id: String,
    /// Members now.
    pub size: usize,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SegmentList {
    pub segments: Vec<SegmentSize>,
}

pub(crate) fn segment_sizes(admin: &AdminState) -> Result<Vec<SegmentSize>, ApiError> {
    Ok(admin
        .waymark
        .segment_sizes()
        .map_err(runtime_error)?
        .into_iter()
        .map(|(id, size)| SegmentSize {
            id: id.to_string(),
            size,
        })
        .collect())
}

#[utoipa::path(get, path = "/admin/v1/segments", tag = "operations",
    security(("bearer" = [])), responses((status = 200, body = SegmentList)))]
pub(super) async fn segments(
    _: CanRead,
    State(admin): State<AdminState>,
) -> Result<Json<SegmentList>, ApiError> {
    blocking(move || {
        Ok(Json(SegmentList {
            segments: segment_sizes(&admin)?,
        }))
    })
    .await
}

/// The worker's counts now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Status {
    pub profiles: usize,
    /// Journey instances running.
    pub instances_active: usize,
    pub timers_pending: usize,
    pub outbox_pending: usize,
    /// Deliveries that gave up (retry them with `POST /admin/v1/outbox/retry`).
    pub outbox_failed: usize,
    /// Events the source read and processed.
    pub events: u64,
    /// Events refused to the dead letters (the rejects file or topic).
    pub dead_letters: u64,
    /// Events skipped as already processed (same message id).
    pub duplicates: u64,
}

pub(crate) fn status_now(admin: &AdminState) -> Status {
    let stats = admin.waymark.stats();
    let source =
        |pick: fn(&waymark::source::SourceCounters) -> u64| admin.source.as_deref().map_or(0, pick);
    Status {
        profiles: stats.profiles,
        instances_active: stats.instances_active,
        timers_pending: stats.timers_pending,
        outbox_pending: stats.outbox_pending,
        outbox_failed: stats.outbox_failed,
        events: source(|c| c.events.load(Ordering::Relaxed)),
        dead_letters: source(|c| c.rejected.load(Ordering::Relaxed)),
        duplicates: source(|c| c.duplicates.load(Ordering::Relaxed)),
    }
}

#[utoipa::path(get, path = "/admin/v1/status", tag = "operations",
    security(("bearer" = [])), responses((status = 200, body = Status)))]
pub(super) async fn status(
    _: CanRead,
    State(admin): State<AdminState>,
) -> Result<Json<Status>, ApiError> {
    blocking(move || Ok(Json(status_now(&admin)))).await
}
