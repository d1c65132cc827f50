"""The package itself: version from Cargo, typing files, public names."""

from __future__ import annotations

import re
from pathlib import Path

from support import REPO

import timehook


def test_the_version_is_cargos():
    manifest = (REPO / "Cargo.toml").read_text()
    section = manifest.split("[workspace.package]", 1)[1]
    version = re.search(r'^version\s*=\s*"([^"]+)"', section, re.M)
    assert version is not None
    assert timehook.__version__ == version.group(1)
    pyproject = (REPO / "python" / "pyproject.toml").read_text()
    assert re.search(r"^version\s*=", pyproject, re.M) is None  # never typed twice
    assert 'dynamic = ["version"]' in pyproject


def test_typing_files_ship_with_the_package():
    package = Path(timehook.__file__).parent
    assert (package / "py.typed").exists()
    stub = (package / "_native.pyi").read_text()
    for name in (
        "class Verifier",
        "class Signer",
        "class Scheme",
        "class ManualClock",
        "class NativeScheduler",
        "def generate_secret",
    ):
        assert name in stub


def test_public_names_resolve():
    for name in timehook.__all__:
        assert getattr(timehook, name) is not None
    for module in (timehook.signing, timehook.testing, timehook.errors):
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_states_and_kinds_are_strings():
    assert timehook.JobState.FAILED == "failed" and str(timehook.JobState.FAILED) == "failed"
    assert f"{timehook.JobKind.CRON}" == "cron"
    assert {s.value for s in timehook.JobState} == {
        "scheduled",
        "running",
        "retrying",
        "succeeded",
        "failed",
        "cancelled",
        "paused",
    }


def test_retry_policies_are_plain_values():
    p = timehook.RetryPolicy.exponential(5, max_attempts=3)
    assert p == timehook.RetryPolicy(
        max_attempts=3, initial=5.0, factor=2.0, jitter=0.2, max_delay=3600.0
    )
    assert timehook.RetryPolicy.none().max_attempts == 1
    with timehook.Scheduler.open(":memory:", allow_private_targets=True, autostart=False) as s:
        for retry, attempts in ((p, 3), (timehook.RetryPolicy.fixed([1, 2]), 3), ("runlater", 6)):
            job = s.get(s.schedule("https://example.com/", after=60, retry=retry))
            assert job.retry.max_attempts == attempts
