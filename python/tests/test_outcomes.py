"""Outcomes: per-job callbacks, subscriptions, listeners, dead letters, endpoint health, flow
control, send_test and exports; against real receivers on 127.0.0.1 and a manual clock."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import queue
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support import SECRET, T0, WAIT, Receiver

import timehook
from timehook import EndpointLimit, Event, EventType, JobState, OutcomeStatus, RetryPolicy
from timehook.testing import ManualClock


def iso(dt: datetime) -> str:
    """The wire form of an instant: RFC 3339, milliseconds, Z."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def open_manual(path: str, clock: ManualClock, **options) -> timehook.Scheduler:
    return timehook.Scheduler.open(
        path,
        allow_private_targets=True,
        secret=SECRET,
        clock=clock,
        autostart=False,
        durability="normal",
        **options,
    )


def by_path(requests, path: str) -> list:
    return [r for r in requests if r.path == path]


def test_the_outcome_api_is_the_same_for_both_schedulers():
    assert {e.value for e in EventType} == set(timehook._native.LISTENER_EVENTS)
    assert EventType.JOB_FAILED == "job.failed" and str(EventType.ATTEMPT) == "attempt"
    assert OutcomeStatus.TIMEOUT == "timeout"
    for name in (
        "subscribe",
        "unsubscribe",
        "subscriptions",
        "endpoints",
        "enable_endpoint",
        "retry_failed",
        "purge",
        "send_test",
        "export_attempts",
        "add_listener",
        "on",
        "remove_listener",
    ):
        assert callable(getattr(timehook.Scheduler, name))
        assert callable(getattr(timehook.AsyncScheduler, name))


# --- per-job callbacks -------------------------------------------------------------------------


def test_callbacks_report_success_and_failure_signed_with_the_documented_fields(
    manual, receiver, clock
):
    ok = manual.schedule(
        receiver.url("/ok"),
        name="welcome",
        on_success_url=receiver.url("/cb/success"),
        on_failure_url=receiver.url("/cb/failure"),
    )
    receiver.answer("/flaky", 500, 200)
    flaky = manual.schedule(
        receiver.url("/flaky"),
        retry=RetryPolicy.fixed([30]),
        on_success_url=receiver.url("/cb/success"),
        on_failure_url=receiver.url("/cb/failure"),
    )
    assert manual.run_due() == 4, "two jobs, then their two callbacks"
    seen = receiver.drain()
    [success] = by_path(seen, "/cb/success")
    [failure] = by_path(seen, "/cb/failure")
    for cb in (success, failure):
        manual.verifier().verify(cb.body, cb.headers, now=clock.now())
        timehook.Verifier(SECRET).verify(cb.body, cb.header_dict, now=clock.now())

    body = success.json()
    assert set(body) >= {
        "job_id",
        "job_name",
        "execution_id",
        "status",
        "executed_at",
        "response_code",
        "response_time_ms",
        "response_body",
        "error_message",
        "retry_attempt",
        "next_retry_at",
    }
    job = manual.get(ok)
    assert (job.on_success_url, job.on_failure_url) == (
        receiver.url("/cb/success"),
        receiver.url("/cb/failure"),
    )
    assert body["job_id"] == ok and body["job_name"] == "welcome"
    assert body["execution_id"] == job.execution_id
    assert (body["status"], body["response_code"], body["response_body"]) == ("success", 200, "ok")
    assert (body["retry_attempt"], body["next_retry_at"], body["error_message"]) == (0, None, None)
    assert body["executed_at"] == iso(T0)
    assert isinstance(body["response_time_ms"], int)

    body = failure.json()
    assert (body["job_id"], body["job_name"], body["status"]) == (flaky, None, "failure")
    assert (body["response_code"], body["retry_attempt"]) == (500, 0)
    assert body["next_retry_at"] == iso(T0 + timedelta(seconds=30))

    clock.advance(30)
    assert manual.run_due() == 2, "the retry, then its success callback"
    [again] = by_path(receiver.drain(), "/cb/success")
    assert (again.json()["job_id"], again.json()["retry_attempt"]) == (flaky, 1)
    # Callbacks are deliveries of their own, kept out of the job listing.
    assert sorted(j.id for j in manual.list()) == sorted([ok, flaky])


