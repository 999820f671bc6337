//! Instants in time, always in UTC, written as RFC 3339.

use chrono::{DateTime, SecondsFormat, Utc};

/// An instant, in UTC. Waymark never reads the wall clock in its core: every
/// `Timestamp` comes from an event, a timer or an explicit `now` argument.
pub type Timestamp = DateTime<Utc>;

/// Parses an RFC 3339 timestamp (any offset) into UTC.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

/// Formats a timestamp as RFC 3339 with a `Z` suffix and only as many
/// fractional digits as needed (`2026-10-01T08:30:00Z`).
pub fn format_timestamp(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_offsets() {
        let t = parse_timestamp("2026-10-01T10:30:00+02:00").unwrap();
        assert_eq!(format_timestamp(t), "2026-10-01T08:30:00Z");
        let t = parse_timestamp("2026-10-01T08:30:00.250Z").unwrap();
        assert_eq!(format_timestamp(t), "2026-10-01T08:30:00.250Z");
        assert!(parse_timestamp("yesterday").is_err());
    }
}
