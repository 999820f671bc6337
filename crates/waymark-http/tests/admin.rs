//! The admin API in front of a runtime on fjall: every endpoint's scope
//! (no token, a bad token, `read` where `admin` is needed), every
//! endpoint in the generated OpenAPI description, and bad input refused
//! with a 4xx JSON reason and nothing applied.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::sync::Arc;

use serde_json::{Value, json};
use waymark::Waymark;
use waymark_http::{Admin, AdminTokens, admin_router};
use waymark_store::{FjallStore, Store};

const READ: &str = "read-secret";
const ADMIN: &str = "admin-secret";
const JOURNEY: &str =
    "id: j\nentry: { event: Ping }\nnodes:\n  - { id: later, type: wait, duration: 1h }\n";

/// Every route: method, path (as called), the scope it needs, and its
/// path as the OpenAPI description names it.
const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("GET", "/admin/v1/journeys", "read", "/admin/v1/journeys"),
    ("POST", "/admin/v1/journeys", "admin", "/admin/v1/journeys"),
    (
        "GET",
        "/admin/v1/journeys/j",
        "read",
        "/admin/v1/journeys/{id}",
    ),
    (
        "POST",
        "/admin/v1/journeys/j/pause",
        "admin",
        "/admin/v1/journeys/{id}/pause",
    ),
    (
        "POST",
        "/admin/v1/journeys/j/resume",
        "admin",
        "/admin/v1/journeys/{id}/resume",
    ),
    (
        "POST",
        "/admin/v1/journeys/j/archive",
        "admin",
        "/admin/v1/journeys/{id}/archive",
    ),
    (
        "GET",
        "/admin/v1/profiles/ann",
        "read",
        "/admin/v1/profiles/{identifier}",
    ),
    (
        "GET",
        "/admin/v1/profiles/ann/export",
        "read",
        "/admin/v1/profiles/{identifier}/export",
    ),
    (
        "DELETE",
        "/admin/v1/profiles/ann",
        "admin",
        "/admin/v1/profiles/{identifier}",
    ),
    ("GET", "/admin/v1/reports", "read", "/admin/v1/reports"),
    (
        "GET",
        "/admin/v1/reports/j/charts/graph.svg",
        "read",
        "/admin/v1/reports/{journey}/charts/{chart}",
    ),
    ("GET", "/admin/v1/timers", "read", "/admin/v1/timers"),
    ("GET", "/admin/v1/outbox", "read", "/admin/v1/outbox"),
    (
        "POST",
        "/admin/v1/outbox/retry",
        "admin",
        "/admin/v1/outbox/retry",
    ),
    ("GET", "/admin/v1/segments", "read", "/admin/v1/segments"),
    ("GET", "/admin/v1/status", "read", "/admin/v1/status"),
];

struct Served {
    _dir: tempfile::TempDir,
    waymark: Arc<Waymark>,
    store: Arc<dyn Store>,
    base: String,
    client: reqwest::Client,
}

async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(FjallStore::open(dir.path()).unwrap());
    let (templates, segments) = (Default::default(), Default::default());
    waymark::deploy::deploy_source(
        store.as_ref(),
        "j.yaml",
        JOURNEY.into(),
        &templates,
        &segments,
        chrono::Utc::now(),
    )
    .unwrap();
    let pingers = waymark_journey::decode_segment(
        &json!({"id": "pingers", "where": "\"Ping\" in profile.events"}),
        None,
    )
    .unwrap();
    let waymark = Arc::new(
        Waymark::builder()
            .store(Arc::clone(&store))
            .deployed(waymark::deploy::load(store.as_ref()).unwrap())
            .segments(waymark_journey::Segments::from_list([pingers]))
            .build()
            .unwrap(),
    );
    let admin = Admin::new(
        Arc::clone(&waymark),
        AdminTokens::new(&[READ.into()], &[ADMIN.into()]),
        None,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, admin_router(Arc::new(admin))).await });
    Served {
        _dir: dir,
        waymark,
        store,
        base,
        client: reqwest::Client::new(),
    }
}

impl Served {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn ingest(&self, user: &str) {
        let event: waymark_core::Event = serde_json::from_value(json!({
            "type": "track", "userId": user, "event": "Ping", "messageId": format!("m-{user}"),
            "timestamp": "2026-11-30T09:00:00Z", "receivedAt": "2026-11-30T09:00:00Z"
        }))
        .unwrap();
        self.waymark.ingest(&event).unwrap();
    }
}