def test_callback_urls_go_through_schedule_many_and_cron(manual, receiver):
    [once] = manual.schedule_many(
        [{"url": receiver.url("/a"), "on_failure_url": receiver.url("/cb")}]
    )
    cron = manual.cron(receiver.url("/c"), "@hourly", on_success_url=receiver.url("/cb"))
    assert (manual.get(once).on_success_url, manual.get(once).on_failure_url) == (
        None,
        receiver.url("/cb"),
    )
    assert manual.get(cron).on_success_url == receiver.url("/cb")
    with pytest.raises(timehook.InvalidJobError) as e:
        manual.schedule(receiver.url("/a"), on_success_url=42)  # type: ignore[arg-type]
    assert e.value.field == "on_success_url"
    with pytest.raises(timehook.InvalidJobError):
        manual.schedule(receiver.url("/a"), on_failure_url="ftp://example.com/cb")
    assert len(manual.list()) == 2


# --- subscriptions -----------------------------------------------------------------------------


def test_subscriptions_get_standard_webhooks_events_and_persist_in_the_file(db, clock, receiver):
    with open_manual(db, clock, environment="staging") as s:
        sub = s.subscribe(receiver.url("/events"), ["job.completed", EventType.JOB_FAILED])
        assert sub.id.startswith("sub_") and sub.url == receiver.url("/events")
        assert sub.events == (EventType.JOB_COMPLETED, EventType.JOB_FAILED)
        assert sub.created_at == T0
        done = s.schedule(receiver.url("/ok"), name="n")
        receiver.answer("/gone", 404)
        failed = s.schedule(receiver.url("/gone"))
        assert s.run_due() == 4, "two jobs, two events"
        events = by_path(receiver.drain(), "/events")
        for e in events:
            s.verifier().verify(e.body, e.headers, now=clock.now())
        bodies = {e.json()["type"]: e.json() for e in events}
        assert set(bodies) == {"job.completed", "job.failed"}
        assert bodies["job.completed"]["data"]["job_id"] == done
        assert bodies["job.completed"]["data"]["status"] == "success"
        assert bodies["job.completed"]["data"]["environment"] == "staging"
        assert bodies["job.failed"]["data"]["job_id"] == failed
        assert bodies["job.failed"]["data"]["response_code"] == 404
        assert set(bodies["job.failed"]) == {"type", "timestamp", "data"}

    with open_manual(db, clock) as s:
        assert s.subscriptions() == [sub]
        other = s.subscribe(receiver.url("/more"), "endpoint.disabled")
        assert [x.id for x in s.subscriptions()] == [sub.id, other.id]
        s.unsubscribe(sub.id)
        assert s.subscriptions() == [other]
        with pytest.raises(timehook.NotFoundError):
            s.unsubscribe(sub.id)
        with pytest.raises(timehook.InvalidJobError, match=r"job\.done"):
            s.subscribe(receiver.url("/e"), ["job.completed", "job.done"])
        assert s.subscriptions() == [other], "a bad subscription stores nothing"
        s.schedule(receiver.url("/ok"))
        assert s.run_due() == 1, "no event for an unsubscribed type"


# --- listeners ---------------------------------------------------------------------------------


