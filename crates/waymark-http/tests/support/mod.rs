//! Test support: a runtime on fjall, and the routers in front of it on a
//! loopback port.
#![allow(clippy::unwrap_used, dead_code)] // test support: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use waymark::Waymark;
use waymark_channels::signing::UnsubscribeSigner;
use waymark_http::{Front, HttpConfig, RuntimeSink, router};
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

/// A runtime whose store is in `dir`, running `journeys` (YAML texts).
pub fn runtime(dir: &Path, journeys: &[&str]) -> Arc<Waymark> {
    let journeys: Vec<_> = journeys
        .iter()
        .map(|text| parse_journey(Path::new("j.yaml"), text).unwrap())
        .collect();
    Arc::new(
        Waymark::builder()
            .store(Arc::new(FjallStore::open(dir).unwrap()))
            .journeys(journeys)
            .build()
            .unwrap(),
    )
}

/// Serves the routers into `waymark` on a free loopback port.
pub async fn serve(
    waymark: &Arc<Waymark>,
    config: HttpConfig,
    unsubscribe: Option<UnsubscribeSigner>,
) -> SocketAddr {
    let front = Front::new(
        config,
        Box::new(RuntimeSink::new(Arc::clone(waymark))),
        unsubscribe,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(Arc::new(front))).await });
    addr
}

/// One HTTP/1.1 request on its own connection, with extra header lines
/// (each ending in CRLF): the status and the body as text.
pub fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A response body as JSON (null when it is none).
pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}
