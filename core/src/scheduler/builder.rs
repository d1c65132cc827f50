//! Options for opening a [`Scheduler`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use tokio::sync::{Notify, broadcast};

use std::collections::HashMap;

use super::engine::ReportParams;
use super::flow::{EndpointLimits, Flow};
use super::{Config, Inner, Scheduler};
use crate::clock::{Clock, SystemClock};
use crate::dispatch::Dispatcher;
use crate::error::{Error, Result};
use crate::guard::{Resolver, SystemResolver, TargetPolicy};
use crate::retry::RetryPolicy;
use crate::signing::{Key, Secret, Signer, SigningKey, Verifier};
use crate::store::{Durability, Location, Store, transact};

/// Key under which a generated signing secret is kept in the store.
const GENERATED_SECRET_KEY: &str = "generated_signing_secret";
/// Capacity of the event channel.
const EVENT_CAPACITY: usize = 1024;

/// Options for a [`Scheduler`]; every option has a sensible default.
#[must_use]
pub struct SchedulerBuilder {
    location: Result<Location>,
    schema: Option<String>,
    secrets: Vec<Secret>,
    signing_keys: Vec<SigningKey>,
    signer: Option<Signer>,
    /// Extra headers timehook fills in on every request.
    delivery_headers: Vec<(String, crate::profile::Filled)>,
    /// An option that could not be applied (a profile's secret), reported by `open`.
    problem: Option<Error>,
    /// The shape of outcome callbacks (a profile's).
    shape: crate::profile::Shape,
    per_host_rate: Option<f64>,
    endpoint_limits: HashMap<String, EndpointLimits>,
    config: Config,
    user_agent: String,
    clock: Arc<dyn Clock>,
    durability: Durability,
    own_runtime: bool,
    allow_private_targets: bool,
    allow_targets: Vec<String>,
    proxy: Option<String>,
    resolver: Arc<dyn Resolver>,
}

impl SchedulerBuilder {
    pub(crate) fn new(path: impl Into<PathBuf>) -> Self {
        Self::at(Location::parse(path.into()))
    }

    pub(crate) fn memory() -> Self {
        Self::at(Ok(Location::Memory))
    }

    fn at(location: Result<Location>) -> Self {
        SchedulerBuilder {
            location,
            schema: None,
            secrets: Vec::new(),
            signing_keys: Vec::new(),
            signer: None,
            delivery_headers: Vec::new(),
            problem: None,
            shape: crate::profile::Shape::Default,
            per_host_rate: None,
            endpoint_limits: HashMap::new(),
            config: Config {
                max_concurrency: super::DEFAULT_MAX_CONCURRENCY,
                per_host_concurrency: super::DEFAULT_PER_HOST_CONCURRENCY,
                default_timeout: super::DEFAULT_TIMEOUT,
                default_retry: RetryPolicy::default(),
                default_cron_retry: RetryPolicy::none(),
                max_payload_size: super::DEFAULT_MAX_PAYLOAD_SIZE,
                lease_duration: super::LEASE_DURATION,
                retention: super::DEFAULT_RETENTION,
                failed_retention: super::DEFAULT_FAILED_RETENTION,
                poll_interval: super::DEFAULT_POLL_INTERVAL,
                missed_run_grace: crate::cron::DEFAULT_MISSED_RUN_GRACE
                    .to_std()
                    .unwrap_or_default(),
                environment: None,
                endpoint_disable_after: super::DEFAULT_ENDPOINT_DISABLE_AFTER,
                endpoint_disable_min_failures: super::DEFAULT_ENDPOINT_DISABLE_MIN_FAILURES,
                disable_endpoint_on_gone: false,
                max_interrupted_attempts: super::DEFAULT_MAX_INTERRUPTED_ATTEMPTS,
                targets: Arc::default(),
            },
            user_agent: format!("timehook/{}", crate::VERSION),
            clock: Arc::new(SystemClock),
            durability: Durability::default(),
            own_runtime: false,
            allow_private_targets: false,
            allow_targets: Vec::new(),
            proxy: None,
            resolver: Arc::new(SystemResolver),
        }
    }

    /// Adds an HMAC signing secret (`whsec_...`). With several, every request carries one `v1`
    /// signature per secret, so receivers can rotate keys. Without any, a secret is generated on first
    /// open and kept in the file (see `Scheduler::secrets`).
    pub fn secret(mut self, secret: Secret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Adds an ed25519 signing key (`whsk_...`): requests then also carry a `v1a` signature.
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_keys.push(key);
        self
    }