def test_listeners_get_typed_events_of_their_kinds(manual, receiver):
    completed: queue.Queue[Event] = queue.Queue()
    everything: queue.Queue[Event] = queue.Queue()
    one = manual.on("job.completed", completed.put)
    every = manual.add_listener(everything.put)
    assert one.events == (EventType.JOB_COMPLETED,) and every.events == ()
    assert one.active and one.function == completed.put

    job_id = manual.schedule(receiver.url("/ok"), name="typed")
    assert manual.run_due() == 1
    e = completed.get(timeout=WAIT)
    assert e.type is EventType.JOB_COMPLETED and e.type == "job.completed"
    assert e.outcome is not None and e.attempt is None and e.endpoint is None
    assert (e.outcome.job_id, e.outcome.job_name) == (job_id, "typed")
    assert e.outcome.status is OutcomeStatus.SUCCESS and e.outcome.succeeded
    assert (e.outcome.response_code, e.outcome.executed_at) == (200, T0)
    assert e.outcome.executed_at.tzinfo is not None
    kinds = {everything.get(timeout=WAIT).type for _ in range(2)}
    assert kinds == {EventType.ATTEMPT, EventType.JOB_COMPLETED}

    one.remove()
    assert not one.active
    one.remove()  # twice is harmless
    receiver.answer("/fail", 500)
    manual.schedule(receiver.url("/fail"), retry="none")
    manual.run_due()
    got = [everything.get(timeout=WAIT) for _ in range(2)]
    attempt = next(x for x in got if x.type is EventType.ATTEMPT)
    assert attempt.attempt is not None and attempt.attempt.status == 500
    assert attempt.job_state is JobState.FAILED
    assert {x.type for x in got} == {EventType.ATTEMPT, EventType.JOB_FAILED}
    assert completed.empty(), "a removed listener is not called"

    with pytest.raises(timehook.ConfigError, match=r"job\.finished"):
        manual.on("job.finished", print)
    with pytest.raises(TypeError):
        manual.add_listener("not callable")  # type: ignore[arg-type]


def test_events_are_the_dataclasses_their_init_would_make(manual, receiver):
    # Events are built without their dataclasses' __init__ (it is slow): each must hold every
    # field, and equal, hash and show as the instance __init__ makes from the same values.
    got: queue.Queue[Event] = queue.Queue()
    manual.add_listener(got.put)
    manual.schedule(receiver.url("/ok"), name="built")
    receiver.answer("/fail", 500)
    manual.schedule(receiver.url("/fail"), retry="none")
    assert manual.run_due() == 2
    events = [got.get(timeout=WAIT) for _ in range(4)]
    parts = [e for e in events] + [x for e in events for x in (e.attempt, e.outcome) if x]
    assert {type(x).__name__ for x in parts} == {"Event", "Attempt", "Outcome"}
    for x in parts:
        names = [f.name for f in dataclasses.fields(x)]
        assert sorted(vars(x)) == sorted(names), type(x)
        again = type(x)(**{n: getattr(x, n) for n in names})
        assert x == again and hash(x) == hash(again) and repr(x) == repr(again)
        with pytest.raises(dataclasses.FrozenInstanceError):
            x.job_state = None  # type: ignore[misc, union-attr]


def test_a_burst_reaches_every_listener_once_and_a_removed_one_is_not_called_again(
    manual, receiver
):
    # The listener thread calls its function for the events waiting together under one GIL
    # acquisition: each still comes once, and a removed listener gets none of the rest.
    n = 300
    every: queue.Queue[str] = queue.Queue()
    manual.on("attempt", lambda e: every.put(e.attempt.job_id))
    calls: list[Event] = []
    tenth = threading.Event()

    def ten(event: Event) -> None:
        calls.append(event)
        if len(calls) == 10:
            handle.remove()
            tenth.set()

    handle = manual.on("attempt", ten)
    ids = manual.schedule_many([{"url": receiver.url(f"/b/{i}")} for i in range(n)])
    assert manual.run_due() == n
    got = [every.get(timeout=WAIT) for _ in range(n)]
    assert sorted(got) == sorted(ids)
    assert tenth.wait(WAIT)
    assert len(calls) == 10 and not handle.active


