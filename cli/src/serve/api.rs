//! The REST API under `/v1`, with its OpenAPI document generated from these handlers.

// A handler builds its problem document once per failed request: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::str::FromStr;

use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, middleware};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use timehook::{
    DeadLetterFilter, EventType, ExportFilter, ExportFormat, JobId, JobState, ListFilter,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::{ApiResult, Problem};
use super::{AppState, auth};
use crate::error::CliError;
use crate::spec::JobRequest;
use crate::view::{
    AttemptPage, AttemptView, Count, Created, EndpointView, JobPage, JobView, SubscriptionView,
};

/// JSON bodies whose errors are problem documents naming the field.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct ApiJson<T>(pub T);

/// Query strings whose errors are problem documents.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct ApiQuery<T>(pub T);

#[derive(OpenApi)]
#[openapi(
    info(title = "timehook", description = "Durable webhook scheduling: one-time and cron webhooks, signed, retried and recorded."),
    security(("bearer" = [])),
    tags(
        (name = "jobs", description = "Schedule, list and change jobs"),
        (name = "attempts", description = "Delivery attempts"),
        (name = "subscriptions", description = "Outcome events delivered to a URL"),
        (name = "endpoints", description = "Endpoint health"),
        (name = "dead letters", description = "Failed jobs: recover and purge"),
        (name = "operations", description = "Health checks and metrics"),
    )
)]
pub struct ApiDoc;

/// Completes the document once every route is in it: the bearer scheme, and the problems any
/// operation may answer.
pub struct Finish;

impl Modify for Finish {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        // What any operation may answer besides its own responses: problems for a missing or
        // too small key, a bad or oversized body, a slow request, and a store that is down.
        let problem = |what: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(what)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let open = op.security.as_ref().is_some_and(|s| {
                    s.iter().all(|r| {
                        serde_json::to_value(r)
                            .is_ok_and(|v| v.as_object().is_some_and(serde_json::Map::is_empty))
                    })
                });
                let r = &mut op.responses.responses;
                if !open {
                    r.entry("401".into())
                        .or_insert_with(|| problem("No API key, or an unknown or revoked one"));
                    r.entry("403".into())
                        .or_insert_with(|| problem("The key's scope does not allow this"));
                }
                if op.request_body.is_some() {
                    r.entry("400".into()).or_insert_with(|| {
                        problem("The body is not valid JSON, or a field is wrong or unknown")
                    });
                    r.entry("413".into())
                        .or_insert_with(|| problem("The body is too large"));
                    r.entry("415".into())
                        .or_insert_with(|| problem("The body is not JSON"));
                }
                if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                    r.entry("400".into())
                        .or_insert_with(|| problem("A parameter is wrong or unknown"));
                }
                r.entry("408".into())
                    .or_insert_with(|| problem("The request took too long"));
                r.entry("503".into())
                    .or_insert_with(|| problem("The store does not answer"));
            }
        }
    }
}

/// The routes, each under the scope it needs.
pub fn routes(app: AppState) -> OpenApiRouter<AppState> {
    let read = OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(job_attempts))
        .routes(routes!(list_subscriptions))
        .routes(routes!(list_endpoints))
        .routes(routes!(export_attempts))
        .routes(routes!(metrics))
        .route_layer(middleware::from_fn_with_state(app.clone(), auth::read));
    let write = OpenApiRouter::new()
        .routes(routes!(create_job))
        .routes(routes!(cancel_job))
        .routes(routes!(pause_job))
        .routes(routes!(resume_job))
        .routes(routes!(trigger_job))
        .routes(routes!(retry_job))
        .routes(routes!(reschedule_job))
        .routes(routes!(create_subscription))
        .routes(routes!(delete_subscription))
        .routes(routes!(enable_endpoint))
        .routes(routes!(recover))
        .routes(routes!(purge))
        .routes(routes!(send_test))
        .route_layer(middleware::from_fn_with_state(app, auth::write));
    let open = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(read)
        .merge(write)
        .merge(open)
}

fn job_id(s: &str) -> ApiResult<JobId> {
    JobId::from_str(s).map_err(|_| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no job with id {s}"),
        )
    })
}

async fn job_view(app: &AppState, id: &JobId) -> ApiResult<Json<JobView>> {
    Ok(Json(JobView::from(&app.scheduler.get(id).await?)))
}

