//! Retry policies, and how the answer to an attempt is classified.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The longest delay a policy waits between attempts unless it says otherwise, including delays asked
/// for by `Retry-After`.
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// First delay of the default exponential policy.
pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(10);
/// Attempts (the first one included) of the default policy.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// Growth factor of the default exponential policy.
pub const DEFAULT_BACKOFF_FACTOR: f64 = 2.0;
/// Jitter of the default exponential policy: each delay is drawn uniformly within ±this fraction.
pub const DEFAULT_JITTER: f64 = 0.2;
/// Upper bound on attempts for any policy, so a typo cannot retry forever.
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;

/// How the delays between attempts are computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Backoff {
    /// `initial * factor^(n-1)`, capped at the policy's `max_delay`, then spread by ±`jitter`.
    Exponential {
        /// Delay before the second attempt.
        #[serde(with = "millis")]
        initial: Duration,
        /// Growth factor, at least 1.
        factor: f64,
        /// Fraction in `[0, 1]`; 0 disables jitter.
        jitter: f64,
    },
    /// Fixed delays: the n-th entry is waited before attempt n+1.
    Delays {
        /// The delays, in order.
        #[serde(with = "millis_vec")]
        delays: Vec<Duration>,
    },
}

/// When and how often a failed delivery is tried again.
///
/// After `max_attempts` attempts, or on a final failure (most 4xx answers), the job is **failed**: a
/// dead letter that stays queryable and can be re-queued with `Scheduler::retry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included. 1 means no retry.
    pub max_attempts: u32,
    /// How delays are computed.
    pub backoff: Backoff,
    /// No delay, including one asked for by `Retry-After`, exceeds this.
    #[serde(with = "millis")]
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Exponential backoff with jitter: 10 s, 20 s, 40 s… capped at 1 h, 8 attempts in all.
    fn default() -> Self {
        RetryPolicy::exponential(DEFAULT_INITIAL_DELAY, DEFAULT_MAX_ATTEMPTS)
    }
}

/// The names accepted by [`RetryPolicy::preset`].
pub const PRESET_NAMES: &[&str] = &["default", "none", "runlater", "single", "cronflow", "svix"];

impl RetryPolicy {
    /// No retry: one attempt. The default for cron occurrences.
    pub fn none() -> Self {
        RetryPolicy::delays([])
    }

    /// Exponential backoff (factor 2, ±20 % jitter, capped at 1 h) with `max_attempts` attempts in all.
    pub fn exponential(initial: Duration, max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            backoff: Backoff::Exponential {
                initial,
                factor: DEFAULT_BACKOFF_FACTOR,
                jitter: DEFAULT_JITTER,
            },
            max_delay: DEFAULT_MAX_RETRY_DELAY,
        }
    }

    /// Fixed delays between attempts; `delays.len() + 1` attempts in all.
    pub fn delays(delays: impl IntoIterator<Item = Duration>) -> Self {
        let delays: Vec<Duration> = delays.into_iter().collect();
        let longest = delays.iter().copied().max().unwrap_or_default();
        RetryPolicy {
            max_attempts: u32::try_from(delays.len() + 1).unwrap_or(u32::MAX),
            max_delay: longest.max(DEFAULT_MAX_RETRY_DELAY),
            backoff: Backoff::Delays { delays },
        }
    }

    /// A named preset reproducing the retry schedule of a hosted service:
    ///
    /// | name | delays |
    /// |---|---|
    /// | `default` | exponential 10 s, 20 s, 40 s… ±20 %, 8 attempts |
    /// | `none` | no retry |
    /// | `runlater` | 20 s, 45 s, 90 s, 120 s, 180 s |
    /// | `single` | one retry after 60 s |
    /// | `cronflow` | 30 s, 2 min, 10 min, 1 h, 6 h |
    /// | `svix` | 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h |
    pub fn preset(name: &str) -> Result<Self> {
        let s = Duration::from_secs;
        Ok(match name {
            "default" => RetryPolicy::default(),
            "none" => RetryPolicy::none(),
            "runlater" => RetryPolicy::delays([s(20), s(45), s(90), s(120), s(180)]),
            "single" => RetryPolicy::delays([s(60)]),
            "cronflow" => RetryPolicy::delays([s(30), s(120), s(600), s(3600), s(6 * 3600)]),
            "svix" => RetryPolicy::delays([
                s(0),
                s(5),
                s(300),
                s(1800),
                s(2 * 3600),
                s(5 * 3600),
                s(10 * 3600),
                s(10 * 3600),
            ]),
            other => {
                return Err(Error::invalid(
                    "retry",
                    format!(
                        "unknown retry preset {other:?}; expected one of {}",
                        PRESET_NAMES.join(", ")
                    ),
                ));
            }
        })
    }

    /// Sets the number of attempts in all.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets the longest delay, which also caps `Retry-After`.
    pub fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Checks the policy's numbers.
    pub fn validate(&self) -> Result<()> {
        if self.max_attempts == 0 || self.max_attempts > MAX_ATTEMPTS_LIMIT {
            return Err(Error::invalid(
                "retry",
                format!(
                    "max_attempts must be 1..={MAX_ATTEMPTS_LIMIT}, got {}",
                    self.max_attempts
                ),
            ));
        }
        if let Backoff::Exponential { factor, jitter, .. } = self.backoff
            && (!(1.0..=100.0).contains(&factor) || !(0.0..=1.0).contains(&jitter))
        {
            return Err(Error::invalid(
                "retry",
                format!("factor must be in 1..=100 and jitter in 0..=1, got {factor} and {jitter}"),
            ));
        }
        Ok(())
    }

    /// The delay to wait after `attempt` (1-based) failed, or `None` when no attempt is left.
    /// `retry_after` is the receiver's `Retry-After`, honoured up to `max_delay`.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let base = match &self.backoff {
            Backoff::Exponential {
                initial,
                factor,
                jitter,
            } => {
                let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
                let raw = initial.as_secs_f64() * factor.powi(exp);
                let capped = raw.min(self.max_delay.as_secs_f64());
                let spread = if *jitter > 0.0 {
                    1.0 + jitter * (fastrand::f64() * 2.0 - 1.0)
                } else {
                    1.0
                };
                Duration::from_secs_f64((capped * spread).min(self.max_delay.as_secs_f64()))
            }
            Backoff::Delays { delays } => {
                let i = usize::try_from(attempt - 1).unwrap_or(usize::MAX);
                delays.get(i).or(delays.last()).copied().unwrap_or_default()
            }
        };
        let floor = retry_after.map_or(Duration::ZERO, |d| d.min(self.max_delay));
        Some(base.max(floor))
    }
}

