//! Jobs: what a user schedules ([`JobSpec`]), what the store returns ([`Job`], [`Attempt`]), and the
//! states a job moves through ([`JobState`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cron::MissedRunPolicy;
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::signing::{Key, Scheme, Signer};

/// A job's own signature style and secrets (see [`JobSpec::signing`]).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobSigning {
    /// The style.
    pub scheme: Scheme,
    /// The secrets, as the receiver knows them. None: the scheduler's signing applies, and only
    /// `headers` are this job's own.
    pub secrets: Vec<String>,
    /// Extra headers timehook fills in on each attempt.
    pub headers: Vec<(String, crate::profile::Filled)>,
    /// The shape of the job's outcome callbacks.
    pub shape: crate::profile::Shape,
}

impl fmt::Debug for JobSigning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobSigning")
            .field("scheme", &self.scheme)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .finish()
    }
}

impl JobSigning {
    /// Settings with `scheme` and `secrets` (as the receiver knows them).
    pub fn new(scheme: Scheme, secrets: Vec<String>) -> Self {
        JobSigning {
            scheme,
            secrets,
            headers: Vec::new(),
            shape: crate::profile::Shape::Default,
        }
    }

    /// Whether the job signs with keys of its own (else with the scheduler's).
    pub(crate) fn has_keys(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// The signer for these settings.
    pub fn signer(&self) -> Result<Signer> {
        self.scheme.validate()?;
        let keys = self
            .secrets
            .iter()
            .map(|s| Key::parse(&self.scheme, s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Signer::new(keys)?.with_scheme(self.scheme.clone())?)
    }

    pub(crate) fn to_db(&self) -> String {
        let (name, header, prefix, ts) = match &self.scheme {
            Scheme::StandardWebhooks => ("standard", None, false, None),
            Scheme::HexBody { header, prefix } => ("hex_body", Some(header), *prefix, None),
            Scheme::TimestampedHex {
                header,
                timestamp_header,
            } => (
                "timestamped_hex",
                Some(header),
                false,
                timestamp_header.as_ref(),
            ),
        };
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, k)| (n.as_str(), k.as_str()))
            .collect();
        serde_json::json!({
            "scheme": name, "header": header, "prefix": prefix,
            "timestamp_header": ts, "secrets": self.secrets, "headers": headers,
            "shape": self.shape.as_str(),
        })
        .to_string()
    }

    pub(crate) fn from_db(s: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(s).map_err(|e| {
            Error::store(
                crate::error::StoreErrorKind::Corrupt,
                format!("corrupt signing settings: {e}"),
            )
        })?;
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        let scheme = match v["scheme"].as_str() {
            Some("hex_body") => Scheme::HexBody {
                header: text("header").unwrap_or_default(),
                prefix: v["prefix"].as_bool().unwrap_or(false),
            },
            Some("timestamped_hex") => Scheme::TimestampedHex {
                header: text("header").unwrap_or_default(),
                timestamp_header: text("timestamp_header"),
            },
            Some("standard") => Scheme::StandardWebhooks,
            other => {
                return Err(Error::store(
                    crate::error::StoreErrorKind::Corrupt,
                    format!("corrupt signing settings: unknown scheme {other:?}"),
                ));
            }
        };
        let secrets = v["secrets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        // Written by versions before extra headers: none.
        let headers = match v["headers"].as_array() {
            None => Vec::new(),
            Some(pairs) => pairs
                .iter()
                .map(|pair| {
                    let name = pair[0].as_str().unwrap_or_default().to_owned();
                    let kind: crate::profile::Filled =
                        pair[1].as_str().unwrap_or_default().parse()?;
                    Ok((name, kind))
                })
                .collect::<Result<_>>()?,
        };
        Ok(JobSigning {
            scheme,
            secrets,
            headers,
            shape: crate::profile::Shape::parse(v["shape"].as_str().unwrap_or_default()),
        })
    }
}

/// A ULID that sorts after every earlier one made by this process, so ids sort in creation order
/// even within one millisecond.
fn next_ulid() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Overflow needs 2^80 ids in one millisecond; fall back to a random one rather than fail.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            pub(crate) fn generate() -> Self {
                let mut buf = [0; ulid::ULID_LEN];
                let mut id = String::with_capacity($prefix.len() + ulid::ULID_LEN);
                id.push_str($prefix);
                id.push_str(next_ulid().array_to_str(&mut buf));
                $name(id)
            }

