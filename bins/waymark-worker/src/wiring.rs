//! Wiring the worker's outside world from its config: the channel
//! providers (`[channels.*]`) and the Kafka side (topics, producer,
//! deliveries channel, analytics sink).

use std::sync::Arc;

use waymark_channels::Deliver;
use waymark_core::Channel;

use crate::config::{DefaultChannel, WorkerConfig};
use crate::worker::{KafkaParts, WorkerError};

/// The providers configured in `[channels.*]`.
type Providers = Vec<(Channel, Arc<dyn Deliver>)>;

pub(crate) fn providers(config: &WorkerConfig) -> Result<Providers, WorkerError> {
    use waymark_channels::{FcmChannel, SmtpChannel, TwilioChannel, WebhookChannel};
    let c = &config.channels;
    let mut out: Vec<(Channel, Arc<dyn Deliver>)> = Vec::new();
    if let Some(email) = &c.email {
        let smtp = SmtpChannel::new(email).map_err(|e| WorkerError::Config(e.to_string()))?;
        out.push((Channel::Email, Arc::new(smtp)));
    }
    if let Some(sms) = &c.sms {
        out.push((Channel::Sms, Arc::new(TwilioChannel::new(sms.clone()))));
    }
    if let Some(whatsapp) = &c.whatsapp {
        out.push((
            Channel::Whatsapp,
            Arc::new(TwilioChannel::new(whatsapp.clone())),
        ));
    }
    if let Some(push) = &c.push {
        let fcm = FcmChannel::new(push)
            .map_err(|e| WorkerError::Config(format!("channels.push: {e}")))?;
        out.push((Channel::Push, Arc::new(fcm)));
    }
    if let Some(webhook) = &c.webhook {
        out.push((Channel::Webhook, Arc::new(WebhookChannel::new(webhook))));
    }
    Ok(out)
}

/// Opens the Kafka side: topics (when configured to create them), the
/// shared producer after reading back what earlier runs published, the
/// deliveries channel (when it is the default) and the analytics sink.
pub(crate) async fn open_kafka(
    config: &WorkerConfig,
) -> Result<
    (
        KafkaParts,
        Option<Arc<dyn Deliver>>,
        Arc<dyn waymark::runtime::RecordSink>,
    ),
    WorkerError,
> {
    use waymark_kafka::{KafkaChannel, Publisher};
    let kafka = &config.kafka;
    let failed = |what: &str, e: &dyn std::fmt::Display| WorkerError::Kafka(format!("{what}: {e}"));
    if kafka.create_topics {
        waymark_kafka::ensure_topics(kafka)
            .await
            .map_err(|e| failed("creating topics", &e))?;
    }
    let client = waymark_kafka::client_config(kafka);
    // Remember about as many keys as the read-back can find, and more.
    let remember = usize::try_from(kafka.readback.max(1))
        .unwrap_or(usize::MAX)
        .saturating_mul(kafka.partitions.max(1).unsigned_abs() as usize)
        .saturating_mul(4);
    let publisher =
        Arc::new(Publisher::new(&client, remember).map_err(|e| failed("producer", &e))?);
    let deliveries_on_kafka = config.channels.default == DefaultChannel::Kafka;
    let mut topics = Vec::new();
    if deliveries_on_kafka {
        topics.push(kafka.topics.deliveries.clone());
    }
    let readback = kafka.readback;
    let reader = Arc::clone(&publisher);
    tokio::task::spawn_blocking(move || {
        topics
            .iter()
            .try_for_each(|topic| reader.read_back(&client, topic, readback).map(|_| ()))
    })
    .await
    .map_err(|e| WorkerError::Task(e.to_string()))?
    .map_err(|e| failed("reading back", &e))?;
    let metrics = Arc::new(waymark_kafka::Metrics::new());
    let channel = deliveries_on_kafka.then(|| {
        let channel: Arc<dyn Deliver> = Arc::new(KafkaChannel::new(
            Arc::clone(&publisher),
            kafka.topics.deliveries.clone(),
        ));
        Arc::new(waymark_kafka::CountingChannel::new(
            channel,
            Arc::clone(&metrics),
        )) as Arc<dyn Deliver>
    });
    let records = Arc::new(waymark_kafka::AnalyticsTopic::new(
        Arc::clone(&publisher),
        kafka.topics.analytics.clone(),
    ));
    let parts = KafkaParts {
        publisher,
        metrics,
        health: Arc::new(waymark_kafka::Health::new(config.ops.ready_max_lag)),
    };
    Ok((parts, channel, records))
}
