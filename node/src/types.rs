//! The shapes of the option objects, declared for `index.d.ts`. They are read at run time by the
//! converters in `jobs` (one field at a time, so an error names the field), never through these
//! structs, whose Rust field types are placeholders: the `ts_type` is what counts.
#![allow(dead_code)]

use napi_derive::napi;

/// A webhook to schedule. Without `at` or `after` it is due now.
#[napi(object, object_to_js = false)]
pub struct JobOptions {
    /// Target URL (http or https).
    pub url: String,
    /// When it is due: a `Date`, an ISO 8601 string with an offset, or epoch milliseconds. In the
    /// past means "due now".
    #[napi(ts_type = "Date | string | number")]
    pub at: Option<String>,
    /// Due this many milliseconds from now.
    pub after: Option<f64>,
    /// A cron expression: the job is a cron job (`scheduleMany` only; or use `cron()`).
    pub cron: Option<String>,
    /// IANA time zone of a cron job (default UTC).
    pub tz: Option<String>,
    /// What happens to cron occurrences missed while no scheduler ran: `skip`, `run_once`
    /// (default) or `catch_up:N`.
    pub missed: Option<String>,
    /// The body: an object or array (sent as JSON), a string (sent as text), or a `Buffer` /
    /// `Uint8Array` / `ArrayBuffer` (sent as bytes).
    #[napi(ts_type = "unknown")]
    pub payload: Option<String>,
    /// Request headers: an object, `[name, value]` pairs, or a `Headers`/`Map`.
    #[napi(
        ts_type = "Record<string, string> | Array<[string, string]> | Iterable<[string, string]>"
    )]
    pub headers: Option<String>,
    /// HTTP method (default `POST`).
    pub method: Option<String>,
    /// `content-type`, overriding the payload's default.
    pub content_type: Option<String>,
    /// Per-attempt timeout in milliseconds (default 30 s).
    pub timeout: Option<f64>,
    /// Retry policy: a preset name or a policy object.
    #[napi(ts_type = "string | RetryPolicy")]
    pub retry: Option<String>,
    /// With a key that exists already, the existing job's id is returned and nothing is created.
    pub idempotency_key: Option<String>,
    /// Name, for listing.
    pub name: Option<String>,
    /// Labels, for listing.
    pub labels: Option<Vec<String>>,
    /// Where each successful delivery is reported: a signed JSON callback (`job_id`, `job_name`,
    /// `execution_id`, `status`, `executed_at`, `response_code`, `response_time_ms`,
    /// `response_body`, `error_message`, `retry_attempt`, `next_retry_at`), itself a durable,
    /// retried delivery.
    pub on_success_url: Option<String>,
    /// Where each failed attempt is reported, with the same body as `onSuccessUrl`.
    pub on_failure_url: Option<String>,
    /// This job's own signature style, for a receiver that already verifies it (the
    /// scheduler's when unset); needs `secret`.
    #[napi(ts_type = "'standard' | 'github' | 'stripe' | SchemeOptions")]
    pub scheme: Option<String>,
    /// This job's own secret(s), exactly as its receiver knows them (with `scheme`, or alone:
    /// Standard Webhooks with `whsec_` secrets of its own).
    #[napi(ts_type = "string | string[]")]
    pub secret: Option<String>,
    /// A delivery profile: `runlater-eu`, `runlater`, `cronflow`, `svix` or `a1cron` (its
    /// signature with `secret`, its extra headers, retries and timeout).
    #[napi(ts_type = "'runlater-eu' | 'runlater' | 'cronflow' | 'svix' | 'a1cron'")]
    pub profile: Option<String>,
}

