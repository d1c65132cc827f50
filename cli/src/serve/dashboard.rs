//! The dashboard at `/`: server-rendered HTML (maud escapes every value) with inline SVG charts,
//! no JavaScript framework. It uses the API's keys: a key entered once is kept in a cookie that
//! is HttpOnly and SameSite=Strict, and every form carries a CSRF token bound to that key.

// A handler's early answer (login redirect, refusal) is built once per request: boxing it would
// buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration as ChronoDuration, Timelike, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use timehook::{DeadLetterFilter, ExportFilter, ExportFormat, JobId, JobState, ListFilter};

use super::AppState;
use crate::keys::Scope;
use crate::time::relative;
use crate::view::{AttemptView, EndpointView, JobView, SubscriptionView};

const COOKIE: &str = "timehook_key";
const PAGE: u32 = 50;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(overview))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/jobs", get(jobs))
        .route("/ui/jobs/{id}", get(job))
        .route("/ui/jobs/{id}/{action}", post(job_action))
        .route("/ui/dead", get(dead))
        .route("/ui/recover", post(recover))
        .route("/ui/endpoints", get(endpoints))
        .route("/ui/endpoints/enable", post(enable))
        .route("/ui/subscriptions", get(subscriptions))
}

// ---- auth: the cookie, and CSRF tokens bound to it ----

fn cookie_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Who is looking: `Ok(key)` (empty without keys configured), or the login redirect.
fn viewer(app: &AppState, headers: &HeaderMap, needed: Scope) -> Result<String, Response> {
    if !super::auth::required(app) {
        return Ok(String::new());
    }
    let key = cookie_key(headers).unwrap_or_default();
    match app.keys.as_ref().and_then(|k| k.check(&key)) {
        Some(entry) if entry.scope >= needed => Ok(key),
        Some(_) => Err((
            StatusCode::FORBIDDEN,
            page(
                "Forbidden",
                "",
                html! {
                    p.error { "This key may only read. Log in with a write key to change jobs." }
                },
            ),
        )
            .into_response()),
        None => Err(Redirect::to("/ui/login").into_response()),
    }
}

