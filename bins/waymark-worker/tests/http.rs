//! The front door served by a file-mode worker (`[http]`): events posted
//! to the tracking API reach the same runtime as the file's, the ops
//! endpoints answer without Kafka, and the one-click unsubscribe link of a
//! real email (through the SMTP channel to a local SMTP server), POSTed
//! back, makes the next send `suppressed` (`unsubscribed`). And SIGKILLs
//! while clients send lose no accepted event.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Running, eventually, free_port, request, start_stdin_worker};

/// `key:` in base64.
const AUTH: &str = "Authorization: Basic a2V5Og==\r\n";

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Journey `j` in `d`: on `entry` (the event and its options), one email.
fn write_journey(d: &std::path::Path, entry: &str) {
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(
        d.join("templates/hi.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    std::fs::write(
        d.join("j.yaml"),
        format!("id: j\nentry: {{ event: {entry} }}\nnodes:\n  - {{ id: hi, type: send, channel: email, template: hi }}\n"),
    )
    .unwrap();
}

fn ping(id: &str) -> String {
    format!(
        r#"{{"userId":"ann","event":"Ping","messageId":"{id}","context":{{"traits":{{"email":"ann@example.com"}}}},"timestamp":"2026-10-01T09:00:00Z"}}"#
    )
}

#[test]
fn the_worker_serves_the_front_door_and_its_unsubscribe_links() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let addr = format!("127.0.0.1:{}", free_port());
    write_journey(d, "Ping, re_entry: after_exit");
    // A real SMTP server (aiosmtpd) saving each message as <n>.eml.
    let maildir = d.join("mail");
    std::fs::create_dir_all(&maildir).unwrap();
    let smtp_port = free_port();
    let mut smtp = Running(
        Command::new("python3")
            .arg(support::workspace().join("crates/waymark-channels/tests/smtp_server.py"))
            .arg(smtp_port.to_string())
            .arg(&maildir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(smtp.0.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "ready", "the SMTP server did not start");
    let mails = || -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&maildir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    };
    std::fs::write(
        d.join("worker.toml"),
        format!(
            r#"journeys = ["{d}/j.yaml"]
[source]
kind = "stdin"
rejects = "{d}/rejects.jsonl"
[store]
path = "{d}/store"
[channels.email]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "Acme <hello@acme.example>"
[analytics]
path = "{d}/records.jsonl"
[unsubscribe]
base_url = "http://{addr}/unsubscribe"
secret = "test-secret"
[http]
listen = "{addr}"
write_keys = ["key"]
"#,
            d = d.display()
        ),
    )
    .unwrap();
    let config = d.join("worker.toml");
    let (mut child, stdin) = start_stdin_worker(&config);
    eventually(
        Duration::from_secs(30),
        "the front door listens",
        &config,
        || TcpStream::connect(&addr).is_ok(),
    );

    // Ops without Kafka.
    for path in ["/healthz", "/readyz"] {
        assert_eq!(request(&addr, "GET", path, "", "").0, 200, "{path}");
    }
    let (status, metrics) = request(&addr, "GET", "/metrics", "", "");
    assert_eq!(status, 200);
    assert!(metrics.contains("waymark_"), "{metrics}");

    // An event through the tracking API: answered once durable, then sent.
    let json = "Content-Type: application/json\r\n";
    let (status, body) = request(
        &addr,
        "POST",
        "/v1/track",
        &format!("{AUTH}{json}"),
        &ping("p1"),
    );
    assert_eq!(status, 200, "{body}");
    eventually(
        Duration::from_secs(30),
        "the email went out",
        &config,
        || mails().len() == 1,
    );
    // The link a mail client follows: the email's List-Unsubscribe header.
    let email = mails().remove(0);
    let url = email
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: "))
        .unwrap_or_else(|| panic!("no List-Unsubscribe in:\n{email}"))
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    assert!(email.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    let path = url.strip_prefix(&format!("http://{addr}")).unwrap();

    // A link scanner's GET asks; the mail client's one-click POST decides.
    let (status, page) = request(&addr, "GET", path, "", "");
    assert_eq!(status, 200);
    assert!(page.contains("<form method=post>"), "{page}");
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let (status, body) = request(&addr, "POST", path, form, "List-Unsubscribe=One-Click");
    assert_eq!(status, 200, "{body}");

    // The next message to her is withheld.
    let (status, _) = request(
        &addr,
        "POST",
        "/v1/track",
        &format!("{AUTH}{json}"),
        &ping("p2"),
    );
    assert_eq!(status, 200);
    eventually(
        Duration::from_secs(30),
        "the second send was decided",
        &config,
        || {
            lines(&d.join("records.jsonl"))
                .iter()
                .any(|r| r["kind"] == "suppressed" && r["reason"] == "unsubscribed")
        },
    );
    assert_eq!(mails().len(), 1, "nothing more was sent");

    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    drop(stdin);
    let exit = child.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// Sends `body` to `/v1/track` until it is answered 200 (a refused
/// connection or a cut answer is retried with the same body, as SDKs do).
fn send_until_accepted(addr: &str, body: &str) -> u32 {
    let mut tries = 0;
    loop {
        tries += 1;
        let answered = (|| {
            let mut stream = TcpStream::connect(addr).ok()?;
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .ok()?;
            write!(
                stream,
                "POST /v1/track HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .ok()?;
            let mut response = String::new();
            stream.read_to_string(&mut response).ok()?;
            response.starts_with("HTTP/1.1 200").then_some(())
        })();
        if answered.is_some() {
            return tries;
        }
        assert!(tries < 2000, "never accepted: {body}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigkill_while_clients_send_loses_no_accepted_event_and_sends_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let addr = format!("127.0.0.1:{}", free_port());
    write_journey(d, "Signed Up");
    std::fs::write(
        d.join("worker.toml"),
        format!(
            "journeys = [\"{d}/j.yaml\"]\n[source]\nkind = \"stdin\"\nrejects = \"{d}/rejects.jsonl\"\n[store]\npath = \"{d}/store\"\n[channels.log]\npath = \"{d}/out.jsonl\"\n[http]\nlisten = \"{addr}\"\nwrite_keys = [\"key\"]\n",
            d = d.display()
        ),
    )
    .unwrap();
    let config = d.join("worker.toml");
    let start = || start_stdin_worker(&config);
    // Four clients, each sending new people one at a time (retrying what
    // got no 200) until the worker has been killed under them three times.
    let mut worker = start();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (addr, stop) = (addr.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let (mut people, mut tries) = (0usize, 0u32);
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let user = format!("u{c}-{people}");
                    let body = format!(
                        r#"{{"userId":"{user}","event":"Signed Up","messageId":"m-{user}","context":{{"traits":{{"email":"{user}@example.com"}}}},"timestamp":"2026-10-01T09:00:00Z"}}"#
                    );
                    tries += send_until_accepted(&addr, &body);
                    people += 1;
                }
                (people, tries)
            })
        })
        .collect();
    for pause_ms in [300u64, 500, 400] {
        std::thread::sleep(Duration::from_millis(pause_ms));
        worker.0.kill().unwrap(); // SIGKILL
        worker.0.wait().unwrap();
        worker = start();
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (people, tries) = clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .fold((0, 0), |(p, t), (cp, ct)| (p + cp, t + ct));
    // Requests were under way at each kill: some got no answer.
    assert!(
        tries > people as u32,
        "no request was cut by a kill ({tries} tries for {people}): the test proves nothing"
    );
    // Everyone accepted is emailed exactly once, retries included.
    eventually(
        Duration::from_secs(30),
        "every accepted sign-up emailed",
        &config,
        || lines(&d.join("out.jsonl")).len() >= people,
    );
    std::thread::sleep(Duration::from_millis(300));
    let sent = lines(&d.join("out.jsonl"));
    let mut emailed: Vec<&str> = sent
        .iter()
        .map(|s| s["user_id"].as_str().unwrap())
        .collect();
    emailed.sort_unstable();
    let before = emailed.len();
    emailed.dedup();
    assert_eq!(before, emailed.len(), "someone was emailed twice");
    assert_eq!(emailed.len(), people);
    drop(worker);
}
