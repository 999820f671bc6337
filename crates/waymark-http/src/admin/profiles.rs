//! `/admin/v1/profiles/{identifier}`: show, export (GDPR access) and
//! forget (GDPR erasure) a person while the worker runs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use waymark_core::Identifier;

use super::tokens::{CanChange, CanRead};
use super::{AdminState, blocking, runtime_error};
use crate::error::ApiError;

/// `kind=value` (`user_id=u1`, `email=ada@example.com`, `anonymous_id=...`,
/// `external:crm_id=42`); a bare value is a user id.
pub(crate) fn parse_identifier(text: &str) -> Result<Identifier, ApiError> {
    text.parse()
        .map_err(|e: String| ApiError::bad_request("bad_identifier", format!("`{text}`: {e}")))
}

pub(crate) fn unknown_profile(identifier: &Identifier) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_profile",
        format!("no profile holds {identifier}"),
    )
}

/// Everything held about the person `text` names, or 404.
pub(crate) fn exported(admin: &AdminState, text: &str) -> Result<Value, ApiError> {
    let identifier = parse_identifier(text)?;
    admin
        .waymark
        .export(&identifier)
        .map_err(runtime_error)?
        .ok_or_else(|| unknown_profile(&identifier))
}

#[utoipa::path(get, path = "/admin/v1/profiles/{identifier}", tag = "profiles",
    params(("identifier" = String, Path, description = "`kind=value` (user_id=u1, email=ada@example.com, anonymous_id=..., external:crm_id=42); a bare value is a user id")),
    security(("bearer" = [])),
    responses((status = 200, body = Object, description = "The unified profile"), (status = 400, description = "Not an identifier"), (status = 404, description = "Nobody holds it")))]
pub(super) async fn show(
    _: CanRead,
    State(admin): State<AdminState>,
    Path(identifier): Path<String>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(exported(&admin, &identifier)?["profile"].take()))).await
}

#[utoipa::path(get, path = "/admin/v1/profiles/{identifier}/export", tag = "profiles",
    params(("identifier" = String, Path, description = "`kind=value`; a bare value is a user id")),
    security(("bearer" = [])),
    responses((status = 200, body = Object, description = "Everything held: profile, identifiers, merges, journey instances"), (status = 400), (status = 404)))]
pub(super) async fn export(
    _: CanRead,
    State(admin): State<AdminState>,
    Path(identifier): Path<String>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(exported(&admin, &identifier)?))).await
}

/// What a forget removed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ForgetResponse {
    /// The profile's id.
    pub forgotten: String,
    /// Its identifiers, suppressed from now on: later events naming them
    /// do not build the person again.
    pub identifiers: Vec<String>,
    pub suppressed: bool,
}

#[utoipa::path(delete, path = "/admin/v1/profiles/{identifier}", tag = "profiles",
    params(("identifier" = String, Path, description = "`kind=value`; a bare value is a user id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ForgetResponse, description = "Erased everywhere the store holds them (profile, identifiers, merges, journey instances, timers, undelivered messages), durable when answered"),
        (status = 400), (status = 404, description = "Nobody holds it: nothing done"), (status = 403)))]
pub(super) async fn forget(
    _: CanChange,
    State(admin): State<AdminState>,
    Path(identifier): Path<String>,
) -> Result<Json<ForgetResponse>, ApiError> {
    blocking(move || {
        let identifier = parse_identifier(&identifier)?;
        let gone = admin
            .waymark
            .forget(&identifier)
            .map_err(runtime_error)?
            .ok_or_else(|| unknown_profile(&identifier))?;
        tracing::info!(profile = %gone.profile, "forgotten through the admin API");
        Ok(Json(ForgetResponse {
            forgotten: gone.profile.to_string(),
            identifiers: gone.identifiers.iter().map(ToString::to_string).collect(),
            suppressed: true,
        }))
    })
    .await
}
