"""The scheduler's metrics, in the Prometheus text exposition format.

Call :func:`enable` once, before opening schedulers (so nothing is missed), then serve
:func:`render` from a ``/metrics`` route. The metrics are ``timehook_attempts_total{outcome}``,
``timehook_attempt_duration_seconds``, ``timehook_lateness_seconds``,
``timehook_pending_executions`` and ``timehook_failed_jobs``, for every scheduler in the
process.

    import timehook

    timehook.metrics.enable()
    ...
    @app.get("/metrics")
    def metrics():
        return Response(timehook.metrics.render(), mimetype="text/plain; version=0.0.4")
"""

from __future__ import annotations

from ._native import enable_metrics as enable
from ._native import metrics_text as render

__all__ = ["enable", "render"]
