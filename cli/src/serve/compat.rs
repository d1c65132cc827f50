//! Drop-in routes for the services users leave, answering as their docs show, so a client
//! written for them works after changing only the base URL and the key:
//! - RunLater: `POST /api/schedule` `{target_url, execute_at, payload}` → `201 {"id"}`,
//!   `401 {"error":"Unauthorized"}`, `400 {"error":"Invalid request"}`;
//! - Runlater.eu: `POST /api/v1/jobs` `{name, url, cron | run_at, method, headers, body}`.
//!
//! With `--runlater-secret` / `--runlater-eu-secret`, jobs made here are signed with that
//! service's profile, so its receivers keep working too.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use timehook::JobSpec;
use timehook::profile::Profile;

use super::AppState;
use super::auth::refuse;
use crate::keys::Scope;

pub fn routes(_app: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/schedule", post(runlater_schedule))
        .route("/api/v1/jobs", post(runlater_eu_create))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The services' own 401 (or 403 for a read-only key).
fn check(app: &AppState, req: &Request) -> Option<Response> {
    refuse(app, req, Scope::Write).map(|p| {
        if p.status == 403 {
            error(StatusCode::FORBIDDEN, "Forbidden")
        } else {
            error(StatusCode::UNAUTHORIZED, "Unauthorized")
        }
    })
}

async fn body_of(req: Request) -> Option<Bytes> {
    axum::body::to_bytes(req.into_body(), usize::MAX).await.ok()
}

fn with_profile(app: &AppState, spec: JobSpec, name: &str) -> JobSpec {
    match app.profile_secrets.get(name) {
        Some(secret) => spec.profile(&Profile::named(name).expect("a known profile"), secret),
        None => spec,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunLaterRequest {
    target_url: String,
    execute_at: DateTime<Utc>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

async fn runlater_schedule(State(app): State<AppState>, req: Request) -> Response {
    if let Some(refused) = check(&app, &req) {
        return refused;
    }
    let invalid = || error(StatusCode::BAD_REQUEST, "Invalid request");
    let Some(body) = body_of(req).await else {
        return invalid();
    };
    let Ok(r) = serde_json::from_slice::<RunLaterRequest>(&body) else {
        return invalid();
    };
    let mut spec = JobSpec::post(&r.target_url).at(r.execute_at);
    if let Some(p) = &r.payload {
        match spec.json(p) {
            Ok(s) => spec = s,
            Err(_) => return invalid(),
        }
    }
    let spec = with_profile(&app, spec, "runlater");
    match app.scheduler.schedule(spec).await {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "id": id.to_string() }))).into_response(),
        Err(e) if e.code() == "store_error" || e.code() == "closed" => {
            error(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
        }
        Err(_) => invalid(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunlaterEuRequest {
    name: Option<String>,
    url: String,
    cron: Option<String>,
    run_at: Option<DateTime<Utc>>,
    method: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    body: Option<serde_json::Value>,
    timezone: Option<String>,
}

async fn runlater_eu_create(State(app): State<AppState>, req: Request) -> Response {
    if let Some(refused) = check(&app, &req) {
        return refused;
    }
    let Some(body) = body_of(req).await else {
        return error(StatusCode::BAD_REQUEST, "Invalid request body");
    };
    let r = match serde_json::from_slice::<RunlaterEuRequest>(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let mut spec = match (&r.cron, r.run_at) {
        (Some(expr), None) => JobSpec::cron(&r.url, expr),
        (None, at) => {
            let spec = JobSpec::post(&r.url);
            at.map_or(spec.clone(), |t| spec.at(t))
        }
        (Some(_), Some(_)) => {
            return error(StatusCode::BAD_REQUEST, "give cron or run_at, not both");
        }
    };
    if let Some(m) = &r.method {
        match m.parse() {
            Ok(m) => spec = spec.method(m),
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("method: {e}")),
        }
    }
    if let Some(tz) = &r.timezone {
        spec = spec.tz(tz);
    }
    if let Some(n) = &r.name {
        spec = spec.name(n);
    }
    for (k, v) in &r.headers {
        spec = spec.header(k, v);
    }
    match &r.body {
        Some(serde_json::Value::String(s)) => spec = spec.body(s.as_bytes().to_vec()),
        Some(v) => match spec.json(v) {
            Ok(s) => spec = s,
            Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        },
        None => {}
    }
    let spec = with_profile(&app, spec, "runlater-eu");
    match app.scheduler.schedule(spec).await {
        Ok(id) => (
            StatusCode::CREATED,
            Json(json!({
                "id": id.to_string(),
                "name": r.name,
                "url": r.url,
                "cron": r.cron,
                "run_at": r.run_at,
                "headers": r.headers,
            })),
        )
            .into_response(),
        Err(e) if e.code() == "store_error" || e.code() == "closed" => {
            error(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}