            pub(crate) fn from_db(s: String) -> Self {
                $name(s)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            /// Accepts any id with the right prefix; whether it exists is checked by the store.
            fn from_str(s: &str) -> Result<Self> {
                let rest = s.strip_prefix($prefix).ok_or_else(|| {
                    Error::invalid("id", format!("{s:?} is not a {} (expected {}...)", stringify!($name), $prefix))
                })?;
                if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(Error::invalid("id", format!("{s:?} is not a valid {}", stringify!($name))));
                }
                Ok($name(s.to_owned()))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// Identifies a job (one-time or cron). Looks like `job_01JD3...`.
    JobId,
    "job_"
);
id_type!(
    /// Identifies one execution of a job: the single run of a one-time job, or one occurrence of a cron
    /// job. Sent as `webhook-id`; it stays the same on every retry of that execution, so receivers can
    /// deduplicate on it. Looks like `exec_01JD3...` and never contains `.`.
    ExecutionId,
    "exec_"
);

/// A one-time job or a cron job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobKind {
    /// Runs once, at an instant.
    Once,
    /// Runs on a cron schedule; each occurrence is an execution.
    Cron,
}

impl JobKind {
    /// `once` or `cron`, as the store and the bindings name it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Once => "once",
            JobKind::Cron => "cron",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        if s == "cron" {
            JobKind::Cron
        } else {
            JobKind::Once
        }
    }
}

/// Where a job is in its life.
///
/// One-time jobs go `Scheduled → Running → Succeeded`, or `Running → Retrying → Running …` until they
/// succeed or become `Failed`. Cron jobs stay `Scheduled` (or `Paused`) while their occurrences run;
/// each occurrence has its own attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobState {
    /// Waiting for its time. Entered by `schedule`, `reschedule`, `retry` (from `Failed`) and `resume`
    /// (cron). Left when a worker claims it (→ `Running`), or by `cancel` / `pause`.
    Scheduled,
    /// A worker holds a lease on it and is delivering it. Entered by a claim. Left when the attempt is
    /// recorded (→ `Succeeded`, `Retrying` or `Failed`), or when the lease expires because the worker
    /// died (the next claim takes it again, with the same `webhook-id`).
    Running,
    /// The last attempt failed and another is due later. Entered by a failed attempt with attempts
    /// left. Left like `Scheduled`.
    Retrying,
    /// Delivered (2xx). Final, until pruned after the retention period.
    Succeeded,
    /// Attempts ran out or the receiver answered with a final failure: a dead letter. Stays queryable;
    /// `retry` moves it back to `Scheduled`.
    Failed,
    /// Cancelled by `cancel`; never fires again. Final.
    Cancelled,
    /// A cron job that `pause` stopped; `resume` moves it back to `Scheduled`.
    Paused,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 7] = [
        JobState::Scheduled,
        JobState::Running,
        JobState::Retrying,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Paused,
    ];

    /// The lowercase name used in the store and by the bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Paused => "paused",
        }
    }

    /// Whether the job will never run again by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| Error::invalid("state", format!("unknown job state {s:?}")))
    }
}

/// The HTTP method of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Method {
    /// `POST`, the default.
    #[default]
    Post,
    /// `GET`.
    Get,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method's name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl FromStr for Method {
    type Err = Error;

    /// Case-insensitive.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "POST" => Method::Post,
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => {
                return Err(Error::invalid(
                    "method",
                    format!("{s:?} is not one of POST, GET, PUT, PATCH, DELETE"),
                ));
            }
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a job runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum When {
    /// At an instant. An instant in the past means "due now".
    At(DateTime<Utc>),
    /// This long after the job is scheduled.
    After(Duration),
    /// On a cron schedule: a 5-field, 6-field (leading seconds) or nickname (`@hourly`) expression.
    Cron(String),
}

