//! `/admin/v1/journeys`: list, show, deploy, pause, resume, archive.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use waymark::deploy::{self, DeployError, Deployed, JourneyStatus};

use super::tokens::{CanChange, CanRead};
use super::{AdminState, blocking, internal, unknown_journey};
use crate::error::ApiError;

/// One deployed version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JourneyVersion {
    pub id: String,
    pub version: u32,
    /// `active`, `paused`, `archived`, or `superseded` for an earlier
    /// version (which only finishes its running instances).
    pub status: String,
    /// Paused with its people held where they are.
    pub hold: bool,
    /// RFC 3339.
    pub deployed_at: String,
    /// The file it was deployed from.
    pub file: String,
}

impl JourneyVersion {
    fn new(deployed: &Deployed, latest: bool) -> Self {
        JourneyVersion {
            id: deployed.id.clone(),
            version: deployed.version,
            status: deployed.status_name(latest).to_owned(),
            hold: deployed.hold,
            deployed_at: waymark_core::format_timestamp(deployed.deployed_at),
            file: deployed.file.clone(),
        }
    }
}

/// Journeys, one entry per version listed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JourneyList {
    pub journeys: Vec<JourneyVersion>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Every version and archived journeys too (default: each journey's
    /// latest version, archived ones left out).
    #[serde(default)]
    all: bool,
}

/// Every deployed version, each marked whether it is its journey's latest.
fn versions(admin: &AdminState) -> Result<Vec<(Deployed, bool)>, ApiError> {
    Ok(deploy::with_latest(
        admin.waymark.deployed().map_err(internal)?,
    ))
}

#[utoipa::path(get, path = "/admin/v1/journeys", tag = "journeys",
    params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = JourneyList), (status = 401), (status = 403)))]
pub(super) async fn list(
    _: CanRead,
    State(admin): State<AdminState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<JourneyList>, ApiError> {
    blocking(move || {
        let journeys = versions(&admin)?
            .iter()
            .filter(|(d, latest)| query.all || (*latest && d.status != JourneyStatus::Archived))
            .map(|(d, latest)| JourneyVersion::new(d, *latest))
            .collect();
        Ok(Json(JourneyList { journeys }))
    })
    .await
}

/// One journey: every version, and the latest one's definition.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JourneyDetail {
    pub id: String,
    pub versions: Vec<JourneyVersion>,
    /// The latest version's file, as deployed.
    pub source: String,
}

#[utoipa::path(get, path = "/admin/v1/journeys/{id}", tag = "journeys",
    params(("id" = String, Path, description = "The journey's id")), security(("bearer" = [])),
    responses((status = 200, body = JourneyDetail), (status = 404, description = "No such journey")))]
pub(super) async fn show(
    _: CanRead,
    State(admin): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<JourneyDetail>, ApiError> {
    blocking(move || {
        let mine: Vec<(Deployed, bool)> = versions(&admin)?
            .into_iter()
            .filter(|(d, _)| d.id == id)
            .collect();
        let Some((last, _)) = mine.last() else {
            return Err(unknown_journey(&id));
        };
        Ok(Json(JourneyDetail {
            id: id.clone(),
            source: last.source.clone(),
            versions: mine
                .iter()
                .map(|(d, latest)| JourneyVersion::new(d, *latest))
                .collect(),
        }))
    })
    .await
}

/// A journey file to deploy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeployRequest {
    /// Its file name: the extension picks the format (`.yaml`, `.yml`, `.json`).
    pub file: String,
    /// The file's text.
    pub source: String,
}

/// What a deploy did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeployResponse {
    pub id: String,
    pub version: u32,
    /// False when the text is the latest version's (nothing changed).
    pub new_version: bool,
}

#[utoipa::path(post, path = "/admin/v1/journeys", tag = "journeys",
    request_body = DeployRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = DeployResponse, description = "A new version, taking new entrants now; running instances finish on their own version"),
        (status = 200, body = DeployResponse, description = "The same text as the latest version: nothing changed"),
        (status = 422, description = "The journey is invalid: every problem, nothing stored"),
        (status = 403, description = "Needs the admin scope")))]
pub(super) async fn deploy(
    _: CanChange,
    State(admin): State<AdminState>,
    Json(request): Json<DeployRequest>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    blocking(move || {
        let outcome = admin
            .waymark
            .deploy_source(&request.file, request.source, chrono::Utc::now())
            .map_err(|e| deploy_error(e, ""))?;
        let status = if outcome.new_version {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((
            status,
            Json(DeployResponse {
                id: outcome.id,
                version: outcome.version,
                new_version: outcome.new_version,
            }),
        ))
    })
    .await
}

fn deploy_error(error: DeployError, id: &str) -> ApiError {
    match error {
        DeployError::Invalid(errors) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_journey",
            errors.to_string(),
        ),
        DeployError::Unknown(_) => unknown_journey(id),
        other => internal(other),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PauseQuery {
    /// Hold the people already in it where they are (their timers wait)
    /// instead of letting them carry on.
    #[serde(default)]
    hold: bool,
}

async fn set_status(
    admin: AdminState,
    id: String,
    status: JourneyStatus,
    hold: bool,
) -> Result<Json<JourneyVersion>, ApiError> {
    blocking(move || {
        let changed = admin
            .waymark
            .set_journey_status(&id, status, hold)
            .map_err(|e| deploy_error(e, &id))?;
        Ok(Json(JourneyVersion::new(&changed, true)))
    })
    .await
}

#[utoipa::path(post, path = "/admin/v1/journeys/{id}/pause", tag = "journeys",
    params(("id" = String, Path, description = "The journey's id"), PauseQuery), security(("bearer" = [])),
    responses((status = 200, body = JourneyVersion, description = "No new entrants from now on"), (status = 404), (status = 403)))]
pub(super) async fn pause(
    _: CanChange,
    State(admin): State<AdminState>,
    Path(id): Path<String>,
    Query(query): Query<PauseQuery>,
) -> Result<Json<JourneyVersion>, ApiError> {
    set_status(admin, id, JourneyStatus::Paused, query.hold).await
}

#[utoipa::path(post, path = "/admin/v1/journeys/{id}/resume", tag = "journeys",
    params(("id" = String, Path, description = "The journey's id")), security(("bearer" = [])),
    responses((status = 200, body = JourneyVersion, description = "Takes new entrants again (held people carry on)"), (status = 404), (status = 403)))]
pub(super) async fn resume(
    _: CanChange,
    State(admin): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<JourneyVersion>, ApiError> {
    set_status(admin, id, JourneyStatus::Active, false).await
}

#[utoipa::path(post, path = "/admin/v1/journeys/{id}/archive", tag = "journeys",
    params(("id" = String, Path, description = "The journey's id")), security(("bearer" = [])),
    responses((status = 200, body = JourneyVersion, description = "Retired: no new entrants, hidden from the list; people in it carry on"), (status = 404), (status = 403)))]
pub(super) async fn archive(
    _: CanChange,
    State(admin): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<JourneyVersion>, ApiError> {
    set_status(admin, id, JourneyStatus::Archived, false).await
}