/// Options of `cron(url, expr, options)`: the fields of a job, without `url`, `at` and `after`.
#[napi(object, object_to_js = false)]
pub struct CronOptions {
    /// IANA time zone (default UTC).
    pub tz: Option<String>,
    /// `skip`, `run_once` (default) or `catch_up:N`.
    pub missed: Option<String>,
    /// The body, as for `schedule`.
    #[napi(ts_type = "unknown")]
    pub payload: Option<String>,
    /// Request headers.
    #[napi(
        ts_type = "Record<string, string> | Array<[string, string]> | Iterable<[string, string]>"
    )]
    pub headers: Option<String>,
    /// HTTP method (default `POST`).
    pub method: Option<String>,
    /// `content-type`, overriding the payload's default.
    pub content_type: Option<String>,
    /// Per-attempt timeout in milliseconds.
    pub timeout: Option<f64>,
    /// Retry policy of each occurrence (default: none).
    #[napi(ts_type = "string | RetryPolicy")]
    pub retry: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Name, for listing.
    pub name: Option<String>,
    /// Labels, for listing.
    pub labels: Option<Vec<String>>,
    /// Where each successful delivery is reported: a signed JSON callback (`job_id`, `job_name`,
    /// `execution_id`, `status`, `executed_at`, `response_code`, `response_time_ms`,
    /// `response_body`, `error_message`, `retry_attempt`, `next_retry_at`), itself a durable,
    /// retried delivery.
    pub on_success_url: Option<String>,
    /// Where each failed attempt is reported, with the same body as `onSuccessUrl`.
    pub on_failure_url: Option<String>,
    /// This job's own signature style (see `JobOptions.scheme`); needs `secret`.
    #[napi(ts_type = "'standard' | 'github' | 'stripe' | SchemeOptions")]
    pub scheme: Option<String>,
    /// This job's own secret(s), exactly as its receiver knows them.
    #[napi(ts_type = "string | string[]")]
    pub secret: Option<String>,
    /// A delivery profile: `runlater-eu`, `runlater`, `cronflow`, `svix` or `a1cron` (its
    /// signature with `secret`, its extra headers, retries and timeout).
    #[napi(ts_type = "'runlater-eu' | 'runlater' | 'cronflow' | 'svix' | 'a1cron'")]
    pub profile: Option<String>,
}

