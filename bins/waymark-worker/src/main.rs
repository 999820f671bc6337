//! `waymark-worker`: runs Waymark's main job (Kafka, file or stdin source). Thin: arguments, config,
//! logging, signals and the progress line; the work is the library's `Worker`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use waymark_worker::{Worker, WorkerConfig};

/// mimalloc: the runtime allocates and frees many small values per event,
/// where glibc's allocator spent a third of the ingest time. Built without
/// transparent huge pages (`no_thp`): zeroing fresh huge pages cost a
/// quarter of the delivery loop's CPU (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "waymark-worker",
    version,
    about = "Drive Waymark journeys from Kafka topics, a JSONL file or stdin"
)]
struct Cli {
    /// The worker configuration (TOML); any key can be overridden by a
    /// WAYMARK_<SECTION>__<KEY> environment variable.
    #[arg(long, default_value = "waymark.toml")]
    config: PathBuf,
    /// Print the effective configuration (file + environment) and exit.
    #[arg(long)]
    dump_config: bool,
    /// No progress line on stderr.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WAYMARK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = WorkerConfig::load(&cli.config, std::env::vars())?;
    if cli.dump_config {
        std::io::stdout().write_all(config.to_toml().as_bytes())?;
        return Ok(());
    }
    let drain = Duration::from_millis(config.runtime.drain_timeout_ms);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let signalled: Arc<std::sync::OnceLock<Instant>> = Arc::default();
    let signal = Arc::clone(&signalled);
    let result = runtime.block_on(async move {
        let worker = Arc::new(
            Worker::open(config)
                .await
                .context("cannot start the worker")?,
        );
        let progress = (!cli.quiet).then(|| tokio::spawn(progress_line(Arc::clone(&worker))));
        let shutdown = async move {
            shutdown_signal().await;
            let _ = signal.set(Instant::now());
        };
        let result = Arc::clone(&worker).run(shutdown).await;
        if let Some(task) = progress {
            task.abort();
        }
        if !cli.quiet {
            print_progress(&worker, 0.0, true);
        }
        if result.is_ok() {
            // All committed and stopped: exit without freeing the state
            // value by value (seconds for millions of people).
            worker.leak_state_for_exit();
        }
        result.map_err(anyhow::Error::from)
    });
    // Dropping a runtime waits for its blocking threads, however long a
    // dead broker keeps one of them: after a signal, wait only for what is
    // left of the drain deadline (everything acknowledged is committed by
    // then, or the worker said it was not).
    let left = signalled
        .get()
        .map_or(drain, |at| drain.saturating_sub(at.elapsed()));
    runtime.shutdown_timeout(left);
    result
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// Rewrites one status line on stderr every second.
async fn progress_line(worker: Arc<Worker>) {
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let events = worker.stats().events;
        let rate = (events - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), events);
        print_progress(&worker, rate, false);
    }
}

fn print_progress(worker: &Worker, rate: f64, last: bool) {
    let s = worker.stats();
    let line = format!(
        "\r{} events ({rate:.0}/s), {} rejected, {} duplicates | {} instances active, {} sends, {} timers pending, {} deliveries pending, {} failed{}",
        s.events,
        s.rejected,
        s.duplicates,
        s.runtime.instances_active,
        s.runtime.sends_total,
        s.runtime.timers_pending,
        s.runtime.outbox_pending,
        s.runtime.outbox_failed,
        if last { "\n" } else { "" },
    );
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.flush();
}
