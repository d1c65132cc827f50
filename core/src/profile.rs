//! Delivery profiles: what a hosted scheduler's receivers expect (its signature, its extra
//! headers, its retry schedule and timeout), so that a team moving off it keeps its receivers
//! unchanged. A profile is a set of building blocks, each usable on its own: a [`Scheme`], the
//! extra headers timehook fills in ([`Filled`]), a retry policy and a timeout. Apply one to a whole
//! scheduler (`SchedulerBuilder::profile`) or to one job (`JobSpec::profile`); anything set
//! afterwards overrides it.
//!
//! Callbacks and events take the service's shape where it has its own: A1Cron's callbacks
//! (`cron_job_id`, `cron_job_name`), and CronFlow's events on a scheduler with its profile.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::signing::{Key, Scheme, Signer, Verifier, VerifyKey};

/// A value timehook fills in for an extra delivery header, per attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Filled {
    /// The job's id (what `schedule` returned).
    JobId,
    /// The execution's id: the `webhook-id`, the same on every retry of one delivery.
    ExecutionId,
    /// The attempt's timestamp, in Unix seconds (the one that is signed).
    Timestamp,
    /// An idempotency key for the receiver: the same on every retry of one delivery (the
    /// execution's id), different for each cron occurrence.
    IdempotencyKey,
    /// The attempt number: 1 for the first attempt of an execution, 2 for its first retry, ...
    Attempt,
    /// The value of the signature header of the request (for a second header name, such as
    /// Svix's `svix-signature` beside `webhook-signature`).
    Signature,
}

impl Filled {
    /// Every kind, for messages.
    const ALL: [Filled; 6] = [
        Filled::JobId,
        Filled::ExecutionId,
        Filled::Timestamp,
        Filled::IdempotencyKey,
        Filled::Attempt,
        Filled::Signature,
    ];

    /// `job_id`, `execution_id`, `timestamp`, `idempotency_key`, `attempt` or `signature`.
    pub fn as_str(self) -> &'static str {
        match self {
            Filled::JobId => "job_id",
            Filled::ExecutionId => "execution_id",
            Filled::Timestamp => "timestamp",
            Filled::IdempotencyKey => "idempotency_key",
            Filled::Attempt => "attempt",
            Filled::Signature => "signature",
        }
    }
}

impl fmt::Display for Filled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Filled {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Filled::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Filled::ALL.iter().map(|k| k.as_str()).collect();
                Error::invalid(
                    "delivery_headers",
                    format!("{s:?} is not a value timehook fills in; expected one of {names:?}"),
                )
            })
    }
}

/// The shape of the outcome callbacks a job's `on_success` / `on_failure` URLs receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Shape {
    /// timehook's: `job_id`, `job_name`, `execution_id`, `status`, `executed_at`, ...
    #[default]
    Default,
    /// A1Cron's: the same fields, with `cron_job_id` and `cron_job_name` for the job.
    A1Cron,
    /// CronFlow's subscription events: `{event, timestamp, job_id, environment, data}`, where
    /// `data` holds `error_code`, `message` and `retries` for a failure, and `duration_ms`,
    /// `output` (the response excerpt) and `next_run_at` for a completion. Callbacks keep the
    /// default shape (CronFlow has none).
    CronFlow,
}

impl Shape {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Shape::Default => "default",
            Shape::A1Cron => "a1cron",
            Shape::CronFlow => "cronflow",
        }
    }

    pub(crate) fn parse(s: &str) -> Shape {
        match s {
            "a1cron" => Shape::A1Cron,
            "cronflow" => Shape::CronFlow,
            _ => Shape::Default,
        }
    }
}

/// A named delivery profile (see the module docs).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Profile {
    /// The profile's name, e.g. `runlater-eu`.
    pub name: &'static str,
    /// The signature style.
    pub scheme: Scheme,
    /// Extra headers timehook fills in.
    pub headers: Vec<(String, Filled)>,
    /// The retry policy of one-time jobs (`None`: as configured).
    pub retry: Option<RetryPolicy>,
    /// The retry policy of cron occurrences (`None`: as configured).
    pub cron_retry: Option<RetryPolicy>,
    /// The per-attempt timeout.
    pub timeout: Duration,
    /// The shape of outcome callbacks.
    pub shape: Shape,
}

