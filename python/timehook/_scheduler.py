"""The blocking :class:`Scheduler`."""

from __future__ import annotations

import os
from datetime import datetime
from types import TracebackType
from typing import (
    Any,
    Callable,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Type,
    TypeVar,
    Union,
    overload,
)

from . import _common as c
from ._listen import Events, Listener, Listeners, ThreadCall, decorator
from ._native import NativeScheduler, Scheme, Verifier
from ._types import (
    Attempt,
    Endpoint,
    EndpointLimit,
    Event,
    EventType,
    Job,
    JobKind,
    JobState,
    Seconds,
    Submitted,
    Subscription,
)
from .testing import ManualClock

__all__ = ["Scheduler"]

StrPath = Union[str, "os.PathLike[str]"]
F = TypeVar("F", bound=Callable[..., Any])


class Scheduler:
    """A durable webhook scheduler over one SQLite file.

    Open it with :meth:`open`; use it as a context manager, or call :meth:`close`. Every method
    that changes a job returns once the change is committed to the file. Methods block the
    calling thread with the GIL released, so other threads run meanwhile; the object is safe to
    use from many threads. Deliveries run in the background on timehook's own threads and never
    take the GIL. For asyncio, use :class:`timehook.AsyncScheduler`.
    """

    __slots__ = ("_listeners", "_native", "_path")

    def __init__(self, native: NativeScheduler, path: str) -> None:
        self._native = native
        self._path = path
        self._listeners = Listeners()

    @classmethod
    def open(
        cls,
        path: StrPath,
        *,
        secret: Union[str, Sequence[str], None] = None,
        signing_key: Union[str, Sequence[str], None] = None,
        autostart: bool = True,
        max_concurrency: Optional[int] = None,
        per_host_concurrency: Optional[int] = None,
        default_timeout: Optional[Seconds] = None,
        default_retry: Optional[c.Retry] = None,
        default_cron_retry: Optional[c.Retry] = None,
        user_agent: Optional[str] = None,
        max_payload_size: Optional[int] = None,
        retention: Optional[Seconds] = None,
        failed_retention: Optional[Seconds] = None,
        lease_duration: Optional[Seconds] = None,
        poll_interval: Optional[Seconds] = None,
        missed_run_grace: Optional[Seconds] = None,
        durability: Optional[str] = None,
        clock: Optional[ManualClock] = None,
        environment: Optional[str] = None,
        disable_endpoints_after: Optional[Seconds] = None,
        disable_endpoints_min_failures: Optional[int] = None,
        disable_endpoint_on_gone: Optional[bool] = None,
        max_interrupted_attempts: Optional[int] = None,
        per_host_rate: Optional[float] = None,
        endpoint_limits: Optional[Mapping[str, EndpointLimit]] = None,
        schema: Optional[str] = None,
        allow_targets: Union[str, Sequence[str], None] = None,
        allow_private_targets: Optional[bool] = None,
        proxy: Optional[str] = None,
        scheme: Union[str, Scheme, None] = None,
        profile: Optional[str] = None,
    ) -> Scheduler:
        """Opens (creating and migrating if needed) the store at ``path`` and, unless
        ``autostart=False``, starts delivering. ``":memory:"`` opens an in-memory store, and a
        ``postgresql://`` URL a PostgreSQL database shared by every process that opens it (its
        tables in ``schema``, default ``"timehook"``).

        ``secret`` is a ``whsec_...`` signing secret or a list of them (newest first; every
        request then carries one signature per secret, for rotation). Without one, a secret is
        generated on first open and kept in the file. ``signing_key`` adds ed25519 ``whsk_...``
        keys. ``scheme`` signs every request in another style (a :class:`Scheme` or
        ``"github"``/``"stripe"``) with ``secret`` given as the receiver knows it; ``profile``
        delivers every job as a hosted service would (see :meth:`schedule`). Durations
        are seconds or ``timedelta``. ``durability`` is ``"full"`` (default: commits survive
        power loss) or ``"normal"`` (they survive a process crash). ``clock`` is a
        :class:`timehook.testing.ManualClock`, for tests.

        Outcomes: ``environment`` (e.g. ``"production"``) is sent as ``data.environment`` in
        subscription events. An endpoint (``scheme://host:port``) that fails continuously for
        ``disable_endpoints_after`` (default 5 days) and at least
        ``disable_endpoints_min_failures`` attempts (default 10) is disabled: its jobs are held,
        never dropped, until :meth:`enable_endpoint`. ``disable_endpoint_on_gone=True`` disables
        one at its first 410 Gone. Flow control: ``per_host_rate`` caps requests started per
        second to any one endpoint; ``endpoint_limits`` maps an endpoint (or any URL on it) to an
        :class:`EndpointLimit` that replaces ``per_host_concurrency`` and ``per_host_rate`` there.

        An attempt cut short by the process dying or by the shutdown deadline is recorded as
        ``"interrupted"`` and does not count against the retry policy; an execution interrupted
        ``max_interrupted_attempts`` times (default 5) is failed, so a job that kills its worker
        is not retried forever.

        Deliveries pass an SSRF guard: URLs whose addresses are loopback, private, link-local
        (cloud metadata) and the like are refused (a :class:`InvalidJobError` with code
        ``"blocked"`` when the URL is an address, a ``"blocked"`` attempt when a name resolves
        there). ``allow_targets`` lets networks (``"10.1.0.0/16"``) and host names
        (``"hooks.internal"``, ``"*.corp.example"``) through; ``allow_private_targets=True``
        turns the guard off (tests on 127.0.0.1). ``proxy`` sends every request through an
        HTTP(S) proxy; the environment's ``HTTP_PROXY`` is never used.

        Raises :class:`ConfigError` for bad options or secrets, :class:`StoreError` if the file
        cannot be opened.
        """
        options = c.open_options(
            secret=secret,
            signing_key=signing_key,
            autostart=autostart,
            max_concurrency=max_concurrency,
            per_host_concurrency=per_host_concurrency,
            default_timeout=default_timeout,
            default_retry=default_retry,
            default_cron_retry=default_cron_retry,
            user_agent=user_agent,
            max_payload_size=max_payload_size,
            retention=retention,
            failed_retention=failed_retention,
            lease_duration=lease_duration,
            poll_interval=poll_interval,
            missed_run_grace=missed_run_grace,
            durability=durability,
            clock=clock,
            environment=environment,
            disable_endpoints_after=disable_endpoints_after,
            disable_endpoints_min_failures=disable_endpoints_min_failures,
            disable_endpoint_on_gone=disable_endpoint_on_gone,
            max_interrupted_attempts=max_interrupted_attempts,
            per_host_rate=per_host_rate,
            endpoint_limits=endpoint_limits,
            schema=schema,
            allow_targets=allow_targets,
            allow_private_targets=allow_private_targets,
            proxy=proxy,
            scheme=scheme,
            profile=profile,
        )
        fspath = c.store_path(path)
        return cls(NativeScheduler.open(fspath, options), fspath)

    def schedule(
        self,
        url: str,
        *,
        at: Optional[datetime] = None,
        after: Optional[Seconds] = None,
        payload: Optional[c.Payload] = None,
        headers: Optional[c.Headers] = None,
        method: str = "POST",
        timeout: Optional[Seconds] = None,
        retry: Optional[c.Retry] = None,
        idempotency_key: Optional[str] = None,
        name: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
        content_type: Optional[str] = None,
        on_success_url: Optional[str] = None,
        on_failure_url: Optional[str] = None,
        scheme: Union[str, Scheme, None] = None,
        secret: Union[str, Sequence[str], None] = None,
        profile: Optional[str] = None,
    ) -> str:
        """Schedules one webhook and returns its job id once it is committed.

        ``at`` is an aware datetime (a naive one is refused; one in the past means "due now");
        ``after`` a delay (seconds or ``timedelta``); with neither the job is due now.
        ``payload`` is a dict or list (sent as JSON) or str or bytes (sent as-is). ``retry`` is a
        preset name or a :class:`RetryPolicy`. With an ``idempotency_key`` that exists already,
        returns the existing job's id and creates nothing. ``on_success_url`` and
        ``on_failure_url`` receive a signed JSON callback after each successful delivery or
        failed attempt (the fields of :class:`Outcome`); callbacks are retried and recorded like
        any delivery, and never report on themselves.

        ``scheme`` and ``secret`` sign this job's requests in another style with the secret its
        receiver already has (``Scheme.hex_body("X-Signature")``, ``"github"``, ``"stripe"``,
        ``Scheme.timestamped_hex(...)``); ``secret`` alone signs Standard Webhooks with this
        job's own ``whsec_`` secret. Without them the scheduler's signing applies.
        ``profile`` (``"runlater-eu"``, ``"runlater"``, ``"cronflow"``, ``"svix"``, ``"a1cron"``)
        delivers the job as that service would, signed with ``secret``: its signature, extra
        headers, retries and timeout (``retry`` and ``timeout`` still override).

        Raises :class:`InvalidJobError` (a ``ValueError``) naming the bad field; nothing is
        stored then.
        """
        job = c.job(
            url,
            at=at,
            after=after,
            payload=payload,
            headers=headers,
            method=method,
            timeout=timeout,
            retry=retry,
            idempotency_key=idempotency_key,
            name=name,
            labels=labels,
            content_type=content_type,
            on_success_url=on_success_url,
            on_failure_url=on_failure_url,
            scheme=scheme,
            secret=secret,
            profile=profile,
        )
        return self._native.schedule_many([job])[0]

    def schedule_many(self, jobs: Iterable[Mapping[str, Any]]) -> List[str]:
        """Schedules many jobs. Every job is checked first: on any bad job, none is stored.

        Up to 10,000 are stored in one transaction; a larger batch is stored 10,000 at a time, so
        deliveries go on meanwhile (a store failure partway keeps the jobs stored before it, and
        says how many).

        Each job is a dict with the keyword arguments of :meth:`schedule` (``url`` required;
        ``cron``, ``tz`` and ``missed`` make a cron job). Returns the ids in input order.
        """
        return self._native.schedule_many(jobs)

    def submit(self, job: Mapping[str, Any]) -> Submitted:
        """As :meth:`schedule_many` with one job dict, and says whether the job was created or
        its idempotency key matched a job stored before (``existing``; nothing was created)."""
        return self.submit_many([job])[0]

    def submit_many(self, jobs: Iterable[Mapping[str, Any]]) -> List[Submitted]:
        """As :meth:`schedule_many`, with a :class:`Submitted` (``id``, ``existing``) per job,
        in input order."""
        return [Submitted(i, e) for i, e in self._native.submit_many(jobs)]

    def cron(
        self,
        url: str,
        expr: str,
        *,
        tz: str = "UTC",
        missed: Optional[str] = None,
        payload: Optional[c.Payload] = None,
        headers: Optional[c.Headers] = None,
        method: str = "POST",
        timeout: Optional[Seconds] = None,
        retry: Optional[c.Retry] = None,
        idempotency_key: Optional[str] = None,
        name: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
        content_type: Optional[str] = None,
        on_success_url: Optional[str] = None,
        on_failure_url: Optional[str] = None,
        scheme: Union[str, Scheme, None] = None,
        secret: Union[str, Sequence[str], None] = None,
        profile: Optional[str] = None,
    ) -> str:
        """Schedules a webhook on a cron schedule and returns its job id.

        ``expr`` has 5 fields, 6 (leading seconds) or is a nickname such as ``"@hourly"``;
        ``tz`` is an IANA zone. ``missed`` says what happens to occurrences missed while no
        scheduler ran: ``"skip"``, ``"run_once"`` (default) or ``"catch_up:N"``. Occurrences
        are not retried unless ``retry`` says so. ``on_success_url`` and ``on_failure_url`` as
        in :meth:`schedule`.
        """
        job = c.job(
            url,
            cron=expr,
            tz=tz,
            missed=missed,
            payload=payload,
            headers=headers,
            method=method,
            timeout=timeout,
            retry=retry,
            idempotency_key=idempotency_key,
            name=name,
            labels=labels,
            content_type=content_type,
            on_success_url=on_success_url,
            on_failure_url=on_failure_url,
            scheme=scheme,
            secret=secret,
            profile=profile,
        )
        return self._native.schedule_many([job])[0]

    def get(self, job_id: str) -> Job:
        """One job. Raises :class:`NotFoundError` (a ``LookupError``) for an unknown id."""
        return c.one_job(self._native.get(job_id))

    def list(
        self,
        *,
        state: Union[str, JobState, Iterable[Union[str, JobState]], None] = None,
        name: Optional[str] = None,
        label: Optional[str] = None,
        kind: Union[str, JobKind, None] = None,
        created_after: Optional[datetime] = None,
        created_before: Optional[datetime] = None,
        due_after: Optional[datetime] = None,
        due_before: Optional[datetime] = None,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        with_bodies: bool = False,
    ) -> List[Job]:
        """A page of jobs matching every given filter, in creation order (``limit`` defaults to
        100, at most 10 000). Pass the last job's id as ``after`` for the next page. Payloads are
        left out (``payload`` is empty) unless ``with_bodies=True`` (then at most 1 000 a page)."""
        query = c.list_filter(
            state,
            name,
            label,
            kind,
            created_after,
            created_before,
            due_after,
            due_before,
            limit,
            after,
            with_bodies,
        )
        return c.jobs(self._native.list(query))

    def attempts(self, job_id: str) -> List[Attempt]:
        """Every attempt of a job (of every occurrence, for a cron job), oldest first."""
        return c.attempts(self._native.attempts(job_id))

    def attempts_page(
        self, job_id: str, *, after: Optional[str] = None, limit: int = 100
    ) -> List[Attempt]:
        """A page of a job's attempts, oldest first: at most ``limit`` (1 to 10 000), after the
        attempt whose :attr:`Attempt.cursor` is ``after`` (from the first when None)."""
        return c.attempts(self._native.attempts_page(job_id, after, c.page_limit(limit)))

    def cancel(self, job_id: str) -> None:
        """Cancels a job: it never fires afterwards (a cron job stops). Idempotent."""
        self._native.cancel(job_id)

    def reschedule(self, job_id: str, at: datetime) -> None:
        """Moves a scheduled or retrying one-time job to ``at`` (an aware datetime)."""
        self._native.reschedule(job_id, at)

    def pause(self, job_id: str) -> None:
        """Pauses a cron job: no occurrence fires until :meth:`resume`."""
        self._native.pause(job_id)

    def resume(self, job_id: str) -> None:
        """Resumes a paused cron job from its next occurrence."""
        self._native.resume(job_id)

    def trigger(self, job_id: str) -> str:
        """Runs a job now (a new occurrence of a cron job); returns the ``webhook-id`` the
        delivery will carry."""
        return self._native.trigger(job_id)

    def retry(self, job_id: str) -> None:
        """Re-queues a failed job now, with a fresh retry budget and the same ``webhook-id``."""
        self._native.retry(job_id)

    def prune(self) -> int:
        """Deletes finished jobs past their retention now; returns how many."""
        return self._native.prune()

    def subscribe(self, url: str, events: c.SubscribeEvents) -> Subscription:
        """Subscribes ``url`` to events (``"job.completed"``, ``"job.failed"``,
        ``"job.timed_out"``, ``"job.retrying"``, ``"endpoint.disabled"``), kept in the file.
        Each event is delivered as a signed Standard Webhooks request ``{"type", "timestamp",
        "data"}``. Raises :class:`InvalidJobError` for an unknown type; nothing is stored then."""
        return c.subscription(self._native.subscribe(url, c.subscribe_events(events)))

    def unsubscribe(self, subscription_id: str) -> None:
        """Deletes a subscription. Raises :class:`NotFoundError` for an unknown id."""
        self._native.unsubscribe(subscription_id)

    def subscriptions(self) -> List[Subscription]:
        """Every subscription, oldest first."""
        return c.subscriptions(self._native.subscriptions())

    def endpoints(self) -> List[Endpoint]:
        """The endpoints that are failing or disabled (healthy ones are not listed)."""
        return c.endpoints(self._native.endpoints())

    def enable_endpoint(self, endpoint: Union[str, Endpoint]) -> None:
        """Re-enables a disabled endpoint (``scheme://host:port``, any URL on it, or an
        :class:`Endpoint`): its held jobs go out again. Raises :class:`InvalidStateError` if it
        is not disabled."""
        self._native.enable_endpoint(c.endpoint_origin(endpoint))

    def retry_failed(
        self,
        since: Optional[datetime] = None,
        until: Optional[datetime] = None,
        *,
        name: Optional[str] = None,
        label: Optional[str] = None,
        job: Optional[str] = None,
    ) -> int:
        """Re-queues every dead letter (failed job, or failed cron occurrence) that failed at or
        after ``since`` and before ``until`` (aware datetimes) and matches the other filters,
        due now with a fresh retry budget; returns how many. No filter at all: every one."""
        return self._native.retry_failed(c.dead_letter_filter(since, until, name, label, job))

    def purge(
        self,
        since: Optional[datetime] = None,
        until: Optional[datetime] = None,
        *,
        name: Optional[str] = None,
        label: Optional[str] = None,
        job: Optional[str] = None,
    ) -> int:
        """Deletes the dead letters matching the filters of :meth:`retry_failed`; returns how
        many."""
        return self._native.purge(c.dead_letter_filter(since, until, name, label, job))

    def send_test(self, url: str, event: Union[str, EventType] = "job.completed") -> Attempt:
        """Delivers a signed sample event of type ``event`` to ``url`` now and returns the
        attempt (recorded, not retried)."""
        return Attempt._from_native(self._native.send_test(url, event))

    def export_attempts(
        self,
        dest: c.ExportTarget,
        *,
        format: c.ExportFormat = "csv",
        since: Optional[datetime] = None,
        until: Optional[datetime] = None,
        job: Optional[str] = None,
        state: Union[str, JobState, None] = None,
    ) -> int:
        """Writes the attempt log as CSV (with a header) or JSON Lines to ``dest``, a file path
        (created or truncated; removed if the export fails) or a binary file object (written
        on this thread, chunk by chunk). Only attempts started in ``[since, until)``, of
        ``job``, of jobs now in ``state``. Streams: the log is never held in memory. Returns
        the number of rows."""
        query = c.export_filter(since, until, job, state)
        path = c.export_path(dest)
        if path is not None:
            return self._native.export_to_path(path, format, query)
        stream = self._native.export_stream(format, query)
        try:
            while True:
                chunk = stream.next_chunk()
                if chunk is None:
                    return stream.rows
                c.write_chunk(dest, chunk)
        finally:
            stream.close()

    def add_listener(self, fn: Callable[[Event], Any], events: Events = None) -> Listener:
        """Calls ``fn(event)`` with every :class:`Event` of the given kinds (``"attempt"``,
        ``"job.completed"``, ...; ``"*"`` or None for all) until :meth:`Listener.remove` or
        :meth:`close`.

        ``fn`` runs on a thread of the listener's own, with the GIL taken only for the calls
        (once for the events waiting together; Python still switches threads between and
        during them as usual): it never delays delivery, even while it blocks (later events
        wait for it). An exception it raises is reported through :func:`sys.unraisablehook`
        and the listener goes on. Raises :class:`ConfigError` for an unknown kind."""
        return self._listeners.add(self._native.listen, fn, events, ThreadCall(fn))

    @overload
    def on(self, events: Events, fn: Callable[[Event], Any]) -> Listener: ...
    @overload
    def on(self, events: Events) -> Callable[[F], F]: ...
    def on(
        self, events: Events, fn: Optional[Callable[[Event], Any]] = None
    ) -> Union[Listener, Callable[[F], F]]:
        """:meth:`add_listener` with the kinds first: ``scheduler.on("job.failed", fn)``
        returns the :class:`Listener`; ``@scheduler.on("job.failed")`` registers the decorated
        function and leaves it unchanged (remove it with :meth:`remove_listener`)."""
        if fn is not None:
            return self.add_listener(fn, events)
        return decorator(lambda f: self.add_listener(f, events))

    def remove_listener(self, fn: Callable[..., Any]) -> int:
        """Removes every listener that calls ``fn``; returns how many."""
        return self._listeners.remove_function(fn)

    def run_due(self) -> int:
        """Delivers everything due now and waits for the outcomes; returns the number of
        attempts. For ``autostart=False`` (tests with a manual clock, or a cron-driven
        function)."""
        return self._native.run_due()

    def start(self) -> None:
        """Begins delivering in the background (after ``autostart=False``)."""
        self._native.start()

    def verifier(self) -> Verifier:
        """A :class:`Verifier` for this scheduler's own signing keys."""
        return self._native.verifier()

    def close(self, grace: Seconds = 10.0) -> None:
        """Stops delivering: deliveries in flight get up to ``grace`` to finish; the rest are
        recorded as interrupted and made due again. Later calls raise :class:`ClosedError`.
        Listeners stop. Closing twice is harmless."""
        self._listeners.stop_all()
        self._native.close(grace)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<timehook.Scheduler {self._path!r} {state}>"
