"""Fixtures: a real HTTP receiver on 127.0.0.1, a manual clock, and schedulers on a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import SECRET, T0, Receiver

import timehook
from timehook.testing import ManualClock


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "jobs.db")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def manual(db: str, clock: ManualClock):
    """A scheduler on a file, driven by a manual clock: deliveries happen in ``run_due()``."""
    with timehook.Scheduler.open(
        db, secret=SECRET, clock=clock, autostart=False, durability="normal"
    ) as s:
        yield s


@pytest.fixture
def live(db: str):
    """A scheduler on a file with the system clock, delivering in the background."""
    with timehook.Scheduler.open(db, secret=SECRET, durability="normal") as s:
        yield s
