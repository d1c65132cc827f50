//! Scheduler options as plain fields ([`SchedulerOptions`]), turned into a core
//! [`SchedulerBuilder`].

use std::time::Duration;

use timehook::signing::{Key, Scheme, Secret, Signer, SigningKey};
use timehook::{Durability, ManualClock, Scheduler, SchedulerBuilder};

use crate::data::RetryInput;
use crate::error::{BindingError, ErrorCode, Result};
use crate::outcomes::EndpointLimitInput;

/// The path that opens an in-memory store (nothing survives the scheduler), as in SQLite.
pub const MEMORY_PATH: &str = ":memory:";
/// How long `close` lets deliveries in flight finish unless told otherwise.
pub const DEFAULT_CLOSE_GRACE: Duration = Duration::from_secs(10);

/// The signer of a scheduler whose requests carry `scheme` (not Standard Webhooks), with
/// `secrets` exactly as the receiver knows them.
fn compat_signer(scheme: Scheme, secrets: &[String], signing_keys: &[String]) -> Result<Signer> {
    if secrets.is_empty() {
        return Err(BindingError::invalid_config(
            "secret",
            format!(
                "the {} scheme signs with the secret the receiver already has; give it as `secret`",
                scheme.name()
            ),
        ));
    }
    if !signing_keys.is_empty() {
        return Err(BindingError::invalid_config(
            "signing_key",
            format!(
                "ed25519 keys sign Standard Webhooks only, not the {} scheme",
                scheme.name()
            ),
        ));
    }
    let n = secrets.len();
    let keys = secrets
        .iter()
        .enumerate()
        .map(|(i, text)| {
            Key::parse(&scheme, text)
                .map_err(|e| BindingError::from(e).context(numbered("secret", i, n)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Signer::new(keys)?.with_scheme(scheme)?)
}

/// Options for opening a scheduler. Unset fields take the core's defaults.
#[derive(Debug, Clone, Default)]
pub struct SchedulerOptions {
    /// The SQLite file, [`MEMORY_PATH`], or a `postgresql://` URL.
    pub path: String,
    /// The PostgreSQL schema that holds timehook's tables (default `timehook`).
    pub schema: Option<String>,
    /// Networks (CIDRs, addresses) and host names the SSRF guard lets deliveries reach.
    pub allow_targets: Vec<String>,
    /// Turns the SSRF guard off (tests on 127.0.0.1, trusted intranets).
    pub allow_private_targets: Option<bool>,
    /// An HTTP(S) proxy for every request (the environment's is never used).
    pub proxy: Option<String>,
    /// HMAC signing secrets (`whsec_...`), newest first. None: a secret is generated and kept in
    /// the file.
    pub secrets: Vec<String>,
    /// ed25519 signing keys (`whsk_...`).
    pub signing_keys: Vec<String>,
    /// The signature style of every request (Standard Webhooks when unset). Another style signs
    /// with `secrets` as the receiver knows them (raw strings).
    pub scheme: Option<Scheme>,
    /// A delivery profile (`runlater-eu`, `runlater`, `cronflow`, `svix`, `a1cron`): its
    /// signature with `secrets[0]`, its extra headers, retries and timeout.
    pub profile: Option<String>,
    /// Start delivering as soon as the store is open.
    pub autostart: bool,
    /// Most deliveries in flight at once.
    pub max_concurrency: Option<u64>,
    /// Most deliveries in flight to one host.
    pub per_host_concurrency: Option<u64>,
    /// Per-attempt timeout for jobs that set none, in milliseconds.
    pub default_timeout_ms: Option<u64>,
    /// Retry policy for one-time jobs that set none.
    pub default_retry: Option<RetryInput>,
    /// Retry policy for cron occurrences whose job sets none.
    pub default_cron_retry: Option<RetryInput>,
    /// The `user-agent` header.
    pub user_agent: Option<String>,
    /// Largest accepted request body, in bytes.
    pub max_payload_size: Option<u64>,
    /// How long succeeded and cancelled jobs are kept, in milliseconds.
    pub retention_ms: Option<u64>,
    /// How long failed jobs are kept, in milliseconds.
    pub failed_retention_ms: Option<u64>,
    /// How long a claim holds an execution, in milliseconds.
    pub lease_duration_ms: Option<u64>,
    /// How often the file is checked for jobs added by other processes, in milliseconds.
    pub poll_interval_ms: Option<u64>,
    /// How late a cron occurrence may be and still count as on time, in milliseconds.
    pub missed_run_grace_ms: Option<u64>,
    /// `full` (default) or `normal`.
    pub durability: Option<String>,
    /// A manual clock, for tests.
    pub clock: Option<ManualClock>,
    /// A label such as `production`, sent as `environment` in subscription events.
    pub environment: Option<String>,
    /// How long an endpoint must fail continuously before it is disabled, in milliseconds
    /// (default 5 days).
    pub disable_endpoints_after_ms: Option<u64>,
    /// How many failed attempts, at least, before an endpoint is disabled (default 10).
    pub disable_endpoints_min_failures: Option<u32>,
    /// Whether a 410 Gone disables its endpoint at once (default false).
    pub disable_endpoint_on_gone: Option<bool>,
    /// How many times one execution may be interrupted before it is failed (default 5).
    pub max_interrupted_attempts: Option<u32>,
    /// Most requests started per second to one endpoint (no limit by default).
    pub per_host_rate: Option<f64>,
    /// Limits for single endpoints, in place of the per-host defaults.
    pub endpoint_limits: Vec<EndpointLimitInput>,
}

fn usize_option(option: &str, n: u64) -> Result<usize> {
    usize::try_from(n)
        .map_err(|_| BindingError::invalid_config(option, format!("{n} is too large")))
}

/// Parses `full` or `normal`.
///
/// # Errors
/// `invalid_config` naming the value.
pub fn parse_durability(text: &str) -> Result<Durability> {
    match text.trim().to_ascii_lowercase().as_str() {
        "full" => Ok(Durability::Full),
        "normal" => Ok(Durability::Normal),
        _ => Err(BindingError::invalid_config(
            "durability",
            format!("{text:?} is not \"full\" or \"normal\""),
        )),
    }
}

fn retry_option(option: &str, retry: RetryInput) -> Result<timehook::RetryPolicy> {
    retry.into_policy().map_err(|e| BindingError {
        code: ErrorCode::InvalidConfig,
        message: format!("invalid configuration: {option}: {}", e.message),
        detail: Some(option.to_owned()),
    })
}

fn numbered(what: &str, i: usize, n: usize) -> String {
    if n > 1 {
        format!("{what} {} of {n}", i + 1)
    } else {
        what.to_owned()
    }
}

impl SchedulerOptions {
    /// Options for `path` with every default.
    pub fn new(path: impl Into<String>) -> Self {
        SchedulerOptions {
            path: path.into(),
            autostart: true,
            ..SchedulerOptions::default()
        }
    }

    /// The core builder. Secrets and keys are parsed here (an error names which one, never its
    /// text); the core checks the numbers when the store is opened.
    ///
    /// # Errors
    /// `invalid_secret` for a bad secret or key, `invalid_config` for another bad option.
    pub fn into_builder(self) -> Result<SchedulerBuilder> {
        if self.path.is_empty() {
            return Err(BindingError::invalid_config(
                "path",
                "is empty; give a file path, \":memory:\" or a postgresql:// URL",
            ));
        }
        let mut b = if self.path == MEMORY_PATH {
            Scheduler::in_memory()
        } else {
            Scheduler::builder(&self.path)
        };
        if let Some(schema) = &self.schema {
            b = b.schema(schema.clone());
        }
        if !self.allow_targets.is_empty() {
            b = b.allow_targets(self.allow_targets.iter().cloned());
        }
        if let Some(allow) = self.allow_private_targets {
            b = b.allow_private_targets(allow);
        }
        if let Some(proxy) = &self.proxy {
            b = b.proxy(proxy.clone());
        }
        if let Some(name) = &self.profile {
            let profile = timehook::profile::Profile::named(name)
                .map_err(|e| BindingError::invalid_config("profile", e))?;
            if self.scheme.is_some() {
                return Err(BindingError::invalid_config(
                    "scheme",
                    "is set by the profile; give one or the other",
                ));
            }
            let Some(secret) = self.secrets.first() else {
                return Err(BindingError::invalid_config(
                    "secret",
                    format!(
                        "the {name} profile signs with the secret the service gave its receivers; give it as `secret`"
                    ),
                ));
            };
            profile
                .signer(secret)
                .map_err(|e| BindingError::from(e).context("secret"))?;
            b = b.profile(&profile, secret);
        } else {
            match self.scheme.filter(|s| *s != Scheme::StandardWebhooks) {
                Some(scheme) => {
                    b = b.signer(compat_signer(scheme, &self.secrets, &self.signing_keys)?)
                }
                None => {
                    let n = self.secrets.len();
                    for (i, text) in self.secrets.iter().enumerate() {
                        let secret = Secret::parse(text)
                            .map_err(|e| BindingError::from(e).context(numbered("secret", i, n)))?;
                        b = b.secret(secret);
                    }
                }
            }
        }
        let n = self.signing_keys.len();
        for (i, text) in self.signing_keys.iter().enumerate() {
            let key = SigningKey::parse(text)
                .map_err(|e| BindingError::from(e).context(numbered("signing_key", i, n)))?;
            b = b.signing_key(key);
        }
        if let Some(n) = self.max_concurrency {
            b = b.max_concurrency(usize_option("max_concurrency", n)?);
        }
        if let Some(n) = self.per_host_concurrency {
            b = b.per_host_concurrency(usize_option("per_host_concurrency", n)?);
        }
        if let Some(n) = self.max_payload_size {
            b = b.max_payload_size(usize_option("max_payload_size", n)?);
        }
        let ms = Duration::from_millis;
        if let Some(t) = self.default_timeout_ms {
            b = b.default_timeout(ms(t));
        }
        if let Some(r) = self.default_retry {
            b = b.default_retry(retry_option("default_retry", r)?);
        }
        if let Some(r) = self.default_cron_retry {
            b = b.default_cron_retry(retry_option("default_cron_retry", r)?);
        }
        if let Some(ua) = self.user_agent {
            b = b.user_agent(ua);
        }
        if let Some(t) = self.retention_ms {
            b = b.retention(ms(t));
        }
        if let Some(t) = self.failed_retention_ms {
            b = b.failed_retention(ms(t));
        }
        if let Some(t) = self.lease_duration_ms {
            b = b.lease_duration(ms(t));
        }
        if let Some(t) = self.poll_interval_ms {
            b = b.poll_interval(ms(t));
        }
        if let Some(t) = self.missed_run_grace_ms {
            b = b.missed_run_grace(ms(t));
        }
        if let Some(d) = self.durability {
            b = b.durability(parse_durability(&d)?);
        }
        if let Some(clock) = self.clock {
            b = b.clock(clock);
        }
        if let Some(env) = self.environment {
            b = b.environment(env);
        }
        if self.disable_endpoints_after_ms.is_some()
            || self.disable_endpoints_min_failures.is_some()
        {
            let after = self
                .disable_endpoints_after_ms
                .map_or(timehook::DEFAULT_ENDPOINT_DISABLE_AFTER, ms);
            let min = self
                .disable_endpoints_min_failures
                .unwrap_or(timehook::DEFAULT_ENDPOINT_DISABLE_MIN_FAILURES);
            b = b.disable_endpoints_after(after, min);
        }
        if let Some(gone) = self.disable_endpoint_on_gone {
            b = b.disable_endpoint_on_gone(gone);
        }
        if let Some(n) = self.max_interrupted_attempts {
            if n == 0 {
                return Err(BindingError::invalid_config(
                    "max_interrupted_attempts",
                    "must be at least 1",
                ));
            }
            b = b.max_interrupted_attempts(n);
        }
        if let Some(rate) = self.per_host_rate {
            b = b.per_host_rate(rate);
        }
        for limit in self.endpoint_limits {
            if timehook::outcome::origin_of(limit.endpoint.trim()).is_empty() {
                return Err(BindingError::invalid_config(
                    "endpoint_limits",
                    format!(
                        "{:?} is not an endpoint; give scheme://host:port or a URL",
                        limit.endpoint
                    ),
                ));
            }
            b = b.endpoint_limits(
                limit.endpoint.trim(),
                usize_option("endpoint_limits", limit.max_in_flight)?,
                limit.per_second,
            );
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(o: SchedulerOptions) -> BindingError {
        match o.into_builder() {
            Ok(_) => panic!("options were accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn bad_secrets_are_numbered_and_never_echoed() {
        let mut o = SchedulerOptions::new(MEMORY_PATH);
        o.secrets = vec![
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            "whsec_topsecret!!".into(),
        ];
        let e = refused(o);
        assert_eq!(e.code, ErrorCode::InvalidSecret);
        assert!(e.message.starts_with("secret 2 of 2: "), "{}", e.message);
        assert!(!e.message.contains("topsecret"), "{}", e.message);
    }

    #[test]
    fn bad_options_are_config_errors() {
        let mut o = SchedulerOptions::new(MEMORY_PATH);
        o.durability = Some("paranoid".into());
        let e = refused(o);
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert!(e.message.contains("paranoid"));

        let mut o = SchedulerOptions::new(MEMORY_PATH);
        o.default_retry = Some(RetryInput::Preset("often".into()));
        let e = refused(o);
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert_eq!(e.detail.as_deref(), Some("default_retry"));
        assert!(e.message.contains("often"));

        let e = refused(SchedulerOptions::new(""));
        assert_eq!(e.detail.as_deref(), Some("path"));
    }
}
