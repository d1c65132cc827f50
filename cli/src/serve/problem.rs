//! Errors as RFC 9457 `application/problem+json`, with `code` set to the library's stable error
//! code and `field` to the field at fault.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::CliError;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong, and with which field.
    pub detail: String,
    /// The stable error code: `invalid_job`, `not_found`, `invalid_state`, `payload_too_large`,
    /// `blocked`, `store_error`, `unauthorized`, `forbidden`, ...
    pub code: String,
    /// The field at fault, when one is.
    pub field: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("https://timehook.dev/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: Option<String>) -> Problem {
        self.field = field;
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, Json(&self)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// The status for a library or CLI error code.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "not_found" => StatusCode::NOT_FOUND,
        "invalid_state" => StatusCode::CONFLICT,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "blocked" => StatusCode::UNPROCESSABLE_ENTITY,
        "store_error" | "closed" => StatusCode::SERVICE_UNAVAILABLE,
        "unauthorized" => StatusCode::UNAUTHORIZED,
        "forbidden" => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<CliError> for Problem {
    fn from(e: CliError) -> Problem {
        Problem::new(status_of(e.code), e.code, e.message).with_field(e.field)
    }
}

impl From<timehook::Error> for Problem {
    fn from(e: timehook::Error) -> Problem {
        CliError::from(e).into()
    }
}

impl From<JsonRejection> for Problem {
    fn from(r: JsonRejection) -> Problem {
        // Bodies over --body-limit never reach an extractor (`read_body_within`).
        let status = match r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        // serde's message names the field: "unknown field `x`, expected one of ...".
        let detail = r.body_text();
        let field = unknown_field(&detail);
        Problem::new(status, "invalid_request", detail).with_field(field)
    }
}

/// The field serde names in "unknown field `x`" or "missing field `x`".
fn unknown_field(detail: &str) -> Option<String> {
    ["unknown field `", "missing field `"].iter().find_map(|p| {
        let rest = &detail[detail.find(p)? + p.len()..];
        Some(rest[..rest.find('`')?].to_owned())
    })
}

impl From<QueryRejection> for Problem {
    fn from(r: QueryRejection) -> Problem {
        let detail = r.body_text();
        let field = unknown_field(&detail);
        Problem::new(StatusCode::BAD_REQUEST, "invalid_request", detail).with_field(field)
    }
}

impl From<PathRejection> for Problem {
    fn from(r: PathRejection) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", r.body_text())
    }
}

pub type ApiResult<T> = Result<T, Problem>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(
            unknown_field("Failed to deserialize the JSON body into the target type: unknown field `colour`, expected one of `url`, `at` at line 1 column 9").as_deref(),
            Some("colour")
        );
        assert_eq!(
            unknown_field("missing field `url` at line 1").as_deref(),
            Some("url")
        );
        assert_eq!(unknown_field("expected value at line 1 column 1"), None);
    }
}