/// A webhook to schedule: built with [`JobSpec::post`] (or [`JobSpec::new`] and [`JobSpec::method`]) for a
/// one-time job, or [`JobSpec::cron`] for a cron job, then passed to `Scheduler::schedule`.
///
/// Nothing is checked until the job is scheduled; then every field is validated and a bad one is
/// reported as [`Error::InvalidJob`] with nothing stored (within a batch of several, wrapped in
/// [`Error::InBatch`] with the job's position).
///
/// Its `Debug` output hides what may hold credentials: header values, the body, and the URLs'
/// userinfo and query.
#[derive(Clone)]
pub struct JobSpec {
    pub(crate) url: String,
    pub(crate) method: Method,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<String>,
    pub(crate) when: When,
    pub(crate) tz: Option<String>,
    pub(crate) missed: Option<MissedRunPolicy>,
    pub(crate) name: Option<String>,
    pub(crate) labels: Vec<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) signing: Option<JobSigning>,
    pub(crate) on_success_url: Option<String>,
    pub(crate) on_failure_url: Option<String>,
    pub(crate) idempotency_key: Option<String>,
}

impl JobSpec {
    /// A one-time `POST` to `url`, due now unless [`JobSpec::at`] or [`JobSpec::after`] says otherwise.
    pub fn new(url: impl Into<String>) -> Self {
        JobSpec {
            url: url.into(),
            method: Method::Post,
            headers: Vec::new(),
            body: Vec::new(),
            content_type: None,
            when: When::After(Duration::ZERO),
            tz: None,
            missed: None,
            name: None,
            labels: Vec::new(),
            timeout: None,
            retry: None,
            idempotency_key: None,
            signing: None,
            on_success_url: None,
            on_failure_url: None,
        }
    }

    /// Same as [`JobSpec::new`]: a one-time `POST`.
    pub fn post(url: impl Into<String>) -> Self {
        JobSpec::new(url)
    }

    /// A cron job: a request to `url` at every occurrence of `expr`, in UTC unless [`JobSpec::tz`] says
    /// otherwise. Occurrences are not retried unless [`JobSpec::retry`] says otherwise.
    pub fn cron(url: impl Into<String>, expr: impl Into<String>) -> Self {
        JobSpec {
            when: When::Cron(expr.into()),
            ..JobSpec::new(url)
        }
    }

    /// The HTTP method (`POST` by default).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Adds a request header. Names and values are validated when the job is scheduled.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The raw request body, sent as-is (`application/octet-stream` unless a content type is set).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON request body (`application/json`).
    ///
    /// The body is written as JavaScript's `JSON.stringify` writes it (compact, keys in the order
    /// given, its number notation), so a receiver that re-serialises the parsed body before
    /// checking the signature gets the signed bytes (see [`crate::json`]).
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Result<Self> {
        self.body = crate::json::to_vec(value)
            .map_err(|e| Error::invalid("body", format!("cannot serialise to JSON: {e}")))?;
        self.content_type = Some("application/json".to_owned());
        Ok(self)
    }

