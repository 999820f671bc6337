#![allow(clippy::print_stdout, clippy::unwrap_used)]
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::time::Duration;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (topic, needle) = (&args[1], &args[2]);
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", "127.0.0.1:19092")
        .set("group.id", format!("dump-{}", std::process::id()))
        .set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer = c.create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut quiet = std::time::Instant::now();
    while quiet.elapsed() < Duration::from_secs(3) {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            quiet = std::time::Instant::now();
            let p = String::from_utf8_lossy(m.payload().unwrap_or_default());
            if p.contains(needle.as_str()) {
                println!(
                    "p{} o{} ts{:?} {}",
                    m.partition(),
                    m.offset(),
                    m.timestamp().to_millis(),
                    &p[..p.len().min(300)]
                );
            }
        }
    }
}