/// A refusal: the status, and the JSON reason with its code.
fn refused(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["success"], false, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
    assert!(answer.1["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn each_endpoint_checks_its_scope() {
    let s = serve().await;
    for &(method, path, needed, _) in ROUTES {
        refused(&s.call(method, path, None, None).await, 401, "unauthorized");
        refused(
            &s.call(method, path, Some("read-secreT"), None).await,
            401,
            "unauthorized",
        );
        refused(
            &s.call(method, path, Some(""), None).await,
            401,
            "unauthorized",
        );
        let read = s.call(method, path, Some(READ), None).await;
        if needed == "admin" {
            refused(&read, 403, "insufficient_scope");
        } else {
            assert!(
                ![401, 403].contains(&read.0),
                "{method} {path} with read: {read:?}"
            );
        }
        let admin = s.call(method, path, Some(ADMIN), None).await;
        assert!(
            ![401, 403].contains(&admin.0),
            "{method} {path} with admin: {admin:?}"
        );
        assert!(
            admin.0 < 500 && read.0 < 500,
            "{method} {path}: {read:?} {admin:?}"
        );
    }
    // A read token changed nothing: j is still active, nobody forgotten.
    let (_, journeys) = s
        .call("GET", "/admin/v1/journeys?all=true", Some(READ), None)
        .await;
    assert_eq!(journeys["journeys"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_description_names_every_route() {
    let s = serve().await;
    let (status, openapi) = s.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let paths = openapi["paths"].as_object().unwrap();
    for &(method, _, _, documented) in ROUTES {
        let operation = &paths[documented][method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {documented} is not in /openapi.json"
        );
        assert_eq!(
            operation["security"][0]["bearer"],
            json!([]),
            "{method} {documented}"
        );
    }
    let described: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        described,
        ROUTES.len(),
        "routes in /openapi.json that the test does not know"
    );
    assert_eq!(
        openapi["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_a_reason_and_nothing_applied() {
    let s = serve().await;
    let a = Some(ADMIN);
    refused(
        &s.call("POST", "/admin/v1/journeys/nope/pause", a, None)
            .await,
        404,
        "unknown_journey",
    );
    refused(
        &s.call("GET", "/admin/v1/journeys/nope", a, None).await,
        404,
        "unknown_journey",
    );
    refused(
        &s.call("GET", "/admin/v1/reports?journey=nope", a, None)
            .await,
        404,
        "unknown_journey",
    );
    refused(
        &s.call("GET", "/admin/v1/reports?journey=j&version=7", a, None)
            .await,
        404,
        "unknown_version",
    );
    refused(
        &s.call("GET", "/admin/v1/reports?version=1", a, None).await,
        400,
        "version_without_journey",
    );
    refused(
        &s.call("GET", "/admin/v1/reports?since=yesterday", a, None)
            .await,
        400,
        "bad_request",
    );
    refused(
        &s.call("GET", "/admin/v1/reports?format=pdf", a, None).await,
        400,
        "bad_request",
    );
    refused(
        &s.call("GET", "/admin/v1/reports/j/charts/pie.svg", a, None)
            .await,
        404,
        "unknown_chart",
    );
    refused(
        &s.call("GET", "/admin/v1/timers?due_before=soon", a, None)
            .await,
        400,
        "bad_request",
    );
    refused(
        &s.call("GET", "/admin/v1/outbox?status=lost", a, None).await,
        400,
        "bad_request",
    );
    refused(
        &s.call("GET", "/admin/v1/profiles/nobody", a, None).await,
        404,
        "unknown_profile",
    );
    refused(
        &s.call("GET", "/admin/v1/profiles/colour=blue", a, None)
            .await,
        400,
        "bad_identifier",
    );
    refused(
        &s.call("DELETE", "/admin/v1/profiles/nobody", a, None).await,
        404,
        "unknown_profile",
    );
    // A journey with two problems: both named, no version stored.
    let bad = json!({"file": "j.yaml", "source": "id: j\nentry: { event: Ping }\nnodes:\n  - { id: a, type: wait, duration: 1h, next: b }\n  - { id: s, type: send, channel: email, template: missing }\n"});
    let answer = s.call("POST", "/admin/v1/journeys", a, Some(bad)).await;
    refused(&answer, 422, "invalid_journey");
    let message = answer.1["message"].as_str().unwrap();
    assert!(
        message.contains("`b`") && message.contains("unreachable"),
        "{message}"
    );
    refused(
        &s.call(
            "POST",
            "/admin/v1/journeys",
            a,
            Some(json!({"file": "j.yaml"})),
        )
        .await,
        422,
        "bad_request",
    );
    let garbage = s
        .client
        .post(format!("{}/admin/v1/journeys", s.base))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status().as_u16(), 400);
    assert_eq!(
        waymark::deploy::list(s.store.as_ref()).unwrap().len(),
        1,
        "nothing deployed"
    );

    // Forget works once, then the person is unknown.
    s.ingest("ann");
    let (status, gone) = s
        .call("DELETE", "/admin/v1/profiles/user_id=ann", a, None)
        .await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["suppressed"], true);
    refused(
        &s.call("DELETE", "/admin/v1/profiles/ann", a, None).await,
        404,
        "unknown_profile",
    );
    s.ingest("ann");
    refused(
        &s.call("GET", "/admin/v1/profiles/ann", a, None).await,
        404,
        "unknown_profile",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_segments_and_status_answer_from_the_running_runtime() {
    let s = serve().await;
    s.ingest("ann");
    s.ingest("bob");
    let (status, report) = s
        .call("GET", "/admin/v1/reports?journey=j", Some(READ), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["journeys"][0]["entrants"]["total"], 2, "{report}");
    let (_, table) = s
        .call("GET", "/admin/v1/reports?format=table", Some(READ), None)
        .await;
    assert!(table.as_str().unwrap().contains("journey j"), "{table}");
    let (status, svg) = s
        .call(
            "GET",
            "/admin/v1/reports/j/charts/graph.svg",
            Some(READ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(svg.as_str().unwrap().contains("<svg"));
    let (_, timers) = s.call("GET", "/admin/v1/timers", Some(READ), None).await;
    assert_eq!(timers["timers"].as_array().unwrap().len(), 2);
    let (_, now) = s.call("GET", "/admin/v1/status", Some(READ), None).await;
    assert_eq!(
        (now["profiles"].as_u64(), now["instances_active"].as_u64()),
        (Some(2), Some(2))
    );
    let (_, segments) = s.call("GET", "/admin/v1/segments", Some(READ), None).await;
    assert_eq!(segments["segments"], json!([{"id": "pingers", "size": 2}]));
}
