"""Retries, dead letters, cancel, reschedule, cron, idempotency and persistence, driven by a
manual clock: time moves only when the test says so, and ``run_due()`` delivers what is due."""

from __future__ import annotations

import gc
from datetime import timedelta

import pytest
from support import SECRET, T0

import timehook
from timehook import JobState, RetryPolicy


@pytest.fixture
def db(any_db: str) -> str:
    """This module's tests run against SQLite and against PostgreSQL."""
    return any_db


def verify_at(req, clock):
    """Deliveries carry the manual clock's time as webhook-timestamp."""
    timehook.Verifier(SECRET).verify(req.body, req.headers, now=clock.now())


def test_a_failing_delivery_is_retried_with_the_same_webhook_id(manual, clock, receiver):
    receiver.answer("/flaky", 503, 500, 200)
    job_id = manual.schedule(
        receiver.url("/flaky"), payload={"n": 1}, retry=RetryPolicy.fixed([10, 20])
    )
    assert manual.run_due() == 1
    first = receiver.next()
    verify_at(first, clock)
    job = manual.get(job_id)
    assert job.state is JobState.RETRYING
    assert job.next_run_at == T0 + timedelta(seconds=10)

    clock.advance(9)
    assert manual.run_due() == 0  # not due yet
    receiver.assert_silent()
    clock.advance(1)
    assert manual.run_due() == 1
    second = receiver.next()
    clock.advance(timedelta(seconds=20))
    assert manual.run_due() == 1
    third = receiver.next()
    verify_at(third, clock)

    ids = {r.header("webhook-id") for r in (first, second, third)}
    assert ids == {job.execution_id}
    assert len({r.header("webhook-timestamp") for r in (first, second, third)}) == 3
    assert manual.get(job_id).state is JobState.SUCCEEDED
    attempts = manual.attempts(job_id)
    assert [(a.number, a.status, a.succeeded) for a in attempts] == [
        (1, 503, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert attempts[0].error == "status"
    assert attempts[0].next_retry_at == T0 + timedelta(seconds=10)
    assert attempts[2].next_retry_at is None


def test_exhausted_retries_leave_a_dead_letter_that_retry_requeues(manual, clock, receiver):
    receiver.answer("/down", 500, 500, 200)
    job_id = manual.schedule(receiver.url("/down"), retry=RetryPolicy.fixed([5]))
    manual.run_due()
    clock.advance(5)
    manual.run_due()
    job = manual.get(job_id)
    assert job.state is JobState.FAILED and job.attempts == 2
    assert [j.id for j in manual.list(state=JobState.FAILED)] == [job_id]

    manual.retry(job_id)  # a fresh budget, now
    assert manual.get(job_id).state is JobState.SCHEDULED
    assert manual.run_due() == 1
    assert manual.get(job_id).state is JobState.SUCCEEDED
    ids = {receiver.next().header("webhook-id") for _ in range(3)}
    assert ids == {job.execution_id}


def test_a_4xx_answer_fails_at_once_without_retry(manual, receiver):
    receiver.answer("/gone", 410)
    job_id = manual.schedule(receiver.url("/gone"), retry="svix")
    manual.run_due()
    receiver.next()
    assert manual.get(job_id).state is JobState.FAILED
    with pytest.raises(timehook.InvalidStateError) as e:
        manual.reschedule(job_id, T0 + timedelta(hours=1))
    assert e.value.code == "invalid_state"
    assert job_id in str(e.value) and "failed" in str(e.value)


def test_cancel_stops_a_pending_job(manual, clock, receiver):
    job_id = manual.schedule(receiver.url("/never"), after=60)
    manual.cancel(job_id)
    manual.cancel(job_id)  # idempotent
    clock.advance(3600)
    assert manual.run_due() == 0
    receiver.assert_silent()
    job = manual.get(job_id)
    assert job.state is JobState.CANCELLED and job.state.is_final


def test_reschedule_and_trigger(manual, clock, receiver):
    job_id = manual.schedule(receiver.url("/moved"), after=60)
    manual.reschedule(job_id, T0 + timedelta(hours=2))
    assert manual.get(job_id).next_run_at == T0 + timedelta(hours=2)
    clock.advance(61)
    assert manual.run_due() == 0
    exec_id = manual.trigger(job_id)
    assert manual.run_due() == 1
    assert receiver.next().header("webhook-id") == exec_id


def test_cron_occurrences_pause_and_resume(manual, clock, receiver):
    job_id = manual.cron(receiver.url("/report"), "*/5 * * * *", tz="Europe/Berlin", name="report")
    job = manual.get(job_id)
    assert (job.kind, job.cron, job.tz, job.missed) == (
        "cron",
        "*/5 * * * *",
        "Europe/Berlin",
        "run_once",
    )
    assert job.next_run_at == T0 + timedelta(minutes=5)
    assert job.retry.max_attempts == 1  # occurrences are not retried by default

    clock.advance(timedelta(minutes=5))
    assert manual.run_due() == 1
    first = receiver.next()
    verify_at(first, clock)
    assert manual.get(job_id).next_run_at == T0 + timedelta(minutes=10)

    manual.pause(job_id)
    assert manual.get(job_id).state is JobState.PAUSED
    clock.advance(timedelta(minutes=10))
    assert manual.run_due() == 0
    manual.resume(job_id)
    clock.advance(timedelta(minutes=5))
    assert manual.run_due() == 1
    second = receiver.next()
    assert first.header("webhook-id") != second.header("webhook-id")
    with pytest.raises(timehook.InvalidStateError):
        manual.pause(manual.schedule(receiver.url("/once"), after=60))


def test_an_idempotency_key_returns_the_existing_job(manual):
    a = manual.schedule("https://example.com/hook", idempotency_key="trial-42", after=60)
    b = manual.schedule("https://example.com/other", idempotency_key="trial-42", after=999)
    assert a == b
    many = manual.schedule_many(
        [
            {"url": "https://example.com/x", "idempotency_key": "trial-42"},
            {"url": "https://example.com/y", "idempotency_key": "k2"},
            {"url": "https://example.com/z", "idempotency_key": "k2"},
        ]
    )
    assert many[0] == a and many[1] == many[2] != a
    assert len(manual.list()) == 2
    job = manual.get(a)
    assert job.url == "https://example.com/hook" and job.idempotency_key == "trial-42"
    assert job.next_run_at == T0 + timedelta(seconds=60)


def test_submit_tells_an_idempotency_hit_from_a_new_job(manual):
    first = manual.submit(
        {"url": "https://example.com/hook", "idempotency_key": "k-9", "after": 60}
    )
    assert first == timehook.Submitted(first.id, False)
    again = manual.submit({"url": "https://example.com/other", "idempotency_key": "k-9"})
    assert again == (first.id, True)
    batch = manual.submit_many(
        [
            {"url": "https://example.com/x", "idempotency_key": "k-9"},
            {"url": "https://example.com/y", "idempotency_key": "k-10"},
            {"url": "https://example.com/z", "idempotency_key": "k-10"},
        ]
    )
    assert [b.existing for b in batch] == [True, False, True]
    assert batch[1].id == batch[2].id
    assert len(manual.list()) == 2


def test_list_leaves_payloads_out_unless_asked(manual):
    job_id = manual.schedule("https://example.com/hook", payload="hello", after=60)
    (plain,) = manual.list()
    assert plain.id == job_id and plain.body == b""
    (full,) = manual.list(with_bodies=True)
    assert full.body == b"hello"
    assert manual.get(job_id).body == b"hello"


def test_attempts_page_through_every_attempt_once(manual, clock, receiver):
    receiver.answer("/paged", 500, 500, 500, 500, 200)
    job_id = manual.schedule(receiver.url("/paged"), retry=RetryPolicy.fixed([1, 1, 1, 1]))
    for _ in range(5):
        assert manual.run_due() == 1
        clock.advance(2)
    paged, after = [], None
    while True:
        page = manual.attempts_page(job_id, after=after, limit=2)
        assert len(page) <= 2
        if not page:
            break
        paged += page
        after = page[-1].cursor
    assert [a.number for a in paged] == [1, 2, 3, 4, 5]
    assert [a.status for a in paged] == [500, 500, 500, 500, 200]
    assert paged == manual.attempts(job_id)
    with pytest.raises(timehook.InvalidJobError) as bad:
        manual.attempts_page(job_id, after="nope")
    assert bad.value.field == "after"
    with pytest.raises(timehook.InvalidJobError) as bad:
        manual.attempts_page(job_id, limit=0)
    assert bad.value.field == "limit"


def test_jobs_survive_reopening_the_file(db, clock, receiver):
    with timehook.Scheduler.open(
        db, allow_private_targets=True, secret=SECRET, clock=clock, autostart=False
    ) as s:
        later = s.schedule(
            receiver.url("/after-restart"),
            after=120,
            name="persisted",
            payload={"k": "v"},
            retry="single",
            labels=["a", "b"],
        )
        cron = s.cron(receiver.url("/cron"), "0 * * * *", missed="catch_up:3")
    assert s.closed
    with pytest.raises(timehook.ClosedError):
        s.get(later)

    with timehook.Scheduler.open(
        db, allow_private_targets=True, secret=SECRET, clock=clock, autostart=False
    ) as s:
        job = s.get(later)
        assert (job.name, job.labels, job.json()) == ("persisted", ("a", "b"), {"k": "v"})
        assert job.retry == RetryPolicy(max_attempts=2, delays=(60.0,), max_delay=3600.0)
        assert s.get(cron).missed == "catch_up:3"
        clock.advance(120)
        assert s.run_due() == 1
        assert receiver.next().json() == {"k": "v"}
        assert s.get(later).state is JobState.SUCCEEDED


def test_list_filters_and_pages(manual):
    ids = manual.schedule_many(
        [
            {
                "url": f"https://example.com/{i}",
                "name": "batch" if i % 2 else "other",
                "labels": ["even"] if i % 2 == 0 else [],
                "after": 60,
            }
            for i in range(10)
        ]
    )
    assert [j.id for j in manual.list(name="batch")] == ids[1::2]
    assert [j.id for j in manual.list(label="even")] == ids[0::2]
    page1 = manual.list(limit=4)
    page2 = manual.list(limit=4, after=page1[-1].id)
    assert [j.id for j in page1 + page2] == ids[:8]
    assert manual.list(kind="cron") == []
    assert len(manual.list(state=["scheduled", JobState.FAILED])) == 10
    assert manual.list(due_before=T0 + timedelta(seconds=59)) == []
    assert len(manual.list(created_after=T0, due_after=T0)) == 10


def test_a_scheduler_dropped_without_close_keeps_its_jobs(db):
    s = timehook.Scheduler.open(db, allow_private_targets=True, secret=SECRET, autostart=False)
    job_id = s.schedule("https://example.com/hook", after=60)
    del s
    gc.collect()
    with timehook.Scheduler.open(
        db, allow_private_targets=True, secret=SECRET, autostart=False
    ) as again:
        assert again.get(job_id).state is JobState.SCHEDULED
