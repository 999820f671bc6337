//! Human durations as journeys write them: `30s`, `15m`, `1h`, `7d`, `2w`,
//! and combinations such as `1h30m`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative span of time with second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    seconds: i64,
}

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration (expected e.g. 30s, 15m, 1h, 7d)")]
    Empty,
    #[error("invalid duration {text:?}: {why} (expected e.g. 30s, 15m, 1h, 7d)")]
    Invalid { text: String, why: &'static str },
}

impl Duration {
    pub const ZERO: Duration = Duration { seconds: 0 };

    pub const fn from_seconds(seconds: i64) -> Self {
        Duration { seconds }
    }

    pub const fn from_hours(hours: i64) -> Self {
        Duration {
            seconds: hours * 3600,
        }
    }

    pub const fn from_days(days: i64) -> Self {
        Duration {
            seconds: days * 86_400,
        }
    }

    pub const fn as_seconds(self) -> i64 {
        self.seconds
    }

    /// The same span as a `chrono::TimeDelta`, for arithmetic on timestamps.
    pub fn to_delta(self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(self.seconds)
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(DurationError::Empty);
        }
        let invalid = |why| DurationError::Invalid {
            text: text.to_owned(),
            why,
        };
        let mut seconds: i64 = 0;
        let mut digits = String::new();
        for c in trimmed.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return Err(invalid("unknown unit (use s, m, h, d or w)")),
            };
            if digits.is_empty() {
                return Err(invalid("a unit without a number before it"));
            }
            let n: i64 = digits.parse().map_err(|_| invalid("number too large"))?;
            digits.clear();
            seconds = n
                .checked_mul(unit)
                .and_then(|part| seconds.checked_add(part))
                .ok_or_else(|| invalid("too large"))?;
        }
        if !digits.is_empty() {
            return Err(invalid("a number without a unit"));
        }
        Ok(Duration { seconds })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.seconds;
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: Result<i64, &str>) {
        let got = text
            .parse::<Duration>()
            .map(Duration::as_seconds)
            .map_err(|e| e.to_string());
        match expect {
            Ok(seconds) => assert_eq!(got, Ok(seconds), "{text}"),
            Err(fragment) => {
                let err = got.expect_err(text);
                assert!(err.contains(fragment), "{text}: {err}");
            }
        }
    }

    #[test]
    fn parses_units_and_combinations() {
        check("30s", Ok(30));
        check("15m", Ok(900));
        check("1h", Ok(3600));
        check("7d", Ok(604_800));
        check("2w", Ok(1_209_600));
        check("1h30m", Ok(5400));
        check(" 2d ", Ok(172_800));
        check("0s", Ok(0));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        check("", Err("empty"));
        check("10", Err("without a unit"));
        check("h", Err("without a number"));
        check("1x", Err("unknown unit"));
        check("-1h", Err("unknown unit"));
        check("99999999999999999999d", Err("too large"));
    }

    #[test]
    fn displays_compactly() {
        for text in ["30s", "15m", "1h", "7d", "1h30m", "1d2h3m4s"] {
            assert_eq!(text.parse::<Duration>().unwrap().to_string(), text);
        }
        assert_eq!(Duration::from_days(14).to_string(), "14d");
    }
}
