//! The native scheduler behind `timehook.Scheduler` and `timehook.AsyncScheduler`.
//!
//! Every operation takes an optional `waiter`, an asyncio `(loop, future)` pair: without it the
//! call blocks with the GIL released and returns the value; with it the call returns `None` at
//! once and the future receives the value (see `bridge`). Arguments are converted before either.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyAny, PyDict};
use timehook_bindings::{DEFAULT_CLOSE_GRACE, SchedulerHandle};

use crate::bridge::{self, Waiter};
use crate::convert::{self, epoch_ms, millis, text};
use crate::errors::IntoPyErr;
use crate::listener::{self, NativeExport, NativeListener};
use crate::records::{self, object};
use crate::signing::Verifier;
use crate::{jobs, options, outcomes};

/// An open scheduler (use `timehook.Scheduler.open` or `timehook.AsyncScheduler.open`).
#[pyclass(module = "timehook._native", name = "NativeScheduler", frozen)]
pub struct NativeScheduler {
    handle: Arc<SchedulerHandle>,
}

fn none(py: Python<'_>, (): ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

#[pymethods]
impl NativeScheduler {
    /// Opens the store at `path` (`":memory:"` for an in-memory one) with the keyword options of
    /// `Scheduler.open`.
    #[staticmethod]
    #[pyo3(signature = (path, options, waiter=None))]
    fn open(
        py: Python<'_>,
        path: String,
        options: &Bound<'_, PyDict>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let options = options::scheduler_options(path, options)?;
        bridge::run(py, waiter, SchedulerHandle::open(options), |py, handle| {
            Ok(Py::new(
                py,
                NativeScheduler {
                    handle: Arc::new(handle),
                },
            )?
            .into_any())
        })
    }

    /// Schedules job dicts in one transaction; returns their ids.
    #[pyo3(signature = (jobs, waiter=None))]
    fn schedule_many(
        &self,
        py: Python<'_>,
        jobs: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let inputs = jobs::job_inputs(jobs)?;
        bridge::run(py, waiter, self.handle.schedule_many(inputs), object)
    }

    /// As `schedule_many`, with whether each job's idempotency key matched a stored job:
    /// a list of `(id, existing)`.
    #[pyo3(signature = (jobs, waiter=None))]
    fn submit_many(
        &self,
        py: Python<'_>,
        jobs: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let inputs = jobs::job_inputs(jobs)?;
        bridge::run(py, waiter, self.handle.submit_many(inputs), object)
    }

    /// A page of attempt records.
    #[pyo3(signature = (job_id, after, limit, waiter=None))]
    fn attempts_page(
        &self,
        py: Python<'_>,
        job_id: &Bound<'_, PyAny>,
        after: Option<&Bound<'_, PyAny>>,
        limit: u32,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(
            py,
            waiter,
            self.handle.attempts_page(
                text("job_id", job_id)?,
                after.map(|a| text("after", a)).transpose()?,
                limit,
            ),
            records::attempt_records,
        )
    }

    /// One job record.
    #[pyo3(signature = (job_id, waiter=None))]
    fn get(
        &self,
        py: Python<'_>,
        job_id: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(
            py,
            waiter,
            self.handle.get(text("job_id", job_id)?),
            records::job_record,
        )
    }

    /// A page of job records.
    #[pyo3(signature = (query, waiter=None))]
    fn list(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyDict>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let query = jobs::list_query(query)?;
        bridge::run(py, waiter, self.handle.list(query), records::job_records)
    }

    /// Every attempt record of a job.
    #[pyo3(signature = (job_id, waiter=None))]
    fn attempts(
        &self,
        py: Python<'_>,
        job_id: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(
            py,
            waiter,
            self.handle.attempts(text("job_id", job_id)?),
            records::attempt_records,
        )
    }

    /// Cancels a job.
    #[pyo3(signature = (job_id, waiter=None))]
    fn cancel(
        &self,
        py: Python<'_>,
        job_id: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(
            py,
            waiter,
            self.handle.cancel(text("job_id", job_id)?),
            none,
        )
    }

    /// Moves a pending one-time job to `at` (an aware datetime).
    #[pyo3(signature = (job_id, at, waiter=None))]
    fn reschedule(
        &self,
        py: Python<'_>,
        job_id: &Bound<'_, PyAny>,
        at: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let at = epoch_ms("at", at)?;
        bridge::run(
            py,
            waiter,
            self.handle.reschedule(text("job_id", job_id)?, at),
            none,
        )
    }

    /// Pauses a cron job.
    #[pyo3(signature = (job_id, waiter=None))]
    fn pause(
        &self,
        py: Python<'_>,
        job_id: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(py, waiter, self.handle.pause(text("job_id", job_id)?), none)
    }

    /// Resumes a paused cron job.
    #[pyo3(signature = (job_id, waiter=None))]
    fn resume(
        &self,
        py: Python<'_>,
        job_id: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(
            py,
            waiter,
            self.handle.resume(text("job_id", job_id)?),
            none,
        )
    }

    /// Runs a job now; returns the execution id.
    #[pyo3(signature = (job_id, waiter=None))]
    fn trigger(
        &self,
        py: Python<'_>,
        job_id: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(
            py,
            waiter,
            self.handle.trigger(text("job_id", job_id)?),
            object,
        )
    }

    /// Re-queues a failed job.
    #[pyo3(signature = (job_id, waiter=None))]
    fn retry(
        &self,
        py: Python<'_>,
        job_id: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(py, waiter, self.handle.retry(text("job_id", job_id)?), none)
    }

    /// Deletes finished jobs past their retention; returns how many.
    #[pyo3(signature = (waiter=None))]
    fn prune(&self, py: Python<'_>, waiter: Option<Waiter>) -> PyResult<Py<PyAny>> {
        bridge::run(py, waiter, self.handle.prune(), object)
    }

    /// Delivers what is due now and waits for the outcomes; returns the number of attempts.
    #[pyo3(signature = (waiter=None))]
    fn run_due(&self, py: Python<'_>, waiter: Option<Waiter>) -> PyResult<Py<PyAny>> {
        bridge::run(py, waiter, self.handle.run_due(), object)
    }

    /// Subscribes `url` to event types (`job.completed`, ...); returns the subscription.
    #[pyo3(signature = (url, events, waiter=None))]
    fn subscribe(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        events: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let (url, events) = (
            convert::text("url", url)?,
            convert::texts("events", events)?,
        );
        let fut = self.handle.subscribe(url, events);
        bridge::run(py, waiter, fut, records::subscription_record)
    }

    /// Deletes a subscription.
    #[pyo3(signature = (subscription_id, waiter=None))]
    fn unsubscribe(
        &self,
        py: Python<'_>,
        subscription_id: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(
            py,
            waiter,
            self.handle
                .unsubscribe(text("subscription_id", subscription_id)?),
            none,
        )
    }

    /// Every subscription, oldest first.
    #[pyo3(signature = (waiter=None))]
    fn subscriptions(&self, py: Python<'_>, waiter: Option<Waiter>) -> PyResult<Py<PyAny>> {
        let fut = self.handle.subscriptions();
        bridge::run(py, waiter, fut, records::subscription_records)
    }

    /// Endpoints that are failing or disabled.
    #[pyo3(signature = (waiter=None))]
    fn endpoints(&self, py: Python<'_>, waiter: Option<Waiter>) -> PyResult<Py<PyAny>> {
        bridge::run(
            py,
            waiter,
            self.handle.endpoints(),
            records::endpoint_records,
        )
    }

    /// Re-enables a disabled endpoint.
    #[pyo3(signature = (endpoint, waiter=None))]
    fn enable_endpoint(
        &self,
        py: Python<'_>,
        endpoint: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        bridge::run(
            py,
            waiter,
            self.handle.enable_endpoint(text("endpoint", endpoint)?),
            none,
        )
    }

    /// Re-queues the dead letters matching the filters; returns how many.
    #[pyo3(signature = (query, waiter=None))]
    fn retry_failed(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyDict>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let query = outcomes::dead_letter_query(query)?;
        bridge::run(py, waiter, self.handle.retry_failed(query), object)
    }

    /// Deletes the dead letters matching the filters; returns how many.
    #[pyo3(signature = (query, waiter=None))]
    fn purge(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyDict>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let query = outcomes::dead_letter_query(query)?;
        bridge::run(py, waiter, self.handle.purge(query), object)
    }

    /// Delivers a signed sample event now; returns the attempt.
    #[pyo3(signature = (url, event, waiter=None))]
    fn send_test(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        event: &Bound<'_, PyAny>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let (url, event) = (convert::text("url", url)?, convert::text("event", event)?);
        let fut = self.handle.send_test(url, event);
        bridge::run(py, waiter, fut, records::attempt_record)
    }

    /// Writes the attempt log matching the filters to the file at `path`; returns the rows.
    #[pyo3(signature = (path, format, query, waiter=None))]
    fn export_to_path(
        &self,
        py: Python<'_>,
        path: String,
        format: String,
        query: &Bound<'_, PyDict>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let query = outcomes::export_query(query)?;
        let fut = self.handle.export_to_path(path, format, query);
        bridge::run(py, waiter, fut, object)
    }

    /// Starts exporting the attempt log matching the filters, to be read in chunks.
    fn export_stream(&self, format: String, query: &Bound<'_, PyDict>) -> PyResult<NativeExport> {
        let query = outcomes::export_query(query)?;
        let stream = self
            .handle
            .export_stream(format, query)
            .map_err(IntoPyErr::into_py_err)?;
        Ok(NativeExport::new(stream))
    }

    /// Calls `callback` with the dict of every event of the given kinds (none: all), on a
    /// thread of its own.
    fn listen(&self, kinds: Vec<String>, callback: Py<PyAny>) -> PyResult<NativeListener> {
        listener::listen(&self.handle, &kinds, callback)
    }

    /// Begins delivering in the background.
    fn start(&self) -> PyResult<()> {
        self.handle.start().map_err(IntoPyErr::into_py_err)
    }

    /// Stops delivering, letting deliveries in flight finish for up to `grace` (seconds or a
    /// timedelta; default 10 s).
    #[pyo3(signature = (grace=None, waiter=None))]
    fn close(
        &self,
        py: Python<'_>,
        grace: Option<&Bound<'_, PyAny>>,
        waiter: Option<Waiter>,
    ) -> PyResult<Py<PyAny>> {
        let grace = match grace.filter(|g| !g.is_none()) {
            Some(g) => {
                Duration::from_millis(millis("grace", g).map_err(convert::as_argument_error)?)
            }
            None => DEFAULT_CLOSE_GRACE,
        };
        bridge::run(py, waiter, self.handle.close(grace), none)
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// A verifier for this scheduler's own signing keys.
    fn verifier(&self) -> PyResult<Verifier> {
        Ok(Verifier::from_core(
            self.handle.verifier().map_err(IntoPyErr::into_py_err)?,
        ))
    }
}
