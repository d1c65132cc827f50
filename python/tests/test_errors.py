"""Bad input raises the right exception, with a message naming the field and the value, and
stores nothing."""

from __future__ import annotations

import asyncio
import functools
import io
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from support import SECRET

import timehook
from timehook import (
    ArgumentTypeError,
    ClosedError,
    ConfigError,
    InvalidJobError,
    InvalidStateError,
    NotFoundError,
    RetryPolicy,
    StoreError,
    TimehookError,
)
from timehook.signing import Signer
from timehook.testing import ManualClock

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
        # Refused by the engine rather than in reading the dict: located the same way.
        jobs[3] = {"url": "mailto:someone@example.com"}
        with pytest.raises(InvalidJobError) as e:
            s.schedule_many(jobs)
        assert str(e.value).startswith("job 3: ") and "mailto:someone@example.com" in str(e.value)
        assert e.value.field == "url"
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


def raised(call) -> TimehookError:
    """The error ``call()`` raises, which must be a TimehookError."""
    with pytest.raises(Exception) as e:
        call()
    assert isinstance(e.value, TimehookError), f"{type(e.value).__name__}: {e.value}"
    return e.value


def test_bad_arguments_outside_jobs_are_config_errors_that_stay_value_errors():
    v = timehook.Verifier(SECRET)
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    naive = datetime(2030, 1, 1)
    cases = [
        (lambda: timehook.Verifier(SECRET, tolerance=-5), "tolerance", "-5"),
        (lambda: timehook.Verifier(SECRET, tolerance="soon"), "tolerance", "'soon'"),
        (lambda: v.verify(b"{}", {}, now=naive), "now", "naive"),
        (lambda: ManualClock(naive), "start", "naive"),
        (lambda: clock.set("tomorrow"), "to", "'tomorrow'"),
        (lambda: clock.advance(-1), "by", "-1"),
    ]
    for call, field, text in cases:
        err = raised(call)
        assert isinstance(err, ConfigError) and isinstance(err, ValueError), repr(err)
        assert not isinstance(err, TypeError), repr(err)
        assert (err.code, err.field, err.detail) == ("invalid_config", field, field), str(err)
        assert str(err).startswith(f"{field}: ") and text in str(err), str(err)
    with timehook.Scheduler.open(":memory:", autostart=False) as s:
        err = raised(lambda: s.close(grace=-1))
        assert isinstance(err, ConfigError) and err.field == "grace" and "-1" in str(err)


def test_arguments_of_the_wrong_type_are_type_errors_too():
    v = timehook.Verifier(SECRET)
    cases = [
        (lambda: v.verify({"event": "x"}, {}), "invalid_config", "body", "dict"),
        (lambda: v.verify(b"{}", 42), "invalid_config", "headers", "int"),
        (lambda: v.verify(b"{}", [42]), "invalid_config", "headers", "int"),
        (lambda: v.verify(b"{}", {"webhook-id": 5}), "invalid_config", "headers", "webhook-id"),
        (lambda: timehook.Verifier(42), "invalid_config", "secret", "int"),
        (lambda: timehook.Verifier([SECRET, 5]), "invalid_config", "secret", "int"),
        (lambda: Signer(42), "invalid_config", "keys", "int"),
        (lambda: Signer(SECRET).sign("msg_1", 1, {"a": 1}), "invalid_config", "body", "dict"),
        (lambda: Signer(SECRET).sign(5, 1, b""), "invalid_config", "msg_id", "int"),
        (lambda: Signer(SECRET).sign("msg_1", "now", b""), "invalid_config", "timestamp", "str"),
        (lambda: Signer(SECRET).headers("msg_1", True, b""), "invalid_config", "timestamp", "bool"),
        (lambda: timehook.Scheme.hex_body(5), "invalid_scheme", "header", "int"),
        (
            lambda: timehook.Scheme.hex_body("X-Sig", prefix="yes"),
            "invalid_scheme",
            "prefix",
            "str",
        ),
        (
            lambda: timehook.Scheme.timestamped_hex("X-Sig", timestamp_header=1),
            "invalid_scheme",
            "timestamp_header",
            "int",
        ),
        (lambda: timehook.signing.public_key(5), "invalid_config", "signing_key", "int"),
        (lambda: timehook.signing.normalize_secret(None), "invalid_config", "secret", "NoneType"),
        (lambda: timehook.signing.normalize_public_key(b"x"), "invalid_config", "key", "bytes"),
        (lambda: timehook.Verifier(SECRET, scheme=42), "invalid_scheme", "scheme", "int"),
        (lambda: timehook.Scheduler.open(42), "invalid_config", "path", "int"),
    ]
    with timehook.Scheduler.open(":memory:", autostart=False) as s:
        cases += [
            (lambda: s.add_listener("not callable"), "invalid_config", "fn", "str"),
            (lambda: s.on(5, print), "invalid_config", "events", "int"),
            (lambda: s.export_attempts(io.StringIO()), "invalid_config", "dest", "binary"),
            (lambda: s.export_attempts(42), "invalid_config", "dest", "int"),
        ]
        for call, code, field, text in cases:
            err = raised(call)
            assert isinstance(err, ArgumentTypeError) and isinstance(err, ConfigError), repr(err)
            assert isinstance(err, TypeError) and isinstance(err, ValueError), repr(err)
            assert (err.code, err.field) == (code, field), str(err)
            assert str(err).startswith(f"{field}: ") and text in str(err), str(err)


