//! The plain records of the bindings as JavaScript objects: times become `Date`s, durations stay
//! milliseconds, bodies become `Buffer`s. These structs also declare the input shapes in
//! `index.d.ts` (`JobOptions`, `OpenOptions`, ...), which the converters in `jobs` read.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use napi::Env;
use napi::bindgen_prelude::{Buffer, FnArgs, Function, FunctionRef, Unknown};
use napi_derive::napi;
use timehook_bindings::outcomes::ATTEMPT_EVENT;
use timehook_bindings::{
    AttemptRecord, EndpointRecord, EpochMs, EventRecord, JobRecord, OutcomeRecord, RetrySpec,
    SubscriptionRecord,
};

fn date(ms: EpochMs) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A job's state. `scheduled` → `running` → `succeeded`, or `retrying` → ... → `failed`;
/// `cancelled` by `cancel`; `paused` (cron jobs) by `pause`.
#[napi(string_enum = "lowercase")]
#[derive(Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its time.
    Scheduled,
    /// A delivery is in flight.
    Running,
    /// The last attempt failed; another is due.
    Retrying,
    /// Delivered (a one-time job's final state).
    Succeeded,
    /// Out of attempts, or answered with a final failure (a dead letter; `retry` re-queues it).
    Failed,
    /// Cancelled; it never fires again.
    Cancelled,
    /// A paused cron job.
    Paused,
}

impl From<timehook::JobState> for JobState {
    /// A state added to the core must be added here (and so to `index.d.ts`).
    fn from(state: timehook::JobState) -> Self {
        use timehook::JobState as S;
        match state {
            S::Scheduled => JobState::Scheduled,
            S::Running => JobState::Running,
            S::Retrying => JobState::Retrying,
            S::Succeeded => JobState::Succeeded,
            S::Failed => JobState::Failed,
            S::Cancelled => JobState::Cancelled,
            S::Paused => JobState::Paused,
            // A state newer than this binding (the core's enum is non-exhaustive).
            other => JobState::parse(other.as_str()),
        }
    }
}

impl JobState {
    /// The state of a record (the bindings give the core's own string for it).
    fn parse(state: &str) -> JobState {
        // The string always comes from the core's `JobState::as_str`, so this cannot fail; a
        // state the core cannot parse back would be reported as scheduled.
        timehook::JobState::from_str(state).map_or(JobState::Scheduled, JobState::from)
    }
}

/// A retry policy. As input, a preset name (`"default"`, `"none"`, `"runlater"`, `"single"`,
/// `"cronflow"`, `"svix"`) may be given instead; unset fields take the defaults. With `delays`
/// the policy is a fixed list of delays, otherwise exponential backoff with jitter.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: Option<u32>,
    /// Fixed delays between attempts, in milliseconds.
    pub delays: Option<Vec<f64>>,
    /// First delay of exponential backoff, in milliseconds (default 10 s).
    pub initial: Option<f64>,
    /// Growth factor of exponential backoff (default 2).
    pub factor: Option<f64>,
    /// Jitter fraction of exponential backoff, 0..=1 (default 0.2).
    pub jitter: Option<f64>,
    /// Longest delay, which also caps `Retry-After`, in milliseconds (default 1 h).
    pub max_delay: Option<f64>,
}

impl From<RetrySpec> for RetryPolicy {
    fn from(r: RetrySpec) -> Self {
        RetryPolicy {
            max_attempts: r.max_attempts,
            delays: r
                .delays_ms
                .map(|d| d.into_iter().map(|ms| ms as f64).collect()),
            initial: r.initial_ms.map(|ms| ms as f64),
            factor: r.factor,
            jitter: r.jitter,
            max_delay: r.max_delay_ms.map(|ms| ms as f64),
        }
    }
}