/// The CSRF token for a viewer: a hash of the server's secret and the key.
fn csrf(app: &AppState, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(app.csrf_secret);
    h.update(key.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn csrf_ok(app: &AppState, key: &str, given: &str) -> bool {
    bool::from(csrf(app, key).as_bytes().ct_eq(given.as_bytes()))
}

/// A form that changes something: a write key, and the CSRF token bound to it.
fn writer(app: &AppState, headers: &HeaderMap, token: &str) -> Result<(), Response> {
    let key = viewer(app, headers, Scope::Write)?;
    if csrf_ok(app, &key, token) {
        Ok(())
    } else {
        Err((StatusCode::FORBIDDEN, "bad CSRF token").into_response())
    }
}

// ---- layout ----

const STYLE: &str = r#"
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
body { margin: 0; }
header { background: #1d2330; color: #fff; padding: .6rem 1rem; display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; align-items: center; }
header a { color: #dfe6f3; text-decoration: none; }
header a.brand { font-weight: 700; color: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: .9rem; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #e3e6ec; white-space: nowrap; }
td.wrap { white-space: normal; word-break: break-all; }
.state { padding: .1rem .45rem; border-radius: .6rem; font-size: .8rem; background: #e3e6ec; }
.state-failed, .h-disabled, .o-failed { background: #fbd5d5; }
.state-succeeded, .h-healthy, .o-ok { background: #d3f2dc; }
.state-retrying, .h-failing { background: #fdecc8; }
form.inline { display: inline; }
button { font: inherit; padding: .3rem .8rem; border: 1px solid #8a94a6; border-radius: .3rem; background: #fff; cursor: pointer; }
button.danger { border-color: #c0392b; color: #c0392b; }
input, select { font: inherit; padding: .3rem; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem; margin-bottom: .8rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
.card { background: #fff; padding: .8rem; border: 1px solid #e3e6ec; }
.error { color: #c0392b; }
.note { color: #5a6477; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; background: #fff; padding: .8rem; }
dt { color: #5a6477; } dd { margin: 0; word-break: break-all; }
ol.timeline { list-style: none; padding: 0; }
ol.timeline li { background: #fff; border-left: 4px solid #8a94a6; margin: .4rem 0; padding: .5rem .8rem; }
ol.timeline li.ok { border-color: #27ae60; } ol.timeline li.failed { border-color: #c0392b; }
pre { white-space: pre-wrap; word-break: break-all; background: #f0f2f5; padding: .4rem; margin: .3rem 0 0; }
@media (max-width: 640px) { .wide { display: none; } main { padding: .5rem; } }
"#;

fn page(title: &str, csrf_token: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · timehook" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/ui" { "timehook" }
                    a href="/ui/jobs" { "Jobs" }
                    a href="/ui/dead" { "Dead letters" }
                    a href="/ui/endpoints" { "Endpoints" }
                    a href="/ui/subscriptions" { "Subscriptions" }
                    @if !csrf_token.is_empty() {
                        form.inline method="post" action="/ui/logout" {
                            input type="hidden" name="csrf" value=(csrf_token);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

fn state_badge(state: &str) -> Markup {
    html! { span class={ "state state-" (state) } { (state) } }
}

fn problem_page(e: impl Into<crate::error::CliError>) -> Response {
    let e = e.into();
    let status = super::problem::status_of(e.code);
    (status, page("Error", "", html! { p.error { (e.message) } })).into_response()
}

// ---- login ----

async fn login_page() -> Markup {
    page(
        "Log in",
        "",
        html! {
            form method="post" action="/ui/login" {
                p { label { "API key " input type="password" name="key" autocomplete="off" size="48" required; } }
                p { button type="submit" { "Log in" } }
                p.note { "A key from " code { "timehook keys create" } ". It is kept in an HttpOnly cookie." }
            }
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    key: String,
}

async fn login(State(app): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    let valid = !super::auth::required(&app)
        || app
            .keys
            .as_ref()
            .is_some_and(|k| k.check(f.key.trim()).is_some());
    if !valid {
        return (
            StatusCode::UNAUTHORIZED,
            page(
                "Log in",
                "",
                html! {
                    p.error { "Unknown or revoked key." }
                    a href="/ui/login" { "Try again" }
                },
            ),
        )
            .into_response();
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        f.key.trim()
    );
    let mut res = Redirect::to("/ui/jobs").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a key is ASCII"),
    );
    res
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let key = cookie_key(&headers).unwrap_or_default();
    if !csrf_ok(&app, &key, &f.csrf) {
        return (StatusCode::FORBIDDEN, "bad CSRF token").into_response();
    }
    let mut res = Redirect::to("/ui/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("timehook_key=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    res
}

// ---- overview: pictures of the last hours ----

#[derive(Default)]
struct Minute {
    ok: u32,
    failed: u32,
}

async fn overview(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let key = match viewer(&app, &headers, Scope::Read) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let token = csrf(&app, &key);
    let now = Utc::now();
    let hours = 3;
    let since = now - ChronoDuration::hours(hours);
    // The attempt log of the window, read as the export reads it (a page at a time).
    let mut out = Vec::new();
    if let Err(e) = app
        .scheduler
        .export_attempts(
            &ExportFilter::default().since(since),
            ExportFormat::JsonLines,
            &mut out,
        )
        .await
    {
        return problem_page(e);
    }
    let mut minutes: BTreeMap<i64, Minute> = BTreeMap::new();
    let mut latencies: Vec<u64> = Vec::new();
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(row) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        let Some(started) = row["started_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        else {
            continue;
        };
        let minute = started
            .with_timezone(&Utc)
            .with_second(0)
            .map_or(0, |t| t.timestamp() / 60);
        let m = minutes.entry(minute).or_default();
        if row["error"].is_null() || row["error"] == "" {
            m.ok += 1;
        } else {
            m.failed += 1;
        }
        if let Some(ms) = row["duration_ms"].as_u64() {
            latencies.push(ms);
        }
    }
    let body = html! {
        div.charts {
            div.card {
                h2 { "Attempts per minute, last " (hours) " hours" }
                (attempts_chart(&minutes, since, now))
                p.note { span class="state o-ok" { "delivered" } " " span class="state o-failed" { "failed" } }
            }
            div.card {
                h2 { "Latency" }
                (latency_histogram(&latencies))
                p.note { (latencies.len()) " attempts" }
            }
        }
    };
    page("Overview", &token, body).into_response()
}

/// Stacked bars per minute (delivered below, failed above), as SVG.
fn attempts_chart(
    minutes: &BTreeMap<i64, Minute>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Markup {
    let first = since.timestamp() / 60;
    let last = now.timestamp() / 60;
    let n = (last - first + 1).max(1);
    let (w, h) = (600.0_f64, 160.0_f64);
    let max = minutes
        .values()
        .map(|m| m.ok + m.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    #[allow(clippy::cast_precision_loss)] // minutes and counts are small
    let bar = |minute: i64, m: &Minute| {
        let x = (minute - first) as f64 * w / n as f64;
        let bw = (w / n as f64).max(1.0);
        let ok_h = f64::from(m.ok) * h / f64::from(max);
        let fail_h = f64::from(m.failed) * h / f64::from(max);
        html! {
            rect x=(format!("{x:.1}")) y=(format!("{:.1}", h - ok_h)) width=(format!("{bw:.1}")) height=(format!("{ok_h:.1}")) fill="#27ae60" {
                title { (m.ok) " delivered" }
            }
            rect x=(format!("{x:.1}")) y=(format!("{:.1}", h - ok_h - fail_h)) width=(format!("{bw:.1}")) height=(format!("{fail_h:.1}")) fill="#c0392b" {
                title { (m.failed) " failed" }
            }
        }
    };
    html! {
        svg viewBox=(format!("0 0 {w} {}", h + 16.0)) width="100%" role="img" aria-label="attempts per minute by outcome" {
            line x1="0" y1=(h) x2=(w) y2=(h) stroke="#8a94a6" {}
            @for (minute, m) in minutes.range(first..=last) { (bar(*minute, m)) }
            text x="0" y=(h + 14.0) font-size="11" fill="#5a6477" { (since.format("%H:%M")) }
            text x=(w) y=(h + 14.0) font-size="11" fill="#5a6477" text-anchor="end" { (now.format("%H:%M")) " UTC" }
            text x="2" y="11" font-size="11" fill="#5a6477" { "max " (max) "/min" }
        }
    }
}

/// Latency buckets (ms) as an SVG bar chart.
fn latency_histogram(latencies: &[u64]) -> Markup {
    const EDGES: [u64; 8] = [10, 25, 50, 100, 250, 500, 1000, 5000];
    let mut counts = [0u32; EDGES.len() + 1];
    for &ms in latencies {
        let i = EDGES.iter().position(|&e| ms < e).unwrap_or(EDGES.len());
        counts[i] += 1;
    }
    let labels: Vec<String> = EDGES
        .iter()
        .map(|e| format!("<{e}"))
        .chain(std::iter::once("≥5000".to_owned()))
        .collect();
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let (w, h) = (600.0_f64, 160.0_f64);
    #[allow(clippy::cast_precision_loss)]
    let bw = w / counts.len() as f64;
    html! {
        svg viewBox=(format!("0 0 {w} {}", h + 16.0)) width="100%" role="img" aria-label="latency histogram in milliseconds" {
            @for (i, c) in counts.iter().enumerate() {
                @let bh = f64::from(*c) * h / f64::from(max);
                @let x = { #[allow(clippy::cast_precision_loss)] let x = i as f64 * bw; x };
                rect x=(format!("{:.1}", x + 2.0)) y=(format!("{:.1}", h - bh)) width=(format!("{:.1}", bw - 4.0)) height=(format!("{bh:.1}")) fill="#3d6fb6" {
                    title { (c) " attempts " (labels[i]) " ms" }
                }
                text x=(format!("{:.1}", x + bw / 2.0)) y=(h + 14.0) font-size="11" fill="#5a6477" text-anchor="middle" { (labels[i]) }
            }
        }
    }
}

// ---- jobs ----

#[derive(Deserialize, Default)]
struct JobsQuery {
    state: Option<String>,
    name: Option<String>,
    cursor: Option<String>,
}

fn jobs_table(jobs: &[JobView], now: DateTime<Utc>) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "Job" } th { "State" } th { "Name" } th.wide { "URL" } th { "Next run" } th.wide { "Attempts" } th.wide { "Created" } } }
            tbody {
                @for j in jobs {
                    tr {
                        td { a href={ "/ui/jobs/" (j.id) } { (j.id) } }
                        td { (state_badge(&j.state)) }
                        td { (j.name.as_deref().unwrap_or("")) }
                        td.wrap.wide { (j.url) }
                        td { (j.next_run_at.map_or("-".into(), |t| relative(t, now))) }
                        td.wide { (j.attempts) }
                        td.wide { (relative(j.created_at, now)) }
                    }
                }
                @if jobs.is_empty() { tr { td colspan="7" class="note" { "No jobs." } } }
            }
        } }
    }
}

async fn jobs(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<JobsQuery>,
) -> Response {
    let key = match viewer(&app, &headers, Scope::Read) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let mut filter = ListFilter::default().limit(PAGE);
    let state = q.state.as_deref().filter(|s| !s.is_empty());
    if let Some(s) = state {
        match JobState::from_str(s) {
            Ok(s) => filter = filter.state(s),
            Err(e) => return problem_page(e),
        }
    }
    let name = q.name.as_deref().filter(|s| !s.is_empty());
    if let Some(n) = name {
        filter = filter.name(n);
    }
    if let Some(c) = q.cursor.as_deref().filter(|s| !s.is_empty()) {
        match JobId::from_str(c) {
            Ok(id) => filter = filter.after(id),
            Err(e) => return problem_page(e),
        }
    }
    let list = match app.scheduler.list(&filter).await {
        Ok(l) => l,
        Err(e) => return problem_page(e),
    };
    let views: Vec<JobView> = list.iter().map(JobView::from).collect();
    let next = (views.len() == PAGE as usize)
        .then(|| views.last().map(|j| j.id.clone()))
        .flatten();
    let body = html! {
        form.filters method="get" action="/ui/jobs" {
            select name="state" aria-label="state" {
                option value="" { "any state" }
                @for s in JobState::ALL {
                    option value=(s.as_str()) selected[state == Some(s.as_str())] { (s.as_str()) }
                }
            }
            input type="search" name="name" placeholder="name" value=(name.unwrap_or(""));
            button type="submit" { "Filter" }
        }
        (jobs_table(&views, Utc::now()))
        @if let Some(c) = next {
            p { a href={ "/ui/jobs?state=" (state.unwrap_or("")) "&name=" (name.unwrap_or("")) "&cursor=" (c) } { "Next page →" } }
        }
    };
    page("Jobs", &csrf(&app, &key), body).into_response()
}

async fn job(State(app): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let key = match viewer(&app, &headers, Scope::Read) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Ok(id) = JobId::from_str(&id) else {
        return problem_page(crate::error::CliError::not_found(format!(
            "no job with id {id}"
        )));
    };
    let (job, attempts) = match (
        app.scheduler.get(&id).await,
        app.scheduler.attempts_page(&id, None, 1000).await,
    ) {
        (Ok(j), Ok(a)) => (
            JobView::from(&j),
            a.iter().map(AttemptView::from).collect::<Vec<_>>(),
        ),
        (Err(e), _) | (_, Err(e)) => return problem_page(e),
    };
    let token = csrf(&app, &key);
    let now = Utc::now();
    let action = |name: &str, label: &str, confirm: Option<&str>| {
        html! {
            form.inline method="post" action={ "/ui/jobs/" (job.id) "/" (name) } onsubmit=[confirm.map(|c| format!("return confirm('{c}')"))] {
                input type="hidden" name="csrf" value=(token);
                button type="submit" class=[confirm.map(|_| "danger")] { (label) }
            }
        }
    };
    let body = html! {
        p {
            @match job.state.as_str() {
                "failed" => { (action("retry", "Retry", None)) }
                "paused" => { (action("resume", "Resume", None)) " " (action("cancel", "Cancel", Some("Cancel this job? It will not run again."))) }
                "scheduled" | "retrying" => {
                    (action("trigger", "Run now", None)) " " (action("pause", "Pause", None)) " "
                    (action("cancel", "Cancel", Some("Cancel this job? It will not run again.")))
                }
                _ => {}
            }
        }
        dl {
            dt { "Id" } dd { (job.id) }
            dt { "State" } dd { (state_badge(&job.state)) }
            dt { "Name" } dd { (job.name.as_deref().unwrap_or("-")) }
            dt { "Target" } dd { (job.method) " " (job.url) }
            @if let Some(c) = &job.cron { dt { "Cron" } dd { (c) " (" (job.tz.as_deref().unwrap_or("UTC")) ")" } }
            dt { "Next run" } dd { (job.next_run_at.map_or("-".into(), |t| format!("{} ({})", relative(t, now), t.to_rfc3339()))) }
            dt { "webhook-id" } dd { (job.execution_id.as_deref().unwrap_or("-")) }
            dt { "Payload" } dd { pre { (job.payload.as_ref().map_or(String::new(), |p| serde_json::to_string_pretty(p).unwrap_or_default())) } }
        }
        h2 { "Attempts" }
        ol.timeline {
            @for a in &attempts {
                li class=(if a.error.is_none() { "ok" } else { "failed" }) {
                    strong { "#" (a.number) } " · " (relative(a.started_at, now)) " · "
                    (a.status.map_or("no answer".into(), |s| format!("HTTP {s}"))) " · " (a.duration_ms) " ms"
                    @if let Some(e) = &a.error { " · " span.error { (e) } }
                    @if let Some(m) = &a.message { div.note { (m) } }
                    @if let Some(t) = a.next_retry_at { div.note { "next retry " (relative(t, now)) } }
                    @if let Some(r) = &a.response_excerpt { @if !r.is_empty() { pre { (r) } } }
                }
            }
            @if attempts.is_empty() { li { "No attempts yet." } }
        }
    };
    page(
        &format!("Job {}", job.name.as_deref().unwrap_or(&job.id)),
        &token,
        body,
    )
    .into_response()
}

async fn job_action(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = writer(&app, &headers, &f.csrf) {
        return refused;
    }
    let Ok(job) = JobId::from_str(&id) else {
        return problem_page(crate::error::CliError::not_found(format!(
            "no job with id {id}"
        )));
    };
    let s = &app.scheduler;
    let done = match action.as_str() {
        "cancel" => s.cancel(&job).await,
        "pause" => s.pause(&job).await,
        "resume" => s.resume(&job).await,
        "trigger" => s.trigger(&job).await.map(|_| ()),
        "retry" => s.retry(&job).await,
        _ => {
            return problem_page(crate::error::CliError::not_found(format!(
                "no action {action}"
            )));
        }
    };
    match done {
        Ok(()) => Redirect::to(&format!("/ui/jobs/{id}")).into_response(),
        Err(e) => problem_page(e),
    }
}

// ---- dead letters ----

#[derive(Deserialize, Default)]
struct DeadQuery {
    recovered: Option<usize>,
}

async fn dead(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DeadQuery>,
) -> Response {
    let key = match viewer(&app, &headers, Scope::Read) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let token = csrf(&app, &key);
    let list = match app
        .scheduler
        .list(&ListFilter::default().state(JobState::Failed).limit(PAGE))
        .await
    {
        Ok(l) => l,
        Err(e) => return problem_page(e),
    };
    let views: Vec<JobView> = list.iter().map(JobView::from).collect();
    let now = Utc::now();
    let default_since = (now - ChronoDuration::hours(24))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let body = html! {
        @if let Some(n) = q.recovered { p.note { (n) " failed jobs made due again." } }
        form.filters method="post" action="/ui/recover" onsubmit="return confirm('Retry every job that failed since then?')" {
            input type="hidden" name="csrf" value=(token);
            label { "Recover failed since " input type="datetime-local" name="since" value=(default_since) required; " UTC" }
            button type="submit" { "Recover" }
        }
        div.scroll { table {
            thead { tr { th { "Job" } th { "Name" } th { "URL" } th { "Attempts" } th { "Failed" } th {} } }
            tbody {
                @for j in &views {
                    tr {
                        td { a href={ "/ui/jobs/" (j.id) } { (j.id) } }
                        td { (j.name.as_deref().unwrap_or("")) }
                        td.wrap { (j.url) }
                        td { (j.attempts) }
                        td { (relative(j.updated_at, now)) }
                        td { form.inline method="post" action={ "/ui/jobs/" (j.id) "/retry" } {
                            input type="hidden" name="csrf" value=(token);
                            button type="submit" { "Retry" }
                        } }
                    }
                }
                @if views.is_empty() { tr { td colspan="6" class="note" { "No failed jobs." } } }
            }
        } }
    };
    page("Dead letters", &token, body).into_response()
}

#[derive(Deserialize)]
struct RecoverForm {
    csrf: String,
    since: String,
}

async fn recover(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<RecoverForm>,
) -> Response {
    if let Err(refused) = writer(&app, &headers, &f.csrf) {
        return refused;
    }
    let Ok(since) = chrono::NaiveDateTime::parse_from_str(&f.since, "%Y-%m-%dT%H:%M") else {
        return problem_page(crate::error::CliError::invalid(
            "since",
            format!("{:?} is not a time", f.since),
        ));
    };
    match app
        .scheduler
        .retry_failed(&DeadLetterFilter::default().failed_after(since.and_utc()))
        .await
    {
        Ok(n) => Redirect::to(&format!("/ui/dead?recovered={n}")).into_response(),
        Err(e) => problem_page(e),
    }
}

// ---- endpoints and subscriptions ----

async fn endpoints(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let key = match viewer(&app, &headers, Scope::Read) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let token = csrf(&app, &key);
    let list: Vec<EndpointView> = match app.scheduler.endpoints().await {
        Ok(l) => l.iter().map(EndpointView::from).collect(),
        Err(e) => return problem_page(e),
    };
    let now = Utc::now();
    let body = html! {
        div.scroll { table {
            thead { tr { th { "Endpoint" } th { "Health" } th { "Failures" } th { "Failing since" } th { "Disabled" } th {} } }
            tbody {
                @for e in &list {
                    tr {
                        td { (e.origin) }
                        td { span class={ "state h-" (e.health) } { (e.health) } }
                        td { (e.failures) }
                        td { (e.failing_since.map_or("-".into(), |t| relative(t, now))) }
                        td { (e.disabled_at.map_or("-".into(), |t| relative(t, now))) }
                        td { @if e.disabled_at.is_some() {
                            form.inline method="post" action="/ui/endpoints/enable" {
                                input type="hidden" name="csrf" value=(token);
                                input type="hidden" name="origin" value=(e.origin);
                                button type="submit" { "Enable" }
                            }
                        } }
                    }
                }
                @if list.is_empty() { tr { td colspan="6" class="note" { "No endpoints yet." } } }
            }
        } }
    };
    page("Endpoints", &token, body).into_response()
}

#[derive(Deserialize)]
struct EnableForm {
    csrf: String,
    origin: String,
}

async fn enable(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<EnableForm>,
) -> Response {
    if let Err(refused) = writer(&app, &headers, &f.csrf) {
        return refused;
    }
    match app.scheduler.enable_endpoint(&f.origin).await {
        Ok(()) => Redirect::to("/ui/endpoints").into_response(),
        Err(e) => problem_page(e),
    }
}

async fn subscriptions(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let key = match viewer(&app, &headers, Scope::Read) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let list: Vec<SubscriptionView> = match app.scheduler.subscriptions().await {
        Ok(l) => l.iter().map(SubscriptionView::from).collect(),
        Err(e) => return problem_page(e),
    };
    let now = Utc::now();
    let body = html! {
        div.scroll { table {
            thead { tr { th { "Subscription" } th { "URL" } th { "Events" } th { "Created" } } }
            tbody {
                @for s in &list {
                    tr { td { (s.id) } td.wrap { (s.url) } td { (s.events.join(", ")) } td { (relative(s.created_at, now)) } }
                }
                @if list.is_empty() { tr { td colspan="4" class="note" { "No subscriptions." } } }
            }
        } }
    };
    page("Subscriptions", &csrf(&app, &key), body).into_response()
}
