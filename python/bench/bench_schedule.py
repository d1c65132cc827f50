"""schedule_many of 100k jobs from Python into a SQLite file (default durability: full).

Each job has a URL, a delay and a small JSON payload (a dict, serialised by timehook). The job
dicts are built before the clock starts; the figure covers converting them, validating,
inserting and committing. Each figure is the best of RUNS runs, each into a new file.
"""

from __future__ import annotations

import os
import tempfile
import time

import timehook

N = 100_000
RUNS = 3


def jobs(n: int, tag: str) -> list:
    return [
        {
            "url": f"https://example.com/hooks/{tag}/{i}",
            "after": 3600,
            "payload": {"account": i, "plan": "free"},
        }
        for i in range(n)
    ]


def best_of(label: str, batch: int) -> None:
    times = []
    for run in range(RUNS):
        chunks = [jobs(batch, f"r{run}c{k}") for k in range(N // batch)]
        with tempfile.TemporaryDirectory() as tmp:
            with timehook.Scheduler.open(os.path.join(tmp, "bench.db"), autostart=False) as s:
                started = time.perf_counter()
                for chunk in chunks:
                    s.schedule_many(chunk)
                times.append(time.perf_counter() - started)
                assert len(s.list(limit=10)) == 10
    best = min(times)
    runs = ", ".join(f"{t * 1000:.0f}" for t in times)
    print(f"  {label:<20} {best * 1000:6.0f} ms  {N / best:9,.0f} jobs/s   (runs: {runs} ms)")


def main() -> None:
    print(f"schedule_many, {N:,} jobs into a new file (durability full), best of {RUNS}")
    best_of("one call of 100k", N)
    best_of("10 calls of 10k", 10_000)


if __name__ == "__main__":
    main()
