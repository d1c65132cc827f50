"""The SSRF guard, on by default: loopback and private addresses are refused unless the
scheduler allows them. Everything here talks to 127.0.0.1 only."""

from __future__ import annotations

import pytest

import timehook
from timehook import ConfigError, InvalidJobError, JobState


def test_loopback_urls_are_refused_by_default_and_nothing_is_sent(receiver):
    port = receiver.base.rsplit(":", 1)[1]
    with timehook.Scheduler.open(":memory:", autostart=False) as s:
        for url in (receiver.url("/ok"), f"http://[::1]:{port}/ok"):
            with pytest.raises(InvalidJobError) as e:
                s.schedule(url)
            assert (e.value.code, e.value.field) == ("blocked", "url")
            assert "loopback" in str(e.value)
        with pytest.raises(InvalidJobError) as e:
            s.schedule("https://example.com/x", on_failure_url=receiver.url("/cb"))
        assert e.value.field == "on_failure_url"
        assert s.list() == []
        # A name that resolves to loopback fails its attempt, for good.
        job_id = s.schedule(f"http://localhost:{port}/ok")
        assert s.run_due() == 1
        [attempt] = s.attempts(job_id)
        assert attempt.error == "blocked"
        assert "127.0.0.1" in attempt.message
        assert s.get(job_id).state is JobState.FAILED
    receiver.assert_silent()


def test_allow_targets_and_allow_private_targets_let_loopback_through(receiver):
    with timehook.Scheduler.open(":memory:", autostart=False, allow_targets=["127.0.0.1/32"]) as s:
        job_id = s.schedule(receiver.url("/ok"))
        assert s.run_due() == 1
        assert s.get(job_id).state is JobState.SUCCEEDED
    with timehook.Scheduler.open(":memory:", autostart=False, allow_private_targets=True) as s:
        s.schedule(receiver.url("/ok"))
        assert s.run_due() == 1
    assert len(receiver.drain()) == 2
    with pytest.raises(ConfigError) as e:
        timehook.Scheduler.open(":memory:", allow_targets=["10.0.0.0/99"])
    assert "10.0.0.0/99" in str(e.value)
