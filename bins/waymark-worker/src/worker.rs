//! The main job: events from a source (a JSONL file, stdin, or Kafka
//! topics) through the durable runtime, timers and deliveries running
//! beside it, until the source ends (and, with `exit_when_idle`, nothing is
//! pending) or a shutdown signal.

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use waymark_channels::{Deliver, LogChannel};
use waymark_journey::{JourneySet, load_workspace};
use waymark_store::Store;

use crate::config::{DefaultChannel, SourceKind, WorkerConfig};
use crate::wiring::{open_kafka, providers};
use waymark::deploy;
use waymark::runtime::{Stats, Waymark};
use waymark::source::{JsonlReader, Rejects, SourceCounters};

/// Why the worker stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{0}")]
    Config(String),
    #[error("journeys:\n{0}")]
    Journeys(waymark_journey::Errors),
    #[error("store: {0}")]
    Store(#[from] waymark_store::Error),
    #[error("runtime: {0}")]
    Runtime(#[from] waymark::runtime::Error),
    #[error("{0}")]
    Deploy(#[from] waymark::deploy::DeployError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("a worker task stopped: {0}")]
    Task(String),
    #[error("the Kafka side was not opened")]
    NoKafka,
    #[error("kafka: {0}")]
    Kafka(String),
    #[error("kafka source: {0}")]
    Source(#[from] waymark_kafka::SourceError),
    #[error("shutdown: not drained within {0:?} (runtime.drain_timeout_ms)")]
    DrainTimeout(Duration),
}

/// Counts the worker reports (the progress line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub events: u64,
    /// Lines or messages refused (to the rejects file or dead-letter topic).
    pub rejected: u64,
    pub duplicates: u64,
    /// Kafka messages read again after a restart and skipped.
    pub replayed: u64,
    pub runtime: Stats,
}

mod endpoints;

/// The Kafka side of a worker: the shared producer, metrics, health.
#[derive(Debug)]
pub(crate) struct KafkaParts {
    pub(crate) publisher: Arc<waymark_kafka::Publisher>,
    pub(crate) metrics: Arc<waymark_kafka::Metrics>,
    pub(crate) health: Arc<waymark_kafka::Health>,
}

/// A configured worker.
#[derive(Debug)]
pub struct Worker {
    config: WorkerConfig,
    /// For live deploys from the journeys topic.
    store: Arc<dyn Store>,
    waymark: Arc<Waymark>,
    /// `source.max_clock_skew`, parsed when the worker opened.
    max_clock_skew: chrono::TimeDelta,
    /// Wakes the line source (file, stdin) while it waits for input.
    reader_wake: parking_lot::Mutex<Option<waymark::source::ReaderWake>>,
    counters: Arc<SourceCounters>,
    kafka: Option<KafkaParts>,
}

impl Worker {
    /// Opens the store, loads journeys and channels, and restores the
    /// state; with Kafka, creates the topics (if configured to) and reads
    /// back what earlier runs published.
    pub async fn open(config: WorkerConfig) -> Result<Self, WorkerError> {
        waymark_core::set_log_identifiers(config.runtime.log_identifiers);
        // Every problem in every file first, then each file deployed: a
        // changed file becomes a new version; paused or archived journeys
        // stay so across restarts.
        let JourneySet {
            journeys,
            templates,
            segments,
        } = load_workspace(
            &config.journeys,
            config.templates.as_deref(),
            config.segments.as_deref(),
        )
        .map_err(WorkerError::Journeys)?;
        let engine = config.engine_config().map_err(WorkerError::Config)?;
        let policies = config
            .policies
            .check()
            .map_err(|problems| WorkerError::Config(problems.join("\n")))?;
        let unknown_topics = waymark::check_topics(&journeys, &policies);
        if !unknown_topics.is_empty() {
            return Err(WorkerError::Config(unknown_topics.join("\n")));
        }
        if let Some(problems) = config.http.as_ref().map(|h| h.problems())
            && !problems.is_empty()
        {
            return Err(WorkerError::Config(problems.join("\n")));
        }
        let max_clock_skew = config
            .source
            .max_clock_skew()
            .map_err(WorkerError::Config)?;
        let store = config.store.open()?;
        let mut fresh = Vec::new();
        for (path, journey) in config.journeys.iter().zip(journeys) {
            let outcome = deploy::deploy_loaded(store.as_ref(), journey, path, chrono::Utc::now())?;
            if outcome.new_version {
                tracing::info!(journey = %outcome.id, version = outcome.version, "deployed");
                fresh.push(outcome.id);
            }
        }
        let deployed = deploy::load(store.as_ref())?;
        let mut builder = Waymark::builder()
            .store(Arc::clone(&store))
            .deployed(deployed)
            .engine(engine)
            .identity(config.identity.clone())
            .templates(templates)
            .segments(segments.clone())
            .policies(policies)
            .options(waymark::runtime::RuntimeOptions {
                cache_bytes: config.store.cache_mb.saturating_mul(1 << 20),
                shared: config.store.shared,
                ..waymark::runtime::RuntimeOptions::default()
            });
        if let Some(unsubscribe) = &config.unsubscribe {
            builder = builder.unsubscribe(waymark_channels::signing::UnsubscribeSigner::new(
                &unsubscribe.secret,
                &unsubscribe.base_url,
            ));
        }

        let uses_kafka = config.source.kind == SourceKind::Kafka
            || config.channels.default == DefaultChannel::Kafka;
        let kafka = if uses_kafka {
            let (parts, channel, records) = open_kafka(&config).await?;
            builder = builder.records(records);
            if let Some(channel) = channel {
                builder = builder.default_channel(channel);
            }
            Some(parts)
        } else {
            if let Some(path) = &config.analytics.path {
                let sink = waymark::runtime::JsonlRecordSink::open(path).map_err(io(path))?;
                builder = builder.records(Arc::new(sink));
            }
            None
        };
        if config.channels.default == DefaultChannel::Log {
            let log_path = &config.channels.log.path;
            let log = LogChannel::open(log_path).map_err(|source| WorkerError::Io {
                path: log_path.display().to_string(),
                source,
            })?;
            let log: Arc<dyn Deliver> = Arc::new(log);
            let log: Arc<dyn Deliver> = match &kafka {
                Some(parts) => Arc::new(waymark_kafka::CountingChannel::new(
                    log,
                    Arc::clone(&parts.metrics),
                )),
                None => log,
            };
            builder = builder.default_channel(log);
        }
        for (channel, provider) in providers(&config)? {
            let provider: Arc<dyn Deliver> = match &kafka {
                Some(parts) => Arc::new(waymark_kafka::CountingChannel::new(
                    provider,
                    Arc::clone(&parts.metrics),
                )),
                None => provider,
            };
            builder = builder.channel(channel, provider);
        }
        if config.runtime.tick_ms.is_some() {
            tracing::warn!(
                "runtime.tick_ms is ignored: timers and deliveries wake the worker when due"
            );
        }
        let waymark = builder.build()?;
        // A new version with a time-based entry: timers for people known already.
        for id in &fresh {
            waymark.schedule_deployed(id)?;
        }
        Ok(Worker {
            config,
            store,
            waymark: Arc::new(waymark),
            max_clock_skew,
            reader_wake: parking_lot::Mutex::default(),
            counters: Arc::default(),
            kafka,
        })
    }

    pub fn runtime(&self) -> &Arc<Waymark> {
        &self.waymark
    }

    /// After [`Worker::run`] returned `Ok` (everything committed, every
    /// task stopped), for a process about to exit: see
    /// [`Waymark::leak_state_for_exit`].
    pub fn leak_state_for_exit(&self) {
        self.waymark.leak_state_for_exit();
    }

    pub fn stats(&self) -> WorkerStats {
        let c = &self.counters;
        WorkerStats {
            events: c.events.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            replayed: c.replayed.load(Ordering::Relaxed),
            runtime: self.waymark.stats(),
        }
    }

    fn source_name(&self) -> String {
        match (&self.config.source.kind, &self.config.source.path) {
            (SourceKind::File, Some(path)) => format!("file:{}", path.display()),
            (SourceKind::Kafka, _) => format!("kafka:{}", self.config.kafka.topics.input.join(",")),
            _ => "stdin".to_owned(),
        }
    }
}

/// An IO error about `path`.
fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> WorkerError + '_ {
    move |source| WorkerError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Worker {
    /// Reads the source to its end (or until `stop`).
    fn ingest(&self, stop: &AtomicBool) -> Result<(), WorkerError> {
        match self.config.source.kind {
            SourceKind::Kafka => self.ingest_kafka(stop),
            SourceKind::File | SourceKind::Stdin => self.ingest_lines(stop),
        }
    }

    /// Consumes the input topics until `stop`, a commit per batch.
    fn ingest_kafka(&self, stop: &AtomicBool) -> Result<(), WorkerError> {
        let parts = self.kafka.as_ref().ok_or(WorkerError::NoKafka)?;
        let source = waymark_kafka::KafkaSource::subscribe(
            &self.config.kafka,
            waymark_kafka::SourceParts {
                waymark: Arc::clone(&self.waymark),
                publisher: Arc::clone(&parts.publisher),
                metrics: Arc::clone(&parts.metrics),
                health: Arc::clone(&parts.health),
                counters: Arc::clone(&self.counters),
            },
            (
                self.config.source.batch_size,
                Duration::from_millis(self.config.source.batch_wait_ms),
            ),
            self.max_clock_skew,
        )?;
        source.run(stop)?;
        Ok(())
    }

    /// Starts what runs beside a Kafka source: the journeys- and
    /// enter-topic watchers. They stop with `stop` / `done`.
    async fn start_kafka_sidecars(
        self: &Arc<Self>,
        stop: &Arc<AtomicBool>,
    ) -> Result<Vec<tokio::task::JoinHandle<Result<(), WorkerError>>>, WorkerError> {
        let Some(parts) = &self.kafka else {
            return Ok(Vec::new());
        };
        let mut tasks = Vec::new();
        if self.config.source.kind == SourceKind::Kafka {
            let (kafka, store, waymark, metrics, stopped) = (
                self.config.kafka.clone(),
                Arc::clone(&self.store),
                Arc::clone(&self.waymark),
                Arc::clone(&parts.metrics),
                Arc::clone(stop),
            );
            tasks.push(tokio::task::spawn_blocking(move || {
                waymark_kafka::watch_enter(&kafka, store, waymark, metrics, &stopped)
                    .map_err(WorkerError::from)
            }));
            let (kafka, store, waymark, metrics, stop) = (
                self.config.kafka.clone(),
                Arc::clone(&self.store),
                Arc::clone(&self.waymark),
                Arc::clone(&parts.metrics),
                Arc::clone(stop),
            );
            tasks.push(tokio::task::spawn_blocking(move || {
                waymark_kafka::watch_journeys(&kafka, store, waymark, metrics, &stop)
                    .map_err(WorkerError::from)
            }));
        }
        Ok(tasks)
    }

    /// Reads the JSONL source to its end (or until `stop`), a commit per batch.
    fn ingest_lines(&self, stop: &AtomicBool) -> Result<(), WorkerError> {
        let name = self.source_name();
        let rejects_path = &self.config.source.rejects;
        let mut rejects = Rejects::open(rejects_path).map_err(io(rejects_path))?;
        let reader: Box<dyn BufRead + Send> =
            match (&self.config.source.kind, &self.config.source.path) {
                (SourceKind::File, Some(path)) => Box::new(std::io::BufReader::new(
                    std::fs::File::open(path).map_err(io(path))?,
                )),
                _ => Box::new(std::io::BufReader::new(std::io::stdin())),
            };
        // A file resumes after the lines already committed; stdin cannot.
        let skip = if self.config.source.kind == SourceKind::File {
            self.waymark.source_offset(&name).unwrap_or(0)
        } else {
            0
        };
        if skip > 0 {
            tracing::info!(source = %name, lines = skip, "resuming after committed lines");
        }
        let source_path = self.config.source.path.clone().unwrap_or_default();
        let mut reader = JsonlReader::spawn(reader, skip).max_clock_skew(self.max_clock_skew);
        *self.reader_wake.lock() = Some(reader.waker());
        if stop.load(Ordering::SeqCst) {
            return Ok(()); // stopped before the reader could be woken
        }
        let wait = std::time::Duration::from_millis(self.config.source.batch_wait_ms);
        while !stop.load(Ordering::SeqCst) {
            let Some(batch) = reader
                .next_batch(self.config.source.batch_size, wait)
                .map_err(io(&source_path))?
            else {
                break;
            };
            if batch.is_empty() {
                continue; // nothing arrived in time: look at `stop` again
            }
            for (line, reason, raw) in &batch.rejects {
                tracing::warn!(source = %name, line, reason = %waymark_core::redact(reason), "event refused");
                rejects
                    .record(&name, *line, reason, raw)
                    .map_err(io(rejects_path))?;
            }
            let offset =
                (self.config.source.kind == SourceKind::File).then_some((name.as_str(), batch.end));
            let report = self.waymark.ingest_batch(&batch.events, offset)?;
            self.counters.count(&report, batch.rejects.len());
        }
        Ok(())
    }

    fn idle(&self) -> bool {
        let stats = self.waymark.stats();
        stats.timers_pending == 0 && stats.outbox_pending == 0 && stats.records_pending == 0
    }

    /// Runs until the source ends and (with `exit_when_idle`) nothing is
    /// pending, or until `shutdown` resolves; then finishes the batch in
    /// hand, commits, delivers what is due and returns, within
    /// `runtime.drain_timeout_ms`.
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), WorkerError> {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(tokio::sync::Notify::new());
        let background = {
            let waymark = Arc::clone(&self.waymark);
            // Made now, not when the task first runs: `notify_waiters`
            // reaches a `Notified` from its creation on.
            let shutdown = Arc::clone(&done).notified_owned();
            tokio::spawn(async move { waymark.run(shutdown).await })
        };
        let mut sidecars = self.start_kafka_sidecars(&stop).await?;
        sidecars.extend(self.start_endpoints(&done)?);
        let mut ingest = {
            let worker = Arc::clone(&self);
            let stop = Arc::clone(&stop);
            tokio::task::spawn_blocking(move || worker.ingest(&stop))
        };
        tokio::pin!(shutdown);
        let mut source_done = false;
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("shutdown requested: finishing the batch in hand");
                    break;
                }
                result = &mut ingest, if !source_done => {
                    let outcome = result
                        .map_err(|e| WorkerError::Task(e.to_string()))
                        .and_then(|r| r);
                    if let Err(error) = outcome {
                        // Stop the sidecars and the runtime loop too, and
                        // wait for them (within the drain deadline): the
                        // process exits only once their threads are done.
                        stop.store(true, Ordering::SeqCst);
                        done.notify_waiters();
                        done.notify_one();
                        let deadline = Duration::from_millis(self.config.runtime.drain_timeout_ms);
                        let wind_down = async {
                            if let Err(loop_error) = background.await {
                                tracing::warn!(error = %loop_error, "the runtime loop ended badly");
                            }
                            for task in sidecars {
                                let _ = task.await;
                            }
                        };
                        if tokio::time::timeout(deadline, wind_down).await.is_err() {
                            tracing::warn!(?deadline, "the runtime loop did not stop in time");
                        }
                        return Err(error);
                    }
                    source_done = true;
                    tracing::info!("source exhausted");
                }
                // Checked whenever the runtime's loops settle (no polling).
                () = self.waymark.settled(), if source_done && self.config.runtime.exit_when_idle => {
                    if self.idle() {
                        break;
                    }
                }
            }
        }
        stop.store(true, Ordering::SeqCst);
        // A line source waiting for input looks at `stop` once woken.
        if let Some(reader) = self.reader_wake.lock().as_ref() {
            reader.wake();
        }
        let deadline = Duration::from_millis(self.config.runtime.drain_timeout_ms);
        let drain = async {
            if !source_done {
                ingest
                    .await
                    .map_err(|e| WorkerError::Task(e.to_string()))??;
            }
            // Both the runtime loop and the ops endpoint wait on `done`.
            done.notify_waiters();
            done.notify_one();
            background
                .await
                .map_err(|e| WorkerError::Task(e.to_string()))??;
            for task in sidecars {
                task.await.map_err(|e| WorkerError::Task(e.to_string()))??;
            }
            Ok::<(), WorkerError>(())
        };
        tokio::time::timeout(deadline, drain)
            .await
            .map_err(|_| WorkerError::DrainTimeout(deadline))?
    }
}
