"""The asyncio :class:`AsyncScheduler`."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from types import TracebackType
from typing import (
    Any,
    Awaitable,
    Callable,
    Generator,
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
from ._listen import Events, Listener, Listeners, LoopCall, decorator
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

__all__ = ["AsyncScheduler"]

StrPath = Union[str, "os.PathLike[str]"]
F = TypeVar("F", bound=Callable[..., Any])


def _call(method: Callable[..., Any], *args: Any) -> asyncio.Future:
    """Starts a native operation on timehook's runtime; the future completes on this loop."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    method(*args, (loop, future))
    return future


class _Opening:
    """What :meth:`AsyncScheduler.open` returns: await it, or use it with ``async with``."""

    def __init__(self, path: str, options: dict) -> None:
        self._path = path
        self._options = options
        self._scheduler: Optional[AsyncScheduler] = None

    async def _open(self) -> AsyncScheduler:
        native = await _call(NativeScheduler.open, self._path, self._options)
        return AsyncScheduler(native, self._path)

    def __await__(self) -> Generator[Any, None, AsyncScheduler]:
        return self._open().__await__()

    async def __aenter__(self) -> AsyncScheduler:
        self._scheduler = await self._open()
        return self._scheduler

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self._scheduler is not None:
            await self._scheduler.close()


