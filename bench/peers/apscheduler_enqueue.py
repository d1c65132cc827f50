"""APScheduler 3 storing n one-time jobs (a ``date`` trigger an hour ahead; args: the URL and the
same small JSON payload timehook_enqueue.py stores) with ``add_job`` into a SQLAlchemyJobStore on
a fresh SQLite file. The BackgroundScheduler is started paused, so ``add_job`` writes each job to
the store at once (before ``start`` it only queues them in memory) and nothing runs, as timehook
stores with ``autostart=False``. Afterwards the rows in the store's table are counted; a wrong
count is an error (exit code 1).

    python apscheduler_enqueue.py <jobs>

Prints ``result python_add_job <jobs> <jobs/s>``.
"""

import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

DUE_IN = timedelta(hours=1)


def deliver(url: str, payload: dict) -> None:
    """What the jobs would run; never reached here."""


def main() -> None:
    n = int(sys.argv[1])
    due = datetime.now(timezone.utc) + DUE_IN
    args = [
        [f"https://example.com/hooks/{i % 100}", {"account": i, "plan": "free"}] for i in range(n)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLAlchemyJobStore(url=f"sqlite:///{Path(tmp) / 'jobs.db'}")
        scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=timezone.utc)
        scheduler.start(paused=True)
        start = time.perf_counter()
        for a in args:
            scheduler.add_job(deliver, "date", run_date=due, args=a)
        secs = time.perf_counter() - start
        with store.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(store.jobs_t)).scalar_one()
        scheduler.shutdown(wait=False)
        store.engine.dispose()
    if count != n:
        sys.exit(f"APScheduler: {count} jobs stored, expected {n}")
    print(f"result python_add_job {n} {round(n / secs)}")


if __name__ == "__main__":
    main()
