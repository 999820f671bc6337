//! What an admin session may do from the dashboard: pause and resume a
//! journey, retry failed deliveries. Each is a POST whose CSRF token must
//! match the session; each answers with a redirect back to the page.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use waymark::deploy::JourneyStatus;

use super::{CsrfForm, Viewer, check_form, layout};
use crate::admin::{AdminState, blocking, internal, runtime_error, unknown_journey};
use crate::error::ApiError;

fn allowed(
    admin: &AdminState,
    viewer: &Viewer,
    headers: &HeaderMap,
    form: &CsrfForm,
) -> Result<(), ApiError> {
    if !viewer.can_change() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "changes need a session signed in with an admin token",
        ));
    }
    check_form(admin, headers, form)
}

async fn set_status(
    admin: AdminState,
    viewer: Viewer,
    headers: HeaderMap,
    id: String,
    form: CsrfForm,
    status: JourneyStatus,
) -> Response {
    if let Err(refused) = allowed(&admin, &viewer, &headers, &form) {
        return layout::error_page(Some(&viewer), &refused);
    }
    let target = format!(
        "/journeys/{}",
        form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    );
    let done = blocking(move || {
        admin
            .waymark
            .set_journey_status(&id, status, false)
            .map_err(|e| match e {
                waymark::deploy::DeployError::Unknown(id) => unknown_journey(&id),
                other => internal(other),
            })
    })
    .await;
    match done {
        Ok(_) => Redirect::to(&target).into_response(),
        Err(refused) => layout::error_page(Some(&viewer), &refused),
    }
}

pub(super) async fn pause(
    State(admin): State<AdminState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    set_status(admin, viewer, headers, id, form, JourneyStatus::Paused).await
}

pub(super) async fn resume(
    State(admin): State<AdminState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    set_status(admin, viewer, headers, id, form, JourneyStatus::Active).await
}

pub(super) async fn retry(
    State(admin): State<AdminState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    if let Err(refused) = allowed(&admin, &viewer, &headers, &form) {
        return layout::error_page(Some(&viewer), &refused);
    }
    match blocking(move || admin.waymark.retry_failed().map_err(runtime_error)).await {
        Ok(_) => Redirect::to("/outbox").into_response(),
        Err(refused) => layout::error_page(Some(&viewer), &refused),
    }
}
