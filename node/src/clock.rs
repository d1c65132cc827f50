//! `ManualClock`: a clock that moves only when told to. A test hook, not a production feature.

use chrono::{DateTime, Utc};
use napi::Env;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use timehook::Clock as _;

use crate::errors::IntoNapi;
use crate::value::Ctx;

fn instant(env: &Env, field: &str, value: Unknown<'_>) -> napi::Result<DateTime<Utc>> {
    let ms = Ctx::options(env)
        .instant(field, value)
        .map_err(|e| e.into_napi(env))?;
    DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        Ctx::options(env)
            .fail(field, format!("{ms} ms since the epoch is out of range"))
            .into_napi(env)
    })
}

/// A manual clock for tests: `Scheduler.open(path, { clock, autostart: false })`. Due times,
/// retry delays, cron occurrences and the `webhook-timestamp` of deliveries all follow it;
/// `runDue()` delivers what is due at its time, so tests never sleep. For tests only: a real
/// deployment uses the system clock.
#[napi]
pub struct ManualClock {
    pub(crate) inner: timehook::ManualClock,
}

#[napi]
impl ManualClock {
    /// A clock standing at `start` (a `Date`, an ISO 8601 string or epoch milliseconds).
    #[napi(constructor, ts_args_type = "start: Date | string | number")]
    pub fn new(env: &Env, start: Unknown<'_>) -> napi::Result<Self> {
        Ok(ManualClock {
            inner: timehook::ManualClock::new(instant(env, "start", start)?),
        })
    }

    /// The clock's time.
    #[napi]
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    /// Sets the time (moving backwards is allowed but wakes nobody).
    #[napi(ts_args_type = "to: Date | string | number")]
    pub fn set(&self, env: &Env, to: Unknown<'_>) -> napi::Result<()> {
        self.inner.set(instant(env, "to", to)?);
        Ok(())
    }

    /// Moves the time forward by `ms` milliseconds.
    #[napi(ts_args_type = "ms: number")]
    pub fn advance(&self, env: &Env, ms: Unknown<'_>) -> napi::Result<()> {
        let ms = Ctx::options(env)
            .millis("ms", ms)
            .map_err(|e| e.into_napi(env))?;
        let to = i64::try_from(ms)
            .ok()
            .and_then(|ms| self.inner.now().timestamp_millis().checked_add(ms))
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| {
                Ctx::options(env)
                    .fail("ms", "moves the clock out of range")
                    .into_napi(env)
            })?;
        self.inner.set(to);
        Ok(())
    }
}
