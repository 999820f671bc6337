//! Each HTTP provider against a real HTTP server on loopback: the exact
//! requests (Twilio's form and auth, FCM's token exchange and message,
//! Standard Webhooks' signature), and how answers are classified.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use support::Server;
use waymark_channels::{
    Deliver, Delivery, DeliveryError, FcmChannel, FcmConfig, ServiceAccount, TwilioChannel,
    TwilioConfig, WebhookChannel, WebhookConfig, signing,
};
use waymark_core::{Channel, ProfileId, Timestamp};

fn delivery(channel: Channel, to: &str, content: Value) -> Delivery {
    let Value::Object(content) = content else {
        panic!("content must be an object")
    };
    Delivery {
        key: format!("welcome:p_1:1/1/send:{channel}"),
        channel,
        profile: ProfileId::from("p_1"),
        user_id: Some("ana".into()),
        anonymous_id: None,
        to: Some(to.into()),
        template: "welcome".into(),
        journey: "welcome".into(),
        node: "hello".into(),
        trigger: Default::default(),
        decided_at: Timestamp::default(),
        content,
        sent_at: None,
        unsubscribe_url: None,
        topic: None,
    }
}

fn twilio(server: &Server) -> TwilioChannel {
    TwilioChannel::new(TwilioConfig {
        account_sid: "AC123".into(),
        auth_token: "secret-token".into(),
        from: Some("+15005550006".into()),
        base_url: server.base.clone(),
        status_callback: Some("https://hooks.example.com/twilio/status".into()),
        ..TwilioConfig::default()
    })
}

