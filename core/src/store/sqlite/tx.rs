//! [`Tx`] on a SQLite connection, inside the transaction of a `Db::call`.
//!
//! SQLite answers synchronously: every method does its work before returning a future that is
//! already complete. Engine logic over a [`SqliteTx`] therefore finishes in one poll, on the store
//! thread, and [`ready`] drives it there without an executor.

use std::collections::HashSet;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use rusqlite::Connection;

use super::{outcomes_sql as out, sql};
use crate::error::{Error, Result, StoreErrorKind};
use crate::job::{Attempt, ExecutionId, Job, JobId, JobKind, JobState, ListFilter};
use crate::outcome::{Endpoint, EventType, Subscription};
use crate::store::{
    AttemptCursor, ClaimParams, Claimed, DeadLetter, DeadLetterFilter, DueCron, EndpointStreak,
    ExportCursor, ExportFilter, ExportRow, Finish, FlowState, Interrupted, NewJob, PruneStep,
    RateState, Running, Tx,
};

/// A transaction on the store thread's connection.
pub(crate) struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl<'c> SqliteTx<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        SqliteTx { conn }
    }
}

/// The result of engine logic over a [`SqliteTx`], which never waits.
pub(crate) fn ready<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(Error::store(
            StoreErrorKind::Other,
            "a SQLite operation waited (a bug in timehook)",
        )),
    }
}

