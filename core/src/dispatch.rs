//! One attempt: build the request, sign it, send it, and classify the answer.

use std::error::Error as _;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use std::sync::Arc;

use crate::clock::Clock;
use crate::guard::{Blocked, GuardedResolver, Resolver, TargetPolicy};
use crate::job::{AttemptError, JobSigning};
use crate::profile::Filled;
use crate::retry::{Verdict, classify_status, parse_retry_after};
use crate::scheduler::engine::AttemptResult;
use crate::signing::Signer;
use crate::store::to_ms;
use crate::store::{Claimed, RESPONSE_BODY_LIMIT};

/// Sends attempts over one pooled HTTP client, whose every connection passes the SSRF guard.
pub(crate) struct Dispatcher {
    client: reqwest::Client,
    signer: Signer,
    /// Extra headers timehook fills in on every request (a scheduler's profile).
    delivery_headers: Vec<(HeaderName, Filled)>,
    /// What deliveries may reach; checked again before each attempt to an IP-literal URL (no
    /// resolver sees those). `None` behind a proxy: the guard then applies to the proxy.
    targets: Option<Arc<TargetPolicy>>,
}

/// Headers that timehook sets itself; a job may not set them.
pub(crate) const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

impl Dispatcher {
    /// A dispatcher whose connections resolve through `resolver` and pass `targets`; with a
    /// `proxy`, every request goes through it (and the guard applies to the proxy's address).
    /// The environment's `HTTP(S)_PROXY` is never used.
    pub(crate) fn new(
        signer: Signer,
        delivery_headers: &[(String, Filled)],
        user_agent: &str,
        targets: Arc<TargetPolicy>,
        resolver: Arc<dyn Resolver>,
        proxy: Option<&url::Url>,
    ) -> crate::Result<Self> {
        // reqwest is built without a default rustls provider; use ring unless the application
        // installed one already (then `install_default` fails and theirs is used).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .dns_resolver(Arc::new(GuardedResolver {
                policy: targets.clone(),
                inner: resolver,
            }));
        let builder = match proxy {
            Some(proxy) => {
                targets
                    .check_url(proxy)
                    .map_err(|b| crate::Error::Config(format!("proxy: {b}")))?;
                builder.proxy(
                    reqwest::Proxy::all(proxy.as_str())
                        .map_err(|e| crate::Error::Config(format!("proxy: {e}")))?,
                )
            }
            None => builder.no_proxy(),
        };
        let client = builder
            .build()
            .map_err(|e| crate::Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let delivery_headers = delivery_headers
            .iter()
            .map(|(name, kind)| {
                HeaderName::from_bytes(name.trim().as_bytes())
                    .map(|n| (n, *kind))
                    .map_err(|e| crate::Error::Config(format!("delivery header {name:?}: {e}")))
            })
            .collect::<crate::Result<_>>()?;
        Ok(Dispatcher {
            delivery_headers,
            client,
            signer,
            targets: proxy.is_none().then_some(targets),
        })
    }

    /// Sends one attempt of `c`. Never fails: every failure is part of the result.
    pub(crate) async fn send(&self, c: &Claimed, clock: &dyn Clock) -> AttemptResult {
        let now = clock.now();
        let started = Instant::now();
        let mut result = AttemptResult {
            execution_id: c.execution_id.clone(),
            job_id: c.job_id.clone(),
            attempt: c.attempt,
            started_at: to_ms(now),
            duration_ms: 0,
            status: None,
            response_body: None,
            error: None,
            message: None,
            verdict: Verdict::Retry,
            retry_after: None,
            next_delay: None,
        };
        if let Some(defect) = &c.defect {
            result.error = Some(AttemptError::Unreadable);
            result.message = Some(defect.clone());
            result.verdict = Verdict::Final;
            return result;
        }
        let headers = match self.headers(c, now.timestamp()) {
            Ok(h) => h,
            Err(message) => {
                result.error = Some(AttemptError::Request);
                result.message = Some(message);
                result.verdict = Verdict::Final;
                return result;
            }
        };
        // An IP-literal URL reaches no resolver: it passes the guard here, on every attempt.
        // Parsed once, for the guard and for the request.
        let parsed = url::Url::parse(&c.url);
        if let Some(targets) = &self.targets
            && let Ok(url) = &parsed
            && let Err(blocked) = targets.check_url(url)
        {
            result.error = Some(AttemptError::Blocked);
            result.message = Some(blocked.to_string());
            result.verdict = Verdict::Final;
            return result;
        }
        let method = reqwest::Method::from_bytes(c.method.as_str().as_bytes())
            .unwrap_or(reqwest::Method::POST);
        let request = match parsed {
            Ok(url) => self.client.request(method, url),
            // reqwest reports what is wrong with it.
            Err(_) => self.client.request(method, &c.url),
        };
        let request = request
            .headers(headers)
            .timeout(c.timeout)
            .body(c.body.clone());
        match request.send().await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                result.status = Some(status);
                result.retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, now.into()));
                let mut body = Vec::new();
                while body.len() < RESPONSE_BODY_LIMIT {
                    match response.chunk().await {
                        Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                        Ok(None) => break,
                        // The status decides the outcome; a body cut short only loses the excerpt.
                        Err(_) => break,
                    }
                }
                body.truncate(RESPONSE_BODY_LIMIT);
                result.response_body = Some(body);
                result.verdict = classify_status(status);
                if result.verdict != Verdict::Success {
                    let redirect = (300..400).contains(&status);
                    result.error = Some(if redirect {
                        AttemptError::Redirect
                    } else {
                        AttemptError::Status
                    });
                    result.message = Some(if redirect {
                        format!("HTTP {status}: redirects are not followed")
                    } else {
                        format!("HTTP {status}")
                    });
                }
            }
            Err(e) => {
                // The URL may carry credentials (userinfo, a token in the query), and the message
                // travels on in outcome events: it names the failure, not the URL.
                let e = e.without_url();
                let kind = classify_error(&e);
                result.error = Some(kind);
                result.message = Some(error_chain(&e));
                result.verdict = match kind {
                    AttemptError::Timeout
                    | AttemptError::Connect
                    | AttemptError::Dns
                    | AttemptError::Tls
                    | AttemptError::Interrupted
                    | AttemptError::Request => Verdict::Retry,
                    AttemptError::Redirect
                    | AttemptError::Status
                    | AttemptError::Blocked
                    | AttemptError::Unreadable => Verdict::Final,
                };
                if kind == AttemptError::Blocked
                    && let Some(blocked) = find_blocked(&e)
                {
                    // The guard's words name the address, without the client's wrapping.
                    result.message = Some(blocked.to_string());
                }
            }
        }
        result.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        result.next_delay = match c.next_delay(result.verdict, result.retry_after) {
            Ok(delay) => delay,
            Err(e) => {
                // The stored policy cannot be read: retry with the default rather than drop it.
                tracing::warn!(job = %c.job_id, error = %e, "unreadable retry policy; using the default");
                crate::retry::RetryPolicy::default()
                    .next_delay(c.attempt.saturating_sub(c.budget_start), result.retry_after)
                    .filter(|_| result.verdict == Verdict::Retry)
            }
        };
        result
    }

    fn headers(&self, c: &Claimed, timestamp: i64) -> Result<HeaderMap, String> {
        let job_signing = c
            .signing
            .as_deref()
            .map(JobSigning::from_db)
            .transpose()
            .map_err(|e| format!("cannot sign: {e}"))?;
        let own;
        let signer = match &job_signing {
            Some(s) if s.has_keys() => {
                own = s.signer().map_err(|e| format!("cannot sign: {e}"))?;
                &own
            }
            _ => &self.signer,
        };
        let mut map = HeaderMap::with_capacity(c.headers.len() + 4);
        for (name, value) in &c.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            map.append(name, value);
        }
        // Every style carries the execution id, so receivers can deduplicate retries.
        map.insert(
            HeaderName::from_static(crate::signing::HEADER_ID),
            HeaderValue::from_str(c.execution_id.as_str()).map_err(|e| e.to_string())?,
        );
        let signature_header = signer.scheme().signature_header();
        let mut signature = None;
        for (name, value) in signer.headers(c.execution_id.as_str(), timestamp, &c.body) {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let header = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
            if name.as_str().eq_ignore_ascii_case(signature_header) {
                signature = Some(header.clone());
            }
            map.insert(name, header);
        }
        // Extra headers: the scheduler's, then the job's own.
        let job_headers = job_signing
            .iter()
            .flat_map(|s| s.headers.iter())
            .map(|(name, kind)| {
                HeaderName::from_bytes(name.trim().as_bytes())
                    .map(|n| (n, *kind))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (name, kind) in self.delivery_headers.iter().chain(job_headers.iter()) {
            let text = |v: &str| HeaderValue::from_str(v).map_err(|e| e.to_string());
            let value = match kind {
                Filled::JobId => text(c.job_id.as_str())?,
                Filled::ExecutionId | Filled::IdempotencyKey => text(c.execution_id.as_str())?,
                Filled::Timestamp => HeaderValue::from(timestamp),
                Filled::Attempt => HeaderValue::from(c.attempt),
                Filled::Signature => signature.clone().ok_or("the signature has no header")?,
            };
            map.insert(name.clone(), value);
        }
        Ok(map)
    }
}