/// How the answer to one attempt is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// 2xx: delivered.
    Success,
    /// A transient failure (408, 429, 5xx, timeout, connection error): try again if the policy allows.
    Retry,
    /// A final failure (3xx, 410 and other 4xx): do not try again.
    Final,
}

/// Classifies an HTTP status: 2xx succeeds; 408, 429 and 5xx are retried; 3xx (redirects are not
/// followed), 410 and other 4xx fail for good.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Success,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Final,
    }
}

/// Parses a `Retry-After` value: delay-seconds, or an HTTP date relative to `now`.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

mod millis_vec {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let ms: Vec<u64> = v
            .iter()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .collect();
        ms.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Ok(Vec::<u64>::deserialize(d)?
            .into_iter()
            .map(Duration::from_millis)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn presets_reproduce_hosted_schedules() {
        let p = RetryPolicy::preset("runlater").unwrap();
        assert_eq!(p.max_attempts, 6);
        let delays: Vec<_> = (1..=5).map(|n| p.next_delay(n, None).unwrap()).collect();
        assert_eq!(delays, [S(20), S(45), S(90), S(120), S(180)]);
        assert_eq!(p.next_delay(6, None), None);

        let p = RetryPolicy::preset("single").unwrap();
        assert_eq!((p.max_attempts, p.next_delay(1, None)), (2, Some(S(60))));
        assert_eq!(p.next_delay(2, None), None);

        let p = RetryPolicy::preset("cronflow").unwrap();
        let delays: Vec<_> = (1..=5).map(|n| p.next_delay(n, None).unwrap()).collect();
        assert_eq!(delays, [S(30), S(120), S(600), S(3600), S(21600)]);

        let p = RetryPolicy::preset("svix").unwrap();
        assert_eq!(p.max_attempts, 9);
        let delays: Vec<_> = (1..=8).map(|n| p.next_delay(n, None).unwrap()).collect();
        assert_eq!(
            delays,
            [
                S(0),
                S(5),
                S(300),
                S(1800),
                S(7200),
                S(18000),
                S(36000),
                S(36000)
            ]
        );
        assert!(RetryPolicy::preset("nope").is_err());
        assert_eq!(
            RetryPolicy::preset("none").unwrap().next_delay(1, None),
            None
        );
    }

    #[test]
    fn exponential_grows_with_jitter_and_cap() {
        let p = RetryPolicy::default();
        for _ in 0..200 {
            let d1 = p.next_delay(1, None).unwrap().as_secs_f64();
            assert!((8.0..=12.0).contains(&d1), "{d1}");
            let d3 = p.next_delay(3, None).unwrap().as_secs_f64();
            assert!((32.0..=48.0).contains(&d3), "{d3}");
            let d7 = p.next_delay(7, None).unwrap();
            assert!(d7 <= DEFAULT_MAX_RETRY_DELAY);
        }
        assert_eq!(p.next_delay(8, None), None);
    }

    #[test]
    fn retry_after_is_a_floor_capped_at_max_delay() {
        let p = RetryPolicy::delays([S(5), S(5)]).with_max_delay(S(100));
        assert_eq!(p.next_delay(1, Some(S(30))), Some(S(30)));
        assert_eq!(p.next_delay(1, Some(S(1))), Some(S(5)));
        assert_eq!(p.next_delay(1, Some(S(10_000))), Some(S(100)));
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify_status(200), Verdict::Success);
        assert_eq!(classify_status(204), Verdict::Success);
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify_status(s), Verdict::Retry, "{s}");
        }
        for s in [301, 302, 307, 400, 401, 404, 410, 422] {
            assert_eq!(classify_status(s), Verdict::Final, "{s}");
        }
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + S(1_000_000_000);
        assert_eq!(parse_retry_after("120", now), Some(S(120)));
        let date = httpdate::fmt_http_date(now + S(90));
        assert_eq!(parse_retry_after(&date, now), Some(S(90)));
        let past = httpdate::fmt_http_date(now - S(90));
        assert_eq!(parse_retry_after(&past, now), Some(S(0)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn policies_round_trip_through_json() {
        for p in [
            RetryPolicy::default(),
            RetryPolicy::preset("svix").unwrap(),
            RetryPolicy::none(),
        ] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<RetryPolicy>(&json).unwrap(), p);
        }
    }

    #[test]
    fn validation_rejects_zero_and_absurd_values() {
        assert!(RetryPolicy::none().with_max_attempts(0).validate().is_err());
        assert!(
            RetryPolicy::none()
                .with_max_attempts(1000)
                .validate()
                .is_err()
        );
        assert!(RetryPolicy::default().validate().is_ok());
    }
}