impl Tx for SqliteTx<'_> {
    async fn insert_jobs(&mut self, jobs: &[NewJob], now: i64) -> Result<Vec<JobId>> {
        Ok(sql::insert_jobs(self.conn, jobs, now)?)
    }
    async fn get(&mut self, id: &JobId) -> Result<Option<Job>> {
        Ok(sql::get(self.conn, id)?)
    }
    async fn list(&mut self, f: &ListFilter) -> Result<Vec<Job>> {
        Ok(sql::list(self.conn, f)?)
    }
    async fn attempts(
        &mut self,
        id: &JobId,
        after: Option<&AttemptCursor>,
        limit: u32,
    ) -> Result<Vec<Attempt>> {
        Ok(sql::attempts(self.conn, id, after, limit)?)
    }
    async fn lock_job(&mut self, id: &JobId) -> Result<Option<(JobKind, JobState)>> {
        Ok(sql::lock_job(self.conn, id)?)
    }
    async fn job_state(&mut self, id: &JobId) -> Result<Option<JobState>> {
        Ok(sql::job_state(self.conn, id)?)
    }
    async fn set_job_state(&mut self, id: &JobId, state: JobState, now: i64) -> Result<()> {
        Ok(sql::set_job_state(self.conn, id, state, now)?)
    }
    async fn cancel_job(&mut self, id: &JobId, now: i64) -> Result<()> {
        Ok(sql::cancel_job(self.conn, id, now)?)
    }
    async fn reschedule_job(&mut self, id: &JobId, at: i64, now: i64) -> Result<()> {
        Ok(sql::reschedule_job(self.conn, id, at, now)?)
    }
    async fn cron_of(&mut self, id: &JobId) -> Result<Option<(String, String)>> {
        Ok(sql::cron_of(self.conn, id)?)
    }
    async fn resume_cron(&mut self, id: &JobId, next: Option<i64>, now: i64) -> Result<()> {
        Ok(sql::resume_cron(self.conn, id, next, now)?)
    }
    async fn due_now(&mut self, id: &JobId, now: i64) -> Result<Option<ExecutionId>> {
        Ok(sql::due_now(self.conn, id, now)?)
    }
    async fn insert_occurrences(
        &mut self,
        job: &JobId,
        origin: &str,
        occurrences: &[(ExecutionId, i64)],
        _manual: bool,
        now: i64,
    ) -> Result<()> {
        // One writer at a time holds the file, so an occurrence is never materialised twice.
        Ok(sql::insert_occurrences(
            self.conn,
            job,
            origin,
            occurrences,
            now,
        )?)
    }
    async fn requeue_failed(&mut self, id: &JobId, now: i64) -> Result<usize> {
        Ok(sql::requeue_failed(self.conn, id, now)?)
    }
    async fn lock_claims(&mut self) -> Result<()> {
        // The transaction holds the file's write lock already (`BEGIN IMMEDIATE`).
        Ok(())
    }
    async fn due_cron(&mut self, now: i64, limit: usize) -> Result<Vec<DueCron>> {
        Ok(sql::due_cron(self.conn, now, limit)?)
    }
    async fn set_next_fire(&mut self, id: &JobId, next: Option<i64>, now: i64) -> Result<()> {
        Ok(sql::set_next_fire(self.conn, id, next, now)?)
    }
    async fn running(
        &mut self,
        owner: &str,
        now: i64,
        which: Interrupted<'_>,
    ) -> Result<Vec<Running>> {
        Ok(sql::running(self.conn, owner, now, which)?)
    }
    async fn flow_state(&mut self, answered: &[ExecutionId]) -> Result<FlowState> {
        Ok(sql::flow_state(self.conn, answered)?)
    }
    async fn save_rates(&mut self, rates: &[(String, Option<RateState>)]) -> Result<()> {
        Ok(sql::save_rates(self.conn, rates)?)
    }
    async fn claim(&mut self, p: &ClaimParams) -> Result<Vec<Claimed>> {
        Ok(sql::claim(self.conn, p)?)
    }
    async fn claim_job(
        &mut self,
        owner: &str,
        job: &JobId,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<Claimed>> {
        Ok(sql::claim_job(self.conn, owner, job, now, lease_ms)?)
    }
    async fn hold(&mut self, origins: &HashSet<String>) -> Result<usize> {
        Ok(sql::hold(self.conn, origins)?)
    }
    async fn next_wake(&mut self, excluded: &HashSet<String>) -> Result<Option<i64>> {
        Ok(sql::next_wake(self.conn, excluded)?)
    }
    async fn renew_leases(
        &mut self,
        owner: &str,
        executions: &[ExecutionId],
        until: i64,
    ) -> Result<usize> {
        Ok(sql::renew_leases(self.conn, owner, executions, until)?)
    }
    async fn finish_executions(&mut self, items: &[Finish<'_>], now: i64) -> Result<Vec<bool>> {
        let mut owned = Vec::with_capacity(items.len());
        for f in items {
            owned.push(sql::finish_execution(self.conn, f.exec, f.owner, f.t, now)?);
        }
        Ok(owned)
    }
    async fn insert_attempts(&mut self, attempts: &[Attempt]) -> Result<()> {
        for a in attempts {
            sql::insert_attempt(self.conn, a)?;
        }
        Ok(())
    }
    async fn notify(&mut self) -> Result<()> {
        // Other processes sharing the file poll it.
        Ok(())
    }
    async fn subscribers(&mut self, event: EventType) -> Result<Vec<String>> {
        Ok(out::subscribers(self.conn, event)?)
    }
    async fn endpoint_succeeded(&mut self, origin: &str) -> Result<()> {
        Ok(out::endpoint_succeeded(self.conn, origin)?)
    }
    async fn endpoint_failed(&mut self, origin: &str, now: i64) -> Result<EndpointStreak> {
        Ok(out::endpoint_failed(self.conn, origin, now)?)
    }
    async fn disable_endpoint(&mut self, origin: &str, now: i64) -> Result<()> {
        Ok(out::disable_endpoint(self.conn, origin, now)?)
    }
    async fn endpoints(&mut self) -> Result<Vec<Endpoint>> {
        Ok(out::endpoints(self.conn)?)
    }
    async fn enable_endpoint(&mut self, origin: &str) -> Result<bool> {
        Ok(out::enable_endpoint(self.conn, origin)?)
    }
    async fn subscribe(&mut self, s: &Subscription) -> Result<()> {
        Ok(out::subscribe(self.conn, s)?)
    }
    async fn unsubscribe(&mut self, id: &str) -> Result<bool> {
        Ok(out::unsubscribe(self.conn, id)?)
    }
    async fn subscriptions(&mut self) -> Result<Vec<Subscription>> {
        Ok(out::subscriptions(self.conn)?)
    }
    async fn dead_letters(&mut self, f: &DeadLetterFilter) -> Result<Vec<DeadLetter>> {
        Ok(out::dead_letters(self.conn, f)?)
    }
    async fn requeue_dead_letter(&mut self, d: &DeadLetter, now: i64) -> Result<()> {
        Ok(out::requeue_dead_letter(self.conn, d, now)?)
    }
    async fn delete_dead_letter(&mut self, d: &DeadLetter) -> Result<()> {
        Ok(out::delete_dead_letter(self.conn, d)?)
    }
    async fn export_page(
        &mut self,
        f: &ExportFilter,
        after: &ExportCursor,
        limit: u32,
    ) -> Result<Vec<ExportRow>> {
        Ok(out::export_page(self.conn, f, after, limit)?)
    }
    async fn counts(&mut self) -> Result<(i64, i64)> {
        Ok(out::counts(self.conn)?)
    }
    async fn prune(
        &mut self,
        done_before: i64,
        failed_before: i64,
        limit: usize,
    ) -> Result<PruneStep> {
        Ok(sql::prune(self.conn, done_before, failed_before, limit)?)
    }
    async fn meta_init(&mut self, key: &str, value: &str) -> Result<String> {
        Ok(sql::meta_init(self.conn, key, value)?)
    }
}
