//! One attempt: build the request, sign it, send it, and classify the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;

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
    transport: Transport,
    user_agent: HeaderValue,
    signer: Signer,
    /// Extra headers timehook fills in on every request (a scheduler's profile).
    delivery_headers: Vec<(HeaderName, Filled)>,
    /// What deliveries may reach; checked again before each attempt to an IP-literal URL (no
    /// resolver sees those). `None` behind a proxy: the guard then applies to the proxy.
    targets: Option<Arc<TargetPolicy>>,
}

/// How requests travel.
enum Transport {
    /// Straight to receivers: hyper's pooled client (HTTP/1.1, and HTTP/2 where TLS negotiates
    /// it), its connections resolved through the guard. About half of reqwest's CPU per request on
    /// loopback (BENCHMARKS.md), which sends each request through layers (redirects, retries,
    /// the response's URL parsed again) that deliveries do not use.
    Direct(Box<DirectClient>),
    /// Through a proxy: reqwest, which speaks to proxies (a CONNECT tunnel for https, the
    /// absolute form for http).
    Proxied(reqwest::Client),
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>;
type DirectClient = hyper_util::client::legacy::Client<Connector, Full<Bytes>>;

/// What a receiver answered.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    /// Up to [`RESPONSE_BODY_LIMIT`] bytes of the body (more may have been read).
    body: Vec<u8>,
}

/// Why a request got no answer.
struct Failed {
    kind: AttemptError,
    message: String,
}

