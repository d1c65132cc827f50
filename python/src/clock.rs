//! `timehook.testing.ManualClock`: a clock that moves only when told to, for tests.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyAny;

use crate::convert::{as_argument_error, epoch_ms, millis};
use crate::errors::invalid_config;

static FROM_MS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// An aware UTC `datetime` for epoch milliseconds (built by `timehook._types.datetime_from_ms`).
pub fn datetime_from_ms(py: Python<'_>, ms: i64) -> PyResult<Py<PyAny>> {
    Ok(FROM_MS
        .import(py, "timehook._types", "datetime_from_ms")?
        .call1((ms,))?
        .unbind())
}

fn instant(ms: i64) -> PyResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| invalid_config("clock", format!("{ms} ms since the epoch is out of range")))
}

/// A manual clock for `Scheduler.open(..., clock=...)`. Scheduling, due times, retry delays and
/// the `webhook-timestamp` of deliveries all read it; `run_due()` delivers what is due at its
/// time. Only for tests.
#[pyclass(module = "timehook.testing", name = "ManualClock", frozen)]
pub struct ManualClock {
    /// The core clock (clones share the time).
    pub inner: timehook::ManualClock,
}

#[pymethods]
impl ManualClock {
    /// A clock standing at `start`, an aware datetime.
    #[new]
    fn new(start: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(ManualClock {
            inner: timehook::ManualClock::new(instant(
                epoch_ms("start", start).map_err(as_argument_error)?,
            )?),
        })
    }

    /// The clock's time, an aware UTC datetime.
    fn now(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        use timehook::Clock as _;
        datetime_from_ms(py, self.inner.now().timestamp_millis())
    }

    /// Sets the time (moving backwards is allowed but wakes nobody).
    fn set(&self, to: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner
            .set(instant(epoch_ms("to", to).map_err(as_argument_error)?)?);
        Ok(())
    }

    /// Moves the time forward by a timedelta or a number of seconds.
    fn advance(&self, by: &Bound<'_, PyAny>) -> PyResult<()> {
        use timehook::Clock as _;
        let ms = i64::try_from(millis("by", by).map_err(as_argument_error)?)
            .map_err(|_| invalid_config("clock", "advance is too large"))?;
        let to = self.inner.now().timestamp_millis().checked_add(ms);
        let to = to.ok_or_else(|| invalid_config("clock", "advance is too large"))?;
        self.inner.set(instant(to)?);
        Ok(())
    }

    fn __repr__(&self) -> String {
        use timehook::Clock as _;
        format!("ManualClock({})", self.inner.now().to_rfc3339())
    }
}
