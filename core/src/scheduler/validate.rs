//! Turns a [`JobSpec`] into a row to insert, or a typed error that names what is wrong.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Config;
use crate::cron::CronSchedule;
use crate::dispatch::RESERVED_HEADERS;
use crate::error::{Error, Result};
use crate::guard::TargetPolicy;
use crate::job::{ExecutionId, JobId, JobKind, JobSigning, JobSpec, When};
use crate::retry::RetryPolicy;
use crate::store::to_ms;
use crate::store::{Internal, NewJob};

/// Longest accepted name, label and idempotency key, in bytes.
pub(crate) const MAX_TEXT_LEN: usize = 256;
/// Most labels on one job.
pub(crate) const MAX_LABELS: usize = 32;
/// Longest accepted per-attempt timeout.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Longest accepted URL, in bytes.
pub(crate) const MAX_URL_LEN: usize = 8192;

/// The scheduler's default retry policies, serialised once at construction rather than for every job.
#[derive(Debug, Clone)]
pub(crate) struct DefaultRetry {
    once: String,
    cron: String,
}

impl DefaultRetry {
    pub(crate) fn new(config: &Config) -> Self {
        DefaultRetry {
            once: policy_json(&config.default_retry),
            cron: policy_json(&config.default_cron_retry),
        }
    }
}

fn policy_json(policy: &RetryPolicy) -> String {
    serde_json::to_string(policy).expect("policies serialise")
}

/// Distinct URLs a batch remembers: enough for the endpoints of one batch, small enough to stay
/// cheap when every job has a URL of its own.
const URLS_REMEMBERED: usize = 1024;

/// The URLs a batch has validated, with their normal form and origin: jobs of one batch usually
/// share a few URLs, and parsing each again was a tenth of `schedule_many`'s time.
#[derive(Debug, Default)]
pub(crate) struct SeenUrls(std::collections::HashMap<String, (String, String)>);

impl SeenUrls {
    /// The normal form and origin of `raw`, which must be a valid http(s) URL.
    fn check(&mut self, raw: String, targets: &TargetPolicy) -> Result<(String, String)> {
        if let Some((url, origin)) = self.0.get(&raw) {
            return Ok((url.clone(), origin.clone()));
        }
        let url = validate_url("url", &raw, targets)?;
        let origin = crate::outcome::origin_of_url(&url);
        let url: String = url.into();
        if self.0.len() < URLS_REMEMBERED {
            self.0.insert(raw, (url.clone(), origin.clone()));
        }
        Ok((url, origin))
    }
}

/// Validates `spec` and turns it into a row. Everything that can be prepared without the store
/// (ids, JSON columns, the origin) is prepared here, on the caller's thread.
pub(crate) fn validate(
    spec: JobSpec,
    config: &Config,
    defaults: &DefaultRetry,
    now: DateTime<Utc>,
    seen_urls: &mut SeenUrls,
) -> Result<NewJob> {
    let JobSpec {
        url,
        method,
        headers,
        body,
        content_type,
        when,
        tz,
        missed,
        name,
        labels,
        timeout,
        retry,
        signing,
        on_success_url,
        on_failure_url,
        idempotency_key,
    } = spec;
    let (url, origin) = seen_urls.check(url, &config.targets)?;
    let mut headers = validate_headers(headers)?;
    if body.len() > config.max_payload_size {
        return Err(Error::PayloadTooLarge {
            size: body.len(),
            limit: config.max_payload_size,
        });
    }
    let has_content_type = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if let Some(ct) = content_type {
        if has_content_type {
            return Err(Error::invalid(
                "headers",
                "content-type is given both as a header and as the content type",
            ));
        }
        headers.extend(validate_headers(vec![("content-type".to_owned(), ct)])?);
    } else if !has_content_type && !body.is_empty() {
        headers.push((
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        ));
    }
    for (field, text) in [
        ("name", name.as_deref()),
        ("idempotency_key", idempotency_key.as_deref()),
    ] {
        if let Some(text) = text {
            check_text(field, text)?;
        }
    }
    if labels.len() > MAX_LABELS {
        return Err(Error::invalid(
            "labels",
            format!("{} labels, at most {MAX_LABELS} allowed", labels.len()),
        ));
    }
    for label in &labels {
        check_text("labels", label)?;
    }
    let timeout = timeout.unwrap_or(config.default_timeout);
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(Error::invalid(
            "timeout",
            format!("{timeout:?} is outside 1 ms ..= {MAX_TIMEOUT:?}"),
        ));
    }
    let cron = matches!(when, When::Cron(_));
    if !cron && (tz.is_some() || missed.is_some()) {
        return Err(Error::invalid(
            "tz",
            "a time zone and a missed-run policy apply to cron jobs only",
        ));
    }
    // The defaults were validated with the configuration.
    let retry = match &retry {
        Some(policy) => {
            policy.validate()?;
            policy_json(policy)
        }
        None if cron => defaults.cron.clone(),
        None => defaults.once.clone(),
    };
    if let Some(signing) = &signing {
        if signing.has_keys() {
            signing.signer()?;
        }
        crate::profile::check_headers(&signing.headers, &signing.scheme)?;
    }
    for (field, callback) in [
        ("on_success_url", &on_success_url),
        ("on_failure_url", &on_failure_url),
    ] {
        if let Some(callback) = callback {
            validate_url(field, callback, &config.targets)?;
        }
    }
    let (kind, due_at, cron_expr, cron_tz) = match when {
        When::At(at) => (JobKind::Once, to_ms(at), None, None),
        When::After(delay) => {
            let delay = chrono::Duration::from_std(delay)
                .ok()
                .filter(|d| *d <= chrono::Duration::days(365 * 100))
                .ok_or_else(|| Error::invalid("after", format!("{delay:?} is too far away")))?;
            (JobKind::Once, to_ms(now + delay), None, None)
        }
        When::Cron(expr) => {
            let tz = tz.as_deref().unwrap_or(crate::cron::DEFAULT_TIMEZONE);
            let schedule = CronSchedule::parse(&expr, tz)?;
            let first = schedule.next_after(now).ok_or_else(|| {
                Error::invalid("cron", format!("{expr:?} has no occurrence after now"))
            })?;
            (JobKind::Cron, to_ms(first), Some(expr), Some(tz.to_owned()))
        }
    };
    Ok(NewJob {
        id: JobId::generate(),
        execution_id: (kind == JobKind::Once).then(ExecutionId::generate),
        kind,
        name,
        labels: if labels.is_empty() {
            "[]".to_owned()
        } else {
            serde_json::to_string(&labels).expect("strings serialise")
        },
        url,
        method,
        headers: serde_json::to_string(&headers).expect("strings serialise"),
        body,
        timeout_ms: i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX),
        retry,
        signing: signing.as_ref().map(JobSigning::to_db),
        origin,
        on_success_url,
        on_failure_url,
        internal: Internal::User,
        idempotency_key,
        cron_expr,
        cron_tz,
        missed: cron.then(|| missed.unwrap_or_default()),
        due_at,
    })
}

