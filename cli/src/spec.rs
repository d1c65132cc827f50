//! A job as the REST API and the CLI describe it, and its conversion to the library's `JobSpec`.
//! Unknown fields are refused by name.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use timehook::profile::Profile;
use timehook::{JobSpec, Method, MissedRunPolicy, RetryPolicy};
use utoipa::ToSchema;

use crate::error::{CliError, CliResult};

/// A job to schedule: one-time (`at`, `after_seconds`, or neither for now) or cron (`cron`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The target URL (http or https).
    pub url: String,
    /// `POST` (the default), `GET`, `PUT`, `PATCH` or `DELETE`.
    pub method: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body, sent as JSON (compact, keys in the order given).
    pub payload: Option<serde_json::Value>,
    /// The body as text, sent as it is (instead of `payload`).
    pub body: Option<String>,
    /// The body's content type (default: JSON for `payload`, text for `body`).
    pub content_type: Option<String>,
    /// When a one-time job runs (RFC 3339).
    pub at: Option<DateTime<Utc>>,
    /// Or: how many seconds from now it runs.
    pub after_seconds: Option<f64>,
    /// A cron expression (5 or 6 fields), for a recurring job.
    pub cron: Option<String>,
    /// The cron job's time zone (IANA name, default UTC).
    pub tz: Option<String>,
    /// What a cron job does about occurrences missed while nothing ran: `skip`, `run_once`
    /// (default) or `catch_up:N`.
    pub missed: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Per-attempt timeout in seconds.
    pub timeout_seconds: Option<f64>,
    /// A retry preset (`default`, `none`, `single`, `runlater`, `cronflow`, `svix`) or a policy.
    pub retry: Option<RetryRequest>,
    /// A job with the same key is not created twice: the first one's id is returned.
    pub idempotency_key: Option<String>,
    /// Where each successful delivery is reported.
    pub on_success_url: Option<String>,
    /// Where each failed attempt is reported.
    pub on_failure_url: Option<String>,
    /// A delivery profile (`runlater-eu`, `runlater`, `cronflow`, `svix`, `a1cron`): that
    /// service's signature, headers, retries and timeout. Needs `secret`.
    pub profile: Option<String>,
    /// The secret the profile signs with, as the service's receivers know it.
    pub secret: Option<String>,
}

/// A retry preset by name, or a policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RetryRequest {
    /// `default`, `none`, `single`, `runlater`, `cronflow` or `svix`.
    Preset(String),
    /// A policy.
    Policy(RetryPolicyRequest),
}

/// Fixed delays, or exponential backoff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicyRequest {
    /// Fixed delays between attempts, in seconds (one retry per delay).
    pub delays_seconds: Option<Vec<f64>>,
    /// The first delay of exponential backoff, in seconds.
    pub initial_seconds: Option<f64>,
    /// Attempts in all, the first one included.
    pub max_attempts: Option<u32>,
}

fn seconds(field: &str, s: f64) -> CliResult<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| CliError::invalid(field, format!("{field} must be a number of seconds ≥ 0")))
}

/// `skip`, `run_once` or `catch_up:N`.
pub fn parse_missed(s: &str) -> CliResult<MissedRunPolicy> {
    match s.trim() {
        "skip" => Ok(MissedRunPolicy::Skip),
        "run_once" => Ok(MissedRunPolicy::RunOnce),
        other => other
            .strip_prefix("catch_up:")
            .and_then(|n| n.parse().ok())
            .map(MissedRunPolicy::CatchUp)
            .ok_or_else(|| {
                CliError::invalid(
                    "missed",
                    format!("{s:?} is not skip, run_once or catch_up:N"),
                )
            }),
    }
}

impl RetryRequest {
    fn policy(&self) -> CliResult<RetryPolicy> {
        match self {
            RetryRequest::Preset(name) => {
                RetryPolicy::preset(name).map_err(|e| CliError::invalid("retry", e.to_string()))
            }
            RetryRequest::Policy(p) => {
                let mut policy = match (&p.delays_seconds, p.initial_seconds) {
                    (Some(delays), None) => RetryPolicy::delays(
                        delays
                            .iter()
                            .map(|&d| seconds("retry.delays_seconds", d))
                            .collect::<CliResult<Vec<_>>>()?,
                    ),
                    (None, Some(initial)) => RetryPolicy::exponential(
                        seconds("retry.initial_seconds", initial)?,
                        p.max_attempts
                            .unwrap_or(timehook::retry::DEFAULT_MAX_ATTEMPTS),
                    ),
                    (None, None) if p.max_attempts.is_some() => RetryPolicy::default(),
                    _ => {
                        return Err(CliError::invalid(
                            "retry",
                            "give delays_seconds or initial_seconds, not both",
                        ));
                    }
                };
                if let Some(n) = p.max_attempts {
                    policy = policy.with_max_attempts(n);
                }
                Ok(policy)
            }
        }
    }
}