/// Schedule a job (one-time or cron).
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs", request_body = JobRequest,
    responses(
        (status = 201, description = "Created", body = Created),
        (status = 200, description = "Its idempotency key matched an existing job", body = Created),
        (status = 400, description = "Bad input", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_job(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<JobRequest>,
) -> ApiResult<Response> {
    let spec = req.to_spec(Utc::now())?;
    let s = app.scheduler.submit(spec).await?;
    let status = if s.existing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let location = HeaderValue::from_str(&format!("/v1/jobs/{}", s.id)).expect("ids are ASCII");
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(Created {
            id: s.id.to_string(),
            existing: s.existing,
        }),
    )
        .into_response())
}

/// Filters and paging for the job list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobQuery {
    /// Only jobs in this state.
    state: Option<String>,
    /// Only jobs with this name.
    name: Option<String>,
    /// Only jobs carrying this label.
    label: Option<String>,
    /// At most this many (1 to 1000, default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List jobs, oldest first (in creation order).
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(JobQuery),
    responses(
        (status = 200, description = "A page of jobs (bodies left out)", body = JobPage),
        (status = 400, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_jobs(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let mut filter = ListFilter::default().limit(limit);
    if let Some(st) = &q.state {
        filter = filter
            .state(JobState::from_str(st).map_err(|e| CliError::invalid("state", e.to_string()))?);
    }
    if let Some(n) = q.name {
        filter = filter.name(n);
    }
    if let Some(l) = q.label {
        filter = filter.label(l);
    }
    if let Some(c) = &q.cursor {
        filter = filter.after(
            JobId::from_str(c)
                .map_err(|_| CliError::invalid("cursor", "not a cursor from a previous page"))?,
        );
    }
    let jobs = app.scheduler.list(&filter).await?;
    let next_cursor = (jobs.len() == limit as usize)
        .then(|| jobs.last().map(|j| j.id.to_string()))
        .flatten();
    let mut headers = HeaderMap::new();
    if let Some(c) = &next_cursor {
        let link = format!("</v1/jobs?cursor={c}&limit={limit}>; rel=\"next\"");
        headers.insert(header::LINK, HeaderValue::from_str(&link).expect("ASCII"));
    }
    Ok((
        headers,
        Json(JobPage {
            jobs: jobs.iter().map(JobView::from).collect(),
            next_cursor,
        }),
    )
        .into_response())
}

/// Get a job, with its payload.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_job(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<JobView>> {
    job_view(&app, &job_id(&id)?).await
}

macro_rules! job_action {
    ($name:ident, $method:ident, $path:literal, $doc:literal, $call:ident) => {
        #[doc = $doc]
        #[utoipa::path($method, path = $path, tag = "jobs", params(("id" = String, Path, description = "The job's id")),
            responses(
                (status = 200, description = "The job after the change", body = JobView),
                (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "The job's state does not allow it", body = Problem, content_type = "application/problem+json"),
            ))]
        async fn $name(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<JobView>> {
            let id = job_id(&id)?;
            app.scheduler.$call(&id).await?;
            job_view(&app, &id).await
        }
    };
}

job_action!(
    cancel_job,
    delete,
    "/v1/jobs/{id}",
    "Cancel a job: it will not run again.",
    cancel
);
job_action!(
    pause_job,
    post,
    "/v1/jobs/{id}/pause",
    "Pause a job.",
    pause
);
job_action!(
    resume_job,
    post,
    "/v1/jobs/{id}/resume",
    "Resume a paused job.",
    resume
);
job_action!(
    trigger_job,
    post,
    "/v1/jobs/{id}/trigger",
    "Run a job now.",
    trigger
);
job_action!(
    retry_job,
    post,
    "/v1/jobs/{id}/retry",
    "Retry a failed job now.",
    retry
);

/// When to run a job instead.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Reschedule {
    /// The new time (RFC 3339).
    at: DateTime<Utc>,
}

/// Move a scheduled job to another time.
#[utoipa::path(post, path = "/v1/jobs/{id}/reschedule", tag = "jobs", request_body = Reschedule,
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job after the change", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job's state does not allow it", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reschedule_job(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<Reschedule>,
) -> ApiResult<Json<JobView>> {
    let id = job_id(&id)?;
    app.scheduler.reschedule(&id, r.at).await?;
    job_view(&app, &id).await
}

/// Paging of a job's attempts.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AttemptQuery {
    /// At most this many (1 to 1000, default 100).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A job's attempts, oldest first.
