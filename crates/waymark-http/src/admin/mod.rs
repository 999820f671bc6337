//! The live admin API (`/admin/v1/...`, bearer tokens with a `read` or
//! `admin` scope) over a running runtime, and its OpenAPI description at
//! `/openapi.json`, generated from the handlers (utoipa).
//!
//! Every refusal is a 4xx with `{"success": false, "code", "message"}`
//! and changes nothing; the routes and their scopes are in docs/http.md.

pub(crate) mod journeys;
pub(crate) mod profiles;
pub(crate) mod queues;
pub(crate) mod reports;
pub(crate) mod tokens;

use std::sync::Arc;

use axum::http::StatusCode;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waymark::Waymark;
use waymark::source::SourceCounters;

use crate::error::ApiError;
pub use tokens::{AdminTokens, Scope};

/// What the admin routes and the dashboard share.
pub struct Admin {
    pub waymark: Arc<Waymark>,
    pub tokens: AdminTokens,
    /// The worker's source counts (events read, refused to the dead
    /// letters), when there is a source.
    pub source: Option<Arc<SourceCounters>>,
    pub(crate) sessions: crate::dashboard::SessionKey,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// `tokens` decide who may look and who may change; dashboard sessions
    /// are signed with a key drawn now (they end when the process does).
    pub fn new(
        waymark: Arc<Waymark>,
        tokens: AdminTokens,
        source: Option<Arc<SourceCounters>>,
    ) -> Self {
        Admin {
            waymark,
            tokens,
            source,
            sessions: crate::dashboard::SessionKey::random(),
        }
    }
}

pub(crate) type AdminState = Arc<Admin>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Waymark admin API",
        description = "Drive and inspect a running Waymark worker. Every route needs `Authorization: Bearer <token>`: a `read` token looks, an `admin` token also changes (docs/http.md)."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "journeys", description = "Deployed journeys: list, deploy, pause, resume, archive"),
        (name = "profiles", description = "People: show, export (GDPR access), forget (GDPR erasure)"),
        (name = "reports", description = "Journey metrics and charts"),
        (name = "operations", description = "Timers, the outbox, segments, counts"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The admin API's routes, and the OpenAPI description generated from them.
pub(crate) fn api() -> (axum::Router<AdminState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(journeys::list, journeys::deploy))
        .routes(routes!(journeys::show))
        .routes(routes!(journeys::pause))
        .routes(routes!(journeys::resume))
        .routes(routes!(journeys::archive))
        .routes(routes!(profiles::show, profiles::forget))
        .routes(routes!(profiles::export))
        .routes(routes!(reports::report))
        .routes(routes!(reports::chart))
        .routes(routes!(queues::timers))
        .routes(routes!(queues::outbox))
        .routes(routes!(queues::retry))
        .routes(routes!(queues::segments))
        .routes(routes!(queues::status))
        .split_for_parts()
}

/// Runs blocking runtime work (locks, store scans, synced commits) off the
/// request threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(internal(e)))
}

/// A failure of ours (the store, a poisoned runtime), never the client's.
pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "admin request failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        error.to_string(),
    )
}

/// A runtime error as a response: a poisoned runtime is unavailable
/// until restarted; anything else is ours.
pub(crate) fn runtime_error(error: waymark::runtime::Error) -> ApiError {
    match error {
        waymark::runtime::Error::Poisoned => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            error.to_string(),
        ),
        other => internal(other),
    }
}

/// The refusal for a journey that is not deployed.
pub(crate) fn unknown_journey(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_journey",
        format!("no journey `{id}` is deployed"),
    )
}
