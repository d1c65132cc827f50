//! `Scheduler`: every operation that touches SQLite or the network returns a promise, settled
//! from the bindings' runtime (see `bridge`); arguments are converted first, on the calling
//! thread, and a bad argument rejects the promise with nothing stored.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;
use timehook_bindings::{DEFAULT_CLOSE_GRACE, SchedulerHandle};

use crate::bridge::{promise, promise_eager};
use crate::errors::IntoNapi;
use crate::events::Hub;
use crate::jobs::{JobReader, list_query, scheduler_options};
use crate::records::{Attempt, Job};
use crate::value::{ConvResult, Ctx, set_fields};
use crate::verifier::Verifier;

/// A durable webhook scheduler over one SQLite file. Open it with `Scheduler.open`; call
/// `close()` when done. Every method that changes a job resolves once the change is committed.
#[napi]
pub struct Scheduler {
    pub(crate) handle: Arc<SchedulerHandle>,
    /// The JavaScript listeners of `on` / `once` (see `events`).
    pub(crate) listeners: Arc<Hub>,
}

/// What `submit` did with one job.
#[napi(object, object_from_js = false)]
pub struct Submitted {
    /// The job's id: the new job's, or the existing one's.
    pub id: String,
    /// Whether its idempotency key matched a job stored before: nothing was created.
    pub existing: bool,
}

fn first(mut ids: Vec<String>) -> String {
    ids.pop().unwrap_or_default()
}

fn nothing((): ()) {}

fn id_arg(env: &Env, field: &str, value: Unknown<'_>) -> ConvResult<String> {
    Ctx::job(env).text(field, value)
}

#[napi]
impl Scheduler {
    /// Opens (creating and migrating if needed) the SQLite file at `path` (`":memory:"` for a
    /// store that lives as long as the scheduler) and, unless `autostart: false`, starts
    /// delivering in the background.
    #[napi(ts_args_type = "path: string, options?: OpenOptions")]
    pub fn open<'env>(
        env: &'env Env,
        path: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Scheduler>> {
        let input = (|| {
            let path = Ctx::options(env).text("path", path)?;
            Ok(SchedulerHandle::open(scheduler_options(
                env, path, options,
            )?))
        })();
        promise(env, input, |handle| Scheduler {
            handle: Arc::new(handle),
            listeners: Arc::default(),
        })
    }