/// A job as stored.
#[napi(object, object_from_js = false)]
pub struct Job {
    /// `job_...`.
    pub id: String,
    /// `once` or `cron`.
    #[napi(ts_type = "'once' | 'cron'")]
    pub kind: String,
    /// Its state.
    pub state: JobState,
    /// Its name.
    pub name: Option<String>,
    /// Its labels.
    pub labels: Vec<String>,
    /// Target URL.
    pub url: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Request headers (`content-type` included), as `[name, value]` pairs.
    #[napi(ts_type = "Array<[string, string]>")]
    pub headers: Vec<Vec<String>>,
    /// Request body.
    pub body: Buffer,
    /// Per-attempt timeout in milliseconds.
    pub timeout: f64,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Cron expression (cron jobs).
    pub cron: Option<String>,
    /// IANA time zone (cron jobs).
    pub tz: Option<String>,
    /// Missed-run policy (cron jobs): `skip`, `run_once` or `catch_up:N`.
    pub missed: Option<String>,
    /// When it next runs.
    pub next_run_at: Option<DateTime<Utc>>,
    /// `exec_...`: the `webhook-id` of a one-time job's delivery (stable across retries).
    pub execution_id: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Where each successful delivery is reported (a signed JSON callback).
    pub on_success_url: Option<String>,
    /// Where each failed attempt is reported (a signed JSON callback).
    pub on_failure_url: Option<String>,
    /// When it was scheduled.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<JobRecord> for Job {
    fn from(r: JobRecord) -> Self {
        Job {
            id: r.id,
            kind: r.kind.to_owned(),
            state: JobState::parse(r.state),
            name: r.name,
            labels: r.labels,
            url: r.url,
            method: r.method.to_owned(),
            headers: r.headers.into_iter().map(|(n, v)| vec![n, v]).collect(),
            body: r.body.into(),
            timeout: r.timeout_ms as f64,
            retry: r.retry.into(),
            idempotency_key: r.idempotency_key,
            cron: r.cron,
            tz: r.tz,
            missed: r.missed,
            next_run_at: r.next_run_at_ms.map(date),
            execution_id: r.execution_id,
            attempts: r.attempts,
            on_success_url: r.on_success_url,
            on_failure_url: r.on_failure_url,
            created_at: date(r.created_at_ms),
            updated_at: date(r.updated_at_ms),
        }
    }
}

/// One delivery attempt.
#[napi(object, object_from_js = false)]
pub struct Attempt {
    /// The job.
    pub job_id: String,
    /// The execution (`webhook-id`).
    pub execution_id: String,
    /// 1 for the first attempt of the execution.
    pub number: u32,
    /// When the request was sent.
    pub started_at: DateTime<Utc>,
    /// How long it took, in milliseconds.
    pub duration: f64,
    /// The response status, if an answer came.
    pub status: Option<u32>,
    /// The first 1 KB of the response body.
    pub response_body: Option<Buffer>,
    /// Why it failed: `timeout`, `connect`, `dns`, `tls`, `redirect`, `status`, `interrupted`,
    /// `blocked` (the SSRF guard refused the address), `unreadable` (the stored job no longer
    /// parses; failed without a request) or `request`.
    pub error: Option<String>,
    /// A human-readable description of the failure.
    pub message: Option<String>,
    /// When the next attempt is due, if one follows.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Where the page after this attempt starts: `attemptsPage(id, { after: cursor })`.
    pub cursor: String,
}

impl From<AttemptRecord> for Attempt {
    fn from(a: AttemptRecord) -> Self {
        Attempt {
            job_id: a.job_id,
            execution_id: a.execution_id,
            number: a.number,
            started_at: date(a.started_at_ms),
            duration: a.duration_ms as f64,
            status: a.status.map(u32::from),
            response_body: a.response_body.map(Buffer::from),
            error: a.error.map(str::to_owned),
            message: a.message,
            next_retry_at: a.next_retry_at_ms.map(date),
            cursor: a.cursor,
        }
    }
}