/// Every profile name, in the order of the table in the README.
pub const PROFILES: [&str; 5] = ["runlater-eu", "runlater", "cronflow", "svix", "a1cron"];

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Profile {
    /// The profile called `name`: `runlater-eu`, `runlater`, `cronflow`, `svix` or `a1cron`.
    ///
    /// # Errors
    /// `invalid_config` (field `profile`) for another name.
    pub fn named(name: &str) -> Result<Profile> {
        let header = |n: &str, k: Filled| (n.to_owned(), k);
        let lower = name.trim().to_ascii_lowercase();
        let Some(scheme) = Scheme::for_profile(&lower) else {
            return Err(Error::Config(format!(
                "profile: {name:?} is not a delivery profile; expected one of {PROFILES:?}"
            )));
        };
        let profile = match lower.as_str() {
            // Runlater.eu: `X-Runlater-Signature: sha256=<hex HMAC(body)>`, job and execution
            // ids; retries after 20 s, 45 s, 90 s, 120 s and 180 s (cron: none); 30 s timeout.
            "runlater-eu" => Profile {
                name: "runlater-eu",
                scheme,
                headers: vec![
                    header("X-Runlater-Job-Id", Filled::JobId),
                    header("X-Runlater-Execution-Id", Filled::ExecutionId),
                ],
                retry: Some(RetryPolicy::delays([
                    secs(20),
                    secs(45),
                    secs(90),
                    secs(120),
                    secs(180),
                ])),
                cron_retry: Some(RetryPolicy::none()),
                timeout: secs(30),
                shape: Shape::Default,
            },
            // RunLater: `X-RunLater-Signature: <hex HMAC(ts + "." + body)>` with
            // `X-RunLater-Timestamp`, and the job id; one retry after 60 s; 10 s timeout.
            "runlater" => Profile {
                name: "runlater",
                scheme,
                headers: vec![header("X-RunLater-Job-ID", Filled::JobId)],
                retry: Some(RetryPolicy::delays([secs(60)])),
                cron_retry: Some(RetryPolicy::delays([secs(60)])),
                timeout: secs(10),
                shape: Shape::Default,
            },
            // CronFlow: `X-CronFlow-Signature: <hex HMAC(body)>` and an idempotency key;
            // retries after 30 s, 2 min, 10 min, 1 h and 6 h; 10 s timeout.
            "cronflow" => {
                let retry = RetryPolicy::delays([
                    secs(30),
                    secs(120),
                    secs(600),
                    secs(3600),
                    secs(6 * 3600),
                ]);
                Profile {
                    name: "cronflow",
                    scheme,
                    headers: vec![header("X-CronFlow-Idempotency-Key", Filled::IdempotencyKey)],
                    cron_retry: Some(retry.clone()),
                    retry: Some(retry),
                    timeout: secs(10),
                    shape: Shape::CronFlow,
                }
            }
            // Svix: Standard Webhooks, with the `svix-*` names as well; retries at once, then
            // after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h; 15 s timeout.
            "svix" => {
                let retry = RetryPolicy::delays([
                    secs(0),
                    secs(5),
                    secs(300),
                    secs(1800),
                    secs(7200),
                    secs(5 * 3600),
                    secs(10 * 3600),
                    secs(10 * 3600),
                ])
                .with_max_delay(secs(10 * 3600));
                Profile {
                    name: "svix",
                    scheme,
                    headers: vec![
                        header("svix-id", Filled::ExecutionId),
                        header("svix-timestamp", Filled::Timestamp),
                        header("svix-signature", Filled::Signature),
                    ],
                    cron_retry: Some(retry.clone()),
                    retry: Some(retry),
                    timeout: secs(15),
                    shape: Shape::Default,
                }
            }
            // A1Cron: `X-A1Cron-Signature: <hex HMAC(body)>`; retries as configured; 30 s
            // timeout.
            "a1cron" => Profile {
                name: "a1cron",
                scheme,
                headers: Vec::new(),
                retry: None,
                cron_retry: None,
                timeout: secs(30),
                shape: Shape::A1Cron,
            },
            _ => unreachable!("Scheme::for_profile knows {lower:?}"),
        };
        Ok(profile)
    }

    /// The signer of this profile with `secret` as the service gave it to the receiver (a raw
    /// string for the hex styles; a `whsec_` secret for `svix`).
    ///
    /// # Errors
    /// A secret that does not fit the profile's style.
    pub fn signer(&self, secret: &str) -> Result<Signer> {
        let key = Key::parse(&self.scheme, secret)?;
        Ok(Signer::new(vec![key])?.with_scheme(self.scheme.clone())?)
    }

    /// A verifier for this profile's requests (and so for the service's own, during a move),
    /// with `secret` as the receiver knows it.
    ///
    /// # Errors
    /// A secret that does not fit the profile's style.
    pub fn verifier(&self, secret: &str) -> Result<Verifier> {
        let key = VerifyKey::parse(&self.scheme, secret)?;
        Ok(Verifier::from_keys(vec![key])?.with_scheme(self.scheme.clone())?)
    }
}

/// Checks extra delivery headers: valid header names, none twice, none that the signature or
/// timehook itself sets. `taken` are the names the request carries already.
pub(crate) fn check_headers(headers: &[(String, Filled)], scheme: &Scheme) -> Result<()> {
    let mut seen: Vec<String> = scheme
        .header_names()
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    seen.extend(
        crate::dispatch::RESERVED_HEADERS
            .iter()
            .map(|h| (*h).to_owned()),
    );
    for (name, _) in headers {
        let lower = name.trim().to_ascii_lowercase();
        if http::header::HeaderName::from_bytes(lower.as_bytes()).is_err() {
            return Err(Error::invalid(
                "delivery_headers",
                format!("{name:?} is not a header name"),
            ));
        }
        if seen.contains(&lower) {
            return Err(Error::invalid(
                "delivery_headers",
                format!("{name:?} collides with another header of the request"),
            ));
        }
        seen.push(lower);
    }
    Ok(())
}
