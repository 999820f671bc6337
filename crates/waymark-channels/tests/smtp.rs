//! Email through a real SMTP server on loopback (aiosmtpd, from PyPI;
//! `scripts/test.sh` installs it): headers, body, one-click unsubscribe,
//! authentication, and how refusals are classified.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use waymark_channels::{Deliver, Delivery, DeliveryError, SmtpChannel, SmtpConfig, SmtpTls};
use waymark_core::{Channel, ProfileId, Timestamp};

struct SmtpServer {
    child: Child,
    port: u16,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(maildir: &Path, auth: Option<(&str, &str)>) -> SmtpServer {
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
    let mut command = Command::new("python3");
    command.arg(script).arg(port.to_string()).arg(maildir);
    if let Some((user, password)) = auth {
        command.arg(user).arg(password);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "the SMTP server did not start: is aiosmtpd installed (pip install aiosmtpd)?"
    );
    SmtpServer { child, port }
}

fn delivery(to: &str) -> Delivery {
    let Value::Object(content) = json!({
        "subject": "Welcome, Ana",
        "text": "Thanks for signing up.",
        "html": "<p>Thanks for signing up.</p>",
        "reply_to": "Support <help@acme.example>",
    }) else {
        unreachable!()
    };
    Delivery {
        key: "welcome:p_1:1/1/send:email".into(),
        channel: Channel::Email,
        profile: ProfileId::from("p_1"),
        user_id: Some("ana".into()),
        anonymous_id: None,
        to: Some(to.into()),
        template: "welcome".into(),
        journey: "welcome".into(),
        node: "hello".into(),
        trigger: Default::default(),
        decided_at: Timestamp::default(),
        sent_at: None,
        content,
        unsubscribe_url: Some("https://acme.example/unsubscribe?token=abc.def".into()),
        topic: None,
    }
}

fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: Some("waymark".into()),
        password: Some("hunter2".into()),
        from: "Acme <hello@acme.example>".into(),
        ..SmtpConfig::default()
    }
}

#[tokio::test]
async fn an_email_arrives_with_its_headers_body_and_one_click_unsubscribe() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), Some(("waymark", "hunter2")));
    let channel = SmtpChannel::new(&config(server.port)).unwrap();
    let email = delivery("ana@example.com");
    let receipt = channel.deliver(&email).await.unwrap();
    assert!(receipt.provider_id.unwrap().contains("queued as m1"));

    let envelope: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("1.json")).unwrap()).unwrap();
    assert_eq!(envelope["from"], "hello@acme.example");
    assert_eq!(envelope["to"], json!(["ana@example.com"]));
    assert_eq!(envelope["auth"], true, "it authenticated");
    let raw = std::fs::read_to_string(dir.path().join("1.eml")).unwrap();
    let header = |name: &str| {
        raw.lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            })
            .map(|l| l.split_once(':').unwrap().1.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} header in:\n{raw}"))
    };
    assert_eq!(header("From"), "Acme <hello@acme.example>");
    assert_eq!(header("To"), "ana@example.com");
    assert_eq!(header("Subject"), "Welcome, Ana");
    assert_eq!(header("Reply-To"), "Support <help@acme.example>");
    assert_eq!(
        header("List-Unsubscribe"),
        "<https://acme.example/unsubscribe?token=abc.def>"
    );
    assert_eq!(
        header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(header("X-Waymark-Key"), email.key);
    // Who it is for, handed back by providers with their events.
    let user = email.user_id.clone().unwrap();
    let args: Value = serde_json::from_str(&header("X-SMTPAPI")).unwrap();
    assert_eq!(
        args,
        json!({"unique_args": {"waymark_user": user, "waymark_key": email.key}})
    );
    assert_eq!(header("X-PM-Metadata-waymark_user"), user);
    assert_eq!(header("X-PM-Metadata-waymark_key"), email.key);
    assert!(header("Message-ID").ends_with(".waymark@acme.example>"));
    assert!(header("Content-Type").starts_with("multipart/alternative"));
    assert!(raw.contains("Thanks for signing up."));
    assert!(raw.contains("<p>Thanks for signing up.</p>"));

    // Sent again with the same key (a retry after a crash): the same Message-ID.
    channel.deliver(&email).await.unwrap();
    let again = std::fs::read_to_string(dir.path().join("2.eml")).unwrap();
    let id = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("Message-ID:"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(id(&raw), id(&again));
}

#[tokio::test]
async fn a_hard_bounce_is_permanent_a_soft_one_transient_bad_credentials_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), Some(("waymark", "hunter2")));
    let channel = SmtpChannel::new(&config(server.port)).unwrap();
    match channel
        .deliver(&delivery("bounce@example.com"))
        .await
        .unwrap_err()
    {
        DeliveryError::Permanent { reason } => assert!(reason.contains("550"), "{reason}"),
        other => panic!("550 must be permanent: {other}"),
    }
    assert!(matches!(
        channel
            .deliver(&delivery("busy@example.com"))
            .await
            .unwrap_err(),
        DeliveryError::Transient { .. }
    ));
    let wrong = SmtpChannel::new(&SmtpConfig {
        password: Some("wrong".into()),
        ..config(server.port)
    })
    .unwrap();
    assert!(matches!(
        wrong
            .deliver(&delivery("ana@example.com"))
            .await
            .unwrap_err(),
        DeliveryError::Permanent { .. }
    ));
    assert!(!dir.path().join("1.eml").exists(), "nothing was accepted");
}