/// Options of `Scheduler.open`. Durations are milliseconds.
#[napi(object, object_to_js = false)]
pub struct OpenOptions {
    /// `whsec_...` signing secret(s), newest first (every request carries one signature per
    /// secret, for rotation). Without one, a secret is generated and kept in the file.
    #[napi(ts_type = "string | string[]")]
    pub secret: Option<String>,
    /// ed25519 `whsk_...` signing key(s) (adds `v1a` signatures).
    #[napi(ts_type = "string | string[]")]
    pub signing_key: Option<String>,
    /// Start delivering at once (default true). With `false` the scheduler only stores jobs
    /// until `start()` (or `runDue()`).
    pub autostart: Option<bool>,
    /// Most deliveries in flight at once (default 256).
    pub max_concurrency: Option<f64>,
    /// Most deliveries in flight to one host (default 64).
    pub per_host_concurrency: Option<f64>,
    /// Per-attempt timeout for jobs that set none (default 30 s).
    pub default_timeout: Option<f64>,
    /// Retry policy for one-time jobs that set none.
    #[napi(ts_type = "string | RetryPolicy")]
    pub default_retry: Option<String>,
    /// Retry policy for cron occurrences whose job sets none (default: none).
    #[napi(ts_type = "string | RetryPolicy")]
    pub default_cron_retry: Option<String>,
    /// The `user-agent` header.
    pub user_agent: Option<String>,
    /// Largest accepted body in bytes (default 1 MiB).
    pub max_payload_size: Option<f64>,
    /// How long succeeded and cancelled jobs are kept (default 7 days).
    pub retention: Option<f64>,
    /// How long failed jobs are kept (default 30 days).
    pub failed_retention: Option<f64>,
    /// How long a claim holds an execution (default 30 s; renewed while it runs).
    pub lease_duration: Option<f64>,
    /// How often the file is checked for jobs added by other processes (default 1 s).
    pub poll_interval: Option<f64>,
    /// How late a cron occurrence may be and still count as on time.
    pub missed_run_grace: Option<f64>,
    /// `full` (default: commits survive power loss) or `normal` (they survive a crash).
    #[napi(ts_type = "'full' | 'normal'")]
    pub durability: Option<String>,
    /// A `ManualClock`, for tests only.
    #[napi(ts_type = "ManualClock")]
    pub clock: Option<String>,
    /// A label such as `production`, sent as `environment` in subscription events.
    pub environment: Option<String>,
    /// The PostgreSQL schema that holds timehook's tables (default `timehook`); only with a
    /// `postgresql://` URL.
    pub schema: Option<String>,
    /// Networks (`'10.1.0.0/16'`, an address) and host names (`'hooks.internal'`,
    /// `'*.corp.example'`) the SSRF guard lets deliveries reach; it refuses loopback, private,
    /// link-local (cloud metadata) and similar addresses otherwise.
    pub allow_targets: Option<Vec<String>>,
    /// Turns the SSRF guard off (tests on 127.0.0.1, trusted intranets).
    pub allow_private_targets: Option<bool>,
    /// An HTTP(S) proxy for every request; the environment's `HTTP_PROXY` is never used.
    pub proxy: Option<String>,
    /// How long an endpoint must fail continuously before it is disabled (default 5 days).
    pub disable_endpoints_after: Option<f64>,
    /// How many failed attempts, at least, before an endpoint is disabled (default 10).
    pub disable_endpoints_min_failures: Option<f64>,
    /// Whether a 410 Gone disables its endpoint at once (default false).
    pub disable_endpoint_on_gone: Option<bool>,
    /// How many times one execution may be interrupted (its process died, or the shutdown
    /// deadline passed mid-request) before it is failed as `interrupted` (default 5).
    /// Interrupted attempts do not count against the retry policy.
    pub max_interrupted_attempts: Option<f64>,
    /// Most requests started per second to one endpoint (default: no limit).
    pub per_host_rate: Option<f64>,
    /// Limits for single endpoints, in place of `perHostConcurrency` and `perHostRate`, keyed by
    /// `scheme://host:port` (or any URL on it).
    #[napi(ts_type = "Record<string, EndpointLimit>")]
    pub endpoint_limits: Option<String>,
    /// The signature style of every request (default Standard Webhooks); another style signs
    /// with `secret` exactly as the receiver knows it.
    #[napi(ts_type = "'standard' | 'github' | 'stripe' | SchemeOptions")]
    pub scheme: Option<String>,
    /// A delivery profile: `runlater-eu`, `runlater`, `cronflow`, `svix` or `a1cron` (its
    /// signature with `secret`, its extra headers, retries and timeout).
    #[napi(ts_type = "'runlater-eu' | 'runlater' | 'cronflow' | 'svix' | 'a1cron'")]
    pub profile: Option<String>,
}

/// Limits for one endpoint.
#[napi(object, object_to_js = false)]
pub struct EndpointLimit {
    /// Most requests in flight at once.
    pub max_in_flight: f64,
    /// Most requests started per second (a burst of one second's worth is allowed).
    pub per_second: Option<f64>,
}

/// Which dead letters (failed jobs, failed cron occurrences) `retryFailed` and `purge` take; all
/// must hold, and no filter at all means every dead letter.
#[napi(object, object_to_js = false)]
pub struct DeadLetterFilter {
    /// Failed at or after this instant.
    #[napi(ts_type = "Date | string | number")]
    pub since: Option<String>,
    /// Failed before this instant.
    #[napi(ts_type = "Date | string | number")]
    pub until: Option<String>,
    /// Only jobs with this name.
    pub name: Option<String>,
    /// Only jobs carrying this label.
    pub label: Option<String>,
    /// Only this job.
    pub job: Option<String>,
}

