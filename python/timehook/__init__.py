"""timehook: an embeddable, durable webhook scheduler.

Schedule HTTP webhooks to run once (at an instant or after a delay) or on a cron schedule;
timehook keeps them in one SQLite file, delivers each as a signed `Standard Webhooks
<https://www.standardwebhooks.com/>`_ request with a timeout and retries, and records every
attempt. Receivers check signatures with :class:`Verifier`.

>>> from timehook import Scheduler
>>> with Scheduler.open("jobs.db", secret="whsec_...") as scheduler:  # doctest: +SKIP
...     job_id = scheduler.schedule("https://example.com/hook", after=3600, payload={"n": 1})
"""

from __future__ import annotations

from . import metrics, signing, testing
from ._async import AsyncScheduler
from ._listen import Listener
from ._native import Scheme, Verifier, __version__
from ._scheduler import Scheduler
from ._types import (
    Attempt,
    Endpoint,
    EndpointLimit,
    Event,
    EventType,
    Job,
    JobKind,
    JobState,
    Outcome,
    OutcomeStatus,
    RetryPolicy,
    Submitted,
    Subscription,
)
from .errors import (
    ArgumentTypeError,
    ClosedError,
    ConfigError,
    InvalidJobError,
    InvalidStateError,
    NotFoundError,
    StoreError,
    TimehookError,
    VerificationError,
)

__all__ = [
    "ArgumentTypeError",
    "AsyncScheduler",
    "Attempt",
    "ClosedError",
    "ConfigError",
    "Endpoint",
    "EndpointLimit",
    "Event",
    "EventType",
    "InvalidJobError",
    "InvalidStateError",
    "Job",
    "JobKind",
    "JobState",
    "Listener",
    "NotFoundError",
    "Outcome",
    "OutcomeStatus",
    "RetryPolicy",
    "Scheduler",
    "Scheme",
    "StoreError",
    "Submitted",
    "Subscription",
    "TimehookError",
    "VerificationError",
    "Verifier",
    "__version__",
    "metrics",
    "signing",
    "testing",
]
