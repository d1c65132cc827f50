"""Outcomes through the asyncio API: listeners run on the event loop that registered them, and
every other outcome call is an awaitable."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from datetime import timedelta
from typing import Any, List, Tuple

import pytest
from support import SECRET, T0, WAIT

import timehook
from timehook import AsyncScheduler, Event, EventType, JobState
from timehook.testing import ManualClock


def open_async(clock: ManualClock, **options: Any):
    return AsyncScheduler.open(
        ":memory:",
        allow_private_targets=True,
        secret=SECRET,
        clock=clock,
        autostart=False,
        environment="staging",
        **options,
    )


def test_async_listeners_run_on_their_loop_and_never_hold_up_delivery(receiver):
    clock = ManualClock(T0)

    async def main() -> None:
        loop_thread = threading.get_ident()
        # asyncio.Queue is not thread-safe: using it proves the listeners run on the loop.
        got: asyncio.Queue[Tuple[str, Event]] = asyncio.Queue()
        threads: List[int] = []
        gate = asyncio.Event()

        async def slow(event: Event) -> None:
            threads.append(threading.get_ident())
            await gate.wait()
            await got.put(("slow", event))

        def plain(event: Event) -> None:
            threads.append(threading.get_ident())
            asyncio.get_running_loop()  # raises off the loop
            got.put_nowait(("plain", event))

        async with open_async(clock) as s:
            slow_listener = s.on("job.completed", slow)
            s.add_listener(plain, [EventType.JOB_COMPLETED, "job.failed"])
            first = await s.schedule(receiver.url("/ok"))
            assert await s.run_due() == 1
            kind, event = await asyncio.wait_for(got.get(), WAIT)
            assert (kind, event.type) == ("plain", EventType.JOB_COMPLETED)
            assert event.outcome is not None and event.outcome.job_id == first
            # The coroutine listener is waiting on its gate; deliveries go on meanwhile.
            receiver.answer("/down", 500)
            failed = await s.schedule(receiver.url("/down"), retry="none")
            assert await s.run_due() == 1
            assert (await s.get(failed)).state is JobState.FAILED
            kind, event = await asyncio.wait_for(got.get(), WAIT)
            assert (kind, event.type) == ("plain", EventType.JOB_FAILED)
            assert not gate.is_set() and got.empty()
            gate.set()
            kind, event = await asyncio.wait_for(got.get(), WAIT)
            assert kind == "slow" and event.outcome is not None and event.outcome.job_id == first
            assert set(threads) == {loop_thread}
        assert s.closed and not slow_listener.active

    asyncio.run(main())


def test_async_listener_exceptions_go_to_the_loop_handler_and_events_keep_coming(receiver):
    clock = ManualClock(T0)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reported: asyncio.Queue[dict] = asyncio.Queue()
        loop.set_exception_handler(lambda _loop, context: reported.put_nowait(context))
        calls: asyncio.Queue[str] = asyncio.Queue()

        async def broken_coro(event: Event) -> None:
            await calls.put("coro")
            raise RuntimeError("coroutine listener bug")

        def broken_plain(event: Event) -> None:
            calls.put_nowait("plain")
            raise ValueError("plain listener bug")

        async with open_async(clock) as s:
            s.on("job.completed", broken_coro)
            s.on("job.completed", broken_plain)
            for path in ("/a", "/b"):
                await s.schedule(receiver.url(path))
                await s.run_due()
            names = [await asyncio.wait_for(calls.get(), WAIT) for _ in range(4)]
            assert sorted(names) == ["coro", "coro", "plain", "plain"]
            errors = [await asyncio.wait_for(reported.get(), WAIT) for _ in range(4)]
            kinds = sorted(type(c["exception"]).__name__ for c in errors)
            assert kinds == ["RuntimeError", "RuntimeError", "ValueError", "ValueError"]
            assert all("timehook listener" in c["message"] for c in errors)

    asyncio.run(main())


def test_async_outcome_calls(receiver, tmp_path):
    clock = ManualClock(T0)

    async def main() -> None:
        async with open_async(clock, disable_endpoint_on_gone=True) as s:
            sub = await s.subscribe(receiver.url("/events"), "job.failed")
            assert await s.subscriptions() == [sub]
            with pytest.raises(timehook.InvalidJobError):
                await s.subscribe(receiver.url("/events"), ["job.nope"])

            receiver.answer("/down", 500)
            a = await s.schedule(
                receiver.url("/down"), retry="none", on_failure_url=receiver.url("/cb")
            )
            assert await s.run_due() == 3, "the job, its callback, the job.failed event"
            assert (await s.get(a)).on_failure_url == receiver.url("/cb")
            seen = {r.path: r for r in receiver.drain()}
            assert seen["/cb"].json()["status"] == "failure"
            event = seen["/events"].json()
            assert (event["type"], event["data"]["environment"]) == ("job.failed", "staging")
            await s.unsubscribe(sub.id)
            with pytest.raises(timehook.NotFoundError):
                await s.unsubscribe(sub.id)

            clock.advance(timedelta(hours=1))
            b = await s.schedule(receiver.url("/down"), retry="none", name="b")
            await s.run_due()
            assert await s.retry_failed(since=T0 + timedelta(minutes=30)) == 1
            assert (await s.get(b)).state is JobState.SCHEDULED
            assert await s.purge(until=T0 + timedelta(minutes=1)) == 1
            with pytest.raises(timehook.NotFoundError):
                await s.get(a)

            receiver.drain()
            attempt = await s.send_test(receiver.url("/probe"), "job.timed_out")
            assert attempt.status == 200
            [probe] = receiver.drain()
            assert probe.json()["type"] == "job.timed_out"

            buf = io.BytesIO()
            rows = await s.export_attempts(buf, format="jsonl")
            lines = [json.loads(x) for x in buf.getvalue().splitlines()]
            # a was purged with its attempts: its callback, the event, b and the test are left.
            assert rows == len(lines) == 4
            assert a not in {x["job_id"] for x in lines}
            path = tmp_path / "b.csv"
            assert await s.export_attempts(path, job=b) == 1
            assert path.read_text().count("\n") == 2

            receiver.answer("/gone", 410)
            await s.schedule(receiver.url("/gone"))
            await s.run_due()
            [ep] = await s.endpoints()
            assert ep.disabled and ep.origin == receiver.base
            await s.enable_endpoint(ep.origin)
            with pytest.raises(timehook.InvalidStateError):
                await s.enable_endpoint(ep)

    asyncio.run(main())
