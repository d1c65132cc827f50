//! Job input as a binding receives it ([`JobInput`]), turned into a core [`JobSpec`]; and list
//! filters ([`ListQuery`]) turned into a core [`ListFilter`].

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use timehook::{JobId, JobKind, JobSpec, JobState, ListFilter, Method};

use crate::data::{EpochMs, RetryInput, parse_missed};
use crate::error::{BindingError, Result};

/// `content-type` of a JSON payload.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// `content-type` of a text payload.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// `content-type` of a bytes payload (the core's default for a body without one).
pub const BYTES_CONTENT_TYPE: &str = "application/octet-stream";

/// A request body and what it is. The kind only chooses the default `content-type`; a
/// `content-type` header or [`JobInput::content_type`] wins over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// JSON text, already serialised by the language (Python `dict`/`list`, a JS object).
    Json(Vec<u8>),
    /// Text, sent as UTF-8.
    Text(String),
    /// Bytes, sent as-is.
    Bytes(Vec<u8>),
}

impl Payload {
    fn into_parts(self) -> (Vec<u8>, &'static str) {
        match self {
            Payload::Json(b) => (b, JSON_CONTENT_TYPE),
            Payload::Text(s) => (s.into_bytes(), TEXT_CONTENT_TYPE),
            Payload::Bytes(b) => (b, BYTES_CONTENT_TYPE),
        }
    }
}

/// A job to schedule, as plain fields. Exactly one of `at_ms`, `after_ms` and `cron` may be set
/// (none means "due now"); `tz` and `missed` apply to cron jobs only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobInput {
    /// Target URL (http or https).
    pub url: String,
    /// HTTP method, any case (default `POST`).
    pub method: Option<String>,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub payload: Option<Payload>,
    /// `content-type`, overriding the payload's default.
    pub content_type: Option<String>,
    /// Due at this instant (epoch milliseconds); in the past means "due now".
    pub at_ms: Option<EpochMs>,
    /// Due this many milliseconds after it is scheduled.
    pub after_ms: Option<u64>,
    /// Cron expression: the job is a cron job.
    pub cron: Option<String>,
    /// IANA time zone of a cron job (default UTC).
    pub tz: Option<String>,
    /// Missed-run policy of a cron job: `skip`, `run_once` or `catch_up:N`.
    pub missed: Option<String>,
    /// Name, for listing.
    pub name: Option<String>,
    /// Labels, for listing.
    pub labels: Vec<String>,
    /// Per-attempt timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Retry policy.
    pub retry: Option<RetryInput>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Where each successful delivery is reported (a signed JSON callback).
    pub on_success_url: Option<String>,
    /// Where each failed attempt is reported (a signed JSON callback).
    pub on_failure_url: Option<String>,
    /// This job's own signature style (the scheduler's when unset).
    pub scheme: Option<timehook::signing::Scheme>,
    /// This job's own secrets, as its receiver knows them (with `scheme`, or alone for Standard
    /// Webhooks with `whsec_` secrets of its own).
    pub secrets: Vec<String>,
    /// A delivery profile for this job (`runlater-eu`, ...): signed with `secrets[0]`, with the
    /// profile's extra headers, retries and timeout unless the job sets its own.
    pub profile: Option<String>,
}

pub(crate) fn instant(field: &str, ms: EpochMs) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        BindingError::invalid_job(field, format!("{ms} ms since the epoch is out of range"))
    })
}