/// Checks a delivery URL given as `field`: an http(s) URL with a host, which the SSRF guard lets
/// through if it is an IP address.
pub(crate) fn validate_url(
    field: &'static str,
    raw: &str,
    targets: &TargetPolicy,
) -> Result<url::Url> {
    if raw.len() > MAX_URL_LEN {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_URL_LEN} bytes"),
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| Error::invalid(field, format!("{raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(
            field,
            format!("{raw:?}: scheme {:?} is not http or https", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid(field, format!("{raw:?} has no host")));
    }
    targets
        .check_url(&url)
        .map_err(|blocked| Error::Blocked { field, blocked })?;
    Ok(url)
}

/// Checks each header and lowercases its name (as HTTP/2 sends it).
fn validate_headers(headers: Vec<(String, String)>) -> Result<Vec<(String, String)>> {
    headers
        .into_iter()
        .map(|(name, value)| {
            let parsed = http::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::invalid("headers", format!("{name:?} is not a valid header name"))
            })?;
            if RESERVED_HEADERS.contains(&parsed.as_str()) {
                return Err(Error::invalid(
                    "headers",
                    format!("{name:?} is set by timehook and cannot be overridden"),
                ));
            }
            if value.contains(['\r', '\n'])
                || http::header::HeaderValue::from_str(&value).is_err()
            {
                return Err(Error::invalid(
                    "headers",
                    format!("the value of {name:?} is not a valid header value (control characters such as CR/LF are rejected)"),
                ));
            }
            let name = if parsed.as_str() == name {
                name
            } else {
                parsed.as_str().to_owned()
            };
            Ok((name, value))
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

#[cfg(test)]
mod tests {
    use crate::job::{JobSpec, ListFilter};

    /// Each rejected input is named as the caller wrote it: the time zone as `tz` (not `cron`),
    /// each callback URL as itself.
    #[tokio::test]
    async fn rejected_jobs_name_their_field() {
        let s = crate::Scheduler::in_memory().open().await.unwrap();
        let url = "https://example.com/hook";
        let cases = [
            (
                JobSpec::cron(url, "0 * * * *").tz("Mars/Olympus_Mons"),
                "tz",
            ),
            (JobSpec::cron(url, "61 * * * *"), "cron"),
            (JobSpec::post(url).tz("UTC"), "tz"),
            (
                JobSpec::post(url).on_failure("ftp://example.com/cb"),
                "on_failure_url",
            ),
            (JobSpec::post(url).on_success("not a url"), "on_success_url"),
            (
                JobSpec::post(url).on_failure("http://127.0.0.1/cb"),
                "on_failure_url",
            ),
            (
                JobSpec::post(url).on_success("http://10.0.0.1/cb"),
                "on_success_url",
            ),
        ];
        for (spec, field) in cases {
            let e = s.schedule(spec).await.unwrap_err();
            assert_eq!(e.field(), Some(field), "{e}");
        }
        assert!(s.list(&ListFilter::default()).await.unwrap().is_empty());
    }
}