/// What one attempt came to, as callbacks, subscription events and listeners report it.
#[napi(object, object_from_js = false)]
pub struct Outcome {
    /// The job.
    pub job_id: String,
    /// The job's name.
    pub job_name: Option<String>,
    /// The execution (`webhook-id`).
    pub execution_id: String,
    /// `success`, `failure` (an answer that is not 2xx), `error` (no answer) or `timeout`.
    #[napi(ts_type = "'success' | 'failure' | 'error' | 'timeout'")]
    pub status: String,
    /// When the attempt was sent.
    pub executed_at: DateTime<Utc>,
    /// The response status; absent when no answer came.
    pub response_code: Option<u32>,
    /// How long the attempt took, in milliseconds.
    pub response_time: f64,
    /// The first 1 KB of the response body.
    pub response_body: Option<String>,
    /// What went wrong.
    pub error_message: Option<String>,
    /// 0 for the first attempt of the execution.
    pub retry_attempt: u32,
    /// When the next attempt is due; absent when no retry follows.
    pub next_retry_at: Option<DateTime<Utc>>,
}

impl From<OutcomeRecord> for Outcome {
    fn from(o: OutcomeRecord) -> Self {
        Outcome {
            job_id: o.job_id,
            job_name: o.job_name,
            execution_id: o.execution_id,
            status: o.status.to_owned(),
            executed_at: date(o.executed_at_ms),
            response_code: o.response_code.map(u32::from),
            response_time: o.response_time_ms as f64,
            response_body: o.response_body,
            error_message: o.error_message,
            retry_attempt: o.retry_attempt,
            next_retry_at: o.next_retry_at_ms.map(date),
        }
    }
}

