"""Bad input raises the right exception, with a message naming the field and the value, and
stores nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from support import SECRET

import timehook
from timehook import (
    ClosedError,
    ConfigError,
    InvalidJobError,
    InvalidStateError,
    NotFoundError,
    RetryPolicy,
    TimehookError,
)

URL = "https://example.com/hook"

BAD_JOBS = [
    # (kwargs, code, field, text the message must contain)
    ({"at": datetime(2030, 1, 1)}, "invalid_job", "at", "naive"),
    ({"at": "2030-01-01"}, "invalid_job", "at", "'2030-01-01'"),
    ({"after": -5}, "invalid_job", "after", "-5"),
    ({"after": "soon"}, "invalid_job", "after", "'soon'"),
    ({"after": 5, "at": datetime(2030, 1, 1, tzinfo=timezone.utc)}, "invalid_job", "after", "at"),
    ({"method": "FETCH"}, "invalid_job", "method", "FETCH"),
    ({"payload": {1.5: "x"}}, "invalid_job", "payload", "1.5"),
    ({"payload": {"x": float("nan")}}, "invalid_job", "payload", "NaN"),
    ({"payload": object()}, "invalid_job", "payload", "object"),
    ({"headers": {"bad header": "x"}}, "invalid_job", "headers", "bad header"),
    ({"headers": {"webhook-id": "x"}}, "invalid_job", "headers", "webhook-id"),
    ({"headers": {"x-n": 5}}, "invalid_job", "headers", "x-n"),
    ({"retry": "sometimes"}, "invalid_job", "retry", "sometimes"),
    ({"retry": RetryPolicy(max_attempts=0)}, "invalid_job", "retry", "max_attempts"),
    ({"retry": 3}, "invalid_job", "retry", "int"),
    ({"timeout": timedelta(hours=5)}, "invalid_job", "timeout", ""),
    ({"name": "x" * 300}, "invalid_job", "name", ""),
    ({"labels": "one"}, "invalid_job", "labels", "'one'"),
    ({"payload": b"x" * 2048}, "payload_too_large", "payload", "2048"),
]


@pytest.mark.parametrize(
    "kwargs, code, field, text", BAD_JOBS, ids=[f"{c[2]}-{i}" for i, c in enumerate(BAD_JOBS)]
)
def test_bad_jobs_are_refused_and_nothing_is_stored(kwargs, code, field, text):
    with timehook.Scheduler.open(
        ":memory:", allow_private_targets=True, autostart=False, max_payload_size=1024
    ) as s:
        with pytest.raises(InvalidJobError) as e:
            s.schedule(URL, **kwargs)
        err = e.value
        assert isinstance(err, ValueError) and isinstance(err, TimehookError)
        assert (err.code, err.field) == (code, field), str(err)
        assert text in str(err)
        assert s.list() == []


@pytest.mark.parametrize(
    "url, text",
    [("ftp://example.com/x", "ftp"), ("not a url", "not a url"), ("http://", "http://")],
)
def test_bad_urls_name_the_url(url, text):
    with timehook.Scheduler.open(":memory:", allow_private_targets=True, autostart=False) as s:
        with pytest.raises(InvalidJobError) as e:
            s.schedule(url)
        assert e.value.field == "url" and text in str(e.value)


def test_bad_cron_jobs_have_their_own_codes():
    with timehook.Scheduler.open(":memory:", allow_private_targets=True, autostart=False) as s:
        with pytest.raises(InvalidJobError) as e:
            s.cron(URL, "61 * * * *")
        assert e.value.code == "invalid_cron" and "61 * * * *" in str(e.value)
        with pytest.raises(InvalidJobError) as e:
            s.cron(URL, "0 * * * *", tz="Mars/Olympus_Mons")
        assert e.value.code == "invalid_timezone" and "Mars/Olympus_Mons" in str(e.value)
        with pytest.raises(InvalidJobError) as e:
            s.cron(URL, "0 * * * *", missed="sometimes")
        assert e.value.field == "missed" and "sometimes" in str(e.value)
        with pytest.raises(InvalidJobError) as e:
            s.schedule_many([{"url": URL, "tz": "UTC"}])
        assert e.value.field == "tz" and "cron" in str(e.value)
        assert s.list() == []


def test_one_bad_job_in_a_batch_stores_none_and_is_located():
    with timehook.Scheduler.open(":memory:", allow_private_targets=True, autostart=False) as s:
        jobs = [{"url": URL, "after": 60} for _ in range(5)]
        jobs.insert(3, {"url": URL, "payloda": {}})
        with pytest.raises(InvalidJobError) as e:
            s.schedule_many(jobs)
        assert str(e.value).startswith("job 3: ") and "payloda" in str(e.value)
        jobs[3] = {"url": "mailto:someone@example.com"}
        with pytest.raises(InvalidJobError) as e:
            s.schedule_many(jobs)
        assert "mailto:someone@example.com" in str(e.value)
        with pytest.raises(InvalidJobError) as e:
            s.schedule_many([{"after": 5}])
        assert e.value.field == "url"
        with pytest.raises(InvalidJobError):
            s.schedule_many(["https://example.com"])
        assert s.list() == []


def test_unknown_and_malformed_ids():
    with timehook.Scheduler.open(":memory:", allow_private_targets=True, autostart=False) as s:
        with pytest.raises(NotFoundError) as e:
            s.get("job_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        assert isinstance(e.value, LookupError) and e.value.code == "not_found"
        assert "job_01ARZ3NDEKTSV4RRFFQ69G5FAV" in str(e.value)
        for call in (s.cancel, s.pause, s.resume, s.trigger, s.retry, s.attempts):
            with pytest.raises(NotFoundError):
                call("job_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        with pytest.raises(InvalidJobError) as e:
            s.get("exec_123")
        assert e.value.field == "id" and "exec_123" in str(e.value)


def test_actions_that_do_not_fit_the_state():
    with timehook.Scheduler.open(":memory:", allow_private_targets=True, autostart=False) as s:
        once = s.schedule(URL, after=60)
        with pytest.raises(InvalidStateError) as e:
            s.resume(once)
        assert e.value.code == "invalid_state" and once in str(e.value)
        s.cancel(once)
        with pytest.raises(InvalidStateError):
            s.reschedule(once, datetime(2031, 1, 1, tzinfo=timezone.utc))


def test_bad_options_are_config_errors():
    cases = [
        ({"secret": "whsec_tooshort"}, "invalid_secret", "tooshort"),
        ({"secret": [SECRET, 5]}, "invalid_config", "int"),
        ({"durability": "paranoid"}, "invalid_config", "paranoid"),
        ({"max_concurrency": 0}, "invalid_config", "max_concurrency"),
        ({"default_retry": "often"}, "invalid_config", "often"),
        ({"poll_interval": -1}, "invalid_config", "-1"),
        ({"clock": "now"}, "invalid_config", "ManualClock"),
        ({"signing_key": "whsk_nope"}, "invalid_secret", "signing_key"),
    ]
    for kwargs, code, text in cases:
        with pytest.raises(ConfigError) as e:
            timehook.Scheduler.open(":memory:", allow_private_targets=True, **kwargs)
        assert isinstance(e.value, ValueError)
        assert e.value.code == code, (kwargs, str(e.value))
        if code == "invalid_secret":
            assert text not in str(e.value) or text == "signing_key"
        else:
            assert text in str(e.value), (kwargs, str(e.value))


def test_a_store_that_cannot_be_opened(tmp_path):
    with pytest.raises(timehook.StoreError) as e:
        timehook.Scheduler.open(tmp_path / "missing-dir" / "jobs.db", allow_private_targets=True)
    assert e.value.code == "store_error" and "missing-dir" in str(e.value)


def test_a_closed_scheduler_refuses_calls():
    s = timehook.Scheduler.open(":memory:", allow_private_targets=True, autostart=False)
    s.close()
    s.close()  # harmless
    assert s.closed and "closed" in repr(s)
    with pytest.raises(ClosedError) as e:
        s.schedule(URL)
    assert e.value.code == "closed"
    with pytest.raises(ClosedError):
        s.start()


def test_every_code_maps_to_a_documented_class():
    expected = {
        "invalid_job",
        "payload_too_large",
        "invalid_cron",
        "invalid_timezone",
        "invalid_secret",
        "not_found",
        "invalid_state",
        "invalid_config",
        "store_error",
        "closed",
        "missing_header",
        "invalid_header",
        "timestamp_too_old",
        "timestamp_too_new",
        "no_matching_signature",
    }
    assert expected <= timehook.errors.CODES
    assert timehook.errors.VERIFICATION_CODES <= timehook.errors.CODES