def test_a_decorated_listener_and_closing_the_scheduler(db, clock, receiver):
    s = open_manual(db, clock)
    seen: queue.Queue[Event] = queue.Queue()

    @s.on(["job.completed", "job.failed"])
    def record(event: Event) -> None:
        seen.put(event)

    assert callable(record)  # the decorator leaves the function as it was
    s.schedule(receiver.url("/ok"))
    s.run_due()
    assert seen.get(timeout=WAIT).type is EventType.JOB_COMPLETED
    assert s.remove_listener(record) == 1
    assert s.remove_listener(record) == 0

    listener = s.on("*", seen.put)
    with s.on("attempt", seen.put) as scoped:
        assert scoped.active
    assert not scoped.active
    s.close()
    assert not listener.active, "closing the scheduler stops its listeners"


def test_a_blocked_listener_never_delays_delivery(manual, receiver):
    entered, release = threading.Event(), threading.Event()
    seen: queue.Queue[str] = queue.Queue()

    def stuck(event: Event) -> None:
        entered.set()
        release.wait(WAIT)
        assert event.outcome is not None
        seen.put(event.outcome.job_id)

    manual.on("job.completed", stuck)
    first = manual.schedule(receiver.url("/one"))
    assert manual.run_due() == 1
    assert entered.wait(WAIT), "the listener got the first event and now blocks"
    # While it blocks, delivery goes on: another job is sent and recorded.
    second = manual.schedule(receiver.url("/two"))
    assert manual.run_due() == 1
    assert manual.get(second).state is JobState.SUCCEEDED
    assert [r.path for r in receiver.drain()] == ["/one", "/two"]
    assert seen.empty() and not release.is_set(), "the listener is still blocked"
    release.set()
    assert [seen.get(timeout=WAIT), seen.get(timeout=WAIT)] == [first, second]


def test_an_exception_in_a_listener_is_reported_and_later_events_arrive(
    manual, receiver, monkeypatch
):
    reported: queue.Queue = queue.Queue()
    monkeypatch.setattr(sys, "unraisablehook", reported.put)
    calls: queue.Queue[Event] = queue.Queue()
    count = iter(range(1, 100))

    def buggy(event: Event) -> None:
        calls.put(event)
        if next(count) == 1:
            raise RuntimeError("listener bug")

    manual.on("job.completed", buggy)
    for path in ("/a", "/b"):
        manual.schedule(receiver.url(path))
        manual.run_due()
    assert calls.get(timeout=WAIT) and calls.get(timeout=WAIT), "called again after raising"
    hook = reported.get(timeout=WAIT)
    assert isinstance(hook.exc_value, RuntimeError) and str(hook.exc_value) == "listener bug"
    assert "buggy" in repr(hook.object)
    assert reported.empty()


# --- dead letters ------------------------------------------------------------------------------


def test_dead_letters_are_listed_retried_in_a_window_and_purged(manual, receiver, clock):
    receiver.answer("/down", 503)
    early = manual.schedule(receiver.url("/down"), name="early", retry="none", labels=["x"])
    manual.run_due()
    clock.advance(timedelta(hours=1))
    late = manual.schedule(receiver.url("/down"), name="late", retry="none")
    manual.run_due()
    assert {j.id for j in manual.list(state="failed")} == {early, late}

    # Only what failed in the last half hour.
    assert manual.retry_failed(since=clock.now() - timedelta(minutes=30)) == 1
    assert manual.get(late).state is JobState.SCHEDULED
    assert manual.get(early).state is JobState.FAILED
    assert manual.run_due() == 1 and manual.get(late).state is JobState.FAILED

    assert manual.retry_failed(T0, T0 + timedelta(minutes=1), name="late") == 0
    assert manual.retry_failed(until=T0 + timedelta(minutes=1), label="x") == 1
    assert manual.get(early).state is JobState.SCHEDULED
    manual.run_due()
    manual.retry(early)  # one by id
    assert manual.get(early).state is JobState.SCHEDULED
    manual.run_due()

    with pytest.raises(timehook.InvalidJobError, match="naive"):
        manual.retry_failed(since=datetime(2030, 1, 1))
    with pytest.raises(timehook.InvalidJobError) as e:
        manual.purge(since=T0 + timedelta(hours=2), until=T0)
    assert e.value.field == "until"
    assert manual.purge(job=early) == 1
    with pytest.raises(timehook.NotFoundError):
        manual.get(early)
    assert manual.purge() == 1
    assert manual.list(state="failed") == []


