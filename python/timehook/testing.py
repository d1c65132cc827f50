"""Helpers for testing code that uses timehook.

``ManualClock`` replaces the system clock of a scheduler: due times, retry delays, cron
occurrences and the ``webhook-timestamp`` of deliveries all follow it, and it only moves when
told to. Open the scheduler with ``autostart=False`` and call ``run_due()`` to deliver what is
due at the clock's time, so tests never sleep::

    clock = ManualClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    with Scheduler.open(":memory:", clock=clock, autostart=False) as s:
        s.schedule(url, after=60)
        clock.advance(60)
        assert s.run_due() == 1

It is a test hook, not a production feature: a real deployment uses the system clock.
"""

from __future__ import annotations

from ._native import ManualClock

__all__ = ["ManualClock"]
