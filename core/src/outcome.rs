//! What happened to a delivery, as told to callbacks, event subscriptions and in-process listeners.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::job::{ExecutionId, JobId};

/// How an attempt ended, in the words callbacks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutcomeStatus {
    /// The receiver answered 2xx.
    Success,
    /// The receiver answered with a non-2xx status.
    Failure,
    /// No answer: connection, DNS, TLS or other transport error.
    Error,
    /// No answer within the timeout.
    Timeout,
}

impl OutcomeStatus {
    /// `success`, `failure`, `error` or `timeout`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Success => "success",
            OutcomeStatus::Failure => "failure",
            OutcomeStatus::Error => "error",
            OutcomeStatus::Timeout => "timeout",
        }
    }
}

impl fmt::Display for OutcomeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one attempt: the body of `on_success_url` / `on_failure_url` callbacks and the
/// `data` of subscription events.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// The job.
    pub job_id: JobId,
    /// The job's name, if any.
    pub job_name: Option<String>,
    /// The execution (`webhook-id` of the delivery).
    pub execution_id: ExecutionId,
    /// How the attempt ended.
    pub status: OutcomeStatus,
    /// When the attempt was sent.
    pub executed_at: DateTime<Utc>,
    /// The response status; `None` when no answer came.
    pub response_code: Option<u16>,
    /// How long the attempt took, in milliseconds.
    pub response_time_ms: u64,
    /// The first 1 KB of the response body (lossy UTF-8).
    pub response_body: Option<String>,
    /// What went wrong, if anything.
    pub error_message: Option<String>,
    /// 0 for the first attempt of the execution, 1 for the first retry, and so on.
    pub retry_attempt: u32,
    /// When the next attempt is due; `None` when no retry follows.
    pub next_retry_at: Option<DateTime<Utc>>,
}

impl Outcome {
    /// The `data` of a CronFlow event about this outcome: `error_code`, `message` and `retries`
    /// for a failure; `duration_ms`, `output` and `next_run_at` for a completion.
    pub(crate) fn cronflow_data(&self, next_run_at: Option<DateTime<Utc>>) -> serde_json::Value {
        let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match self.status {
            OutcomeStatus::Success => serde_json::json!({
                "duration_ms": self.response_time_ms,
                "output": self.response_body,
                "next_run_at": next_run_at.map(iso),
            }),
            _ => serde_json::json!({
                "error_code": self.response_code,
                "message": self.error_message,
                "retries": self.retry_attempt,
            }),
        }
    }

    /// The callback body in `shape` (see [`crate::profile::Shape`]).
    pub fn to_json_shaped(&self, shape: crate::profile::Shape) -> serde_json::Value {
        let mut v = self.to_json(None);
        if shape == crate::profile::Shape::A1Cron
            && let Some(map) = v.as_object_mut()
        {
            let mut shaped = serde_json::Map::with_capacity(map.len());
            for (key, value) in std::mem::take(map) {
                let key = match key.as_str() {
                    "job_id" => "cron_job_id".to_owned(),
                    "job_name" => "cron_job_name".to_owned(),
                    _ => key,
                };
                shaped.insert(key, value);
            }
            *map = shaped;
        }
        v
    }

    /// The JSON object callbacks receive (and subscription events carry as `data`, with
    /// `environment` added).
    pub fn to_json(&self, environment: Option<&str>) -> serde_json::Value {
        let mut v = serde_json::json!({
            "job_id": self.job_id.as_str(),
            "job_name": self.job_name,
            "execution_id": self.execution_id.as_str(),
            "status": self.status.as_str(),
            "executed_at": self.executed_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "response_code": self.response_code,
            "response_time_ms": self.response_time_ms,
            "response_body": self.response_body,
            "error_message": self.error_message,
            "retry_attempt": self.retry_attempt,
            "next_retry_at": self.next_retry_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        });
        if let Some(env) = environment {
            v["environment"] = env.into();
        }
        v
    }
}

/// The kinds of event that subscriptions and listeners receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// A delivery succeeded.
    JobCompleted,
    /// A delivery failed for good (final 4xx, or attempts ran out), other than by a timeout.
    JobFailed,
    /// A delivery failed for good, its last attempt having timed out.
    JobTimedOut,
    /// An attempt failed and another will follow.
    JobRetrying,
    /// An endpoint was disabled after failing for too long (its jobs are held, not dropped).
    EndpointDisabled,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 5] = [
        EventType::JobCompleted,
        EventType::JobFailed,
        EventType::JobTimedOut,
        EventType::JobRetrying,
        EventType::EndpointDisabled,
    ];

    /// The wire name, e.g. `job.completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::JobCompleted => "job.completed",
            EventType::JobFailed => "job.failed",
            EventType::JobTimedOut => "job.timed_out",
            EventType::JobRetrying => "job.retrying",
            EventType::EndpointDisabled => "endpoint.disabled",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        EventType::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
                Error::invalid(
                    "events",
                    format!(
                        "unknown event type {s:?}; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// A persistent subscription: every event of the listed types is delivered to `url` as a signed
/// Standard Webhooks message `{"type", "timestamp", "data"}`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Subscription {
    /// Its id (`sub_...`).
    pub id: String,
    /// Where events go.
    pub url: String,
    /// Which events.
    pub events: Vec<EventType>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The health of one endpoint (an origin: scheme, host and port).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Endpoint {
    /// `scheme://host:port`.
    pub origin: String,
    /// Since when every attempt has failed; `None` while healthy.
    pub failing_since: Option<DateTime<Utc>>,
    /// Failed attempts since then.
    pub failures: u32,
    /// When it was disabled; its jobs are held until `enable_endpoint`.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The origin (`scheme://host:port`) of a URL, which endpoint health and flow control key on.
pub fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| origin_of_url(&u))
        .unwrap_or_default()
}

/// [`origin_of`] for a URL already parsed.
pub(crate) fn origin_of_url(u: &url::Url) -> String {
    format!(
        "{}://{}:{}",
        u.scheme(),
        u.host_str().unwrap_or_default(),
        u.port_or_known_default().unwrap_or(0)
    )
}

/// Something that happened in the scheduler, sent to every `Scheduler::events` receiver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// An attempt was recorded (every attempt, including those of callbacks and event deliveries).
    Attempt {
        /// The attempt.
        attempt: crate::job::Attempt,
        /// The job's state after it.
        state: crate::job::JobState,
    },
    /// A job event: `job.completed`, `job.failed`, `job.timed_out` or `job.retrying`. Not sent for
    /// the scheduler's own callback and event deliveries.
    Job {
        /// Which event.
        event: EventType,
        /// What happened.
        outcome: Outcome,
    },
    /// An endpoint was disabled (`endpoint.disabled`).
    EndpointDisabled(Endpoint),
}

impl Endpoint {
    /// The `data` of an `endpoint.disabled` event.
    pub fn to_json(&self, environment: Option<&str>) -> serde_json::Value {
        let ms = |t: Option<DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        };
        let mut v = serde_json::json!({
            "origin": self.origin,
            "failing_since": ms(self.failing_since),
            "failures": self.failures,
            "disabled_at": ms(self.disabled_at),
        });
        if let Some(env) = environment {
            v["environment"] = env.into();
        }
        v
    }
}