# --- endpoint health ---------------------------------------------------------------------------


def test_an_endpoint_failing_for_five_days_is_disabled_its_jobs_held_then_resumed(
    db, clock, receiver
):
    events = Receiver()
    other = Receiver()
    try:
        with open_manual(db, clock) as s:
            s.subscribe(events.url("/events"), ["endpoint.disabled"])
            disabled: queue.Queue[Event] = queue.Queue()
            s.on(EventType.ENDPOINT_DISABLED, disabled.put)
            receiver.answer("/down", 503)
            ids = []
            # One failing job every 12 hours: the default needs 5 days and 10 failures.
            for _ in range(12):
                ids.append(s.schedule(receiver.url("/down"), retry="none"))
                s.run_due()
                clock.advance(timedelta(hours=12))
            [ep] = s.endpoints()
            assert ep.origin == receiver.base and ep.disabled
            # Failures at T0, T0+12h, ..., the 11th at T0+5d reaches both thresholds.
            assert (ep.disabled_at, ep.failing_since, ep.failures) == (
                T0 + timedelta(days=5),
                T0,
                11,
            )
            event = disabled.get(timeout=WAIT)
            assert event.type is EventType.ENDPOINT_DISABLED and event.endpoint == ep
            [delivered] = events.drain()
            assert delivered.json()["type"] == "endpoint.disabled"
            assert delivered.json()["data"]["origin"] == ep.origin

            # The 12th job is held, not dropped; other endpoints are not held up.
            assert s.get(ids[-1]).state is JobState.SCHEDULED
            receiver.answer("/down", 200)
            s.schedule(other.url("/ok"))
            s.schedule(receiver.url("/ok"))
            receiver.drain()
            assert s.run_due() == 1, "only the healthy endpoint is delivered to"
            assert [r.path for r in other.drain()] == ["/ok"]
            receiver.assert_silent()

            s.enable_endpoint(ep)
            assert s.run_due() == 2, "held jobs go out once enabled"
            assert s.get(ids[-1]).state is JobState.SUCCEEDED
            assert s.endpoints() == []
            with pytest.raises(timehook.InvalidStateError):
                s.enable_endpoint(receiver.base)
    finally:
        events.close()
        other.close()


def test_disable_thresholds_and_410_are_configurable(tmp_path, clock, receiver):
    receiver.answer("/down", 500)
    with open_manual(
        str(tmp_path / "a.db"),
        clock,
        disable_endpoints_after=timedelta(hours=1),
        disable_endpoints_min_failures=2,
    ) as s:
        s.schedule(receiver.url("/down"), retry="none")
        s.run_due()
        clock.advance(3600)
        s.schedule(receiver.url("/down"), retry="none")
        s.run_due()
        [ep] = s.endpoints()
        assert ep.failures == 2 and ep.disabled_at == clock.now()

    receiver.answer("/gone", 410)
    with open_manual(str(tmp_path / "b.db"), clock, disable_endpoint_on_gone=True) as s:
        s.schedule(receiver.url("/gone"))
        s.run_due()
        [ep] = s.endpoints()
        assert ep.disabled and ep.failures == 1
        s.enable_endpoint(receiver.url("/any/path"))  # any URL on the endpoint
        assert s.endpoints() == [], "enabled and no longer failing"
    with open_manual(str(tmp_path / "c.db"), clock) as s:
        s.schedule(receiver.url("/gone"))
        s.run_due()
        assert not s.endpoints()[0].disabled, "off by default"


# --- flow control ------------------------------------------------------------------------------


