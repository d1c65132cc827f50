"""timehook from Python storing n one-time jobs (a URL, due in an hour, a small JSON payload)
into a fresh SQLite file with the default durability (full), the scheduler not delivering
(``autostart=False``). The job dicts are built before the clock starts. Afterwards the stored
jobs are counted through ``list``; a wrong count is an error (exit code 1).

    python timehook_enqueue.py many|single <jobs>
        many    one ``schedule_many`` of every job
        single  one ``schedule`` call after another

Prints ``result <figure> <jobs> <jobs/s>``.
"""

import sys
import tempfile
import time
from pathlib import Path

import timehook

DUE_IN = 3600
PAGE = 10_000


def stored(s: timehook.Scheduler) -> int:
    count, after = 0, None
    while True:
        page = s.list(limit=PAGE, after=after)
        count += len(page)
        if len(page) < PAGE:
            return count
        after = page[-1].id


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    jobs = [
        {
            "url": f"https://example.com/hooks/{i % 100}",
            "after": DUE_IN,
            "payload": {"account": i, "plan": "free"},
        }
        for i in range(n)
    ]
    with (
        tempfile.TemporaryDirectory() as tmp,
        timehook.Scheduler.open(str(Path(tmp) / "jobs.db"), autostart=False) as s,
    ):
        start = time.perf_counter()
        if mode == "many":
            s.schedule_many(jobs)
        elif mode == "single":
            for job in jobs:
                s.schedule(job["url"], after=job["after"], payload=job["payload"])
        else:
            sys.exit(f"unknown mode {mode}")
        secs = time.perf_counter() - start
        count = stored(s)
    if count != n:
        sys.exit(f"timehook {mode}: {count} jobs stored, expected {n}")
    print(f"result python_{mode} {n} {round(n / secs)}")


if __name__ == "__main__":
    main()
