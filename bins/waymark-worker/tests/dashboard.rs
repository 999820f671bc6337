//! The dashboard in a real headless browser: Debian's chromium driven
//! through chromedriver (WebDriver, fantoccini), against a worker that
//! processed the quick start's example events. Signs in with the read
//! token, follows the links, and checks the journey page's per-node counts
//! and numbers against `waymark-admin report` and the profile page against
//! `profile show`, both over the same store once the worker stopped; an
//! admin session pauses the journey with a POST whose CSRF token is
//! checked. With `WAYMARK_SCREENSHOTS=DIR` it saves screenshots there
//! (docs/images/ has them).
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::{Running, admin_bin, eventually, free_port, request, workspace};

const READ: &str = "dev-read";
const ADMIN: &str = "dev-admin";

/// The quick start's worker, with its data in `d`, not exiting when idle.
fn start_quickstart(d: &Path, addr: &str) -> Running {
    let log = std::fs::File::create(d.join("worker.log")).unwrap();
    let path = |name: &str| d.join(name).display().to_string();
    Command::new(env!("CARGO_BIN_EXE_waymark-worker"))
        .current_dir(workspace())
        .args(["--config", "examples/quickstart/waymark.toml", "--quiet"])
        .env("WAYMARK_STORE__PATH", path("store"))
        .env("WAYMARK_CHANNELS__LOG__PATH", path("deliveries.jsonl"))
        .env("WAYMARK_SOURCE__REJECTS", path("rejects.jsonl"))
        .env("WAYMARK_ANALYTICS__PATH", path("records.jsonl"))
        .env("WAYMARK_HTTP__LISTEN", format!("\"{addr}\""))
        .env("WAYMARK_RUNTIME__EXIT_WHEN_IDLE", "false")
        .env("WAYMARK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(Running)
        .unwrap()
}

/// chromedriver on a free port, and a headless chromium session through it.
async fn browser() -> (Running, Client) {
    let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("chromedriver not found: install Debian's chromium and chromium-driver (scripts/test.sh does)");
    let port = free_port();
    let driver = Running(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100"]
        }
    });
    let capabilities = match capabilities {
        Value::Object(map) => map,
        _ => unreachable!(),
    };
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no WebDriver session: {last:?}");
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn number(client: &Client, css: &str) -> u64 {
    let shown = text(client, css).await;
    shown
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{css}: `{shown}` is not a count"))
}

async fn click(client: &Client, what: Locator<'_>) {
    client.find(what).await.unwrap().click().await.unwrap();
}