#[utoipa::path(get, path = "/v1/jobs/{id}/attempts", tag = "attempts", params(("id" = String, Path, description = "The job's id"), AttemptQuery),
    responses(
        (status = 200, description = "A page of attempts", body = AttemptPage),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ))]
async fn job_attempts(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AttemptQuery>,
) -> ApiResult<Json<AttemptPage>> {
    let id = job_id(&id)?;
    app.scheduler.get(&id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let page = app
        .scheduler
        .attempts_page(&id, q.cursor.as_deref(), limit)
        .await?;
    let next_cursor = (page.len() == limit as usize)
        .then(|| page.last().map(timehook::Attempt::cursor))
        .flatten();
    Ok(Json(AttemptPage {
        attempts: page.iter().map(AttemptView::from).collect(),
        next_cursor,
    }))
}

/// Where to deliver events, and which.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSubscription {
    url: String,
    /// `job.completed`, `job.failed`, `job.timed_out`, `job.retrying`, `endpoint.disabled`.
    events: Vec<String>,
}

fn events(names: &[String]) -> ApiResult<Vec<EventType>> {
    names
        .iter()
        .map(|e| EventType::from_str(e).map_err(Problem::from))
        .collect()
}

/// Subscribe a URL to outcome events.
#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions", request_body = NewSubscription,
    responses(
        (status = 201, description = "Created", body = SubscriptionView),
        (status = 400, description = "Bad input", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_subscription(
    State(app): State<AppState>,
    ApiJson(s): ApiJson<NewSubscription>,
) -> ApiResult<Response> {
    let sub = app.scheduler.subscribe(&s.url, &events(&s.events)?).await?;
    Ok((StatusCode::CREATED, Json(SubscriptionView::from(&sub))).into_response())
}

/// List subscriptions.
#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions",
    responses((status = 200, description = "Subscriptions", body = Vec<SubscriptionView>)))]
async fn list_subscriptions(State(app): State<AppState>) -> ApiResult<Json<Vec<SubscriptionView>>> {
    Ok(Json(
        app.scheduler
            .subscriptions()
            .await?
            .iter()
            .map(SubscriptionView::from)
            .collect(),
    ))
}

/// Delete a subscription.
#[utoipa::path(delete, path = "/v1/subscriptions/{id}", tag = "subscriptions", params(("id" = String, Path, description = "The subscription's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_subscription(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.scheduler.unsubscribe(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Endpoints and their health.
#[utoipa::path(get, path = "/v1/endpoints", tag = "endpoints",
    responses((status = 200, description = "Endpoints", body = Vec<EndpointView>)))]
async fn list_endpoints(State(app): State<AppState>) -> ApiResult<Json<Vec<EndpointView>>> {
    Ok(Json(
        app.scheduler
            .endpoints()
            .await?
            .iter()
            .map(EndpointView::from)
            .collect(),
    ))
}

/// An endpoint, by origin or any URL on it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EndpointRef {
    /// `https://host:port`, or any URL on it.
    origin: String,
}

/// Enable a disabled endpoint: its held jobs run again.
#[utoipa::path(post, path = "/v1/endpoints/enable", tag = "endpoints", request_body = EndpointRef,
    responses(
        (status = 200, description = "Enabled", body = Count),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is not disabled", body = Problem, content_type = "application/problem+json"),
    ))]
async fn enable_endpoint(
    State(app): State<AppState>,
    ApiJson(e): ApiJson<EndpointRef>,
) -> ApiResult<Json<Count>> {
    app.scheduler.enable_endpoint(&e.origin).await?;
    Ok(Json(Count { count: 1 }))
}

/// A window of failed jobs.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Window {
    /// Failed at or after this time.
    since: Option<DateTime<Utc>>,
    /// Failed before this time.
    until: Option<DateTime<Utc>>,
    /// Only jobs with this name.
    name: Option<String>,
    /// Only jobs with this label.
    label: Option<String>,
}

impl Window {
    fn filter(self) -> DeadLetterFilter {
        let mut f = DeadLetterFilter::default();
        if let Some(t) = self.since {
            f = f.failed_after(t);
        }
        if let Some(t) = self.until {
            f = f.failed_before(t);
        }
        if let Some(n) = self.name {
            f = f.name(n);
        }
        if let Some(l) = self.label {
            f = f.label(l);
        }
        f
    }
}

