//! A real HTTP server on loopback that records every request and answers
//! from a script, for the provider tests.
#![allow(clippy::unwrap_used, dead_code)] // test support: a failed unwrap is a failed test

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A scripted answer: status, headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

/// Answers for the paths under a prefix.
type Script = (String, VecDeque<Answer>);

#[derive(Debug, Clone, Default)]
pub struct Server {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Answers by path prefix, used in order; the last one repeats.
    script: Arc<Mutex<Vec<Script>>>,
    pub base: String,
}

impl Server {
    pub async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut server = Server {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Server::default()
        };
        let state = server.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { state.answer(method, uri, headers, body) }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        server.base = server.base.clone();
        server
    }

    /// Answers requests whose path starts with `prefix` with `answers`.
    pub fn script(&self, prefix: &str, answers: Vec<Answer>) {
        self.script
            .lock()
            .unwrap()
            .push((prefix.to_owned(), answers.into()));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn answer(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, HeaderMap, String) {
        let path = uri.path().to_owned();
        self.seen.lock().unwrap().push(Seen {
            method: method.to_string(),
            path: path.clone(),
            headers,
            body: body.to_vec(),
        });
        let mut script = self.script.lock().unwrap();
        let answer = script
            .iter_mut()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .and_then(|(_, answers)| {
                if answers.len() > 1 {
                    answers.pop_front()
                } else {
                    answers.front().cloned()
                }
            })
            .unwrap_or((404, vec![], "no script".to_owned()));
        let (status, extra, body) = answer;
        let mut headers = HeaderMap::new();
        for (name, value) in extra {
            headers.insert(name, value.parse().unwrap());
        }
        (StatusCode::from_u16(status).unwrap(), headers, body)
    }
}