/// The guard's refusal inside a transport error, if that is what it is.
fn find_blocked<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e Blocked> {
    let mut source: Option<&'e (dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(blocked) = s.downcast_ref::<Blocked>() {
            return Some(blocked);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(blocked) = find_blocked(inner)
        {
            return Some(blocked);
        }
        source = s.source();
    }
    None
}

/// Sorts a transport error into the kinds users filter on.
fn classify_error(e: &reqwest::Error) -> AttemptError {
    if find_blocked(e).is_some() {
        return AttemptError::Blocked;
    }
    if e.is_timeout() {
        return AttemptError::Timeout;
    }
    let chain = error_chain(e).to_ascii_lowercase();
    let mut source = e.source();
    while let Some(s) = source {
        if s.is::<rustls::Error>() {
            return AttemptError::Tls;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return AttemptError::Timeout;
            }
            // An io::Error hides the error it wraps from `source()`, and may wrap another io::Error.
            let mut inner = io.get_ref();
            while let Some(e) = inner {
                if e.is::<rustls::Error>() {
                    return AttemptError::Tls;
                }
                inner = e
                    .downcast_ref::<std::io::Error>()
                    .and_then(std::io::Error::get_ref);
            }
        }
        source = s.source();
    }
    if chain.contains("dns error") || chain.contains("failed to lookup address") {
        AttemptError::Dns
    } else if chain.contains("certificate") || chain.contains("tls") {
        AttemptError::Tls
    } else if e.is_connect() {
        AttemptError::Connect
    } else if e.is_redirect() {
        AttemptError::Redirect
    } else {
        AttemptError::Request
    }
}

/// The error and its causes, joined, so the recorded message says what really happened.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}
