//! The live admin API against a running worker, the whole flow twice: over
//! HTTP directly and through `waymark-admin --url`. A new version deployed
//! while events flow (people already in the journey finish on their
//! version), pause and resume, a failed webhook delivery retried, a person
//! forgotten whose later events do not bring them back; and every endpoint
//! refusing a missing token, a bad token and a `read` token where it needs
//! `admin`.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ChildStdin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use support::{admin_bin, eventually, free_port, request, start_stdin_worker};

const READ: &str = "read-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

/// A webhook receiver that refuses (400: a permanent failure) until told
/// to accept; counts what it accepted.
struct Hook {
    port: u16,
    accept: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

fn hook() -> Hook {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (a, n) = (Arc::clone(&accept), Arc::clone(&accepted));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if a.load(Ordering::SeqCst) {
                n.fetch_add(1, Ordering::SeqCst);
                "200 OK"
            } else {
                "400 Bad Request"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    Hook {
        port,
        accept,
        accepted,
    }
}

fn journey(wait: &str) -> String {
    format!(
        "id: j\nentry: {{ event: Ping, re_entry: after_exit }}\nnodes:\n  - {{ id: later, type: wait, duration: {wait}, next: hook }}\n  - {{ id: hook, type: send, channel: webhook, template: hook }}\n"
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    d: PathBuf,
    config: PathBuf,
    addr: String,
    hook: Hook,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let hook = hook();
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(
        d.join("templates/hook.yaml"),
        format!(
            "channel: webhook\nurl: 'http://127.0.0.1:{}/hook'\nbody: '{{\"user\": \"{{{{ profile.user_id }}}}\"}}'\n",
            hook.port
        ),
    )
    .unwrap();
    std::fs::write(d.join("j.yaml"), journey("4s")).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = d.join("worker.toml");
    std::fs::write(
        &config,
        format!(
            "journeys = [\"{d}/j.yaml\"]\ntemplates = \"{d}/templates\"\n[source]\nkind = \"stdin\"\nrejects = \"{d}/rejects.jsonl\"\n[store]\npath = \"{d}/store\"\n[channels.log]\npath = \"{d}/out.jsonl\"\n[channels.webhook]\nsecret = \"\"\n[analytics]\npath = \"{d}/records.jsonl\"\n[http]\nlisten = \"{addr}\"\nwrite_keys = [\"key\"]\nread_tokens = [\"{READ}\"]\nadmin_tokens = [\"{ADMIN}\"]\n",
            d = d.display()
        ),
    )
    .unwrap();
    Setup {
        _dir: dir,
        d,
        config,
        addr,
        hook,
    }
}

fn ping(stdin: &mut ChildStdin, user: &str, id: &str) {
    writeln!(
        stdin,
        r#"{{"type":"track","userId":"{user}","event":"Ping","messageId":"{id}","timestamp":"2026-11-30T09:00:00Z"}}"#
    )
    .unwrap();
    stdin.flush().unwrap();
}

fn records(d: &Path) -> Vec<Value> {
    std::fs::read_to_string(d.join("records.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The records of `kind` for the person with user id `user`'s profile.
fn kinds(d: &Path, profile: &str, kind: &str) -> Vec<Value> {
    records(d)
        .into_iter()
        .filter(|r| r["profile"] == profile && r["kind"] == kind)
        .collect()
}

/// What the flow asks of the admin API, done one way or the other.
trait Admin {
    fn deploy(&self, file: &Path) -> String;
    /// `(version, status)` of every version of journey `j`.
    fn versions(&self) -> Vec<(u64, String)>;
    fn pause(&self);
    fn resume(&self);
    fn failed(&self) -> usize;
    fn retry(&self) -> String;
    /// The profile id, if the person is known.
    fn profile(&self, user: &str) -> Option<String>;
    fn forget(&self, user: &str) -> Result<String, String>;
    /// How many journey instances the person has (`profile export`).
    fn instances(&self, user: &str) -> usize;
    /// A call with the read token that needs admin: refused?
    fn read_cannot_pause(&self) -> bool;
}

struct OverHttp(String);

impl OverHttp {
    fn call(&self, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
        let headers = format!("{}Content-Type: application/json\r\n", bearer(token));
        let (status, body) = request(&self.0, method, path, &headers, body);
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

impl Admin for OverHttp {
    fn deploy(&self, file: &Path) -> String {
        let body =
            serde_json::json!({"file": "j.yaml", "source": std::fs::read_to_string(file).unwrap()});
        let (status, answer) = self.call("POST", "/admin/v1/journeys", ADMIN, &body.to_string());
        assert_eq!(status, 201, "{answer}");
        format!(
            "deployed {} v{}",
            answer["id"].as_str().unwrap(),
            answer["version"]
        )
    }
    fn versions(&self) -> Vec<(u64, String)> {
        let (status, answer) = self.call("GET", "/admin/v1/journeys?all=true", READ, "");
        assert_eq!(status, 200);
        answer["journeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                (
                    j["version"].as_u64().unwrap(),
                    j["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
    fn pause(&self) {
        assert_eq!(
            self.call("POST", "/admin/v1/journeys/j/pause", ADMIN, "").0,
            200
        );
    }
    fn resume(&self) {
        assert_eq!(
            self.call("POST", "/admin/v1/journeys/j/resume", ADMIN, "")
                .0,
            200
        );
    }
    fn failed(&self) -> usize {
        let (_, answer) = self.call("GET", "/admin/v1/outbox?status=failed", READ, "");
        answer["entries"].as_array().unwrap().len()
    }
    fn retry(&self) -> String {
        let (status, answer) = self.call("POST", "/admin/v1/outbox/retry", ADMIN, "");
        assert_eq!(status, 200);
        format!("{} failed deliveries put back in line", answer["retried"])
    }
    fn profile(&self, user: &str) -> Option<String> {
        let (status, answer) = self.call(
            "GET",
            &format!("/admin/v1/profiles/user_id={user}"),
            READ,
            "",
        );
        match status {
            200 => Some(answer["id"].as_str().unwrap().to_owned()),
            404 => {
                assert_eq!(answer["code"], "unknown_profile");
                None
            }
            other => panic!("profile show: {other} {answer}"),
        }
    }
    fn forget(&self, user: &str) -> Result<String, String> {
        let (status, answer) =
            self.call("DELETE", &format!("/admin/v1/profiles/{user}"), ADMIN, "");
        match status {
            200 => Ok(answer["forgotten"].as_str().unwrap().to_owned()),
            _ => Err(format!("{status} {}", answer["code"])),
        }
    }
    fn instances(&self, user: &str) -> usize {
        let (status, answer) = self.call(
            "GET",
            &format!("/admin/v1/profiles/{user}/export"),
            READ,
            "",
        );
        assert_eq!(status, 200, "{answer}");
        answer["instances"].as_array().map_or(0, Vec::len)
    }
    fn read_cannot_pause(&self) -> bool {
        let (status, answer) = self.call("POST", "/admin/v1/journeys/j/pause", READ, "");
        status == 403 && answer["code"] == "insufficient_scope"
    }
}

/// The same through `waymark-admin --url URL --token T`.
struct OverCli(String);

impl OverCli {
    fn run(&self, token: &str, args: &[&str]) -> (i32, String, String) {
        let output = std::process::Command::new(admin_bin())
            .args(["--url", &format!("http://{}", self.0), "--token", token])
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn ok(&self, token: &str, args: &[&str]) -> String {
        let (code, out, err) = self.run(token, args);
        assert_eq!(code, 0, "waymark-admin {args:?}: {err}");
        out
    }
}

impl Admin for OverCli {
    fn deploy(&self, file: &Path) -> String {
        self.ok(ADMIN, &["journey", "deploy", file.to_str().unwrap()])
            .trim()
            .to_owned()
    }
    fn versions(&self) -> Vec<(u64, String)> {
        self.ok(READ, &["journey", "list", "--all"])
            .lines()
            .map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                (
                    cols[1].trim_start_matches('v').parse().unwrap(),
                    cols[2].to_owned(),
                )
            })
            .collect()
    }
    fn pause(&self) {
        assert_eq!(
            self.ok(ADMIN, &["journey", "pause", "j"]).trim(),
            "paused j v2"
        );
    }
    fn resume(&self) {
        assert_eq!(
            self.ok(ADMIN, &["journey", "resume", "j"]).trim(),
            "resumed j v2"
        );
    }
    fn failed(&self) -> usize {
        self.ok(READ, &["outbox", "list", "--status", "failed"])
            .lines()
            .count()
    }
    fn retry(&self) -> String {
        self.ok(ADMIN, &["outbox", "retry"]).trim().to_owned()
    }
    fn profile(&self, user: &str) -> Option<String> {
        let (code, out, err) = self.run(READ, &["profile", "show", &format!("user_id={user}")]);
        match code {
            0 => Some(
                serde_json::from_str::<Value>(&out).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            2 => {
                assert!(err.contains("no profile holds"), "{err}");
                None
            }
            other => panic!("profile show exited {other}: {err}"),
        }
    }
    fn forget(&self, user: &str) -> Result<String, String> {
        let (code, out, err) = self.run(ADMIN, &["profile", "forget", user]);
        match code {
            0 => Ok(serde_json::from_str::<Value>(&out).unwrap()["forgotten"]
                .as_str()
                .unwrap()
                .to_owned()),
            _ => Err(format!("{code} {err}")),
        }
    }
    fn instances(&self, user: &str) -> usize {
        let out = self.ok(READ, &["profile", "export", user]);
        serde_json::from_str::<Value>(&out).unwrap()["instances"]
            .as_array()
            .map_or(0, Vec::len)
    }
    fn read_cannot_pause(&self) -> bool {
        let (code, _, err) = self.run(READ, &["journey", "pause", "j"]);
        code == 2 && err.contains("`admin` scope")
    }
}

fn whole_flow(make: impl Fn(&str) -> Box<dyn Admin>) {
    let s = setup();
    let (_worker, mut stdin) = start_stdin_worker(&s.config);
    let (d, config) = (&s.d, &s.config);
    let status = || request(&s.addr, "GET", "/admin/v1/status", &bearer(READ), "");
    eventually(Duration::from_secs(30), "the admin API", config, || {
        std::net::TcpStream::connect(&s.addr).is_ok() && status().0 == 200
    });
    let admin = make(&s.addr);

    // Deploy a new version while ann waits in version 1.
    ping(&mut stdin, "ann", "m1");
    eventually(Duration::from_secs(20), "ann in v1", config, || {
        admin.profile("ann").is_some()
    });
    let ann = admin.profile("ann").unwrap();
    std::fs::write(d.join("j2.yaml"), journey("1s")).unwrap();
    assert_eq!(admin.deploy(&d.join("j2.yaml")), "deployed j v2");
    assert_eq!(
        admin.versions(),
        vec![(1, "superseded".into()), (2, "active".into())]
    );
    ping(&mut stdin, "bob", "m2");
    eventually(Duration::from_secs(20), "bob in v2", config, || {
        admin.profile("bob").is_some()
    });
    let bob = admin.profile("bob").unwrap();
    // The webhook refuses: both deliveries fail, each on its own version.
    eventually(
        Duration::from_secs(30),
        "two failed deliveries",
        config,
        || admin.failed() == 2,
    );
    let sent = |who: &str| kinds(d, who, "send");
    assert_eq!(
        sent(&ann)[0]["version"],
        1,
        "ann finishes on the version she entered"
    );
    assert_eq!(sent(&bob)[0]["version"], 2, "bob enters the new version");

    // Retry the failed deliveries once the receiver accepts.
    s.hook.accept.store(true, Ordering::SeqCst);
    assert!(admin.read_cannot_pause());
    assert_eq!(admin.retry(), "2 failed deliveries put back in line");
    eventually(
        Duration::from_secs(30),
        "the retried deliveries",
        config,
        || s.hook.accepted.load(Ordering::SeqCst) == 2 && admin.failed() == 0,
    );

    // Paused: nobody new enters; resumed: they do again.
    admin.pause();
    ping(&mut stdin, "cy", "m3");
    eventually(Duration::from_secs(20), "cy known", config, || {
        admin.profile("cy").is_some()
    });
    assert_eq!(admin.instances("cy"), 0, "a paused journey takes no one");
    admin.resume();
    ping(&mut stdin, "cy", "m4");
    eventually(
        Duration::from_secs(20),
        "cy entered after resume",
        config,
        || admin.instances("cy") == 1,
    );

    // Forget ann: gone, and her later events do not bring her back.
    assert_eq!(admin.forget("ann"), Ok(ann.clone()));
    assert!(admin.forget("ann").is_err(), "a second forget finds nobody");
    assert!(admin.forget("nobody-at-all").is_err());
    let events_before = status().1;
    ping(&mut stdin, "ann", "m5");
    ping(&mut stdin, "dee", "m6");
    eventually(
        Duration::from_secs(20),
        "later events processed",
        config,
        || admin.profile("dee").is_some(),
    );
    assert!(status().1 != events_before);
    assert_eq!(
        admin.profile("ann"),
        None,
        "a forgotten person is not rebuilt"
    );
}

#[test]
fn the_whole_admin_flow_over_http() {
    whole_flow(|addr| Box::new(OverHttp(addr.to_owned())));
}

#[test]
fn the_whole_admin_flow_through_waymark_admin_url() {
    whole_flow(|addr| Box::new(OverCli(addr.to_owned())));
}