#[tokio::test]
async fn twilio_gets_the_exact_form_with_basic_auth_and_the_idempotency_token() {
    let server = Server::start().await;
    server.script(
        "/2010-04-01/Accounts/AC123/Messages.json",
        vec![(201, vec![], r#"{"sid":"SM42","status":"queued"}"#.into())],
    );
    let channel = twilio(&server);
    let sms = delivery(Channel::Sms, "+15551234567", json!({"body": "Hi Ana"}));
    let receipt = channel.deliver(&sms).await.unwrap();
    assert_eq!(receipt.provider_id.as_deref(), Some("SM42"));
    let whatsapp = delivery(
        Channel::Whatsapp,
        "+15551234567",
        json!({"body": "Hi on WhatsApp"}),
    );
    channel.deliver(&whatsapp).await.unwrap();

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/2010-04-01/Accounts/AC123/Messages.json");
    assert_eq!(
        request.header("authorization").unwrap(),
        format!("Basic {}", STANDARD.encode("AC123:secret-token"))
    );
    assert_eq!(
        request.header("i-twilio-idempotency-token").unwrap(),
        sms.key
    );
    assert_eq!(
        request.header("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    let form = request.form();
    let field = |form: &[(String, String)], name: &str| {
        form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    };
    assert_eq!(field(&form, "To").unwrap(), "+15551234567");
    assert_eq!(field(&form, "From").unwrap(), "+15005550006");
    assert_eq!(field(&form, "Body").unwrap(), "Hi Ana");
    assert_eq!(
        field(&form, "StatusCallback").unwrap(),
        "https://hooks.example.com/twilio/status?user=ana&key=welcome%3Ap_1%3A1%2F1%2Fsend%3Asms",
        "who the message was for rides along, for the status report"
    );
    let form = seen[1].form();
    assert_eq!(field(&form, "To").unwrap(), "whatsapp:+15551234567");
    assert_eq!(field(&form, "From").unwrap(), "whatsapp:+15005550006");
}

#[tokio::test]
async fn server_errors_and_throttling_are_transient_client_errors_permanent() {
    let server = Server::start().await;
    server.script(
        "/2010-04-01/Accounts/AC123/Messages.json",
        vec![
            (503, vec![("retry-after", "3".into())], "down".into()),
            (429, vec![("retry-after", "1".into())], "slow down".into()),
            (
                400,
                vec![],
                r#"{"code":21211,"message":"invalid To"}"#.into(),
            ),
        ],
    );
    let channel = twilio(&server);
    let sms = delivery(Channel::Sms, "+1", json!({"body": "x"}));
    match channel.deliver(&sms).await.unwrap_err() {
        DeliveryError::Transient { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)));
        }
        other => panic!("503 must be transient: {other}"),
    }
    assert!(matches!(
        channel.deliver(&sms).await.unwrap_err(),
        DeliveryError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(1)
    ));
    match channel.deliver(&sms).await.unwrap_err() {
        DeliveryError::Permanent { reason } => assert!(reason.contains("21211"), "{reason}"),
        other => panic!("400 must be permanent: {other}"),
    }
    // Nothing answers at all: transient.
    let closed = TwilioChannel::new(TwilioConfig {
        account_sid: "AC123".into(),
        from: Some("+1".into()),
        base_url: "http://127.0.0.1:9".into(),
        ..TwilioConfig::default()
    });
    assert!(matches!(
        closed.deliver(&sms).await.unwrap_err(),
        DeliveryError::Transient { .. }
    ));
}

#[tokio::test]
async fn webhooks_are_signed_per_standard_webhooks() {
    let server = Server::start().await;
    server.script("/hooks", vec![(204, vec![], String::new())]);
    let secret = format!("whsec_{}", STANDARD.encode(b"a very secret key"));
    let channel = WebhookChannel::new(&WebhookConfig {
        secret: secret.clone(),
        ..WebhookConfig::default()
    });
    let hook = delivery(
        Channel::Webhook,
        "",
        json!({
            "url": format!("{}/hooks/crm", server.base),
            "headers": {"x-team": "growth"},
            "body": {"event": "welcome", "user": "ana"},
        }),
    );
    channel.deliver(&hook).await.unwrap();
    let seen = &server.seen()[0];
    assert_eq!(seen.path, "/hooks/crm");
    assert_eq!(seen.header("content-type").unwrap(), "application/json");
    assert_eq!(seen.header("x-team").unwrap(), "growth");
    assert_eq!(seen.json(), json!({"event": "welcome", "user": "ana"}));
    let id = seen.header("webhook-id").unwrap();
    assert_eq!(id, hook.key);
    let timestamp: i64 = seen.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    // Verify as a receiver would: HMAC-SHA256 over id.timestamp.body.
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(&seen.body);
    let expected = format!(
        "v1,{}",
        STANDARD.encode(signing::hmac_sha256(b"a very secret key", &signed))
    );
    assert_eq!(seen.header("webhook-signature").unwrap(), expected);
}

/// A service account with a fresh RSA key, its token URI on `server`.
fn service_account(
    server: &Server,
) -> (ServiceAccount, openssl::pkey::PKey<openssl::pkey::Public>) {
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let key = openssl::pkey::PKey::from_rsa(rsa).unwrap();
    let pem = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let public =
        openssl::pkey::PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
    (
        ServiceAccount {
            client_email: "waymark@acme.iam.gserviceaccount.com".into(),
            private_key: pem,
            token_uri: format!("{}/token", server.base),
            project_id: Some("acme-app".into()),
        },
        public,
    )
}

#[tokio::test]
async fn fcm_exchanges_a_signed_jwt_for_a_token_once_and_sends_v1_messages() {
    let server = Server::start().await;
    server.script(
        "/token",
        vec![(
            200,
            vec![],
            r#"{"access_token":"ya29.test","expires_in":3600,"token_type":"Bearer"}"#.into(),
        )],
    );
    server.script(
        "/v1/projects/acme-app/messages:send",
        vec![
            (200, vec![], r#"{"name":"projects/acme-app/messages/1"}"#.into()),
            (200, vec![], r#"{"name":"projects/acme-app/messages/2"}"#.into()),
            (404, vec![], r#"{"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#.into()),
        ],
    );
    let (account, public) = service_account(&server);
    let channel = FcmChannel::with_account(
        account,
        &FcmConfig {
            base_url: server.base.clone(),
            ..FcmConfig::default()
        },
    )
    .unwrap();
    let push = delivery(
        Channel::Push,
        "device-token-1",
        json!({"title": "Finish setting up", "body": "Add your name", "data": {"deep_link": "acme://p", "n": 3}}),
    );
    let receipt = channel.deliver(&push).await.unwrap();
    assert_eq!(
        receipt.provider_id.as_deref(),
        Some("projects/acme-app/messages/1")
    );
    channel.deliver(&push).await.unwrap();
    match channel.deliver(&push).await.unwrap_err() {
        DeliveryError::Permanent { reason } => assert!(reason.contains("unregistered"), "{reason}"),
        other => panic!("UNREGISTERED must be permanent: {other}"),
    }

    let seen = server.seen();
    let token_requests: Vec<_> = seen.iter().filter(|s| s.path == "/token").collect();
    assert_eq!(token_requests.len(), 1, "the token is cached");
    let form = token_requests[0].form();
    assert_eq!(
        form[0],
        (
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:jwt-bearer".into()
        )
    );
    let (_, jwt) = &form[1];
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], "waymark@acme.iam.gserviceaccount.com");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(claims["aud"], format!("{}/token", server.base));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public).unwrap();
    verifier
        .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
        .unwrap();
    assert!(
        verifier
            .verify(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
            .unwrap(),
        "the JWT is signed with the service account's key"
    );

    let sends: Vec<_> = seen
        .iter()
        .filter(|s| s.path.ends_with("messages:send"))
        .collect();
    assert_eq!(sends.len(), 3);
    assert_eq!(
        sends[0].header("authorization").unwrap(),
        "Bearer ya29.test"
    );
    let mut data = Map::new();
    data.insert("deep_link".into(), json!("acme://p"));
    data.insert("n".into(), json!("3"));
    data.insert("waymark_key".into(), json!(push.key));
    assert_eq!(
        sends[0].json(),
        json!({"message": {
            "token": "device-token-1",
            "notification": {"title": "Finish setting up", "body": "Add your name"},
            "data": data,
        }})
    );
}