async fn type_in(client: &Client, what: Locator<'_>, text: &str) {
    client
        .find(what)
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

async fn wait_for(client: &Client, what: Locator<'_>) {
    client.wait().for_element(what).await.unwrap();
}

/// Waits until the browser shows `path` (a click navigates after it returns).
async fn wait_for_path(client: &Client, path: &str) {
    for _ in 0..100 {
        if client.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached {path}");
}

async fn goto(client: &Client, url: &str) {
    client.goto(url).await.unwrap();
}

async fn screenshot(client: &Client, name: &str) {
    if let Ok(dir) = std::env::var("WAYMARK_SCREENSHOTS") {
        let png = client.screenshot().await.unwrap();
        std::fs::write(Path::new(&dir).join(name), png).unwrap();
    }
}

async fn sign_in(client: &Client, base: &str, token: &str) {
    // On the site first: WebDriver deletes the cookies of the page shown.
    goto(client, &format!("{base}/login")).await;
    client.delete_all_cookies().await.unwrap();
    goto(client, &format!("{base}/")).await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login"),
        "not signed in: the sign-in page"
    );
    type_in(client, Locator::Id("token"), token).await;
    click(client, Locator::Id("sign-in")).await;
    wait_for(client, Locator::Id("journeys")).await;
}

/// What the browser showed, to be checked against the CLI over the store.
struct Seen {
    nodes: Vec<(String, u64, u64)>,
    entered: u64,
    converted: u64,
    treatment: u64,
    profile: Value,
}

async fn look(client: &Client, base: &str, d: &Path) -> Seen {
    // A wrong token is refused on the sign-in page.
    goto(client, &format!("{base}/login")).await;
    type_in(client, Locator::Id("token"), "not-a-token").await;
    click(client, Locator::Id("sign-in")).await;
    wait_for(client, Locator::Id("error")).await;
    assert!(text(client, "#error").await.contains("not valid"));

    sign_in(client, base, READ).await;
    // The overview: the quick start's one malformed line is a dead letter.
    assert_eq!(number(client, "#dead-letters .value").await, 1);
    assert_eq!(number(client, "#outbox-failed .value").await, 0);
    assert_eq!(number(client, "#profiles .value").await, 5);
    let row = "tr[data-journey='quickstart-welcome']";
    let listed = number(client, &format!("{row} .entered")).await;
    screenshot(client, "dashboard-overview.png").await;

    // Follow the link to the journey.
    click(client, Locator::Css(&format!("{row} a"))).await;
    wait_for(client, Locator::Id("nodes")).await;
    assert!(
        client.find(Locator::Id("pause")).await.is_err(),
        "a read session is offered no changes"
    );
    let mut nodes = Vec::new();
    for tr in client
        .find_all(Locator::Css("#nodes tbody tr"))
        .await
        .unwrap()
    {
        let id = tr.attr("data-node").await.unwrap().unwrap();
        let reached = tr
            .find(Locator::Css(".reached"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let ended = tr
            .find(Locator::Css(".ended"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        nodes.push((id, reached.parse().unwrap(), ended.parse().unwrap()));
    }
    let entered = number(client, "#entered .value").await;
    assert_eq!(entered, listed, "the overview and the journey page agree");
    let converted = number(client, "#converted .value").await;
    let treatment = number(client, "tr[data-group='treatment'] .entrants").await;
    // The graph chart is served to the session and drawn.
    let width = client
        .execute(
            "return document.querySelector('.graph img').naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        width.as_u64().unwrap() > 100,
        "the graph image did not load: {width}"
    );
    screenshot(client, "dashboard-journey.png").await;

    // Segments, then a profile looked up by its user id.
    click(client, Locator::LinkText("Segments")).await;
    wait_for_path(client, "/segments").await;
    assert!(text(client, "h1").await.contains("Segments"));
    click(client, Locator::LinkText("Profiles")).await;
    wait_for(client, Locator::Id("lookup")).await;
    type_in(client, Locator::Id("lookup"), "user_id=ana").await;
    click(client, Locator::Id("find")).await;
    wait_for(client, Locator::Id("profile-json")).await;
    let profile: Value = serde_json::from_str(&text(client, "#profile-json").await).unwrap();
    assert_eq!(
        text(client, "tr[data-trait='email'] .value").await,
        "ana@example.com"
    );
    screenshot(client, "dashboard-profile.png").await;
    let _ = d;
    Seen {
        nodes,
        entered,
        converted,
        treatment,
        profile,
    }
}

/// An admin session pauses the journey; the same POST without the
/// session's CSRF token is refused and changes nothing.
async fn pause_as_admin(client: &Client, base: &str, addr: &str) {
    sign_in(client, base, ADMIN).await;
    goto(client, &format!("{base}/journeys/quickstart-welcome")).await;
    let session = client.get_named_cookie("waymark_session").await.unwrap();
    let cookie = format!(
        "Cookie: waymark_session={}\r\nContent-Type: application/x-www-form-urlencoded\r\n",
        session.value()
    );
    let (status, _) = request(
        addr,
        "POST",
        "/journeys/quickstart-welcome/pause",
        &cookie,
        "csrf=forged",
    );
    assert_eq!(status, 403, "a POST without the session's CSRF token");
    assert_eq!(text(client, "#status").await, "active");
    click(client, Locator::Id("pause")).await;
    wait_for(client, Locator::Id("resume")).await;
    assert_eq!(text(client, "#status").await, "paused");
}

fn admin(store: &Path, args: &[&str]) -> Value {
    let output = Command::new(admin_bin())
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "waymark-admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_shows_what_the_report_and_profile_commands_say() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let addr = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{addr}");
    let mut worker = start_quickstart(d, &addr);
    let config = d.join("worker.toml");
    // Every wait of the quick start passed, every delivery made.
    let settled = || {
        let (status, body) = request(
            &addr,
            "GET",
            "/admin/v1/status",
            &format!("Authorization: Bearer {READ}\r\n"),
            "",
        );
        let now: Value = serde_json::from_str(&body).unwrap_or_default();
        status == 200
            && now["events"] == 17
            && now["timers_pending"] == 0
            && now["outbox_pending"] == 0
    };
    eventually(
        Duration::from_secs(60),
        "the quick start settled",
        &config,
        || std::net::TcpStream::connect(&addr).is_ok() && settled(),
    );

    let (_driver, client) = browser().await;
    let seen = look(&client, &base, d).await;
    pause_as_admin(&client, &base, &addr).await;
    client.close().await.unwrap();
    worker.0.kill().unwrap();
    worker.0.wait().unwrap();

    let store = d.join("store");
    let report = admin(
        &store,
        &["report", "quickstart-welcome", "--format", "json"],
    );
    let journey = &report["journeys"][0];
    let nodes: Vec<(String, u64, u64)> = journey["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_owned(),
                n["reached"].as_u64().unwrap(),
                n["ended_here"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(!nodes.is_empty());
    assert_eq!(
        seen.nodes, nodes,
        "per-node counts: the page against `waymark-admin report`"
    );
    assert_eq!(seen.entered, journey["entrants"]["total"].as_u64().unwrap());
    assert_eq!(
        seen.treatment,
        journey["entrants"]["treatment"].as_u64().unwrap()
    );
    assert_eq!(
        seen.converted,
        journey["goal"]["conversions"].as_u64().unwrap()
    );
    assert!(
        seen.entered > 0 && seen.converted > 0,
        "the quick start has entrants and conversions"
    );
    let shown = admin(&store, &["profile", "show", "user_id=ana"]);
    assert_eq!(
        seen.profile, shown,
        "the profile page against `profile show`"
    );
}