impl JobInput {
    /// The core job spec. Field-level checks (URL, headers, sizes, cron syntax) are the core's,
    /// made when the job is scheduled.
    ///
    /// # Errors
    /// `invalid_job` naming the field, for conflicting or unparsable fields.
    pub fn into_spec(self) -> Result<JobSpec> {
        let when = [
            ("at", self.at_ms.is_some()),
            ("after", self.after_ms.is_some()),
            ("cron", self.cron.is_some()),
        ];
        let given: Vec<&str> = when
            .iter()
            .filter(|(_, set)| *set)
            .map(|(n, _)| *n)
            .collect();
        if given.len() > 1 {
            return Err(BindingError::invalid_job(
                given[1],
                format!("{} and {} are both given; pass one", given[0], given[1]),
            ));
        }
        if self.cron.is_none() {
            for (field, set) in [("tz", self.tz.is_some()), ("missed", self.missed.is_some())] {
                if set {
                    return Err(BindingError::invalid_job(
                        field,
                        "applies to cron jobs only (give a cron expression, or drop it)",
                    ));
                }
            }
        }
        let mut spec = match self.cron {
            Some(expr) => JobSpec::cron(self.url, expr),
            None => JobSpec::new(self.url),
        };
        if let Some(name) = &self.profile {
            let profile = timehook::profile::Profile::named(name)
                .map_err(|e| BindingError::invalid_job("profile", e))?;
            if self.scheme.is_some() {
                return Err(BindingError::invalid_job(
                    "scheme",
                    "is set by the profile; give one or the other",
                ));
            }
            let Some(secret) = self.secrets.first() else {
                return Err(BindingError::invalid_job(
                    "secret",
                    format!(
                        "the {name} profile signs with the secret the service gave its receivers; give it as `secret`"
                    ),
                ));
            };
            spec = spec.profile(&profile, secret.clone());
        } else {
            match (self.scheme, self.secrets.is_empty()) {
                (scheme, false) => {
                    spec = spec.signing(scheme.unwrap_or_default(), self.secrets);
                }
                (Some(scheme), true) if scheme != timehook::signing::Scheme::StandardWebhooks => {
                    return Err(BindingError::invalid_job(
                        "secret",
                        format!(
                            "the {} scheme signs with the secret the receiver already has; give it as `secret`",
                            scheme.name()
                        ),
                    ));
                }
                // The scheduler's own signing.
                _ => {}
            }
        }
        if let Some(ms) = self.at_ms {
            spec = spec.at(instant("at", ms)?);
        }
        if let Some(ms) = self.after_ms {
            spec = spec.after(Duration::from_millis(ms));
        }
        if let Some(tz) = self.tz {
            spec = spec.tz(tz);
        }
        if let Some(missed) = self.missed {
            spec = spec.missed(parse_missed(&missed)?);
        }
        if let Some(method) = self.method {
            spec = spec.method(Method::from_str(&method)?);
        }
        let has_content_type = self
            .headers
            .iter()
            .any(|(n, _)| n.trim().eq_ignore_ascii_case("content-type"));
        for (name, value) in self.headers {
            spec = spec.header(name, value);
        }
        let mut default_type = None;
        if let Some(payload) = self.payload {
            let (body, content_type) = payload.into_parts();
            spec = spec.body(body);
            default_type = Some(content_type);
        }
        match (self.content_type, has_content_type) {
            (Some(ct), _) => spec = spec.content_type(ct),
            (None, false) => {
                if let Some(ct) = default_type {
                    spec = spec.content_type(ct);
                }
            }
            // A content-type header was given: it is sent as is.
            (None, true) => {}
        }
        if let Some(name) = self.name {
            spec = spec.name(name);
        }
        for label in self.labels {
            spec = spec.label(label);
        }
        if let Some(ms) = self.timeout_ms {
            spec = spec.timeout(Duration::from_millis(ms));
        }
        if let Some(retry) = self.retry {
            spec = spec.retry(retry.into_policy()?);
        }
        if let Some(key) = self.idempotency_key {
            spec = spec.idempotency_key(key);
        }
        if let Some(url) = self.on_success_url {
            spec = spec.on_success(url);
        }
        if let Some(url) = self.on_failure_url {
            spec = spec.on_failure(url);
        }
        Ok(spec)
    }
}

/// Converts many inputs; an error names the position of the job at fault (from 0) when there is
/// more than one.
///
/// # Errors
/// The first input's error.
pub fn into_specs(inputs: Vec<JobInput>) -> Result<Vec<JobSpec>> {
    let many = inputs.len() > 1;
    inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| {
            input.into_spec().map_err(|e| {
                if many {
                    e.context(format!("job {i}"))
                } else {
                    e
                }
            })
        })
        .collect()
}

/// Parses a job id.
///
/// # Errors
/// `invalid_job` (field `id`) if it is not a `job_...` id.
pub fn parse_job_id(id: &str) -> Result<JobId> {
    Ok(JobId::from_str(id)?)
}

/// Which jobs to list, as plain fields. All conditions must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Only jobs in one of these states (`scheduled`, `failed`, ...).
    pub states: Vec<String>,
    /// Only jobs with this name.
    pub name: Option<String>,
    /// Only jobs carrying this label.
    pub label: Option<String>,
    /// Only `once` or only `cron` jobs.
    pub kind: Option<String>,
    /// Only jobs created at or after this instant.
    pub created_after_ms: Option<EpochMs>,
    /// Only jobs created before this instant.
    pub created_before_ms: Option<EpochMs>,
    /// Only jobs next due at or after this instant.
    pub due_after_ms: Option<EpochMs>,
    /// Only jobs next due before this instant.
    pub due_before_ms: Option<EpochMs>,
    /// Page size (default 100, at most 10 000).
    pub limit: Option<u32>,
    /// Continue after this job id.
    pub after: Option<String>,
    /// Also load each job's payload (a page leaves it out by default; at most 1 000 per page
    /// with payloads).
    pub bodies: bool,
}

