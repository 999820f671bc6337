//! librdkafka client settings from the `[kafka]` section.

use rdkafka::config::ClientConfig;

use crate::config::KafkaConfig;

/// The settings every client shares: brokers, then every pass-through
/// property (`_` in a key stands for `.`, so environment overrides can
/// name them).
pub fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.brokers);
    for (key, value) in &kafka.properties {
        config.set(key.replace('_', "."), value);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_pass_through_with_dots() {
        let mut kafka = KafkaConfig::default();
        kafka
            .properties
            .insert("security_protocol".into(), "SASL_SSL".into());
        kafka
            .properties
            .insert("sasl.mechanism".into(), "SCRAM-SHA-512".into());
        let config = client_config(&kafka);
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(config.get("bootstrap.servers"), Some("127.0.0.1:9092"));
    }
}