def test_max_in_flight_per_endpoint_is_respected_while_others_are_not_slowed(db, clock):
    busy, other = Receiver(), Receiver()
    try:
        busy.slow("/slow", 0.05)
        other.slow("/slow", 0.05)
        with open_manual(
            db, clock, max_concurrency=32, endpoint_limits={busy.base: EndpointLimit(2)}
        ) as s:
            s.schedule_many([{"url": busy.url("/slow")} for _ in range(12)])
            s.schedule_many([{"url": other.url("/slow")} for _ in range(12)])
            assert s.run_due() == 24
        assert busy.max_in_flight == 2, busy.max_in_flight
        assert other.max_in_flight > 2, "the unlimited endpoint is served concurrently"
    finally:
        busy.close()
        other.close()


def test_a_rate_per_endpoint_follows_the_clock(db, clock):
    """As core's burst test: without the clock moving, the limited endpoint gets its one-second
    burst; each second on the manual clock lets the next five through."""
    busy, other = Receiver(), Receiver()
    try:
        limits = {busy.url("/any"): EndpointLimit(max_in_flight=2, per_second=5)}
        with open_manual(db, clock, endpoint_limits=limits) as s:
            s.schedule_many([{"url": busy.url("/b")} for _ in range(20)])
            s.schedule_many([{"url": other.url("/o")} for _ in range(10)])
            assert s.run_due() == 5 + 10
            assert (len(busy.drain()), len(other.drain())) == (5, 10)
            assert s.run_due() == 0, "no token left until the clock moves"
            for _ in range(3):
                clock.advance(1)
                assert s.run_due() == 5
                assert len(busy.drain()) == 5
            assert busy.max_in_flight <= 2
        # per_host_rate applies to every endpoint without a limit of its own.
        with open_manual(db, clock, per_host_rate=3) as s:
            s.schedule_many([{"url": other.url("/o")} for _ in range(4)])
            assert s.run_due() == 3
            clock.advance(1)
            assert s.run_due() == 1
    finally:
        busy.close()
        other.close()


@pytest.mark.parametrize(
    ("options", "detail", "message"),
    [
        # Checked by the core when the store opens: the message says what, not which option.
        ({"per_host_rate": -1}, None, "rate per second must be positive"),
        ({"endpoint_limits": {"http://h:1": EndpointLimit(2, 0)}}, None, "must be positive"),
        ({"endpoint_limits": {"http://h:1": EndpointLimit(0)}}, None, "at least 1"),
        ({"per_host_rate": "fast"}, "per_host_rate", "'fast'"),
        ({"endpoint_limits": {"not a url": EndpointLimit(2)}}, "endpoint_limits", "not a url"),
        ({"endpoint_limits": {"http://h:1": 3}}, "endpoint_limits", "EndpointLimit, got int"),
        ({"endpoint_limits": [("http://h:1", EndpointLimit(2))]}, "endpoint_limits", "mapping"),
        ({"disable_endpoints_min_failures": -1}, "disable_endpoints_min_failures", "-1"),
        ({"disable_endpoints_after": "5 days"}, "disable_endpoints_after", "5 days"),
        ({"environment": 7}, "environment", "expected str"),
        ({"max_interrupted_attempts": 0}, "max_interrupted_attempts", "at least 1"),
        ({"max_interrupted_attempts": -2}, "max_interrupted_attempts", "-2"),
    ],
)
def test_bad_outcome_options_are_config_errors(options, detail, message):
    with pytest.raises(timehook.ConfigError, match=message) as e:
        timehook.Scheduler.open(":memory:", allow_private_targets=True, autostart=False, **options)
    assert e.value.detail == detail


# --- send_test ---------------------------------------------------------------------------------