    /// The `content-type` header.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Runs at `at`. An instant in the past means "due now". Not for cron jobs.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.when = When::At(at);
        self
    }

    /// Runs `delay` after it is scheduled. Not for cron jobs.
    pub fn after(mut self, delay: Duration) -> Self {
        self.when = When::After(delay);
        self
    }

    /// The IANA time zone of a cron job (`UTC` by default).
    pub fn tz(mut self, tz: impl Into<String>) -> Self {
        self.tz = Some(tz.into());
        self
    }

    /// What a cron job does about occurrences missed while no scheduler ran (`RunOnce` by default).
    pub fn missed(mut self, policy: MissedRunPolicy) -> Self {
        self.missed = Some(policy);
        self
    }

    /// A name, for listing and filtering. Names need not be unique.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a label, for listing and filtering.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }

    /// Per-attempt timeout (the scheduler's default, 30 s, otherwise).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retry policy (the scheduler's default otherwise; for cron occurrences, no retry).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// An idempotency key: scheduling again with the same key returns the existing job's id and
    /// creates nothing.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Signs this job's requests in another style with its own secrets, for a receiver that already
    /// verifies that style (for example [`Scheme::github`] or [`Scheme::stripe`], whose secrets are
    /// used verbatim). Without this, the scheduler's signing applies (Standard Webhooks by default).
    /// `webhook-id` is sent in every style, for deduplication.
    pub fn signing<S: Into<String>>(
        mut self,
        scheme: Scheme,
        secrets: impl IntoIterator<Item = S>,
    ) -> Self {
        let (headers, shape) = self
            .signing
            .take()
            .map(|s| (s.headers, s.shape))
            .unwrap_or_default();
        self.signing = Some(JobSigning {
            scheme,
            secrets: secrets.into_iter().map(Into::into).collect(),
            headers,
            shape,
        });
        self
    }

    /// Adds an extra header whose value timehook fills in on each attempt (the job id, the
    /// execution id, the timestamp, an idempotency key, the attempt number, the signature), for
    /// a receiver that reads it. Beside the scheduler's own extra headers.
    pub fn delivery_header(
        mut self,
        name: impl Into<String>,
        value: crate::profile::Filled,
    ) -> Self {
        self.signing
            .get_or_insert_with(|| JobSigning::new(Scheme::StandardWebhooks, Vec::new()))
            .headers
            .push((name.into(), value));
        self
    }

    /// Delivers this job as `profile`'s service would: its signature with `secret` (as the
    /// service gave it to the receiver), its extra headers, its retry schedule and its timeout.
    /// Anything set afterwards overrides it.
    pub fn profile(mut self, profile: &crate::profile::Profile, secret: impl Into<String>) -> Self {
        self.signing = Some(JobSigning {
            scheme: profile.scheme.clone(),
            secrets: vec![secret.into()],
            headers: profile.headers.clone(),
            shape: profile.shape,
        });
        let retry = if matches!(self.when, When::Cron(_)) {
            &profile.cron_retry
        } else {
            &profile.retry
        };
        if let Some(retry) = retry {
            self.retry = Some(retry.clone());
        }
        self.timeout = Some(profile.timeout);
        self
    }

    /// A URL that receives a signed JSON report of every successful delivery (`job_id`, `job_name`,
    /// `execution_id`, `status`, `executed_at`, `response_code`, `response_time_ms`, `response_body`,
    /// `error_message`, `retry_attempt`, `next_retry_at`). Callbacks are durable deliveries of their own.
    pub fn on_success(mut self, url: impl Into<String>) -> Self {
        self.on_success_url = Some(url.into());
        self
    }

    /// A URL that receives the same report for every failed attempt (`next_retry_at` says whether
    /// another follows).
    pub fn on_failure(mut self, url: impl Into<String>) -> Self {
        self.on_failure_url = Some(url.into());
        self
    }

    /// The target URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A scheduled job, as stored.