def test_ids_of_the_wrong_type_are_job_errors_naming_the_argument():
    with timehook.Scheduler.open(":memory:", autostart=False) as s:
        job_id = s.schedule("https://example.com/hook", after=60)
        cases = [
            (lambda: s.get(7), "job_id"),
            (lambda: s.cancel(None), "job_id"),
            (lambda: s.attempts(b"job"), "job_id"),
            (lambda: s.attempts_page(job_id, after=5), "after"),
            (lambda: s.pause(1.5), "job_id"),
            (lambda: s.unsubscribe(3), "subscription_id"),
            (lambda: s.enable_endpoint(3), "endpoint"),
        ]
        for call, field in cases:
            err = raised(call)
            assert isinstance(err, InvalidJobError), repr(err)
            assert (err.code, err.field) == ("invalid_job", field), str(err)


def test_the_async_scheduler_refuses_a_bad_path_with_a_timehook_error():
    async def main():
        await timehook.AsyncScheduler.open(42)  # type: ignore[arg-type]

    err = raised(lambda: asyncio.run(main()))
    assert isinstance(err, ArgumentTypeError) and err.field == "path"


def test_bad_retry_policies_and_event_lists_are_job_errors():
    with timehook.Scheduler.open(":memory:", autostart=False) as s:
        cases = [
            (lambda: RetryPolicy.exponential("soon"), "'soon'"),  # type: ignore[arg-type]
            (lambda: RetryPolicy.exponential(max_delay=None), "None"),  # type: ignore[arg-type]
            (lambda: RetryPolicy.fixed(5), "int"),  # type: ignore[arg-type]
            (lambda: RetryPolicy.fixed([1, "x"]), "'x'"),  # type: ignore[list-item]
            (lambda: s.schedule(URL, retry=RetryPolicy(delays=5)), "int"),  # type: ignore[arg-type]
        ]
        for call, text in cases:
            err = raised(call)
            assert isinstance(err, InvalidJobError) and isinstance(err, ValueError), repr(err)
            assert (err.code, err.field) == ("invalid_job", "retry") and text in str(err), str(err)
        err = raised(lambda: s.subscribe(URL, 5))  # type: ignore[arg-type]
        assert isinstance(err, InvalidJobError) and err.field == "events", str(err)
        assert s.list() == [] and s.subscriptions() == []


def test_a_bad_time_zone_names_tz_and_a_bad_expression_names_cron():
    with timehook.Scheduler.open(":memory:", autostart=False) as s:
        for call in (
            lambda: s.cron(URL, "0 * * * *", tz="Mars/Olympus_Mons"),
            lambda: s.schedule_many([{"url": URL, "cron": "0 * * * *", "tz": "Mars/Olympus_Mons"}]),
        ):
            err = raised(call)
            assert isinstance(err, InvalidJobError), repr(err)
            assert (err.code, err.field) == ("invalid_timezone", "tz"), str(err)
            assert "Mars/Olympus_Mons" in str(err)
        err = raised(lambda: s.cron(URL, "61 * * * *"))
        assert (err.code, err.field) == ("invalid_cron", "cron"), str(err)
        assert s.list() == []


@pytest.mark.parametrize("field", ["on_failure_url", "on_success_url"])
@pytest.mark.parametrize(
    "url, code, text",
    [
        ("ftp://example.com/cb", "invalid_job", "ftp://example.com/cb"),
        ("/cb", "invalid_job", "/cb"),
        (5, "invalid_job", "int"),
        # The SSRF guard stays on: a loopback callback is refused as "blocked".
        ("http://127.0.0.1/cb", "blocked", "127.0.0.1"),
    ],
)
def test_bad_callback_urls_name_their_own_field(field, url, code, text):
    with timehook.Scheduler.open(":memory:", autostart=False) as s:
        for method, args in ((s.schedule, (URL,)), (s.cron, (URL, "0 * * * *"))):
            err = raised(functools.partial(method, *args, **{field: url}))
            assert isinstance(err, InvalidJobError), repr(err)
            assert (err.code, err.field) == (code, field), str(err)
            assert text in str(err), str(err)
        assert s.list() == []


def test_a_file_that_is_not_a_timehook_store_is_named(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    other = tmp_path / "other-app.db"
    other_app_db(other, "CREATE TABLE jobs (id INTEGER PRIMARY KEY, title TEXT)")  # a name we use
    for path in (notes, other):
        err = raised(functools.partial(timehook.Scheduler.open, path, autostart=False))
        assert isinstance(err, StoreError) and err.code == "store_error", repr(err)
        assert str(path) in str(err), str(err)
    assert notes.read_text() == "not a database\n" * 100


def other_app_db(path, sql: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def test_a_sqlite_file_of_another_application_is_refused_and_left_alone(tmp_path):
    other = tmp_path / "other-app.db"
    other_app_db(other, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    err = None
    try:
        timehook.Scheduler.open(other, autostart=False).close()
    except StoreError as e:
        err = e
    conn = sqlite3.connect(other)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    assert tables == {"users"}, "the other application's file was changed"
    assert journal == "delete", "the other application's journal mode was changed"
    assert err is not None and str(other) in str(err)
    assert "not a timehook store" in str(err), str(err)