/// Idle pooled connections are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(60);
/// TCP keepalive probes on delivery connections: after this long idle, and this far apart.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);

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
        // rustls is built without a default provider; use ring unless the application
        // installed one already (then `install_default` fails and theirs is used).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let user_agent = HeaderValue::from_str(user_agent)
            .map_err(|e| crate::Error::Config(format!("user agent {user_agent:?}: {e}")))?;
        let resolver = GuardedResolver {
            policy: targets.clone(),
            inner: resolver,
        };
        let transport = match proxy {
            Some(proxy) => {
                targets
                    .check_url(proxy)
                    .map_err(|b| crate::Error::Config(format!("proxy: {b}")))?;
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(user_agent.clone())
                    .tcp_nodelay(true)
                    .pool_idle_timeout(POOL_IDLE)
                    .dns_resolver(Arc::new(resolver))
                    .proxy(
                        reqwest::Proxy::all(proxy.as_str())
                            .map_err(|e| crate::Error::Config(format!("proxy: {e}")))?,
                    )
                    .build()
                    .map_err(|e| {
                        crate::Error::Config(format!("cannot build the HTTP client: {e}"))
                    })?;
                Transport::Proxied(client)
            }
            None => {
                let mut http = HttpConnector::new_with_resolver(resolver);
                // The TLS layer above takes https URLs.
                http.enforce_http(false);
                http.set_nodelay(true);
                // As reqwest did: a dead peer's connection is noticed even while idle.
                http.set_keepalive(Some(TCP_KEEPALIVE));
                http.set_keepalive_interval(Some(TCP_KEEPALIVE));
                let provider = rustls::crypto::CryptoProvider::get_default()
                    .cloned()
                    .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
                let tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .and_then(|b| {
                        use rustls_platform_verifier::BuilderVerifierExt as _;
                        b.with_platform_verifier()
                    })
                    .map_err(|e| crate::Error::Config(format!("cannot set up TLS: {e}")))?
                    .with_no_client_auth();
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .enable_http2()
                    .wrap_connector(http);
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .pool_idle_timeout(POOL_IDLE)
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(connector);
                Transport::Direct(Box::new(client))
            }
        };
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
            transport,
            user_agent,
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
        // The URL as stored: the url crate's normal form (hosts in ASCII, the path escaped),
        // written when the job was validated, so the request's URI is parsed from it directly.
        let uri = http::Uri::try_from(c.url.as_str());
        // An IP-literal URL reaches no resolver: it passes the guard here, on every attempt.
        if let Some(targets) = &self.targets
            && let Ok(uri) = &uri
            && let Err(blocked) = targets.check_uri(uri)
        {
            result.error = Some(AttemptError::Blocked);
            result.message = Some(blocked.to_string());
            result.verdict = Verdict::Final;
            return result;
        }
        let method =
            http::Method::from_bytes(c.method.as_str().as_bytes()).unwrap_or(http::Method::POST);
        let deadline = tokio::time::Instant::now() + c.timeout;
        let answered = match &self.transport {
            Transport::Direct(client) => {
                self.send_direct(client, method, uri, headers, c, deadline)
                    .await
            }
            Transport::Proxied(client) => send_proxied(client, method, headers, c, deadline).await,
        };
        match answered {
            Ok(answer) => {
                let status = answer.status;
                result.status = Some(status);
                result.retry_after = answer
                    .retry_after
                    .and_then(|v| parse_retry_after(&v, now.into()));
                let mut body = answer.body;
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
            Err(failed) => {
                result.error = Some(failed.kind);
                result.message = Some(failed.message);
                result.verdict = match failed.kind {
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

    /// Sends a request straight to its receiver and reads the answer, all before `deadline`
    /// (a body still arriving then is cut short: the status decides the outcome).
    async fn send_direct(
        &self,
        client: &DirectClient,
        method: http::Method,
        uri: Result<http::Uri, http::uri::InvalidUri>,
        mut headers: HeaderMap,
        c: &Claimed,
        deadline: tokio::time::Instant,
    ) -> Result<Answer, Failed> {
        let uri = uri.map_err(|e| Failed {
            kind: AttemptError::Request,
            message: format!("invalid URL: {e}"),
        })?;
        // The defaults reqwest sent (and the proxied path still does), unless the job set its own.
        if !headers.contains_key(http::header::USER_AGENT) {
            headers.insert(http::header::USER_AGENT, self.user_agent.clone());
        }
        if !headers.contains_key(http::header::ACCEPT) {
            headers.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        }
        let mut request = http::Request::new(Full::new(c.body.clone()));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let response = match tokio::time::timeout_at(deadline, client.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(direct_failure(&e)),
            Err(_) => return Err(timed_out()),
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let mut incoming = response.into_body();
        let mut body = Vec::new();
        while body.len() < RESPONSE_BODY_LIMIT {
            match tokio::time::timeout_at(deadline, incoming.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        body.extend_from_slice(&data);
                    }
                }
                // The end, a body cut short or the deadline: only the excerpt is lost.
                _ => break,
            }
        }
        Ok(Answer {
            status,
            retry_after,
            body,
        })
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

/// Sends a request through the proxy with reqwest and reads the answer, all before `deadline`.
async fn send_proxied(
    client: &reqwest::Client,
    method: http::Method,
    headers: HeaderMap,
    c: &Claimed,
    deadline: tokio::time::Instant,
) -> Result<Answer, Failed> {
    let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
    let sent = client
        .request(method, &c.url)
        .headers(headers)
        .timeout(timeout)
        .body(c.body.clone())
        .send()
        .await;
    let mut response = sent.map_err(|e| proxied_failure(&e.without_url()))?;
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let mut body = Vec::new();
    while body.len() < RESPONSE_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            // The end, or a body cut short: the status decides the outcome; only the excerpt is
            // lost.
            _ => break,
        }
    }
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// The answer's `Retry-After`, as sent.
fn retry_after(headers: &HeaderMap) -> Option<String> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn timed_out() -> Failed {
    Failed {
        kind: AttemptError::Timeout,
        message: "no answer within the timeout".to_owned(),
    }
}

/// A direct request's failure, sorted into the kinds users filter on. hyper's errors carry no
/// URL (the URL may hold credentials; the message travels on in outcome events).
fn direct_failure(e: &hyper_util::client::legacy::Error) -> Failed {
    let kind = classify(e, e.is_connect(), false, false);
    Failed {
        kind,
        message: failure_message(e, kind),
    }
}

/// A proxied request's failure (its URL already taken out of the error).
fn proxied_failure(e: &reqwest::Error) -> Failed {
    let kind = classify(e, e.is_connect(), e.is_timeout(), e.is_redirect());
    Failed {
        kind,
        message: failure_message(e, kind),
    }
}

/// The error and its causes; for a refusal by the guard, the guard's words alone (they name the
/// address), without the client's wrapping.
fn failure_message(e: &(dyn std::error::Error + 'static), kind: AttemptError) -> String {
    match find_blocked(e) {
        Some(blocked) if kind == AttemptError::Blocked => blocked.to_string(),
        _ => error_chain(e),
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

/// Sorts a transport error into the kinds users filter on, from its chain of causes and what the
/// client says of it (a connection that could not be made, a timeout, a redirect).
fn classify(
    e: &(dyn std::error::Error + 'static),
    connect: bool,
    timeout: bool,
    redirect: bool,
) -> AttemptError {
    if find_blocked(e).is_some() {
        return AttemptError::Blocked;
    }
    if timeout {
        return AttemptError::Timeout;
    }
    let chain = error_chain(e).to_ascii_lowercase();
    let mut source = Some(e);
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
    } else if connect {
        AttemptError::Connect
    } else if redirect {
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
