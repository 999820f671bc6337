//! `segment-http`: an axum service of one's own with Waymark's HTTP front
//! door (`waymark-http`) mounted in it.
//!
//! ```sh
//! cargo run -p segment-http -- --journey examples/quickstart/journeys/welcome.yaml \
//!   --templates examples/quickstart/templates --write-key dev-key
//! curl -u dev-key: localhost:8088/v1/track -H 'content-type: application/json' \
//!   -d '{"userId":"ana","event":"Signed Up","context":{"traits":{"email":"ana@example.com"}}}'
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use segment_http::app;
use waymark::Waymark;
use waymark_channels::LogChannel;
use waymark_channels::signing::UnsubscribeSigner;
use waymark_http::HttpConfig;
use waymark_journey::load_journey_set;
use waymark_store::FjallStore;

#[derive(Parser)]
struct Cli {
    #[arg(long = "journey", required = true)]
    journeys: Vec<PathBuf>,
    #[arg(long)]
    templates: Option<PathBuf>,
    #[arg(long, default_value = "waymark-data/http-store")]
    store: PathBuf,
    #[arg(long, default_value = "waymark-data/http-deliveries.jsonl")]
    log: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: SocketAddr,
    /// Accepted write keys (repeat for several).
    #[arg(long = "write-key", required = true)]
    write_keys: Vec<String>,
    /// The secret of unsubscribe links (the worker's `unsubscribe.secret`);
    /// serves `/unsubscribe`.
    #[arg(long, env = "WAYMARK_UNSUBSCRIBE_SECRET")]
    unsubscribe_secret: Option<String>,
    /// This service's public URL (for unsubscribe links and Twilio's signatures).
    #[arg(long, default_value = "http://127.0.0.1:8088")]
    public_url: String,
    /// Twilio's auth token; serves `/twilio/status`.
    #[arg(long, env = "TWILIO_AUTH_TOKEN")]
    twilio_auth_token: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let (journeys, _) = load_journey_set(&cli.journeys, cli.templates.as_deref())?;
    let waymark = Arc::new(
        Waymark::builder()
            .store(Arc::new(FjallStore::open(&cli.store)?))
            .journeys(journeys)
            .default_channel(Arc::new(LogChannel::open(&cli.log)?))
            .build()?,
    );
    let background = {
        let waymark = Arc::clone(&waymark);
        tokio::spawn(async move { waymark.run(shutdown()).await })
    };
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .context("cannot listen")?;
    tracing::info!(address = %cli.listen, "listening");
    let config = HttpConfig {
        listen: cli.listen.to_string(),
        write_keys: cli.write_keys,
        public_url: Some(cli.public_url.clone()),
        twilio_auth_token: cli.twilio_auth_token,
        ..HttpConfig::default()
    };
    let unsubscribe = cli
        .unsubscribe_secret
        .as_deref()
        .map(|secret| UnsubscribeSigner::new(secret, &format!("{}/unsubscribe", cli.public_url)));
    axum::serve(listener, app(waymark, config, unsubscribe))
        .with_graceful_shutdown(shutdown())
        .await?;
    background.await??;
    Ok(())
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