/// What `exportAttempts` writes: the format, and which attempts (all filters must hold).
#[napi(object, object_to_js = false)]
pub struct ExportOptions {
    /// `csv` (default; with a header line) or `jsonl` (one JSON object a line).
    #[napi(ts_type = "'csv' | 'jsonl'")]
    pub format: Option<String>,
    /// Attempts started at or after this instant.
    #[napi(ts_type = "Date | string | number")]
    pub since: Option<String>,
    /// Attempts started before this instant.
    #[napi(ts_type = "Date | string | number")]
    pub until: Option<String>,
    /// Only this job's attempts.
    pub job: Option<String>,
    /// Only attempts of jobs now in this state.
    #[napi(ts_type = "JobState")]
    pub state: Option<String>,
}

/// Filters of `list`; all must hold.
#[napi(object, object_to_js = false)]
pub struct ListFilter {
    /// Only jobs in this state or these states.
    #[napi(ts_type = "JobState | JobState[]")]
    pub state: Option<String>,
    /// Only jobs with this name.
    pub name: Option<String>,
    /// Only jobs carrying this label.
    pub label: Option<String>,
    /// Only one-time or only cron jobs.
    #[napi(ts_type = "'once' | 'cron'")]
    pub kind: Option<String>,
    /// Only jobs created at or after this instant.
    #[napi(ts_type = "Date | string | number")]
    pub created_after: Option<String>,
    /// Only jobs created before this instant.
    #[napi(ts_type = "Date | string | number")]
    pub created_before: Option<String>,
    /// Only jobs next due at or after this instant.
    #[napi(ts_type = "Date | string | number")]
    pub due_after: Option<String>,
    /// Only jobs next due before this instant.
    #[napi(ts_type = "Date | string | number")]
    pub due_before: Option<String>,
    /// Page size (default 100, at most 10 000).
    pub limit: Option<f64>,
    /// Continue after this job id (the last of the previous page).
    pub after: Option<String>,
    /// Also load each job's payload (left out by default; at most 1 000 jobs per page with
    /// payloads).
    pub with_bodies: Option<bool>,
}

/// A signature scheme other than Standard Webhooks (the default). `hex_body`: hex HMAC of the
/// raw body in `header` (`sha256=` first when `prefix`, default true). `timestamped_hex`: hex HMAC
/// of `timestamp.body` in `header`, the timestamp in `timestampHeader` or inside `header` as
/// `t=<ts>,v1=<hex>`.
#[napi(object, object_to_js = false)]
pub struct SchemeOptions {
    /// The scheme.
    #[napi(ts_type = "'standard' | 'github' | 'stripe' | 'hex_body' | 'timestamped_hex'")]
    pub kind: String,
    /// The signature header.
    pub header: Option<String>,
    /// Whether the signature starts with `sha256=` (`hex_body`).
    pub prefix: Option<bool>,
    /// The timestamp header (`timestamped_hex`).
    pub timestamp_header: Option<String>,
}

/// Options of `new Verifier`.
#[napi(object, object_to_js = false)]
pub struct VerifierOptions {
    /// How far a delivery's timestamp may be from now, in seconds (default 300).
    pub tolerance_seconds: Option<f64>,
    /// The signature scheme (default Standard Webhooks).
    #[napi(ts_type = "'standard' | 'github' | 'stripe' | SchemeOptions")]
    pub scheme: Option<String>,
}

/// Options of `verify`.
#[napi(object, object_to_js = false)]
pub struct VerifyOptions {
    /// The time to check the timestamp against: a `Date` or Unix seconds (default: now).
    #[napi(ts_type = "Date | number")]
    pub now: Option<f64>,
}

/// Options of `new Signer`.
#[napi(object, object_to_js = false)]
pub struct SignerOptions {
    /// The signature scheme (default Standard Webhooks).
    #[napi(ts_type = "'standard' | 'github' | 'stripe' | SchemeOptions")]
    pub scheme: Option<String>,
}