///
/// Its `Debug` output hides what may hold credentials: header values, the body, and the URLs'
/// userinfo and query.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// One-time or cron.
    pub kind: JobKind,
    /// Its state.
    pub state: JobState,
    /// Its name, if any.
    pub name: Option<String>,
    /// Its labels.
    pub labels: Vec<String>,
    /// Target URL.
    pub url: String,
    /// HTTP method.
    pub method: Method,
    /// User headers, `content-type` included.
    pub headers: Vec<(String, String)>,
    /// Request body. Empty in the jobs of a `list` page unless its filter asks for bodies
    /// ([`ListFilter::with_bodies`]).
    pub body: Vec<u8>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// Cron expression, for cron jobs.
    pub cron: Option<String>,
    /// Time zone, for cron jobs.
    pub tz: Option<String>,
    /// Missed-run policy, for cron jobs.
    pub missed: Option<MissedRunPolicy>,
    /// When it next runs: the due time of a scheduled or retrying one-time job, or a cron job's next
    /// occurrence. `None` when nothing is due.
    pub next_run_at: Option<DateTime<Utc>>,
    /// The execution id (`webhook-id`) of a one-time job.
    pub execution_id: Option<ExecutionId>,
    /// Attempts made so far (for cron jobs, across all occurrences).
    pub attempts: u32,
    /// Where successful deliveries are reported.
    pub on_success_url: Option<String>,
    /// Where failed attempts are reported.
    pub on_failure_url: Option<String>,
    /// When it was scheduled.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttemptError {
    /// No complete answer within the timeout.
    Timeout,
    /// The connection was refused, reset or could not be made.
    Connect,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed.
    Tls,
    /// The receiver answered with a redirect (3xx), which is not followed.
    Redirect,
    /// The receiver answered with a non-2xx status.
    Status,
    /// The worker stopped (crash, kill, shutdown deadline) before the outcome was recorded; the
    /// request may or may not have reached the receiver.
    Interrupted,
    /// The SSRF guard refused the address the URL leads to (see [`crate::guard`]): a final
    /// failure, never retried.
    Blocked,
    /// The job as stored no longer reads (its cron expression or time zone, method, headers,
    /// retry policy or signing settings: a time zone removed from the tz database, a row written
    /// by hand); it is failed without a request, and the message says what did not read.
    Unreadable,
    /// Any other failure while sending.
    Request,
}

impl AttemptError {
    /// The lowercase name used in the store and by the bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptError::Timeout => "timeout",
            AttemptError::Connect => "connect",
            AttemptError::Dns => "dns",
            AttemptError::Tls => "tls",
            AttemptError::Redirect => "redirect",
            AttemptError::Status => "status",
            AttemptError::Interrupted => "interrupted",
            AttemptError::Blocked => "blocked",
            AttemptError::Unreadable => "unreadable",
            AttemptError::Request => "request",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "timeout" => AttemptError::Timeout,
            "connect" => AttemptError::Connect,
            "dns" => AttemptError::Dns,
            "tls" => AttemptError::Tls,
            "redirect" => AttemptError::Redirect,
            "status" => AttemptError::Status,
            "interrupted" => AttemptError::Interrupted,
            "blocked" => AttemptError::Blocked,
            "unreadable" => AttemptError::Unreadable,
            _ => AttemptError::Request,
        }
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One delivery attempt, as recorded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Attempt {
    /// The job.
    pub job_id: JobId,
    /// The execution (`webhook-id`).
    pub execution_id: ExecutionId,
    /// 1 for the first attempt of the execution.
    pub number: u32,
    /// When the request was sent.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration: Duration,
    /// The response status, if an answer came.
    pub status: Option<u16>,
    /// The first 1 KB of the response body.
    pub response_body: Option<Vec<u8>>,
    /// Why it failed, if it did.
    pub error: Option<AttemptError>,
    /// A human-readable description of the failure.
    pub message: Option<String>,
    /// When the next attempt is due, if one follows.
    pub next_retry_at: Option<DateTime<Utc>>,
}

impl Attempt {
    /// Whether the attempt delivered the webhook.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// Where the page after this attempt starts: pass it as `after` to
    /// `Scheduler::attempts_page`. An opaque string.
    pub fn cursor(&self) -> String {
        format!(
            "{}.{}.{}",
            self.started_at.timestamp_millis(),
            self.execution_id.as_str(),
            self.number
        )
    }
}

