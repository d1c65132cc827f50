//! Turns a [`JobSpec`] into a row to insert, or a typed error that names what is wrong.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Config;
use crate::cron::CronSchedule;
use crate::dispatch::RESERVED_HEADERS;
use crate::error::{Error, Result};
use crate::job::{JobId, JobKind, JobSigning, JobSpec, When};
use crate::store::queries::{Internal, NewJob};
use crate::store::to_ms;

/// Longest accepted name, label and idempotency key, in bytes.
pub(crate) const MAX_TEXT_LEN: usize = 256;
/// Most labels on one job.
pub(crate) const MAX_LABELS: usize = 32;
/// Longest accepted per-attempt timeout.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Longest accepted URL, in bytes.
pub(crate) const MAX_URL_LEN: usize = 8192;

pub(crate) fn validate(spec: &JobSpec, config: &Config, now: DateTime<Utc>) -> Result<NewJob> {
    let url = validate_url(&spec.url)?;
    let mut headers = validate_headers(&spec.headers)?;
    if spec.body.len() > config.max_payload_size {
        return Err(Error::PayloadTooLarge {
            size: spec.body.len(),
            limit: config.max_payload_size,
        });
    }
    let has_content_type = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if let Some(ct) = &spec.content_type {
        if has_content_type {
            return Err(Error::invalid(
                "headers",
                "content-type is given both as a header and as the content type",
            ));
        }
        validate_headers(&[("content-type".to_owned(), ct.clone())])?;
        headers.push(("content-type".to_owned(), ct.clone()));
    } else if !has_content_type && !spec.body.is_empty() {
        headers.push((
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        ));
    }
    for (field, text) in [
        ("name", spec.name.as_deref()),
        ("idempotency_key", spec.idempotency_key.as_deref()),
    ] {
        if let Some(text) = text {
            check_text(field, text)?;
        }
    }
    if spec.labels.len() > MAX_LABELS {
        return Err(Error::invalid(
            "labels",
            format!("{} labels, at most {MAX_LABELS} allowed", spec.labels.len()),
        ));
    }
    for label in &spec.labels {
        check_text("labels", label)?;
    }
    let timeout = spec.timeout.unwrap_or(config.default_timeout);
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(Error::invalid(
            "timeout",
            format!("{timeout:?} is outside 1 ms ..= {MAX_TIMEOUT:?}"),
        ));
    }
    let cron = matches!(spec.when, When::Cron(_));
    if !cron && (spec.tz.is_some() || spec.missed.is_some()) {
        return Err(Error::invalid(
            "tz",
            "a time zone and a missed-run policy apply to cron jobs only",
        ));
    }
    let retry = match &spec.retry {
        Some(policy) => policy.clone(),
        None if cron => config.default_cron_retry.clone(),
        None => config.default_retry.clone(),
    };
    retry.validate()?;
    if let Some(signing) = &spec.signing {
        signing.signer()?;
    }
    for callback in [&spec.on_success_url, &spec.on_failure_url]
        .into_iter()
        .flatten()
    {
        validate_url(callback)?;
    }
    let (kind, due_at, cron_expr, cron_tz) = match &spec.when {
        When::At(at) => (JobKind::Once, to_ms(*at), None, None),
        When::After(delay) => {
            let delay = chrono::Duration::from_std(*delay)
                .ok()
                .filter(|d| *d <= chrono::Duration::days(365 * 100))
                .ok_or_else(|| Error::invalid("after", format!("{delay:?} is too far away")))?;
            (JobKind::Once, to_ms(now + delay), None, None)
        }
        When::Cron(expr) => {
            let tz = spec.tz.as_deref().unwrap_or(crate::cron::DEFAULT_TIMEZONE);
            let schedule = CronSchedule::parse(expr, tz)?;
            let first = schedule.next_after(now).ok_or_else(|| {
                Error::invalid("cron", format!("{expr:?} has no occurrence after now"))
            })?;
            (
                JobKind::Cron,
                to_ms(first),
                Some(expr.clone()),
                Some(tz.to_owned()),
            )
        }
    };
    Ok(NewJob {
        id: JobId::generate(),
        kind,
        name: spec.name.clone(),
        labels: serde_json::to_string(&spec.labels).expect("strings serialise"),
        url: url.to_string(),
        method: spec.method,
        headers: serde_json::to_string(&headers).expect("strings serialise"),
        body: spec.body.clone(),
        timeout_ms: i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX),
        retry: serde_json::to_string(&retry).expect("policies serialise"),
        signing: spec.signing.as_ref().map(JobSigning::to_db),
        origin: crate::outcome::origin_of(url.as_str()),
        on_success_url: spec.on_success_url.clone(),
        on_failure_url: spec.on_failure_url.clone(),
        internal: Internal::User,
        idempotency_key: spec.idempotency_key.clone(),
        cron_expr,
        cron_tz,
        missed: cron.then(|| spec.missed.unwrap_or_default()),
        due_at,
    })
}

pub(crate) fn validate_url(raw: &str) -> Result<url::Url> {
    if raw.len() > MAX_URL_LEN {
        return Err(Error::invalid(
            "url",
            format!("longer than {MAX_URL_LEN} bytes"),
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| Error::invalid("url", format!("{raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(
            "url",
            format!("{raw:?}: scheme {:?} is not http or https", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid("url", format!("{raw:?} has no host")));
    }
    Ok(url)
}

fn validate_headers(headers: &[(String, String)]) -> Result<Vec<(String, String)>> {
    headers
        .iter()
        .map(|(name, value)| {
            let parsed = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::invalid("headers", format!("{name:?} is not a valid header name"))
            })?;
            if RESERVED_HEADERS.contains(&parsed.as_str()) {
                return Err(Error::invalid(
                    "headers",
                    format!("{name:?} is set by timehook and cannot be overridden"),
                ));
            }
            if value.contains(['\r', '\n'])
                || reqwest::header::HeaderValue::from_str(value).is_err()
            {
                return Err(Error::invalid(
                    "headers",
                    format!("the value of {name:?} is not a valid header value (control characters such as CR/LF are rejected)"),
                ));
            }
            Ok((parsed.as_str().to_owned(), value.clone()))
        })
        .collect()
}

fn check_text(field: &'static str, text: &str) -> Result<()> {
    if text.is_empty() || text.len() > MAX_TEXT_LEN {
        return Err(Error::invalid(
            field,
            format!("must be 1..={MAX_TEXT_LEN} bytes, got {}", text.len()),
        ));
    }
    Ok(())
}