    /// Schedules one webhook; resolves to its job id once it is committed. With an
    /// `idempotencyKey` that exists already, resolves to the existing job's id.
    #[napi(ts_args_type = "job: JobOptions")]
    pub fn schedule<'env>(
        &self,
        env: &'env Env,
        job: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let input = JobReader::new(env)
            .job(job, false)
            .map(|job| self.handle.schedule_many(vec![job]));
        promise_eager(env, input, first)
    }

    /// As `schedule`, and tells whether the job was created or its idempotency key matched a job
    /// stored before (`existing: true`; then nothing was created).
    #[napi(ts_args_type = "job: JobOptions")]
    pub fn submit<'env>(
        &self,
        env: &'env Env,
        job: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Submitted>> {
        let input = JobReader::new(env)
            .job(job, false)
            .map(|job| self.handle.submit_many(vec![job]));
        promise_eager(env, input, |mut all| {
            let (id, existing) = all.pop().unwrap_or_default();
            Submitted { id, existing }
        })
    }

    /// As `scheduleMany`, and tells for each job whether it was created or its idempotency key
    /// matched a job stored before (or earlier in the batch).
    #[napi(ts_args_type = "jobs: JobOptions[]")]
    pub fn submit_many<'env>(
        &self,
        env: &'env Env,
        jobs: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Submitted>>> {
        let handle = self.handle.clone();
        let input = JobReader::new(env)
            .batch(jobs)
            .map(|batch| async move { handle.submit_many(batch.jobs().await?).await });
        promise(env, input, |all| {
            all.into_iter()
                .map(|(id, existing)| Submitted { id, existing })
                .collect()
        })
    }

    /// Schedules many jobs. Every job is checked first: on any bad job, none is stored. Up to
    /// 10,000 are stored in one transaction; a larger batch is stored 10,000 at a time, so
    /// deliveries go on meanwhile (a store failure partway keeps the jobs stored before it, and
    /// says how many). Resolves to their ids in input order.
    #[napi(ts_args_type = "jobs: JobOptions[]")]
    pub fn schedule_many<'env>(
        &self,
        env: &'env Env,
        jobs: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
        let handle = self.handle.clone();
        let input = JobReader::new(env)
            .batch(jobs)
            .map(|batch| async move { handle.schedule_many(batch.jobs().await?).await });
        promise(env, input, |ids| ids)
    }

    /// Schedules a webhook on a cron schedule (`"0 9 * * MON-FRI"`, 6 fields with seconds, or
    /// `"@hourly"`); resolves to its job id.
    #[napi(ts_args_type = "url: string, expr: string, options?: CronOptions")]
    pub fn cron<'env>(
        &self,
        env: &'env Env,
        url: Unknown<'_>,
        expr: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let input = (|| {
            let c = Ctx::job(env);
            let url = c.text("url", url)?;
            let expr = c.text("cron", expr)?;
            let mut job = match options {
                Some(o) if o.get_type()? != ValueType::Undefined => {
                    JobReader::new(env).job(o, true)?
                }
                _ => Default::default(),
            };
            job.url = url;
            job.cron = Some(expr);
            Ok(self.handle.schedule_many(vec![job]))
        })();
        promise_eager(env, input, first)
    }

    /// One job; rejects with `not_found` for an unknown id.
    #[napi(ts_args_type = "id: string")]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Job>> {
        let input = id_arg(env, "id", id).map(|id| self.handle.get(id));
        promise(env, input, Job::from)
    }

    /// A page of jobs matching `filter`, in creation order (pass the last id as `after` for the
    /// next page).
    #[napi(ts_args_type = "filter?: ListFilter")]
    pub fn list<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Job>>> {
        let input = list_query(env, filter).map(|q| self.handle.list(q));
        promise(env, input, |jobs| jobs.into_iter().map(Job::from).collect())
    }

    /// Every attempt of a job (of every occurrence, for a cron job), oldest first.
    #[napi(ts_args_type = "id: string")]
    pub fn attempts<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Attempt>>> {
        let input = id_arg(env, "id", id).map(|id| self.handle.attempts(id));
        promise(env, input, |a| a.into_iter().map(Attempt::from).collect())
    }

    /// A page of a job's attempts, oldest first: at most `limit` (default 100, at most 10 000),
    /// after the attempt whose `cursor` is `after`.
    #[napi(ts_args_type = "id: string, page?: { after?: string; limit?: number }")]
    pub fn attempts_page<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
        page: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Attempt>>> {
        let input = (|| {
            let c = Ctx::job(env);
            let id = id_arg(env, "id", id)?;
            let (mut after, mut limit) = (None, 100u32);
            if let Some(fields) = set_fields(&c, page, "page", "a page object")? {
                for (key, v) in fields {
                    match key.as_str() {
                        "after" => after = Some(c.text("after", v)?),
                        "limit" => {
                            limit = u32::try_from(c.count("limit", v)?).unwrap_or(u32::MAX);
                        }
                        other => {
                            return Err(c.fail(
                                other,
                                "is not an option of attemptsPage; expected after or limit"
                                    .to_owned(),
                            ));
                        }
                    }
                }
            }
            Ok(self.handle.attempts_page(id, after, limit))
        })();
        promise(env, input, |a| a.into_iter().map(Attempt::from).collect())
    }

    /// Cancels a job: it never fires afterwards (an attempt in flight finishes, unretried).
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<void>")]
    pub fn cancel<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let input = id_arg(env, "id", id).map(|id| self.handle.cancel(id));
        promise(env, input, nothing)
    }

    /// Moves a pending one-time job to `at` (a `Date`, ISO string or epoch ms).
    #[napi(
        ts_args_type = "id: string, at: Date | string | number",
        ts_return_type = "Promise<void>"
    )]
    pub fn reschedule<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
        at: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let input = (|| {
            let id = id_arg(env, "id", id)?;
            let at = Ctx::job(env).instant("at", at)?;
            Ok(self.handle.reschedule(id, at))
        })();
        promise(env, input, nothing)
    }

    /// Pauses a cron job until `resume`.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<void>")]
    pub fn pause<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let input = id_arg(env, "id", id).map(|id| self.handle.pause(id));
        promise(env, input, nothing)
    }

    /// Resumes a paused cron job from its next occurrence.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<void>")]
    pub fn resume<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let input = id_arg(env, "id", id).map(|id| self.handle.resume(id));
        promise(env, input, nothing)
    }

    /// Runs a job now; resolves to the execution id the delivery carries as `webhook-id`.
    #[napi(ts_args_type = "id: string")]
    pub fn trigger<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let input = id_arg(env, "id", id).map(|id| self.handle.trigger(id));
        promise(env, input, |exec| exec)
    }

    /// Re-queues a failed job (a dead letter) now, with a fresh retry budget and the same
    /// `webhook-id`.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<void>")]
    pub fn retry<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let input = id_arg(env, "id", id).map(|id| self.handle.retry(id));
        promise(env, input, nothing)
    }

    /// Deletes finished jobs past their retention now; resolves to how many.
    #[napi]
    pub fn prune<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, f64>> {
        promise(env, Ok(self.handle.prune()), |n| n as f64)
    }

    /// Delivers every job due now and waits for the outcomes; resolves to the number of attempts.
    /// For tests with a `ManualClock` (and `autostart: false`), or a cron-driven function.
    #[napi]
    pub fn run_due<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, f64>> {
        promise(env, Ok(self.handle.run_due()), |n| n as f64)
    }

    /// Begins delivering in the background (after `autostart: false`; a no-op if delivering).
    #[napi]
    pub fn start(&self, env: &Env) -> napi::Result<()> {
        self.handle.start().map_err(|e| e.into_napi(env))
    }

    /// Stops delivering: deliveries in flight get up to `graceMs` (default 10 s) to finish, the
    /// rest are recorded as interrupted and made due again; then every listener is removed.
    /// Later calls reject with `closed`; closing twice is a no-op.
    #[napi(ts_args_type = "graceMs?: number", ts_return_type = "Promise<void>")]
    pub fn close<'env>(
        &self,
        env: &'env Env,
        grace_ms: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let grace = match grace_ms {
            Some(g) if !matches!(g.get_type()?, ValueType::Undefined | ValueType::Null) => {
                Ctx::options(env)
                    .millis("graceMs", g)
                    .map(Duration::from_millis)
            }
            _ => Ok(DEFAULT_CLOSE_GRACE),
        };
        let input = grace.map(|grace| self.handle.close(grace));
        let listeners = Arc::clone(&self.listeners);
        promise(env, input, move |()| listeners.clear())
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// A `Verifier` for this scheduler's own signing secrets, as a receiver would build it.
    #[napi]
    pub fn verifier(&self, env: &Env) -> napi::Result<Verifier> {
        let inner = self.handle.verifier().map_err(|e| e.into_napi(env))?;
        Ok(Verifier::from_core(inner))
    }
}
