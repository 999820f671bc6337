//! The web dashboard at `/`: server-rendered HTML (maud), its stylesheet
//! embedded, no script. Signing in exchanges a `read` or `admin` token for
//! a session cookie; with an admin session it also offers pause, resume
//! and retry, each a POST carrying a CSRF token.
//!
//! | page | what |
//! |---|---|
//! | `/` | counts (profiles, running instances, timers, outbox, failed, dead letters) and every journey with its entrants and conversion |
//! | `/journeys/{id}` | versions and status, the graph with per-node counts and drop-offs, the report, charts |
//! | `/segments` | each segment with its size |
//! | `/profiles?id=...` | a person: identifiers, traits, consent, journeys, recent messages |
//! | `/outbox` | failed deliveries |

mod actions;
mod layout;
mod pages;
mod profile;
mod session;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use crate::admin::{AdminState, Scope};
use crate::error::ApiError;
pub use session::SessionKey;
use session::{LOGIN_COOKIE, SESSION_COOKIE, SESSION_SECONDS, cookie, set_cookie};

pub(crate) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/journeys/{id}", get(pages::journey))
        .route("/journeys/{id}/charts/{chart}", get(pages::chart))
        .route("/journeys/{id}/pause", post(actions::pause))
        .route("/journeys/{id}/resume", post(actions::resume))
        .route("/segments", get(pages::segments))
        .route("/profiles", get(profile::lookup))
        .route("/outbox", get(pages::outbox))
        .route("/outbox/retry", post(actions::retry))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/assets/style.css", get(|| async { layout::stylesheet() }))
        .layer(axum::middleware::map_response(guarded))
}

/// Pages only this origin may frame, style or fill with images; no script
/// may run, and links leak no path to other sites.
async fn guarded(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// Who is looking: signed in with a session cookie (forms get its CSRF
/// token), or a bearer token on the request (no forms).
pub(crate) struct Viewer {
    pub scope: Scope,
    pub csrf: Option<String>,
}

impl Viewer {
    /// Whether the page may offer changes (an admin session).
    pub fn can_change(&self) -> bool {
        self.scope == Scope::Admin && self.csrf.is_some()
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl FromRequestParts<AdminState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        admin: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(session) = cookie(&parts.headers, SESSION_COOKIE)
            && let Some(scope) = admin.sessions.check(session, now())
        {
            return Ok(Viewer {
                scope,
                csrf: Some(admin.sessions.csrf(session)),
            });
        }
        if crate::admin::tokens::bearer(&parts.headers).is_some() {
            return match admin.tokens.authorize(&parts.headers, Scope::Read) {
                Ok(scope) => Ok(Viewer { scope, csrf: None }),
                Err(refused) => Err(layout::error_page(None, &refused)),
            };
        }
        let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let target = format!(
            "/login?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        Err(Redirect::to(&target).into_response())
    }
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Where to go after signing in: a path of ours, nothing else.
fn safe_next(next: Option<&str>) -> &str {
    // Browsers drop tabs and newlines from URLs ("/\t/evil" is
    // "//evil"): printable ASCII only, one leading slash, no backslash.
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && n.chars().all(|c| c.is_ascii_graphic() && c != '\\')
    })
    .unwrap_or("/")
}

fn login_page(next: &str, refusal: Option<&str>, status: StatusCode) -> Response {
    let nonce = session::login_nonce();
    let body = html! {
        div.login {
            h1 { "Sign in" }
            p.muted { "With a read or an admin token from the worker's `[http]` configuration." }
            @if let Some(refusal) = refusal { p.error id="error" { (refusal) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(nonce);
                input type="hidden" name="next" value=(next);
                label for="token" { "Token" }
                input id="token" type="password" name="token" autocomplete="off" required;
                button type="submit" id="sign-in" { "Sign in" }
            }
        }
    };
    let mut response = (status, layout::page("Sign in", None, body)).into_response();
    if let Ok(value) = set_cookie(LOGIN_COOKIE, &nonce, 600).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn login_form(axum::extract::Query(query): axum::extract::Query<LoginQuery>) -> Response {
    login_page(safe_next(query.next.as_deref()), None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
    csrf: String,
    next: Option<String>,
}

async fn login(
    State(admin): State<AdminState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    let nonce_ok = cookie(&headers, LOGIN_COOKIE).is_some_and(|n| session::equal(n, &form.csrf));
    if !nonce_ok {
        return login_page(
            &next,
            Some("The form expired or was not ours; try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let Some(scope) = admin.tokens.scope_of(form.token.trim()) else {
        return login_page(
            &next,
            Some("That token is not valid."),
            StatusCode::UNAUTHORIZED,
        );
    };
    let session = admin.sessions.issue(scope, now());
    let mut response = Redirect::to(&next).into_response();
    for value in [
        set_cookie(SESSION_COOKIE, &session, SESSION_SECONDS),
        set_cookie(LOGIN_COOKIE, "", 0),
    ] {
        if let Ok(value) = value.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// Checks a form's CSRF token against the session it came with.
pub(crate) fn check_form(
    admin: &AdminState,
    headers: &HeaderMap,
    form: &CsrfForm,
) -> Result<(), ApiError> {
    let valid = cookie(headers, SESSION_COOKIE)
        .is_some_and(|session| admin.sessions.check_csrf(session, &form.csrf));
    if valid {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_csrf",
            "the form's CSRF token does not match this session; reload the page",
        ))
    }
}

async fn logout(
    State(admin): State<AdminState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    if let Err(refused) = check_form(&admin, &headers, &form) {
        return layout::error_page(None, &refused);
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = set_cookie(SESSION_COOKIE, "", 0).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn sign_in_returns_only_to_our_own_paths() {
        assert_eq!(safe_next(Some("/journeys/a?x=1")), "/journeys/a?x=1");
        for elsewhere in [
            "//evil.example",
            "https://evil.example",
            "/\t/evil.example",
            "/\\evil",
            "evil",
            "/a b",
        ] {
            assert_eq!(safe_next(Some(elsewhere)), "/", "{elsewhere:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
