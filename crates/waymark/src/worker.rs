//! The main job: events from a JSONL source through the durable runtime,
//! timers and deliveries running beside it, until the source ends (and,
//! with `exit_when_idle`, nothing is pending) or a shutdown signal.

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use waymark_channels::LogChannel;
use waymark_journey::load_journey_set;
use waymark_store::FjallStore;

use crate::deploy;
use crate::runtime::{Stats, Waymark};
use crate::source::{JsonlReader, Rejects};
use crate::worker_config::{SourceKind, WorkerConfig};

/// Why the worker stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{0}")]
    Config(String),
    #[error("journeys:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Journeys(Vec<waymark_journey::Error>),
    #[error("store: {0}")]
    Store(#[from] waymark_store::Error),
    #[error("runtime: {0}")]
    Runtime(#[from] crate::runtime::Error),
    #[error("{0}")]
    Deploy(#[from] crate::deploy::DeployError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("a worker task stopped: {0}")]
    Task(String),
}

/// Counts the worker reports (the progress line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub events: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub runtime: Stats,
}

/// A configured worker.
#[derive(Debug)]
pub struct Worker {
    config: WorkerConfig,
    waymark: Arc<Waymark>,
    events: AtomicU64,
    rejected: AtomicU64,
    duplicates: AtomicU64,
}

impl Worker {
    /// Opens the store, loads journeys and channels, and restores the state.
    pub fn open(config: WorkerConfig) -> Result<Self, WorkerError> {
        // Every problem in every file first, then each file deployed: a
        // changed file becomes a new version; paused or archived journeys
        // stay so across restarts.
        load_journey_set(&config.journeys, config.templates.as_deref())
            .map_err(WorkerError::Journeys)?;
        let engine = config.engine_config().map_err(WorkerError::Config)?;
        let store = Arc::new(FjallStore::open(&config.store.path)?);
        for path in &config.journeys {
            let outcome = deploy::deploy(
                store.as_ref(),
                path,
                config.templates.as_deref(),
                chrono::Utc::now(),
            )?;
            if outcome.new_version {
                tracing::info!(journey = %outcome.id, version = outcome.version, "deployed");
            }
        }
        let deployed = deploy::load(store.as_ref())?;
        let log_path = &config.channels.log.path;
        let log = LogChannel::open(log_path).map_err(|source| WorkerError::Io {
            path: log_path.display().to_string(),
            source,
        })?;
        let waymark = Waymark::builder()
            .store(store)
            .deployed(deployed)
            .engine(engine)
            .identity(config.identity.clone())
            .default_channel(Arc::new(log))
            .build()?;
        Ok(Worker {
            config,
            waymark: Arc::new(waymark),
            events: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
        })
    }

    pub fn runtime(&self) -> &Arc<Waymark> {
        &self.waymark
    }

    pub fn stats(&self) -> WorkerStats {
        WorkerStats {
            events: self.events.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            runtime: self.waymark.stats(),
        }
    }

    fn source_name(&self) -> String {
        match (&self.config.source.kind, &self.config.source.path) {
            (SourceKind::File, Some(path)) => format!("file:{}", path.display()),
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
    /// Reads the source to its end (or until `stop`), a commit per batch.
    fn ingest_source(&self, stop: &AtomicBool) -> Result<(), WorkerError> {
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
        let mut reader = JsonlReader::spawn(reader, skip);
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
                tracing::warn!(source = %name, line, reason = %reason, "event refused");
                rejects
                    .record(&name, *line, reason, raw)
                    .map_err(io(rejects_path))?;
            }
            let offset =
                (self.config.source.kind == SourceKind::File).then_some((name.as_str(), batch.end));
            let report = self.waymark.ingest_batch(&batch.events, offset)?;
            self.events
                .fetch_add(report.processed as u64, Ordering::Relaxed);
            self.duplicates
                .fetch_add(report.duplicates as u64, Ordering::Relaxed);
            self.rejected.fetch_add(
                (batch.rejects.len() + report.unresolvable) as u64,
                Ordering::Relaxed,
            );
        }
        Ok(())
    }

    fn idle(&self) -> bool {
        let stats = self.waymark.stats();
        stats.timers_pending == 0 && stats.outbox_pending == 0
    }

    /// Runs until the source ends and (with `exit_when_idle`) nothing is
    /// pending, or until `shutdown` resolves; then finishes the batch in
    /// hand, delivers what is due and returns.
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), WorkerError> {
        let stop = Arc::new(AtomicBool::new(false));
        let tick = Duration::from_millis(self.config.runtime.tick_ms.max(1));
        let done = Arc::new(tokio::sync::Notify::new());
        let background = {
            let waymark = Arc::clone(&self.waymark);
            let done = Arc::clone(&done);
            tokio::spawn(async move { waymark.run(done.notified(), tick).await })
        };
        let mut ingest = {
            let worker = Arc::clone(&self);
            let stop = Arc::clone(&stop);
            tokio::task::spawn_blocking(move || worker.ingest_source(&stop))
        };
        tokio::pin!(shutdown);
        let mut source_done = false;
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("shutdown requested: finishing the batch in hand");
                    stop.store(true, Ordering::SeqCst);
                    break;
                }
                result = &mut ingest, if !source_done => {
                    result.map_err(|e| WorkerError::Task(e.to_string()))??;
                    source_done = true;
                    tracing::info!("source exhausted");
                }
                () = tokio::time::sleep(tick), if source_done && self.config.runtime.exit_when_idle => {
                    if self.idle() {
                        break;
                    }
                }
            }
        }
        if !source_done {
            ingest
                .await
                .map_err(|e| WorkerError::Task(e.to_string()))??;
        }
        done.notify_one();
        background
            .await
            .map_err(|e| WorkerError::Task(e.to_string()))??;
        Ok(())
    }
}
