"""The scheduler from many threads at once, and the GIL released while a call waits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import timehook

THREADS = 8
PER_THREAD = 250


def test_many_threads_schedule_at_once(db):
    with timehook.Scheduler.open(db, allow_private_targets=True, autostart=False) as s:
        barrier = threading.Barrier(THREADS)

        def work(t: int) -> list:
            barrier.wait()
            ids = [
                s.schedule(f"https://example.com/{t}/{i}", after=60, name=f"t{t}")
                for i in range(PER_THREAD // 2)
            ]
            ids += s.schedule_many(
                [
                    {"url": f"https://example.com/{t}/m{i}", "name": f"t{t}"}
                    for i in range(PER_THREAD // 2)
                ]
            )
            return ids

        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(work, range(THREADS)))
        ids = [i for r in results for i in r]
        assert len(ids) == len(set(ids)) == THREADS * PER_THREAD
        listed = s.list(limit=10_000)
        assert sorted(j.id for j in listed) == sorted(ids)
        for t in range(THREADS):
            assert {j.id for j in s.list(name=f"t{t}", limit=10_000)} == set(results[t])


def test_the_gil_is_released_while_a_call_waits(manual, receiver):
    """run_due() waits for a receiver that is itself Python code in another thread: if the call
    held the GIL, the receiver could never answer and this test would time out."""
    gate = receiver.hold("/held")
    manual.schedule(receiver.url("/held"))
    outcome = {}
    caller = threading.Thread(target=lambda: outcome.update(n=manual.run_due()))
    caller.start()
    receiver.next()  # the receiver (Python) got the request while run_due() is blocked
    progress = sum(range(100_000))  # and this thread runs Python meanwhile
    assert caller.is_alive() and progress
    gate.set()
    caller.join(timeout=15)
    assert not caller.is_alive() and outcome["n"] == 1
