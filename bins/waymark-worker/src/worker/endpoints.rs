//! The worker's HTTP endpoints: the ops endpoints (`ops.listen`) and the
//! front door (`[http]`), each on its own thread and runtime.

use std::sync::Arc;

use super::{SourceKind, Worker, WorkerError};

impl Worker {
    /// Serves the ops endpoints (`ops.listen`) and the front door
    /// (`[http]`, with the ops endpoints beside it), each on its own thread
    /// and runtime: probes, scrapes and requests are answered while ingest
    /// and deliveries keep the worker's threads busy. They stop with `done`.
    pub(super) fn start_endpoints(
        self: &Arc<Self>,
        done: &Arc<tokio::sync::Notify>,
    ) -> Result<Vec<tokio::task::JoinHandle<Result<(), WorkerError>>>, WorkerError> {
        let health = self
            .kafka
            .as_ref()
            .filter(|_| self.config.source.kind == SourceKind::Kafka)
            .map(|parts| Arc::clone(&parts.health));
        let metrics = self.kafka.as_ref().map_or_else(
            || Arc::new(waymark_kafka::Metrics::new()),
            |parts| Arc::clone(&parts.metrics),
        );
        let ops = crate::ops::ops_router(health, metrics, Arc::clone(&self.waymark));
        let mut endpoints = Vec::new();
        if let Some(listen) = &self.config.ops.listen {
            endpoints.push((listen.clone(), ops.clone(), "ops"));
        }
        if let Some(http) = &self.config.http {
            let sink: Box<dyn waymark_http::EventSink> = match self.config.source.kind {
                SourceKind::Kafka => {
                    let kafka = &self.config.kafka;
                    let topic = kafka.topics.input.first().cloned().ok_or_else(|| {
                        WorkerError::Config(
                            "kafka.topics.input: no input topic for [http]".to_owned(),
                        )
                    })?;
                    let publisher =
                        waymark_kafka::Publisher::new(&waymark_kafka::client_config(kafka), 1)
                            .map_err(|e| WorkerError::Kafka(format!("http producer: {e}")))?;
                    Box::new(crate::front::KafkaInputSink {
                        publisher: Arc::new(publisher),
                        topic,
                        enter_topic: kafka.topics.enter.clone(),
                    })
                }
                SourceKind::File | SourceKind::Stdin => Box::new(
                    waymark_http::RuntimeSink::new(Arc::clone(&self.waymark))
                        .counting(Arc::clone(&self.counters)),
                ),
            };
            let front = waymark_http::Front::new(
                http.clone(),
                sink,
                self.config.unsubscribe.as_ref().map(|u| {
                    waymark_channels::signing::UnsubscribeSigner::new(&u.secret, &u.base_url)
                }),
            );
            let mut app = waymark_http::router(Arc::new(front)).merge(ops);
            if http.admin_enabled() {
                let admin = waymark_http::Admin::new(
                    Arc::clone(&self.waymark),
                    waymark_http::AdminTokens::new(&http.read_tokens, &http.admin_tokens),
                    Some(Arc::clone(&self.counters)),
                );
                // Beside the front door, whose fallback answers any other
                // path with its JSON 404.
                app = waymark_http::admin_router(Arc::new(admin)).merge(app);
            }
            endpoints.push((http.listen.clone(), app, "http"));
        }
        let mut tasks = Vec::new();
        for (listen, app, what) in endpoints {
            let failed = |source| WorkerError::Io {
                path: format!("{what}.listen {listen}"),
                source,
            };
            let listener = std::net::TcpListener::bind(&listen).map_err(failed)?;
            listener.set_nonblocking(true).map_err(failed)?;
            let bound = listener.local_addr().map_err(failed)?;
            tracing::info!(address = %bound, endpoint = what, "serving");
            // Listening for `done` from now on (see `run`).
            let done = Arc::clone(done).notified_owned();
            tasks.push(tokio::task::spawn_blocking(move || {
                let io = |source| WorkerError::Io {
                    path: format!("{what} endpoint"),
                    source,
                };
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(io)?;
                runtime
                    .block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener)?;
                        crate::ops::serve(listener, app, done).await
                    })
                    .map_err(io)
            }));
        }
        Ok(tasks)
    }
}
