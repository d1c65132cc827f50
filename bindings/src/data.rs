//! Plain data types with primitive fields, as the bindings hand them to a language: times are
//! epoch milliseconds, durations are milliseconds, states and kinds are their lowercase strings,
//! bodies are bytes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use timehook::retry::{
    Backoff, DEFAULT_BACKOFF_FACTOR, DEFAULT_INITIAL_DELAY, DEFAULT_JITTER, DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RETRY_DELAY,
};
use timehook::{Attempt, Job, MissedRunPolicy, RetryPolicy};

use crate::error::{BindingError, Result};

/// Milliseconds since the Unix epoch.
pub type EpochMs = i64;

/// The string form of a missed-run policy in the bindings: `skip`, `run_once` or `catch_up:N`.
pub const MISSED_FORMS: &str = "\"skip\", \"run_once\" or \"catch_up:N\"";

pub(crate) fn ms(t: DateTime<Utc>) -> EpochMs {
    t.timestamp_millis()
}

pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Parses `skip`, `run_once` or `catch_up:N` (N at least 1).
///
/// # Errors
/// `invalid_job` (field `missed`) naming the value.
pub fn parse_missed(text: &str) -> Result<MissedRunPolicy> {
    let bad = || {
        BindingError::invalid_job(
            "missed",
            format!("{text:?} is not a missed-run policy; expected {MISSED_FORMS}"),
        )
    };
    match text.trim() {
        "skip" => Ok(MissedRunPolicy::Skip),
        "run_once" => Ok(MissedRunPolicy::RunOnce),
        other => {
            let n = other.strip_prefix("catch_up:").ok_or_else(bad)?;
            match n.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(MissedRunPolicy::CatchUp(n)),
                _ => Err(bad()),
            }
        }
    }
}

/// The string form of a missed-run policy (the inverse of [`parse_missed`]).
pub fn missed_to_string(policy: &MissedRunPolicy) -> String {
    policy.to_string()
}

/// A retry policy as plain numbers. As input, unset fields take the core's defaults; with
/// `delays_ms` the policy is a fixed list of delays, otherwise exponential backoff.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetrySpec {
    /// Attempts in all, the first one included (default: 8 for exponential, one more than the
    /// number of delays for a list).
    pub max_attempts: Option<u32>,
    /// Fixed delays between attempts, in milliseconds.
    pub delays_ms: Option<Vec<u64>>,
    /// First delay of exponential backoff, in milliseconds (default 10 s).
    pub initial_ms: Option<u64>,
    /// Growth factor of exponential backoff (default 2).
    pub factor: Option<f64>,
    /// Jitter fraction of exponential backoff, 0..=1 (default 0.2).
    pub jitter: Option<f64>,
    /// Longest delay, which also caps `Retry-After`, in milliseconds (default 1 h).
    pub max_delay_ms: Option<u64>,
}

impl RetrySpec {
    /// The core policy, validated.
    ///
    /// # Errors
    /// `invalid_job` (field `retry`) if the numbers are out of range or exponential fields are
    /// mixed with a list of delays.
    pub fn into_policy(self) -> Result<RetryPolicy> {
        let mut policy = match self.delays_ms {
            Some(delays) => {
                if self.initial_ms.is_some() || self.factor.is_some() || self.jitter.is_some() {
                    return Err(BindingError::invalid_job(
                        "retry",
                        "give either delays or initial/factor/jitter (exponential backoff), not both",
                    ));
                }
                RetryPolicy::delays(delays.into_iter().map(Duration::from_millis))
            }
            None => RetryPolicy {
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                backoff: Backoff::Exponential {
                    initial: self
                        .initial_ms
                        .map_or(DEFAULT_INITIAL_DELAY, Duration::from_millis),
                    factor: self.factor.unwrap_or(DEFAULT_BACKOFF_FACTOR),
                    jitter: self.jitter.unwrap_or(DEFAULT_JITTER),
                },
                max_delay: DEFAULT_MAX_RETRY_DELAY,
            },
        };
        if let Some(n) = self.max_attempts {
            policy = policy.with_max_attempts(n);
        }
        if let Some(ms) = self.max_delay_ms {
            policy = policy.with_max_delay(Duration::from_millis(ms));
        }
        policy.validate()?;
        Ok(policy)
    }

