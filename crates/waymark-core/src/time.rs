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
    match TimestampText::new(at) {
        Some(text) => text.as_str().to_owned(),
        None => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    }
}

/// Serializes a timestamp as [`format_timestamp`] writes it (which is
/// also what chrono's own `Serialize` writes), without going through
/// `fmt` or allocating: journey records, deliveries and outbox entries
/// write timestamps by the thousand a second. For
/// `#[serde(serialize_with = "...")]`.
pub fn serialize_timestamp<S: serde::Serializer>(
    at: &Timestamp,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match TimestampText::new(*at) {
        Some(text) => serializer.serialize_str(text.as_str()),
        None => serializer.collect_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// [`serialize_timestamp`] for an optional timestamp (`null` when none).
pub fn serialize_optional_timestamp<S: serde::Serializer>(
    at: &Option<Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize_timestamp(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// A timestamp's RFC 3339 text in a buffer on the stack.
struct TimestampText {
    bytes: [u8; 30],
    len: usize,
}

impl TimestampText {
    /// `None` for what the short form does not cover (years outside
    /// 0..=9999, leap seconds): chrono formats those.
    fn new(at: Timestamp) -> Option<Self> {
        use chrono::{Datelike, Timelike};
        let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
        let nanos = at.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        let mut text = TimestampText {
            bytes: [0; 30],
            len: 0,
        };
        text.digits(year, 4);
        text.push(b'-');
        text.digits(at.month(), 2);
        text.push(b'-');
        text.digits(at.day(), 2);
        text.push(b'T');
        text.digits(at.hour(), 2);
        text.push(b':');
        text.digits(at.minute(), 2);
        text.push(b':');
        text.digits(at.second(), 2);
        // As chrono's `SecondsFormat::AutoSi`: all the non-zero digits, in
        // groups of three.
        if nanos != 0 {
            text.push(b'.');
            if nanos.is_multiple_of(1_000_000) {
                text.digits(nanos / 1_000_000, 3);
            } else if nanos.is_multiple_of(1_000) {
                text.digits(nanos / 1_000, 6);
            } else {
                text.digits(nanos, 9);
            }
        }
        text.push(b'Z');
        Some(text)
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value` as exactly `width` decimal digits (it has no more).
    fn digits(&mut self, mut value: u32, width: usize) {
        for i in (0..width).rev() {
            // A digit: below 10, so the cast keeps it whole.
            #[allow(clippy::cast_possible_truncation)]
            let digit = (value % 10) as u8;
            self.bytes[self.len + i] = b'0' + digit;
            value /= 10;
        }
        self.len += width;
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation were written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
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

    /// The short form writes what chrono writes, for every kind of
    /// fraction, across the years it covers, and chrono takes the rest.
    #[test]
    fn the_short_form_matches_chrono() {
        use chrono::TimeZone;
        let chrono_text = |at: Timestamp| at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            // xorshift: reproducible, no dependency.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut checked = 0;
        for _ in 0..20_000 {
            // Seconds from year 0 to 9999; fractions of each precision.
            let secs = i64::try_from(next() % 315_537_897_600).unwrap() - 62_167_219_200;
            let nanos = match next() % 4 {
                0 => 0,
                1 => u32::try_from(next() % 1_000).unwrap() * 1_000_000,
                2 => u32::try_from(next() % 1_000_000).unwrap() * 1_000,
                _ => u32::try_from(next() % 1_000_000_000).unwrap(),
            };
            let at = Utc.timestamp_opt(secs, nanos).unwrap();
            assert_eq!(format_timestamp(at), chrono_text(at), "{secs} s {nanos} ns");
            let json = serde_json::to_string(&Stamp(at)).unwrap();
            assert_eq!(json, serde_json::to_string(&at).unwrap());
            checked += 1;
        }
        assert_eq!(checked, 20_000);
        // Outside the short form: a year past 9999, before 0, a leap second.
        for at in [
            Utc.with_ymd_and_hms(12_345, 1, 2, 3, 4, 5).unwrap(),
            Utc.with_ymd_and_hms(-1, 12, 31, 23, 59, 59).unwrap(),
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).unwrap(),
        ] {
            assert!(TimestampText::new(at).is_none());
            assert_eq!(format_timestamp(at), chrono_text(at));
            assert_eq!(
                serde_json::to_string(&Stamp(at)).unwrap(),
                serde_json::to_string(&at).unwrap()
            );
        }
        assert_eq!(serde_json::to_string(&OptionalStamp(None)).unwrap(), "null");
    }

    #[derive(serde::Serialize)]
    struct Stamp(#[serde(serialize_with = "serialize_timestamp")] Timestamp);

    #[derive(serde::Serialize)]
    struct OptionalStamp(
        #[serde(serialize_with = "serialize_optional_timestamp")] Option<Timestamp>,
    );
}