    /// Signs every request with `signer` (any [`Scheme`](crate::signing::Scheme), any keys), in
    /// place of [`secret`](Self::secret) and [`signing_key`](Self::signing_key). Jobs can still
    /// choose their own with `JobSpec::signing`.
    pub fn signer(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Adds an extra header whose value timehook fills in on every request (the job id, the
    /// execution id, the timestamp, an idempotency key, the attempt number, the signature), for
    /// receivers that read it. Jobs can add their own with `JobSpec::delivery_header`.
    pub fn delivery_header(
        mut self,
        name: impl Into<String>,
        value: crate::profile::Filled,
    ) -> Self {
        self.delivery_headers.push((name.into(), value));
        self
    }

    /// Delivers every job as `profile`'s service would: its signature with `secret` (as the
    /// service gave it to the receivers), its extra headers, its retry schedules and its timeout.
    /// Options set afterwards, and a job's own settings, override it.
    pub fn profile(mut self, profile: &crate::profile::Profile, secret: &str) -> Self {
        match profile.signer(secret) {
            Ok(signer) => self.signer = Some(signer),
            Err(e) => {
                self.problem.get_or_insert(Error::Config(format!(
                    "secret for the {} profile: {e}",
                    profile.name
                )));
            }
        }
        self.delivery_headers.clone_from(&profile.headers);
        self.shape = profile.shape;
        if let Some(retry) = &profile.retry {
            self.config.default_retry = retry.clone();
        }
        if let Some(retry) = &profile.cron_retry {
            self.config.default_cron_retry = retry.clone();
        }
        self.config.default_timeout = profile.timeout;
        self
    }

    /// Most deliveries in flight at once (default 256).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.config.max_concurrency = n;
        self
    }

    /// Most deliveries in flight to one host (default 64).
    pub fn per_host_concurrency(mut self, n: usize) -> Self {
        self.config.per_host_concurrency = n;
        self
    }

    /// Most requests started per second to one endpoint (no limit by default); a burst of one
    /// second's worth is allowed.
    pub fn per_host_rate(mut self, per_second: f64) -> Self {
        self.per_host_rate = Some(per_second);
        self
    }

    /// Limits for one endpoint (`scheme://host:port`, or any URL on it), in place of the per-host
    /// defaults: most requests in flight and most started per second.
    pub fn endpoint_limits(
        mut self,
        origin_or_url: &str,
        max_in_flight: usize,
        per_second: Option<f64>,
    ) -> Self {
        self.endpoint_limits.insert(
            crate::outcome::origin_of(origin_or_url),
            EndpointLimits {
                max_in_flight,
                per_second,
            },
        );
        self
    }

    /// Per-attempt timeout for jobs that set none (default 30 s).
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.config.default_timeout = timeout;
        self
    }

    /// Retry policy for one-time jobs that set none (default: exponential with jitter).
    pub fn default_retry(mut self, policy: RetryPolicy) -> Self {
        self.config.default_retry = policy;
        self
    }

    /// Retry policy for cron occurrences whose job sets none (default: no retry).
    pub fn default_cron_retry(mut self, policy: RetryPolicy) -> Self {
        self.config.default_cron_retry = policy;
        self
    }

    /// The `user-agent` header (default `timehook/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The clock (default: the system clock). Tests pass a [`crate::ManualClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Largest accepted request body in bytes (default 1 MiB).
    pub fn max_payload_size(mut self, bytes: usize) -> Self {
        self.config.max_payload_size = bytes;
        self
    }

