//! Times on the command line: instants (`2026-12-07T09:00:00Z`, or a duration meaning "from now" or
//! "ago"), durations (`90s`, `10m`, `1h30m`), and the relative times tables show ("in 5m",
//! "3h ago").

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use std::time::Duration;

/// Parses a duration such as `90s`, `10m`, `1h30m` or `2days`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration such as 90s, 10m or 1h30m ({e})"))
}

/// Parses an instant: RFC 3339 (`2026-12-07T09:00:00Z`, `2026-12-07T10:00:00+01:00`).
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{s:?} is not an RFC 3339 time such as 2026-12-07T09:00:00Z"))
}

/// An instant, or a duration meaning that long before `now` (`--since 2h`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = parse_instant(s) {
        return Ok(t);
    }
    let d = parse_duration(s).map_err(|_| {
        format!("{s:?} is neither an RFC 3339 time (2026-12-07T09:00:00Z) nor a duration ago (2h)")
    })?;
    Ok(now - ChronoDuration::from_std(d).map_err(|e| e.to_string())?)
}

/// `t` relative to `now`, short: `now`, `in 5m`, `3h ago`, `in 2d`.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let n = secs.unsigned_abs();
    if n < 5 {
        return "now".to_owned();
    }
    // Rounded to the nearest unit: 9m59s reads "10m".
    let round = |unit: u64| (n + unit / 2) / unit;
    let amount = if n < 60 {
        format!("{n}s")
    } else if n < 3600 - 30 {
        format!("{}m", round(60))
    } else if n < 86_400 - 1800 {
        format!("{}h", round(3600))
    } else {
        format!("{}d", round(86_400))
    };
    if secs > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_instant(s).unwrap()
    }

    #[test]
    fn relative_times_read_as_people_say_them() {
        let now = t("2026-12-07T12:00:00Z");
        assert_eq!(relative(t("2026-12-07T12:00:02Z"), now), "now");
        assert_eq!(relative(t("2026-12-07T12:00:30Z"), now), "in 30s");
        assert_eq!(relative(t("2026-12-07T12:05:00Z"), now), "in 5m");
        assert_eq!(relative(t("2026-12-07T09:00:00Z"), now), "3h ago");
        assert_eq!(relative(t("2026-12-09T12:00:00Z"), now), "in 2d");
        assert_eq!(relative(t("2026-12-07T12:09:59Z"), now), "in 10m");
        assert_eq!(relative(t("2026-12-07T12:59:50Z"), now), "in 1h");
    }

    #[test]
    fn since_takes_a_time_or_a_duration_ago() {
        let now = t("2026-12-07T12:00:00Z");
        assert_eq!(parse_since("2h", now).unwrap(), t("2026-12-07T10:00:00Z"));
        assert_eq!(
            parse_since("2026-12-01T00:00:00+01:00", now).unwrap(),
            t("2026-11-30T23:00:00Z")
        );
        assert!(parse_since("yesterday-ish", now).is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }
}
