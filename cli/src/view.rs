//! What the CLI prints with `--json` and the REST API answers: plain, documented shapes built from
//! the library's types. Header values are left out (except `content-type`): they often carry a
//! receiver's credentials.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// `job_…`
    pub id: String,
    /// `once` or `cron`.
    pub kind: String,
    /// `scheduled`, `running`, `retrying`, `succeeded`, `failed`, `cancelled` or `paused`.
    pub state: String,
    pub name: Option<String>,
    pub labels: Vec<String>,
    pub url: String,
    pub method: String,
    /// Header names, with values shown only for `content-type`.
    pub headers: Vec<HeaderView>,
    /// The body: JSON when it is JSON, otherwise text (or `null` in lists, which leave bodies
    /// out).
    pub payload: Option<serde_json::Value>,
    pub cron: Option<String>,
    pub tz: Option<String>,
    /// When it next runs.
    pub next_run_at: Option<DateTime<Utc>>,
    /// The `webhook-id` of a one-time job's delivery.
    pub execution_id: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    pub timeout_ms: u64,
    pub idempotency_key: Option<String>,
    pub on_success_url: Option<String>,
    pub on_failure_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One request header of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeaderView {
    pub name: String,
    /// The value for `content-type`; `null` (not shown) for the others.
    pub value: Option<String>,
}

impl From<&timehook::Job> for JobView {
    fn from(j: &timehook::Job) -> Self {
        let payload = if j.body.is_empty() {
            None
        } else {
            Some(serde_json::from_slice(&j.body).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&j.body).into_owned())
            }))
        };
        JobView {
            id: j.id.to_string(),
            kind: j.kind.as_str().to_owned(),
            state: j.state.as_str().to_owned(),
            name: j.name.clone(),
            labels: j.labels.clone(),
            url: j.url.clone(),
            method: j.method.as_str().to_owned(),
            headers: j
                .headers
                .iter()
                .map(|(name, value)| HeaderView {
                    name: name.clone(),
                    value: name
                        .eq_ignore_ascii_case("content-type")
                        .then(|| value.clone()),
                })
                .collect(),
            payload,
            cron: j.cron.clone(),
            tz: j.tz.clone(),
            next_run_at: j.next_run_at,
            execution_id: j.execution_id.as_ref().map(ToString::to_string),
            attempts: j.attempts,
            timeout_ms: u64::try_from(j.timeout.as_millis()).unwrap_or(u64::MAX),
            idempotency_key: j.idempotency_key.clone(),
            on_success_url: j.on_success_url.clone(),
            on_failure_url: j.on_failure_url.clone(),
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// One page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub job_id: String,
    /// The `webhook-id` of the delivery.
    pub execution_id: String,
    /// 1 for the first attempt of a delivery.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The response status, if an answer came.
    pub status: Option<u16>,
    /// `timeout`, `connect`, `dns`, `tls`, `redirect`, `status`, `interrupted`, `blocked`,
    /// `unreadable` or `request`; `null` when it succeeded.
    pub error: Option<String>,
    pub message: Option<String>,
    /// The first 1 KB of the response body, as text.
    pub response_excerpt: Option<String>,
    /// When the next attempt is due, if one follows.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Pass as `cursor` to page on from here.
    pub cursor: String,
}

impl From<&timehook::Attempt> for AttemptView {
    fn from(a: &timehook::Attempt) -> Self {
        AttemptView {
            job_id: a.job_id.to_string(),
            execution_id: a.execution_id.to_string(),
            number: a.number,
            started_at: a.started_at,
            duration_ms: u64::try_from(a.duration.as_millis()).unwrap_or(u64::MAX),
            status: a.status,
            error: a.error.map(|e| e.as_str().to_owned()),
            message: a.message.clone(),
            response_excerpt: a
                .response_body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            next_retry_at: a.next_retry_at,
            cursor: a.cursor(),
        }
    }
}

/// One page of a job's attempts, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptPage {
    pub attempts: Vec<AttemptView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The health of one endpoint (scheme, host and port).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    /// `scheme://host:port`
    pub origin: String,
    /// `healthy`, `failing` or `disabled`.
    pub health: String,
    /// Since when every attempt has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Failed attempts since then.
    pub failures: u32,
    /// When it was disabled; its jobs are held until it is enabled.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<&timehook::Endpoint> for EndpointView {
    fn from(e: &timehook::Endpoint) -> Self {
        let health = if e.disabled_at.is_some() {
            "disabled"
        } else if e.failing_since.is_some() {
            "failing"
        } else {
            "healthy"
        };
        EndpointView {
            origin: e.origin.clone(),
            health: health.to_owned(),
            failing_since: e.failing_since,
            failures: e.failures,
            disabled_at: e.disabled_at,
        }
    }
}

/// A subscription: events of these types are delivered to `url`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// `sub_…`
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&timehook::Subscription> for SubscriptionView {
    fn from(s: &timehook::Subscription) -> Self {
        SubscriptionView {
            id: s.id.clone(),
            url: s.url.clone(),
            events: s.events.iter().map(|e| e.as_str().to_owned()).collect(),
            created_at: s.created_at,
        }
    }
}

/// How many jobs an operation touched.
#[derive(Debug, Serialize, ToSchema)]
pub struct Count {
    pub count: usize,
}

/// The id of a job just created (or, for an idempotency key seen before, the existing job's).
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: String,
    /// Whether the idempotency key matched a job stored before: nothing new was created.
    pub existing: bool,
}
