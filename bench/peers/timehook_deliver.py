"""timehook from Python delivering webhooks to the benchmarks' receiver: ``schedule_many`` of n
jobs due at once into a SQLite file, then the scheduler starts (deliveries run on Rust threads:
signed, sent, each attempt recorded durably, 64 in flight per host); the figure is attempts per
second from the start to the last attempt.

    python timehook_deliver.py <receiver-url> <jobs>
"""

import sys
import tempfile
import threading
import time
from pathlib import Path

import timehook


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    with (
        tempfile.TemporaryDirectory() as tmp,
        timehook.Scheduler.open(
            str(Path(tmp) / "jobs.db"),
            allow_private_targets=True,
            secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            autostart=False,
        ) as s,
    ):
        s.schedule_many(
            {
                "url": f"{url}/d",
                "payload": f'{{"n":{i}}}'.encode(),
                "content_type": "application/json",
            }
            for i in range(n)
        )
        done = threading.Event()
        seen = [0]

        def attempt(_event) -> None:
            seen[0] += 1
            if seen[0] == n:
                done.set()

        s.on("attempt", attempt)
        start = time.perf_counter()
        s.start()
        done.wait()
        secs = time.perf_counter() - start
    print(f"timehook-python {round(n / secs)}/s")


if __name__ == "__main__":
    main()
