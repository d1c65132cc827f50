"""The asyncio API: awaitables that never block the event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from support import SECRET, T0

import timehook
from timehook import AsyncScheduler

TICK = 0.005
JOBS = 10_000
#: Jobs a second writer adds to the same file meanwhile.
BUSY = 100_000


async def ticker(gaps: list, stop: asyncio.Event) -> None:
    """Records the time between consecutive wake-ups of a task sleeping TICK each round."""
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(TICK)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


def test_the_loop_keeps_ticking_while_10k_jobs_are_scheduled(db):
    """10k awaited schedule() calls (100 concurrent workers), then one awaited schedule_many of
    10k, while another thread keeps the same SQLite file busy with a big batch: the awaits wait
    for the store, the event loop does not."""
    busy_writer_started = threading.Event()

    def busy_writer() -> None:
        # A second scheduler on the same file: its writes hold SQLite's write lock.
        with timehook.Scheduler.open(db, allow_private_targets=True, autostart=False) as other:
            jobs = [{"url": f"https://example.com/bg/{i}", "after": 3600} for i in range(BUSY)]
            busy_writer_started.set()
            for start in range(0, BUSY, BUSY // 4):
                other.schedule_many(jobs[start : start + BUSY // 4])

    async def main() -> tuple:
        gaps: list = []
        stop = asyncio.Event()
        async with AsyncScheduler.open(db, allow_private_targets=True, autostart=False) as s:
            tick = asyncio.ensure_future(ticker(gaps, stop))
            writer = threading.Thread(target=busy_writer)
            writer.start()
            await asyncio.get_running_loop().run_in_executor(None, busy_writer_started.wait)
            started = time.perf_counter()
            numbers = iter(range(JOBS))
            ids: list = []

            async def worker() -> None:
                for i in numbers:
                    ids.append(await s.schedule(f"https://example.com/one/{i}", after=3600))

            await asyncio.gather(*(worker() for _ in range(100)))
            many = await s.schedule_many(
                [{"url": f"https://example.com/many/{i}", "after": 3600} for i in range(JOBS)]
            )
            elapsed = time.perf_counter() - started
            await asyncio.get_running_loop().run_in_executor(None, writer.join)
            stop.set()
            await tick
            total = 0
            page = await s.list(limit=10_000)
            while page:
                total += len(page)
                page = await s.list(limit=10_000, after=page[-1].id)
        return gaps, ids, many, total, elapsed

    gaps, ids, many, total, elapsed = asyncio.run(main())
    assert len(set(ids)) == JOBS and len(set(many)) == JOBS
    assert total == 2 * JOBS + BUSY
    worst = max(gaps)
    print(
        f"\n2 x {JOBS} jobs scheduled in {elapsed * 1000:.0f} ms beside a {BUSY}-job writer; "
        f"{len(gaps)} ticks, worst gap {worst * 1000:.1f} ms"
    )
    # Had an await blocked the loop until SQLite answered, one gap would cover the whole wait
    # for the other writer (seconds, measured); the loop only ever runs argument conversion.
    assert worst < 0.25, f"the event loop stalled for {worst * 1000:.0f} ms"
    assert len(gaps) > elapsed / TICK / 10


def test_async_lifecycle_with_a_manual_clock(receiver):
    clock = timehook.testing.ManualClock(T0)

    async def main() -> None:
        s = await AsyncScheduler.open(
            ":memory:", allow_private_targets=True, secret=SECRET, clock=clock, autostart=False
        )
        async with s:
            receiver.answer("/a", 500, 200)
            job_id = await s.schedule(receiver.url("/a"), payload={"x": 1}, retry="single")
            assert await s.run_due() == 1
            assert (await s.get(job_id)).state is timehook.JobState.RETRYING
            clock.advance(60)
            assert await s.run_due() == 1
            assert [a.status for a in await s.attempts(job_id)] == [500, 200]
            cron = await s.cron(receiver.url("/c"), "@hourly")
            await s.pause(cron)
            await s.resume(cron)
            exec_id = await s.trigger(cron)
            assert await s.run_due() == 1
            assert await s.prune() == 0
            with pytest.raises(timehook.NotFoundError):
                await s.get("job_01ARZ3NDEKTSV4RRFFQ69G5FAV")
            with pytest.raises(timehook.InvalidJobError):
                await s.schedule("https://example.com", at="tomorrow")
            s.verifier()
        assert s.closed
        with pytest.raises(timehook.ClosedError):
            await s.list()
        return exec_id

    exec_id = asyncio.run(main())
    got = [receiver.next() for _ in range(3)]
    assert got[-1].header("webhook-id") == exec_id
    for req in got:
        timehook.Verifier(SECRET).verify(req.body, req.headers, now=clock.now())


def test_a_cancelled_await_leaves_the_loop_healthy(receiver):
    gate = receiver.hold("/slow")

    async def main() -> int:
        async with AsyncScheduler.open(
            ":memory:", allow_private_targets=True, autostart=False
        ) as s:
            await s.schedule(receiver.url("/slow"))
            task = asyncio.ensure_future(s.run_due())
            await asyncio.get_running_loop().run_in_executor(None, receiver.next)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            gate.set()
            # The delivery itself finishes on timehook's runtime; the scheduler stays usable.
            return len(await s.list())

    assert asyncio.run(main()) == 1
