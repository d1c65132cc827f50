//! The filters of `retry_failed` / `purge` and of `export_attempts`, to the bindings'
//! `DeadLetterQuery` and `ExportQuery`.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use timehook_bindings::{DeadLetterQuery, ExportQuery};

use crate::convert::{epoch_ms, set_fields, text};
use crate::errors::invalid_job;

/// Dead-letter filters from the keyword arguments of `Scheduler.retry_failed` and `purge`.
pub fn dead_letter_query(query: &Bound<'_, PyDict>) -> PyResult<DeadLetterQuery> {
    let mut q = DeadLetterQuery::default();
    set_fields(query, |k, v| {
        match k {
            "since" => q.failed_after_ms = Some(epoch_ms(k, v)?),
            "until" => q.failed_before_ms = Some(epoch_ms(k, v)?),
            "name" => q.name = Some(text(k, v)?),
            "label" => q.label = Some(text(k, v)?),
            "job" => q.job = Some(text(k, v)?),
            other => return Err(invalid_job(other, "is not a dead-letter filter")),
        }
        Ok(())
    })?;
    Ok(q)
}

/// Export filters from the keyword arguments of `Scheduler.export_attempts`.
pub fn export_query(query: &Bound<'_, PyDict>) -> PyResult<ExportQuery> {
    let mut q = ExportQuery::default();
    set_fields(query, |k, v| {
        match k {
            "since" => q.since_ms = Some(epoch_ms(k, v)?),
            "until" => q.until_ms = Some(epoch_ms(k, v)?),
            "job" => q.job = Some(text(k, v)?),
            "state" => q.state = Some(text(k, v)?),
            other => return Err(invalid_job(other, "is not an export filter")),
        }
        Ok(())
    })?;
    Ok(q)
}
