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

/// Checks the request's key against `needed`; `None` when it may go on.
pub fn refuse(app: &AppState, req: &Request, needed: Scope) -> Option<Problem> {
    let keys = app.keys.as_ref()?;
    let Some(token) = bearer(req) else {
        return Some(Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an API key is needed: Authorization: Bearer <key>",
        ));
    };
    let Some(entry) = keys.check(token) else {
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