    /// The plain form of a core policy; every field that applies is set.
    pub fn from_policy(policy: &RetryPolicy) -> Self {
        let mut spec = RetrySpec {
            max_attempts: Some(policy.max_attempts),
            max_delay_ms: Some(duration_ms(policy.max_delay)),
            ..RetrySpec::default()
        };
        match &policy.backoff {
            Backoff::Exponential {
                initial,
                factor,
                jitter,
            } => {
                spec.initial_ms = Some(duration_ms(*initial));
                spec.factor = Some(*factor);
                spec.jitter = Some(*jitter);
            }
            Backoff::Delays { delays } => {
                spec.delays_ms = Some(delays.iter().copied().map(duration_ms).collect());
            }
            // A kind of backoff newer than this binding: described by its limits only.
            _ => {}
        }
        spec
    }
}

/// A retry policy as a binding receives it: a preset name (`default`, `none`, `runlater`,
/// `single`, `cronflow`, `svix`) or explicit numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryInput {
    /// A named preset.
    Preset(String),
    /// Explicit numbers.
    Policy(RetrySpec),
}

impl RetryInput {
    /// The core policy.
    ///
    /// # Errors
    /// `invalid_job` (field `retry`) for an unknown preset or bad numbers.
    pub fn into_policy(self) -> Result<RetryPolicy> {
        match self {
            RetryInput::Preset(name) => Ok(RetryPolicy::preset(name.trim())?),
            RetryInput::Policy(spec) => spec.into_policy(),
        }
    }
}

/// A job as stored, with primitive fields.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// `job_...`.
    pub id: String,
    /// `once` or `cron`.
    pub kind: &'static str,
    /// `scheduled`, `running`, `retrying`, `succeeded`, `failed`, `cancelled` or `paused`.
    pub state: &'static str,
    /// Its name.
    pub name: Option<String>,
    /// Its labels.
    pub labels: Vec<String>,
    /// Target URL.
    pub url: String,
    /// HTTP method, upper case.
    pub method: &'static str,
    /// User headers, `content-type` included.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
    /// Per-attempt timeout in milliseconds.
    pub timeout_ms: u64,
    /// Retry policy.
    pub retry: RetrySpec,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Cron expression (cron jobs).
    pub cron: Option<String>,
    /// IANA time zone (cron jobs).
    pub tz: Option<String>,
    /// Missed-run policy (cron jobs), as in [`parse_missed`].
    pub missed: Option<String>,
    /// When it next runs.
    pub next_run_at_ms: Option<EpochMs>,
    /// `exec_...` of a one-time job (its `webhook-id`).
    pub execution_id: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Where successful deliveries are reported.
    pub on_success_url: Option<String>,
    /// Where failed attempts are reported.
    pub on_failure_url: Option<String>,
    /// When it was scheduled.
    pub created_at_ms: EpochMs,
    /// When it last changed.
    pub updated_at_ms: EpochMs,
}

impl From<&Job> for JobRecord {
    fn from(job: &Job) -> Self {
        JobRecord {
            id: job.id.to_string(),
            kind: job.kind.as_str(),
            state: job.state.as_str(),
            name: job.name.clone(),
            labels: job.labels.clone(),
            url: job.url.clone(),
            method: job.method.as_str(),
            headers: job.headers.clone(),
            body: job.body.clone(),
            timeout_ms: duration_ms(job.timeout),
            retry: RetrySpec::from_policy(&job.retry),
            idempotency_key: job.idempotency_key.clone(),
            cron: job.cron.clone(),
            tz: job.tz.clone(),
            missed: job.missed.as_ref().map(missed_to_string),
            next_run_at_ms: job.next_run_at.map(ms),
            execution_id: job.execution_id.as_ref().map(ToString::to_string),
            attempts: job.attempts,
            on_success_url: job.on_success_url.clone(),
            on_failure_url: job.on_failure_url.clone(),
            created_at_ms: ms(job.created_at),
            updated_at_ms: ms(job.updated_at),
        }
    }
}