impl ListQuery {
    /// The core filter.
    ///
    /// # Errors
    /// `invalid_job` naming the field, for an unknown state or kind, a bad id or time.
    pub fn into_filter(self) -> Result<ListFilter> {
        let states = self
            .states
            .iter()
            .map(|s| JobState::from_str(s.trim()))
            .collect::<timehook::Result<Vec<_>>>()?;
        let kind = match self.kind.as_deref().map(str::trim) {
            None => None,
            Some("once") => Some(JobKind::Once),
            Some("cron") => Some(JobKind::Cron),
            Some(other) => {
                return Err(BindingError::invalid_job(
                    "kind",
                    format!("{other:?} is not a job kind; expected \"once\" or \"cron\""),
                ));
            }
        };
        let time = |field: &str, ms: Option<EpochMs>| ms.map(|ms| instant(field, ms)).transpose();
        let mut filter = ListFilter::default();
        filter.states = states;
        filter.name = self.name;
        filter.label = self.label;
        filter.kind = kind;
        filter.created_after = time("created_after", self.created_after_ms)?;
        filter.created_before = time("created_before", self.created_before_ms)?;
        filter.due_after = time("due_after", self.due_after_ms)?;
        filter.due_before = time("due_before", self.due_before_ms)?;
        filter.limit = self.limit;
        filter.after = self.after.as_deref().map(parse_job_id).transpose()?;
        filter.bodies = self.bodies;
        Ok(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn input(url: &str) -> JobInput {
        JobInput {
            url: url.into(),
            ..JobInput::default()
        }
    }

    #[test]
    fn conflicting_times_name_both_fields() {
        let e = JobInput {
            at_ms: Some(0),
            after_ms: Some(5),
            ..input("https://x.test/")
        }
        .into_spec()
        .expect_err("conflict");
        assert_eq!(e.code, ErrorCode::InvalidJob);
        assert!(e.message.contains("at and after"), "{}", e.message);

        let e = JobInput {
            tz: Some("Europe/Berlin".into()),
            ..input("https://x.test/")
        }
        .into_spec()
        .expect_err("tz without cron");
        assert_eq!(e.detail.as_deref(), Some("tz"));
    }

    #[test]
    fn bad_method_and_missed_are_named() {
        let e = JobInput {
            method: Some("FETCH".into()),
            ..input("https://x.test/")
        }
        .into_spec()
        .expect_err("method");
        assert_eq!(e.detail.as_deref(), Some("method"));
        assert!(e.message.contains("FETCH"));

        let e = JobInput {
            cron: Some("* * * * *".into()),
            missed: Some("sometimes".into()),
            ..input("https://x.test/")
        }
        .into_spec()
        .expect_err("missed");
        assert_eq!(e.detail.as_deref(), Some("missed"));
    }

    #[test]
    fn many_inputs_name_the_position_at_fault() {
        let bad = JobInput {
            method: Some("nope".into()),
            ..input("https://x.test/")
        };
        let e = into_specs(vec![input("https://x.test/"), bad.clone()]).expect_err("bad");
        assert!(e.message.starts_with("job 1: "), "{}", e.message);
        let e = into_specs(vec![bad]).expect_err("bad");
        assert!(
            e.message.starts_with("invalid job: method"),
            "{}",
            e.message
        );
    }

    #[test]
    fn list_queries_are_checked() {
        let f = ListQuery {
            states: vec!["failed".into(), "scheduled".into()],
            kind: Some("cron".into()),
            limit: Some(5),
            ..ListQuery::default()
        }
        .into_filter()
        .expect("filter");
        assert_eq!(f.states, vec![JobState::Failed, JobState::Scheduled]);
        assert_eq!(f.kind, Some(JobKind::Cron));
        for bad in [
            ListQuery {
                states: vec!["done".into()],
                ..ListQuery::default()
            },
            ListQuery {
                kind: Some("weekly".into()),
                ..ListQuery::default()
            },
            ListQuery {
                after: Some("exec_1".into()),
                ..ListQuery::default()
            },
        ] {
            assert_eq!(
                bad.clone().into_filter().map_err(|e| e.code).err(),
                Some(ErrorCode::InvalidJob),
                "{bad:?}"
            );
        }
    }
}
