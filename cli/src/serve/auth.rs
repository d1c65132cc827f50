//! Bearer API keys: 401 for a missing or unknown key, 403 for a key whose scope is too small.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::problem::Problem;
use crate::keys::Scope;

/// The bearer token of a request, if any.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether requests need a key: on a public address always, on loopback once a key exists.
pub fn required(app: &AppState) -> bool {
    app.public || app.keys.as_ref().is_some_and(crate::keys::Keys::any)
}

/// Checks the request's key against `needed`; `None` when it may go on.
pub fn refuse(app: &AppState, req: &Request, needed: Scope) -> Option<Problem> {
    if !required(app) {
        return None;
    }
    let Some(token) = bearer(req) else {
        return Some(Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an API key is needed: Authorization: Bearer <key>",
        ));
    };
    let Some(entry) = app.keys.as_ref().and_then(|k| k.check(token)) else {
        return Some(Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown or revoked API key",
        ));
    };
    (entry.scope < needed).then(|| {
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the key {:?} has scope {}; this needs {}",
                entry.name,
                entry.scope.as_str(),
                needed.as_str()
            ),
        )
    })
}

pub async fn read(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match refuse(&app, &req, Scope::Read) {
        Some(p) => p.into_response(),
        None => next.run(req).await,
    }
}

pub async fn write(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match refuse(&app, &req, Scope::Write) {
        Some(p) => p.into_response(),
        None => next.run(req).await,
    }
}