impl From<Job> for JobRecord {
    fn from(job: Job) -> Self {
        JobRecord::from(&job)
    }
}

/// One delivery attempt, with primitive fields.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// The job.
    pub job_id: String,
    /// The execution (`webhook-id`).
    pub execution_id: String,
    /// 1 for the first attempt of the execution.
    pub number: u32,
    /// When the request was sent.
    pub started_at_ms: EpochMs,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The response status, if an answer came.
    pub status: Option<u16>,
    /// The first 1 KB of the response body.
    pub response_body: Option<Vec<u8>>,
    /// Why it failed: `timeout`, `connect`, `dns`, `tls`, `redirect`, `status`, `interrupted` or
    /// `request`.
    pub error: Option<&'static str>,
    /// A human-readable description of the failure.
    pub message: Option<String>,
    /// When the next attempt is due, if one follows.
    pub next_retry_at_ms: Option<EpochMs>,
    /// Where the page after this attempt starts (`attempts_page`'s `after`).
    pub cursor: String,
}

impl From<Attempt> for AttemptRecord {
    fn from(a: Attempt) -> Self {
        AttemptRecord {
            cursor: a.cursor(),
            job_id: a.job_id.to_string(),
            execution_id: a.execution_id.to_string(),
            number: a.number,
            started_at_ms: ms(a.started_at),
            duration_ms: duration_ms(a.duration),
            status: a.status,
            response_body: a.response_body,
            error: a.error.map(|e| e.as_str()),
            message: a.message,
            next_retry_at_ms: a.next_retry_at.map(ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn missed_policies_parse_and_print() {
        for (text, policy) in [
            ("skip", MissedRunPolicy::Skip),
            ("run_once", MissedRunPolicy::RunOnce),
            ("catch_up:3", MissedRunPolicy::CatchUp(3)),
        ] {
            assert_eq!(parse_missed(text), Ok(policy));
            assert_eq!(missed_to_string(&policy), text);
        }
        for bad in ["", "catch_up", "catch_up:0", "catch_up:x", "later"] {
            let e = parse_missed(bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::InvalidJob);
            assert!(e.message.contains(&format!("{bad:?}")), "{}", e.message);
        }
    }

    #[test]
    fn retry_presets_and_specs_become_core_policies() {
        let svix = RetryInput::Preset("svix".into())
            .into_policy()
            .expect("svix");
        assert_eq!(svix, RetryPolicy::preset("svix").expect("core preset"));
        let e = RetryInput::Preset("sometimes".into())
            .into_policy()
            .expect_err("unknown preset");
        assert_eq!(e.code, ErrorCode::InvalidJob);
        assert!(e.message.contains("sometimes"), "{}", e.message);

        let fixed = RetrySpec {
            delays_ms: Some(vec![1000, 2000]),
            ..RetrySpec::default()
        }
        .into_policy()
        .expect("delays");
        assert_eq!(fixed.max_attempts, 3);
        assert_eq!(fixed.next_delay(2, None), Some(Duration::from_secs(2)));

        let exp = RetrySpec {
            initial_ms: Some(500),
            factor: Some(3.0),
            jitter: Some(0.0),
            max_attempts: Some(4),
            ..RetrySpec::default()
        }
        .into_policy()
        .expect("exponential");
        assert_eq!(exp.next_delay(3, None), Some(Duration::from_millis(4500)));
        assert_eq!(exp.next_delay(4, None), None);
        // The plain form round-trips.
        assert_eq!(RetrySpec::from_policy(&exp).into_policy(), Ok(exp));
    }

    #[test]
    fn bad_retry_specs_are_refused() {
        for spec in [
            RetrySpec {
                max_attempts: Some(0),
                ..RetrySpec::default()
            },
            RetrySpec {
                factor: Some(0.5),
                ..RetrySpec::default()
            },
            RetrySpec {
                delays_ms: Some(vec![1]),
                jitter: Some(0.1),
                ..RetrySpec::default()
            },
        ] {
            let e = spec.clone().into_policy().expect_err("refused");
            assert_eq!(e.code, ErrorCode::InvalidJob, "{spec:?}");
            assert_eq!(e.detail.as_deref(), Some("retry"));
        }
    }
}