/// Which jobs `Scheduler::list` returns. All conditions must hold; an empty filter lists everything.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ListFilter {
    /// Only jobs in one of these states.
    pub states: Vec<JobState>,
    /// Only jobs with this name.
    pub name: Option<String>,
    /// Only jobs carrying this label.
    pub label: Option<String>,
    /// Only one-time or only cron jobs.
    pub kind: Option<JobKind>,
    /// Only jobs created at or after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Only jobs created before this instant.
    pub created_before: Option<DateTime<Utc>>,
    /// Only jobs next due at or after this instant.
    pub due_after: Option<DateTime<Utc>>,
    /// Only jobs next due before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Page size (default 100, at most 10 000; at most 1 000 with bodies).
    pub limit: Option<u32>,
    /// Also load each job's body (by default a page leaves `body` empty, so that a page of big
    /// payloads does not fill memory).
    pub bodies: bool,
    /// Continue after this id (from the last job of the previous page). Jobs are listed in id order,
    /// which is creation order.
    pub after: Option<JobId>,
    /// Also list the scheduler's own deliveries: callbacks, subscription events and test messages
    /// (named `timehook.callback`, `timehook.event`, `timehook.test`).
    pub include_internal: bool,
}

impl ListFilter {
    /// Only jobs in `state`.
    pub fn state(mut self, state: JobState) -> Self {
        self.states.push(state);
        self
    }

    /// Only jobs named `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only jobs carrying `label`.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continue after `id`.
    pub fn after(mut self, id: JobId) -> Self {
        self.after = Some(id);
        self
    }

    /// Load each job's body too.
    pub fn with_bodies(mut self) -> Self {
        self.bodies = true;
        self
    }

    /// Only one-time or only cron jobs.
    pub fn kind(mut self, kind: JobKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Only jobs created at or after `t`.
    pub fn created_after(mut self, t: DateTime<Utc>) -> Self {
        self.created_after = Some(t);
        self
    }

    /// Only jobs created before `t`.
    pub fn created_before(mut self, t: DateTime<Utc>) -> Self {
        self.created_before = Some(t);
        self
    }

    /// Only jobs next due at or after `t`.
    pub fn due_after(mut self, t: DateTime<Utc>) -> Self {
        self.due_after = Some(t);
        self
    }

    /// Only jobs next due before `t`.
    pub fn due_before(mut self, t: DateTime<Utc>) -> Self {
        self.due_before = Some(t);
        self
    }

    /// Also list the scheduler's own deliveries (callbacks, events, test messages).
    pub fn include_internal(mut self) -> Self {
        self.include_internal = true;
        self
    }
}

impl fmt::Debug for JobSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::redact::{Body, Headers, OptUrl, Url};
        f.debug_struct("JobSpec")
            .field("url", &Url(&self.url))
            .field("method", &self.method)
            .field("headers", &Headers(&self.headers))
            .field("body", &Body(&self.body))
            .field("content_type", &self.content_type)
            .field("when", &self.when)
            .field("tz", &self.tz)
            .field("missed", &self.missed)
            .field("name", &self.name)
            .field("labels", &self.labels)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("signing", &self.signing)
            .field("on_success_url", &OptUrl(self.on_success_url.as_deref()))
            .field("on_failure_url", &OptUrl(self.on_failure_url.as_deref()))
            .field("idempotency_key", &self.idempotency_key)
            .finish()
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::redact::{Body, Headers, OptUrl, Url};
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("name", &self.name)
            .field("labels", &self.labels)
            .field("url", &Url(&self.url))
            .field("method", &self.method)
            .field("headers", &Headers(&self.headers))
            .field("body", &Body(&self.body))
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("idempotency_key", &self.idempotency_key)
            .field("cron", &self.cron)
            .field("tz", &self.tz)
            .field("missed", &self.missed)
            .field("next_run_at", &self.next_run_at)
            .field("execution_id", &self.execution_id)
            .field("attempts", &self.attempts)
            .field("on_success_url", &OptUrl(self.on_success_url.as_deref()))
            .field("on_failure_url", &OptUrl(self.on_failure_url.as_deref()))
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}