def test_send_test_delivers_a_signed_sample_now(clock, receiver):
    with timehook.Scheduler.open(
        ":memory:",
        allow_private_targets=True,
        secret=SECRET,
        clock=clock,
        autostart=False,
        environment="prod",
    ) as s:
        attempt = s.send_test(receiver.url("/probe"), EventType.JOB_FAILED)
        assert attempt.status == 200 and attempt.succeeded and attempt.started_at == T0
        req = receiver.next()
        s.verifier().verify(req.body, req.headers, now=clock.now())
        body = req.json()
        assert (body["type"], body["data"]["environment"]) == ("job.failed", "prod")
        assert s.send_test(receiver.url("/probe")).status == 200
        assert receiver.next().json()["type"] == "job.completed"
        receiver.answer("/down", 500)
        assert s.send_test(receiver.url("/down")).status == 500
        with pytest.raises(timehook.InvalidJobError, match=r"job\.later"):
            s.send_test(receiver.url("/probe"), "job.later")


# --- export ------------------------------------------------------------------------------------


@pytest.fixture
def logged(manual, receiver, clock):
    """Five attempts: three succeeded at T0, two failed (404) an hour later."""
    ok = manual.schedule_many([{"url": receiver.url("/ok"), "name": f"ok{i}"} for i in range(3)])
    manual.run_due()
    clock.advance(timedelta(hours=1))
    receiver.answer("/missing", 404)
    failed = manual.schedule_many([{"url": receiver.url("/missing")} for _ in range(2)])
    manual.run_due()
    return manual, ok, failed


def test_export_csv_and_jsonl_to_a_path(logged, tmp_path: Path):
    s, ok, failed = logged
    path = tmp_path / "attempts.csv"
    assert s.export_attempts(path) == 5
    rows = list(csv.DictReader(path.open(newline="")))
    assert len(rows) == 5
    assert path.read_text().startswith("started_at,job_id,")
    assert sorted(r["job_id"] for r in rows) == sorted(ok + failed)
    assert s.export_attempts(str(path), state="failed") == 2
    assert {r["status"] for r in csv.DictReader(path.open(newline=""))} == {"404"}

    lines_path = tmp_path / "attempts.jsonl"
    assert s.export_attempts(lines_path, format="jsonl", job=ok[1]) == 1
    [line] = [json.loads(x) for x in lines_path.read_text().splitlines()]
    assert line["job_id"] == ok[1] and line["job_name"] == "ok1"
    window = {"since": T0 + timedelta(minutes=30), "until": T0 + timedelta(hours=2)}
    assert s.export_attempts(lines_path, format="jsonl", **window) == 2
    assert s.export_attempts(lines_path, format="jsonl", until=T0 + timedelta(minutes=1)) == 3
    assert s.export_attempts(lines_path, format="jsonl", state=JobState.CANCELLED) == 0
    assert lines_path.read_bytes() == b""


def test_export_to_a_file_object_streams_the_same_rows(logged, tmp_path: Path):
    s, ok, _ = logged
    buf = io.BytesIO()
    assert s.export_attempts(buf, format="csv") == 5
    s.export_attempts(tmp_path / "a.csv")
    assert buf.getvalue() == (tmp_path / "a.csv").read_bytes()

    with (tmp_path / "b.jsonl").open("wb") as f:
        assert s.export_attempts(f, format="jsonl", state="succeeded") == 3
    lines = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert sorted(x["job_id"] for x in lines) == sorted(ok)

    with (tmp_path / "c.csv").open("wb", buffering=0) as raw:
        assert s.export_attempts(raw) == 5
    assert (tmp_path / "c.csv").read_bytes() == buf.getvalue()

    with pytest.raises(TypeError, match="binary"):
        s.export_attempts(io.StringIO())
    with pytest.raises(TypeError):
        s.export_attempts(42)  # type: ignore[arg-type]
    with pytest.raises(timehook.ConfigError, match="xml"):
        s.export_attempts(io.BytesIO(), format="xml")  # type: ignore[arg-type]
    with pytest.raises(timehook.InvalidJobError):
        s.export_attempts(io.BytesIO(), state="lost")
    with pytest.raises(timehook.InvalidJobError, match="naive"):
        s.export_attempts(io.BytesIO(), since=datetime(2030, 1, 1))