    /// How long succeeded and cancelled jobs are kept (default 7 days).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.config.retention = retention;
        self
    }

    /// How long failed jobs (dead letters) are kept (default 30 days).
    pub fn failed_retention(mut self, retention: Duration) -> Self {
        self.config.failed_retention = retention;
        self
    }

    /// How long a claim holds an execution before another worker may rescue it (default 30 s).
    pub fn lease_duration(mut self, lease: Duration) -> Self {
        self.config.lease_duration = lease;
        self
    }

    /// How often the file is checked for jobs added by other processes (default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval;
        self
    }

    /// How late a cron occurrence may be and still count as on time rather than missed (default
    /// 60 s).
    pub fn missed_run_grace(mut self, grace: Duration) -> Self {
        self.config.missed_run_grace = grace;
        self
    }

    /// How many times one execution may be interrupted before it is failed (default 5).
    /// Interrupted attempts (the process died, was killed, or reached its shutdown deadline while
    /// the request was under way) do not count against the job's retry policy, since the receiver
    /// may never have seen them; but a job that is itself the cause (it runs the worker out of
    /// memory, or its timeout outlasts every shutdown) would otherwise be retried forever. Past
    /// this many, its execution fails with the error kind `interrupted`, and the job's
    /// `on_failure` callback and `job.failed` event follow as for any failure. At least 1.
    pub fn max_interrupted_attempts(mut self, n: u32) -> Self {
        self.config.max_interrupted_attempts = n.max(1);
        self
    }

    /// A label such as `production` or `staging`, sent as `environment` in subscription events.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.config.environment = Some(environment.into());
        self
    }

    /// Disables an endpoint (holding its jobs, never dropping them) once it has failed continuously
    /// for `after` and at least `min_failures` times (default 5 days and 10 failures).
    pub fn disable_endpoints_after(mut self, after: Duration, min_failures: u32) -> Self {
        self.config.endpoint_disable_after = after;
        self.config.endpoint_disable_min_failures = min_failures;
        self
    }

    /// Whether a 410 Gone disables its endpoint at once (default false).
    pub fn disable_endpoint_on_gone(mut self, disable: bool) -> Self {
        self.config.disable_endpoint_on_gone = disable;
        self
    }

    /// How hard commits are pushed to disk (default [`Durability::Full`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Lets deliveries reach these networks (`10.1.0.0/16`, an address) and host names
    /// (`hooks.internal`, or `*.corp.example` for every name under it), which the SSRF guard
    /// refuses otherwise when they are private, loopback, link-local and the like (see
    /// [`crate::guard`]). Checked when the store is opened.
    pub fn allow_targets<S: Into<String>>(mut self, targets: impl IntoIterator<Item = S>) -> Self {
        self.allow_targets
            .extend(targets.into_iter().map(Into::into));
        self
    }

    /// Turns the SSRF guard off: deliveries may reach any address, private and loopback ones
    /// included. For tests that deliver to `127.0.0.1` and for deployments whose every target is
    /// trusted; prefer [`allow_targets`](Self::allow_targets) for an intranet.
    pub fn allow_private_targets(mut self, allow: bool) -> Self {
        self.allow_private_targets = allow;
        self
    }

    /// Sends every request through this HTTP(S) proxy (`http://proxy.internal:3128`). Without
    /// one, no proxy is used: `HTTP_PROXY` and `HTTPS_PROXY` in the environment are ignored. With
    /// one, the SSRF guard applies to the proxy's address, and the proxy decides what its
    /// requests may reach.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Resolves the host names of deliveries with `resolver` instead of the system's. What it
    /// answers still passes the SSRF guard before any connection is made.
    pub fn resolver(mut self, resolver: impl Resolver) -> Self {
        self.resolver = Arc::new(resolver);
        self
    }

    /// The PostgreSQL schema that holds timehook's tables (default `timehook`, or the URL's
    /// `schema` parameter), created on first open. Only for a `postgresql://` store.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Deliver on a runtime that the scheduler owns (two worker threads) instead of the caller's.
    pub fn own_runtime(mut self, own: bool) -> Self {
        self.own_runtime = own;
        self
    }

    fn validate(&self) -> Result<()> {
        let c = &self.config;
        let checks = [
            (c.max_concurrency == 0, "max_concurrency must be at least 1"),
            (
                c.per_host_concurrency == 0,
                "per_host_concurrency must be at least 1",
            ),
            (
                c.default_timeout.is_zero(),
                "default_timeout must be positive",
            ),
            (
                c.lease_duration < Duration::from_secs(1),
                "lease_duration must be at least 1 s",
            ),
            (c.poll_interval.is_zero(), "poll_interval must be positive"),
            (c.max_payload_size == 0, "max_payload_size must be positive"),
            (self.user_agent.is_empty(), "user_agent must not be empty"),
        ];
        if let Some((_, message)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(Error::Config((*message).to_owned()));
        }
        let rates = self
            .per_host_rate
            .into_iter()
            .chain(self.endpoint_limits.values().filter_map(|l| l.per_second));
        if rates.into_iter().any(|r| !(r.is_finite() && r > 0.0)) {
            return Err(Error::Config("a rate per second must be positive".into()));
        }
        if self.endpoint_limits.values().any(|l| l.max_in_flight == 0) {
            return Err(Error::Config(
                "an endpoint's max_in_flight must be at least 1".into(),
            ));
        }
        http::header::HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::Config("user_agent is not a valid header value".into()))?;
        c.default_retry.validate()?;
        c.default_cron_retry.validate()?;
        Ok(())
    }

    /// Opens the store (creating and migrating it if needed). Delivery begins with
    /// `Scheduler::start`.
    pub async fn open(mut self) -> Result<Scheduler> {
        self.validate()?;
        self.config.targets = Arc::new(
            TargetPolicy::new(self.allow_private_targets, &self.allow_targets)
                .map_err(Error::Config)?,
        );
        let proxy = self
            .proxy
            .as_deref()
            .map(|p| url::Url::parse(p).map_err(|e| Error::Config(format!("proxy: {p:?}: {e}"))))
            .transpose()?;
        let location = match (self.location?, &self.schema) {
            #[cfg(feature = "postgres")]
            (Location::Postgres(pg), Some(schema)) => {
                Location::Postgres(Box::new(pg.with_schema(schema)?))
            }
            (_, Some(_)) => {
                return Err(Error::Config(
                    "schema applies to a PostgreSQL store (postgresql://...) only".into(),
                ));
            }
            (location, None) => location,
        };
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let store = Store::open(location, self.durability).await?;
        let mut secrets = self.secrets;
        if secrets.is_empty() && self.signing_keys.is_empty() && self.signer.is_none() {
            let fresh = Secret::generate().expose_whsec();
            let stored = transact!(&store, |tx| tx.meta_init(GENERATED_SECRET_KEY, &fresh))?;
            secrets.push(Secret::parse(&stored)?);
        }
        let signer = match self.signer {
            Some(signer) => signer,
            None => Signer::new(
                secrets
                    .iter()
                    .cloned()
                    .map(Key::Hmac)
                    .chain(self.signing_keys.iter().cloned().map(Key::Ed25519)),
            )?,
        };
        let verifier = Verifier::from_keys(signer.keys().iter().map(Key::verifying_key))?
            .with_scheme(signer.scheme().clone())?;
        if secrets.is_empty() {
            secrets = signer
                .keys()
                .iter()
                .filter_map(|k| match k {
                    Key::Hmac(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
        }
        crate::profile::check_headers(&self.delivery_headers, signer.scheme())
            .map_err(|e| Error::Config(e.to_string()))?;
        let dispatcher = Dispatcher::new(
            signer,
            &self.delivery_headers,
            &self.user_agent,
            self.config.targets.clone(),
            self.resolver.clone(),
            proxy.as_ref(),
        )?;
        let runtime = if self.own_runtime {
            Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("timehook")
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Config(format!("cannot start a runtime: {e}")))?,
            )
        } else {
            None
        };
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        let report = ReportParams {
            environment: self.config.environment.clone(),
            retry: serde_json::to_string(&self.config.default_retry).expect("policies serialise"),
            timeout_ms: millis(self.config.default_timeout),
            disable_after_ms: millis(self.config.endpoint_disable_after),
            disable_min_failures: self.config.endpoint_disable_min_failures,
            disable_on_gone: self.config.disable_endpoint_on_gone,
            max_interrupted: self.config.max_interrupted_attempts,
            shape: self.shape,
        };
        let flow = Flow::new(
            EndpointLimits {
                max_in_flight: self.config.per_host_concurrency,
                per_second: self.per_host_rate,
            },
            self.endpoint_limits,
            store.refill_divisor(),
        );
        let inner = Inner {
            report,
            default_retry: super::validate::DefaultRetry::new(&self.config),
            store,
            clock: self.clock,
            config: self.config,
            dispatcher,
            verifier,
            secrets,
            owner: format!("w_{}", ulid::Ulid::new()),
            nudge: Notify::new(),
            planned_wake: AtomicI64::new(i64::MIN),
            flow,
            in_flight: Default::default(),
            answered: Default::default(),
            answers: Default::default(),
            answers_wanted: std::sync::atomic::AtomicUsize::new(usize::MAX),
            answer: Notify::new(),
            recorder: Default::default(),
            events: broadcast::channel(EVENT_CAPACITY).0,
        };
        Ok(Scheduler::from_parts(inner, runtime))
    }
}