/// Retry the failed jobs in a window.
#[utoipa::path(post, path = "/v1/recover", tag = "dead letters", request_body = Window,
    responses((status = 200, description = "How many were made due again", body = Count)))]
async fn recover(
    State(app): State<AppState>,
    ApiJson(w): ApiJson<Window>,
) -> ApiResult<Json<Count>> {
    Ok(Json(Count {
        count: app.scheduler.retry_failed(&w.filter()).await?,
    }))
}

/// Delete the failed jobs in a window, with their attempts.
#[utoipa::path(post, path = "/v1/purge", tag = "dead letters", request_body = Window,
    responses((status = 200, description = "How many were deleted", body = Count)))]
async fn purge(State(app): State<AppState>, ApiJson(w): ApiJson<Window>) -> ApiResult<Json<Count>> {
    Ok(Json(Count {
        count: app.scheduler.purge(&w.filter()).await?,
    }))
}

/// What to export.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `csv` (default) or `jsonl`.
    format: Option<String>,
    /// Attempts from this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Attempts before this time.
    until: Option<DateTime<Utc>>,
    /// Only this job's attempts.
    job: Option<String>,
}

/// A writer that hands each chunk on towards the response body. It blocks (a plain channel) when
/// the client reads slowly; the core writes from where blocking is allowed, and the last flush
/// (when the core drops the writer) happens on the export's own blocking thread.
struct ChannelWriter(std::sync::mpsc::SyncSender<Result<Vec<u8>, std::io::Error>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.send(Ok(buf.to_vec())).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The attempt log, streamed as CSV or JSON Lines, oldest first.
#[utoipa::path(get, path = "/v1/attempts/export", tag = "attempts", params(ExportQuery),
    responses(
        (status = 200, description = "The attempts", content(("text/csv"), ("application/jsonl"))),
        (status = 400, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ))]
async fn export_attempts(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let (format, content_type) = match q.format.as_deref().unwrap_or("csv") {
        "csv" => (ExportFormat::Csv, "text/csv; charset=utf-8"),
        "jsonl" => (ExportFormat::JsonLines, "application/jsonl"),
        other => {
            return Err(
                CliError::invalid("format", format!("{other:?} is not csv or jsonl")).into(),
            );
        }
    };
    let mut filter = ExportFilter::default();
    if let Some(t) = q.since {
        filter = filter.since(t);
    }
    if let Some(t) = q.until {
        filter = filter.until(t);
    }
    if let Some(j) = &q.job {
        filter = filter.job(job_id(j)?);
    }
    // The export runs on a blocking thread of its own; a second one forwards its chunks to the
    // body's (async) channel, so no runtime thread ever waits on a slow client.
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let (chunks, from_export) = std::sync::mpsc::sync_channel(16);
    tokio::task::spawn_blocking(move || {
        for chunk in from_export {
            if tx.blocking_send(chunk).is_err() {
                break;
            }
        }
    });
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let writer = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter(chunks.clone()));
        if let Err(e) = handle.block_on(app.scheduler.export_attempts(&filter, format, writer)) {
            let _ = chunks.send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// A test delivery.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SendTest {
    url: String,
    /// The event to send an example of (default `job.completed`).
    event: Option<String>,
}

/// Send an example event to a URL now, signed as deliveries are, and report the attempt.
#[utoipa::path(post, path = "/v1/send-test", tag = "subscriptions", request_body = SendTest,
    responses(
        (status = 200, description = "The attempt", body = AttemptView),
        (status = 400, description = "Bad input", body = Problem, content_type = "application/problem+json"),
    ))]
async fn send_test(
    State(app): State<AppState>,
    ApiJson(t): ApiJson<SendTest>,
) -> ApiResult<Json<AttemptView>> {
    let event = match &t.event {
        Some(e) => EventType::from_str(e)?,
        None => EventType::JobCompleted,
    };
    let attempt = app.scheduler.send_test(&t.url, event).await?;
    Ok(Json(AttemptView::from(&attempt)))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(app): State<AppState>) -> Response {
    match &app.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "another metrics recorder is installed",
        )
        .into_response(),
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "Alive", content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the store answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Ready", content_type = "text/plain"),
        (status = 503, description = "The store does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
async fn readyz(State(app): State<AppState>) -> ApiResult<&'static str> {
    app.scheduler.list(&ListFilter::default().limit(1)).await?;
    Ok("ready")
}