/// A persistent event subscription.
#[napi(object, object_from_js = false)]
pub struct Subscription {
    /// `sub_...`.
    pub id: String,
    /// Where the events go.
    pub url: String,
    /// Which events.
    #[napi(ts_type = "SubscriptionEvent[]")]
    pub events: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<SubscriptionRecord> for Subscription {
    fn from(s: SubscriptionRecord) -> Self {
        Subscription {
            id: s.id,
            url: s.url,
            events: s.events.into_iter().map(str::to_owned).collect(),
            created_at: date(s.created_at_ms),
        }
    }
}

/// The health of one endpoint (`scheme://host:port`) that is failing or disabled.
#[napi(object, object_from_js = false)]
pub struct Endpoint {
    /// `scheme://host:port`.
    pub origin: String,
    /// Since when every attempt has failed; absent while healthy.
    pub failing_since: Option<DateTime<Utc>>,
    /// Failed attempts since then.
    pub failures: u32,
    /// When it was disabled; its jobs are held until `enableEndpoint`.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<EndpointRecord> for Endpoint {
    fn from(e: EndpointRecord) -> Self {
        Endpoint {
            origin: e.origin,
            failing_since: e.failing_since_ms.map(date),
            failures: e.failures,
            disabled_at: e.disabled_at_ms.map(date),
        }
    }
}

/// An in-process event, as `scheduler.on(type, listener)` delivers it. `type` says which other
/// fields are set: `attempt` sets `attempt` and `jobState`; the `job.*` types set `outcome`;
/// `endpoint.disabled` sets `endpoint`.
#[napi(object, object_from_js = false)]
pub struct TimehookEvent {
    /// The event's type.
    #[napi(js_name = "type", ts_type = "EventType")]
    pub kind: String,
    /// The attempt (`attempt` events).
    pub attempt: Option<Attempt>,
    /// The job's state after the attempt (`attempt` events).
    pub job_state: Option<JobState>,
    /// What happened (`job.*` events).
    pub outcome: Option<Outcome>,
    /// The endpoint (`endpoint.disabled` events).
    pub endpoint: Option<Endpoint>,
}

impl From<EventRecord> for TimehookEvent {
    fn from(e: EventRecord) -> Self {
        TimehookEvent {
            kind: e.kind.to_owned(),
            attempt: e.attempt.map(Attempt::from),
            job_state: e.job_state.map(JobState::parse),
            outcome: e.outcome.map(Outcome::from),
            endpoint: e.endpoint.map(Endpoint::from),
        }
    }
}

/// An event as the arguments of a feed's JavaScript function ([`EVENT_FROM_ARGS`]): an `attempt`
/// event as its fields, which that function puts together into the same objects as
/// [`TimehookEvent`] (V8 builds them from a literal several times faster than napi builds them a
/// property at a time, and an attempt comes with every delivery); any other event as the object
/// itself, in the first argument.
pub type EventArgs = FnArgs<(
    Option<TimehookEvent>,
    Option<JobState>,
    Option<String>,
    Option<String>,
    Option<u32>,
    Option<DateTime<Utc>>,
    Option<f64>,
    Option<String>,
    Option<u32>,
    Option<Buffer>,
    bool,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
)>;

/// The function that turns [`EventArgs`] back into one event object and hands it to `dispatch`.
/// Keys come in the order napi gives [`TimehookEvent`] and [`Attempt`] (required fields, then the
/// optional ones present, in declaration order); an empty body is made here, where it is cheap.
/// Compiled once, when the module loads (`Buffer` is read then).
const EVENT_FROM_ARGS: &str = r"//# sourceURL=timehook/events.js
(function (dispatch) {
  const { alloc } = Buffer
  return function timehookEvent(event, jobState, jobId, executionId, number, startedAt, duration,
    cursor, status, responseBody, emptyBody, error, message, nextRetryAt) {
    if (event !== null) return dispatch(event)
    const attempt = { jobId, executionId, number, startedAt, duration, cursor }
    if (status !== null) attempt.status = status
    if (responseBody !== null) attempt.responseBody = responseBody
    else if (emptyBody) attempt.responseBody = alloc(0)
    if (error !== null) attempt.error = error
    if (message !== null) attempt.message = message
    if (nextRetryAt !== null) attempt.nextRetryAt = nextRetryAt
    const built = { type: 'attempt', attempt }
    if (jobState !== null) built.jobState = jobState
    return dispatch(built)
  }
})";

/// [`EVENT_FROM_ARGS`], kept: called with a feed's dispatcher, it returns the feed's function.
pub type EventFromArgs = FunctionRef<Function<'static, (), ()>, Unknown<'static>>;

/// Compiles [`EVENT_FROM_ARGS`].
pub fn compile_event_from_args(env: &Env) -> napi::Result<EventFromArgs> {
    let maker: Function<'_, Function<'static, (), ()>, Unknown<'static>> =
        env.run_script(EVENT_FROM_ARGS)?;
    maker.create_ref()
}

/// The arguments for `record` (see [`EventArgs`]).
pub fn event_args(record: EventRecord) -> EventArgs {
    match record {
        EventRecord {
            kind: ATTEMPT_EVENT,
            attempt: Some(a),
            job_state,
            ..
        } => {
            let empty_body = a.response_body.as_ref().is_some_and(Vec::is_empty);
            FnArgs::from((
                None,
                job_state.map(JobState::parse),
                Some(a.job_id),
                Some(a.execution_id),
                Some(a.number),
                Some(date(a.started_at_ms)),
                Some(a.duration_ms as f64),
                Some(a.cursor),
                a.status.map(u32::from),
                a.response_body.filter(|b| !b.is_empty()).map(Buffer::from),
                empty_body,
                a.error.map(str::to_owned),
                a.message,
                a.next_retry_at_ms.map(date),
            ))
        }
        other => FnArgs::from((
            Some(TimehookEvent::from(other)),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            false,
            None,
            None,
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_state_round_trips() {
        use timehook::JobState as S;
        for state in [
            S::Scheduled,
            S::Running,
            S::Retrying,
            S::Succeeded,
            S::Failed,
            S::Cancelled,
            S::Paused,
        ] {
            assert_eq!(JobState::parse(state.as_str()), JobState::from(state));
            assert_eq!(
                format!("{:?}", JobState::from(state)).to_lowercase(),
                state.as_str()
            );
        }
    }
}
