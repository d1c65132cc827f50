"""Fixtures: a real HTTP receiver on 127.0.0.1, a manual clock, and schedulers on a file."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
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


def postgres_url() -> str:
    """The test PostgreSQL server (``make test`` starts one). Without it the test fails: the
    PostgreSQL half of the suite is never skipped."""
    url = os.environ.get("TIMEHOOK_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "TIMEHOOK_TEST_POSTGRES_URL is not set: run `make test`, or "
            "`bash tests/with-postgres.sh bash python/test.sh`"
        )
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request, tmp_path: Path):
    """A fresh store of each kind: a SQLite file, or a schema of its own on the test server
    (dropped afterwards)."""
    if request.param == "sqlite":
        yield str(tmp_path / "jobs.db")
        return
    url = postgres_url()
    schema = "py_" + uuid.uuid4().hex[:16]
    yield f"{url}{'&' if '?' in url else '?'}schema={schema}"
    if shutil.which("psql"):
        subprocess.run(
            ["psql", "-q", url, "-c", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
            check=False,
            capture_output=True,
        )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def manual(db: str, clock: ManualClock):
    """A scheduler on a file, driven by a manual clock: deliveries happen in ``run_due()``."""
    with timehook.Scheduler.open(
        db,
        allow_private_targets=True,
        secret=SECRET,
        clock=clock,
        autostart=False,
        durability="normal",
    ) as s:
        yield s


@pytest.fixture
def live(db: str):
    """A scheduler on a file with the system clock, delivering in the background."""
    with timehook.Scheduler.open(
        db, allow_private_targets=True, secret=SECRET, durability="normal"
    ) as s:
        yield s
