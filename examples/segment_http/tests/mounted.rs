//! The front door mounted beside the service's own route, over a socket.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use waymark::Waymark;
use waymark_http::HttpConfig;
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

fn exchange(addr: std::net::SocketAddr, request: String) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_serves_its_own_route_and_the_front_door() {
    let dir = tempfile::tempdir().unwrap();
    let journey = parse_journey(
        Path::new("j.yaml"),
        "id: j\nentry: { event: Signed Up }\nnodes:\n  - { id: hi, type: wait, duration: 1d }\n",
    )
    .unwrap();
    let waymark = Arc::new(
        Waymark::builder()
            .store(Arc::new(FjallStore::open(dir.path()).unwrap()))
            .journeys([journey])
            .build()
            .unwrap(),
    );
    let config = HttpConfig {
        write_keys: vec!["dev-key".into()],
        ..HttpConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = segment_http::app(Arc::clone(&waymark), config, None);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let own = tokio::task::spawn_blocking(move || {
        exchange(
            addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
        )
    });
    assert!(own.await.unwrap().contains("our own service"));
    let body = r#"{"userId":"ana","event":"Signed Up"}"#;
    let track = tokio::task::spawn_blocking(move || {
        exchange(
            addr,
            format!(
                "POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ZGV2LWtleTo=\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    });
    assert!(track.await.unwrap().starts_with("HTTP/1.1 200"));
    assert_eq!(waymark.stats().instances_active, 1);
}