class AsyncScheduler:
    """The asyncio form of :class:`timehook.Scheduler`: the same methods, as coroutines.

    Each call runs on timehook's own runtime and completes on the event loop, so the loop never
    blocks on SQLite or the network (only the conversion of the arguments runs on it)::

        async with AsyncScheduler.open("jobs.db", secret=SECRET) as scheduler:
            job_id = await scheduler.schedule("https://example.com/hook", after=3600)
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
    ) -> _Opening:
        """Opens the store; ``await`` the result, or use it with ``async with`` (which closes
        the scheduler at the end). Options as :meth:`timehook.Scheduler.open`."""
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
        return _Opening(c.store_path(path), options)

    async def schedule(
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
        """As :meth:`timehook.Scheduler.schedule`."""
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
        return (await _call(self._native.schedule_many, [job]))[0]

    def schedule_many(self, jobs: Iterable[Mapping[str, Any]]) -> Awaitable[List[str]]:
        """As :meth:`timehook.Scheduler.schedule_many`."""
        return _call(self._native.schedule_many, jobs)

    async def submit(self, job: Mapping[str, Any]) -> Submitted:
        """As :meth:`timehook.Scheduler.submit`."""
        return (await self.submit_many([job]))[0]

    async def submit_many(self, jobs: Iterable[Mapping[str, Any]]) -> List[Submitted]:
        """As :meth:`timehook.Scheduler.submit_many`."""
        return [Submitted(i, e) for i, e in await _call(self._native.submit_many, jobs)]

    async def cron(
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
        """As :meth:`timehook.Scheduler.cron`."""
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
        return (await _call(self._native.schedule_many, [job]))[0]

    async def get(self, job_id: str) -> Job:
        """As :meth:`timehook.Scheduler.get`."""
        return c.one_job(await _call(self._native.get, job_id))

    async def list(
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
        """As :meth:`timehook.Scheduler.list`."""
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
        return c.jobs(await _call(self._native.list, query))

    async def attempts(self, job_id: str) -> List[Attempt]:
        """As :meth:`timehook.Scheduler.attempts`."""
        return c.attempts(await _call(self._native.attempts, job_id))

    async def attempts_page(
        self, job_id: str, *, after: Optional[str] = None, limit: int = 100
    ) -> List[Attempt]:
        """As :meth:`timehook.Scheduler.attempts_page`."""
        page = await _call(self._native.attempts_page, job_id, after, c.page_limit(limit))
        return c.attempts(page)

    def cancel(self, job_id: str) -> Awaitable[None]:
        """As :meth:`timehook.Scheduler.cancel`."""
        return _call(self._native.cancel, job_id)

    def reschedule(self, job_id: str, at: datetime) -> Awaitable[None]:
        """As :meth:`timehook.Scheduler.reschedule`."""
        return _call(self._native.reschedule, job_id, at)

    def pause(self, job_id: str) -> Awaitable[None]:
        """As :meth:`timehook.Scheduler.pause`."""
        return _call(self._native.pause, job_id)

    def resume(self, job_id: str) -> Awaitable[None]:
        """As :meth:`timehook.Scheduler.resume`."""
        return _call(self._native.resume, job_id)

    def trigger(self, job_id: str) -> Awaitable[str]:
        """As :meth:`timehook.Scheduler.trigger`."""
        return _call(self._native.trigger, job_id)

    def retry(self, job_id: str) -> Awaitable[None]:
        """As :meth:`timehook.Scheduler.retry`."""
        return _call(self._native.retry, job_id)

    def prune(self) -> Awaitable[int]:
        """As :meth:`timehook.Scheduler.prune`."""
        return _call(self._native.prune)

    async def subscribe(self, url: str, events: c.SubscribeEvents) -> Subscription:
        """As :meth:`timehook.Scheduler.subscribe`."""
        events = c.subscribe_events(events)
        return c.subscription(await _call(self._native.subscribe, url, events))

    def unsubscribe(self, subscription_id: str) -> Awaitable[None]:
        """As :meth:`timehook.Scheduler.unsubscribe`."""
        return _call(self._native.unsubscribe, subscription_id)

    async def subscriptions(self) -> List[Subscription]:
        """As :meth:`timehook.Scheduler.subscriptions`."""
        return c.subscriptions(await _call(self._native.subscriptions))

    async def endpoints(self) -> List[Endpoint]:
        """As :meth:`timehook.Scheduler.endpoints`."""
        return c.endpoints(await _call(self._native.endpoints))

    def enable_endpoint(self, endpoint: Union[str, Endpoint]) -> Awaitable[None]:
        """As :meth:`timehook.Scheduler.enable_endpoint`."""
        return _call(self._native.enable_endpoint, c.endpoint_origin(endpoint))

    def retry_failed(
        self,
        since: Optional[datetime] = None,
        until: Optional[datetime] = None,
        *,
        name: Optional[str] = None,
        label: Optional[str] = None,
        job: Optional[str] = None,
    ) -> Awaitable[int]:
        """As :meth:`timehook.Scheduler.retry_failed`."""
        query = c.dead_letter_filter(since, until, name, label, job)
        return _call(self._native.retry_failed, query)

    def purge(
        self,
        since: Optional[datetime] = None,
        until: Optional[datetime] = None,
        *,
        name: Optional[str] = None,
        label: Optional[str] = None,
        job: Optional[str] = None,
    ) -> Awaitable[int]:
        """As :meth:`timehook.Scheduler.purge`."""
        return _call(self._native.purge, c.dead_letter_filter(since, until, name, label, job))

    async def send_test(self, url: str, event: Union[str, EventType] = "job.completed") -> Attempt:
        """As :meth:`timehook.Scheduler.send_test`."""
        return Attempt._from_native(await _call(self._native.send_test, url, event))

    async def export_attempts(
        self,
        dest: c.ExportTarget,
        *,
        format: c.ExportFormat = "csv",
        since: Optional[datetime] = None,
        until: Optional[datetime] = None,
        job: Optional[str] = None,
        state: Union[str, JobState, None] = None,
    ) -> int:
        """As :meth:`timehook.Scheduler.export_attempts`. A file object is written on the event
        loop's thread, one chunk at a time, between awaits for the next chunk."""
        query = c.export_filter(since, until, job, state)
        path = c.export_path(dest)
        if path is not None:
            return await _call(self._native.export_to_path, path, format, query)
        stream = self._native.export_stream(format, query)
        try:
            while True:
                chunk = await _call(stream.next_chunk)
                if chunk is None:
                    return stream.rows
                c.write_chunk(dest, chunk)
        finally:
            stream.close()

    def add_listener(self, fn: Callable[[Event], Any], events: Events = None) -> Listener:
        """As :meth:`timehook.Scheduler.add_listener`, for the running event loop (call it from
        a coroutine): ``fn`` is called on that loop, never on another thread. It may be a
        coroutine function (each call runs as a task) or a plain function. An exception it
        raises goes to the loop's exception handler (``loop.call_exception_handler``, which logs
        it by default) and the listener goes on. Events wait on the listener's own thread, so a
        busy loop never delays delivery."""
        loop = asyncio.get_running_loop()
        return self._listeners.add(self._native.listen, fn, events, LoopCall(fn, loop))

    @overload
    def on(self, events: Events, fn: Callable[[Event], Any]) -> Listener: ...
    @overload
    def on(self, events: Events) -> Callable[[F], F]: ...
    def on(
        self, events: Events, fn: Optional[Callable[[Event], Any]] = None
    ) -> Union[Listener, Callable[[F], F]]:
        """As :meth:`timehook.Scheduler.on` (call it from a coroutine)."""
        if fn is not None:
            return self.add_listener(fn, events)
        return decorator(lambda f: self.add_listener(f, events))

    def remove_listener(self, fn: Callable[..., Any]) -> int:
        """As :meth:`timehook.Scheduler.remove_listener`."""
        return self._listeners.remove_function(fn)

    def run_due(self) -> Awaitable[int]:
        """As :meth:`timehook.Scheduler.run_due`."""
        return _call(self._native.run_due)

    def start(self) -> None:
        """As :meth:`timehook.Scheduler.start` (returns at once)."""
        self._native.start()

    def verifier(self) -> Verifier:
        """As :meth:`timehook.Scheduler.verifier`."""
        return self._native.verifier()

    def close(self, grace: Seconds = 10.0) -> Awaitable[None]:
        """As :meth:`timehook.Scheduler.close` (listeners stop at once)."""
        self._listeners.stop_all()
        return _call(self._native.close, grace)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    async def __aenter__(self) -> AsyncScheduler:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<timehook.AsyncScheduler {self._path!r} {state}>"