impl JobRequest {
    /// The library's job spec; what the library itself checks (URL, cron, sizes) it checks when
    /// the job is scheduled.
    pub fn to_spec(&self, now: DateTime<Utc>) -> CliResult<JobSpec> {
        let mut spec = match &self.cron {
            Some(expr) => {
                if self.at.is_some() || self.after_seconds.is_some() {
                    return Err(CliError::invalid(
                        "cron",
                        "a cron job takes no at or after_seconds",
                    ));
                }
                JobSpec::cron(&self.url, expr)
            }
            None => {
                if self.tz.is_some() || self.missed.is_some() {
                    let field = if self.tz.is_some() { "tz" } else { "missed" };
                    return Err(CliError::invalid(
                        field,
                        format!("{field} is for cron jobs"),
                    ));
                }
                let mut spec = JobSpec::post(&self.url);
                match (self.at, self.after_seconds) {
                    (Some(_), Some(_)) => {
                        return Err(CliError::invalid(
                            "at",
                            "give at or after_seconds, not both",
                        ));
                    }
                    (Some(at), None) => spec = spec.at(at),
                    (None, Some(s)) => {
                        let d = seconds("after_seconds", s)?;
                        spec = spec.at(now
                            + chrono::Duration::from_std(d).map_err(|_| {
                                CliError::invalid("after_seconds", "after_seconds is too large")
                            })?);
                    }
                    (None, None) => {}
                }
                spec
            }
        };
        // The profile first, so that an explicit timeout or retry wins over the profile's.
        match (&self.profile, &self.secret) {
            (Some(name), Some(secret)) => {
                let profile = Profile::named(name)
                    .map_err(|e| CliError::invalid("profile", e.to_string()))?;
                spec = spec.profile(&profile, secret);
            }
            (Some(_), None) => {
                return Err(CliError::invalid(
                    "secret",
                    "a profile needs the secret it signs with",
                ));
            }
            (None, Some(_)) => {
                return Err(CliError::invalid(
                    "profile",
                    "a secret is given only with a profile",
                ));
            }
            (None, None) => {}
        }
        if let Some(m) = &self.method {
            spec = spec.method(
                m.parse::<Method>()
                    .map_err(|e| CliError::invalid("method", e.to_string()))?,
            );
        }
        for (k, v) in &self.headers {
            spec = spec.header(k, v);
        }
        match (&self.payload, &self.body) {
            (Some(_), Some(_)) => {
                return Err(CliError::invalid(
                    "payload",
                    "give payload or body, not both",
                ));
            }
            (Some(payload), None) => spec = spec.json(payload)?,
            (None, Some(body)) => {
                spec = spec
                    .body(body.as_bytes().to_vec())
                    .content_type("text/plain; charset=utf-8");
            }
            (None, None) => {}
        }
        if let Some(ct) = &self.content_type {
            spec = spec.content_type(ct);
        }
        if let Some(tz) = &self.tz {
            spec = spec.tz(tz);
        }
        if let Some(m) = &self.missed {
            spec = spec.missed(parse_missed(m)?);
        }
        if let Some(name) = &self.name {
            spec = spec.name(name);
        }
        for label in &self.labels {
            spec = spec.label(label);
        }
        if let Some(s) = self.timeout_seconds {
            spec = spec.timeout(seconds("timeout_seconds", s)?);
        }
        if let Some(key) = &self.idempotency_key {
            spec = spec.idempotency_key(key);
        }
        if let Some(url) = &self.on_success_url {
            spec = spec.on_success(url);
        }
        if let Some(url) = &self.on_failure_url {
            spec = spec.on_failure(url);
        }
        if let Some(retry) = &self.retry {
            spec = spec.retry(retry.policy()?);
        }
        Ok(spec)
    }
}
