"""Real deliveries to a receiver on 127.0.0.1, with the system clock, checked by timehook's own
verifier and by the PyPI ``standardwebhooks`` and ``svix`` packages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import standardwebhooks
import svix.webhooks
from support import SECRET

import timehook


@pytest.fixture
def db(any_db: str) -> str:
    """This module's tests run against SQLite and against PostgreSQL."""
    return any_db


def test_a_scheduled_job_arrives_signed_for_every_verifier(live, receiver):
    job_id = live.schedule(
        receiver.url("/trial-ended"),
        payload={"account": 42, "plan": "free"},
        headers={"x-tenant": "acme"},
    )
    req = receiver.next()
    assert (req.method, req.path) == ("POST", "/trial-ended")
    assert req.json() == {"account": 42, "plan": "free"}
    assert req.header("content-type") == "application/json"
    assert req.header("x-tenant") == "acme"
    job = live.get(job_id)
    assert req.header("webhook-id") == job.execution_id

    # timehook's verifier, with the scheduler's own keys and with the secret.
    live.verifier().verify(req.body, req.headers)
    timehook.Verifier(SECRET).verify(req.body, req.header_dict)
    # The reference Standard Webhooks library accepts it...
    payload = standardwebhooks.Webhook(SECRET).verify(req.body, req.header_dict)
    assert payload == {"account": 42, "plan": "free"}
    # ...and so does Svix's (it returns None, raising on a bad signature).
    svix.webhooks.Webhook(SECRET).verify(req.body, req.header_dict)
    # Both really check: a changed body is refused.
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(req.body + b" ", req.header_dict)
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.webhooks.Webhook(SECRET).verify(req.body + b" ", req.header_dict)


def test_close_waits_for_the_delivery_in_flight_and_records_it(db, receiver):
    gate = receiver.hold("/slow")
    s = timehook.Scheduler.open(db, allow_private_targets=True, secret=SECRET, durability="normal")
    job_id = s.schedule(receiver.url("/slow"), payload="hello")
    req = receiver.next()  # the request is in flight, held by the receiver
    assert req.body == b"hello"
    assert req.header("content-type") == "text/plain; charset=utf-8"
    gate.set()
    s.close(grace=10)  # graceful: the answer is awaited and recorded
    with timehook.Scheduler.open(
        db, allow_private_targets=True, secret=SECRET, autostart=False
    ) as again:
        job = again.get(job_id)
        assert job.state is timehook.JobState.SUCCEEDED
        [attempt] = again.attempts(job_id)
    assert attempt.succeeded and attempt.status == 200 and attempt.number == 1
    assert attempt.started_at.tzinfo is timezone.utc
    assert attempt.execution_id == job.execution_id == req.header("webhook-id")


def test_bytes_and_methods_are_sent_as_given(live, receiver):
    live.schedule(
        receiver.url("/raw"), payload=b"\x00\xff binary", method="put", content_type="x/y"
    )
    req = receiver.next()
    assert (req.method, req.body, req.header("content-type")) == ("PUT", b"\x00\xff binary", "x/y")


def test_at_in_the_past_is_due_now_and_after_waits(live, receiver):
    live.schedule(receiver.url("/later"), after=timedelta(hours=1))
    live.schedule(receiver.url("/now"), at=datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert receiver.next().path == "/now"
    [later] = live.list(state="scheduled")
    assert later.url.endswith("/later")
    assert later.next_run_at > datetime.now(timezone.utc) + timedelta(minutes=59)


def test_cron_every_second_delivers_distinct_executions(live, receiver):
    job_id = live.cron(receiver.url("/tick"), "* * * * * *", payload={"n": 1})
    first, second = receiver.next(), receiver.next()
    assert first.header("webhook-id") != second.header("webhook-id")
    for req in (first, second):
        standardwebhooks.Webhook(SECRET).verify(req.body, req.header_dict)
    live.cancel(job_id)
    assert live.get(job_id).state == "cancelled"


def test_a_generated_secret_is_kept_in_the_file(db, receiver):
    with timehook.Scheduler.open(db, allow_private_targets=True, durability="normal") as s:
        s.schedule(receiver.url("/a"))
        first = receiver.next()
        s.verifier().verify(first.body, first.headers)
    with timehook.Scheduler.open(db, allow_private_targets=True, durability="normal") as s:
        s.schedule(receiver.url("/b"))
        second = receiver.next()
        # The reopened scheduler signs with the same stored secret.
        s.verifier().verify(first.body, first.headers)
        s.verifier().verify(second.body, second.headers)
    assert first.body == b""  # no payload, no body


def test_a_job_or_a_whole_scheduler_signs_in_the_style_its_receiver_knows(db, receiver):
    import hashlib
    import hmac

    def hex_hmac(secret: str, message: bytes) -> str:
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

    with timehook.Scheduler.open(db, allow_private_targets=True, secret=SECRET) as s:
        # One job in another style, with the raw secret its receiver already has.
        s.schedule(
            receiver.url("/legacy"),
            payload={"n": 1},
            scheme=timehook.Scheme.hex_body("X-Signature"),
            secret="legacy-secret",
        )
        req = receiver.next()
        assert req.header("x-signature") == "sha256=" + hex_hmac("legacy-secret", req.body)
        assert req.header("webhook-signature") is None
        assert req.header("webhook-id")  # sent in every style, for deduplication
        # The next job, without its own signing, is Standard Webhooks with the scheduler's secret.
        s.schedule(receiver.url("/standard"), payload={"n": 2})
        req = receiver.next()
        timehook.Verifier(SECRET).verify(req.body, req.header_dict)
        assert req.header("x-signature") is None
        # A scheme needs the receiver's secret; refused, nothing stored.
        with pytest.raises(timehook.InvalidJobError) as bad:
            s.schedule(receiver.url("/x"), scheme="github")
        assert bad.value.field == "secret"

    # A whole scheduler in GitHub's style.
    with timehook.Scheduler.open(
        db, allow_private_targets=True, scheme="github", secret="gh-secret"
    ) as s:
        s.schedule(receiver.url("/github"), payload="hello")
        req = receiver.next()
        assert req.header("x-hub-signature-256") == "sha256=" + hex_hmac("gh-secret", req.body)
        verifier = timehook.Verifier("gh-secret", scheme="github")
        verifier.verify(req.body, req.header_dict)
        with pytest.raises(timehook.VerificationError):
            verifier.verify(req.body + b" ", req.header_dict)
    with pytest.raises(timehook.ConfigError) as bad:
        timehook.Scheduler.open(db, scheme=timehook.Scheme.stripe())
    assert bad.value.field == "secret"


def test_json_payloads_survive_a_round_trip_through_javascript():
    """A receiver that parses the body and writes it again with ``JSON.stringify`` (as the
    Runlater.eu and A1Cron docs do before checking the signature) gets the bytes that were sent.
    Checked with the real ``node`` for random values (seeded) and the known hard cases."""
    import base64
    import json
    import random
    import shutil
    import subprocess

    node = shutil.which("node")
    assert node, "node is needed on PATH for this test (make test installs Node for its suite)"
    rng = random.Random(20261206)
    alphabet = "abc XYZ/\\\"'\n\t\x01\x1f\x7fé中😀\u2028<>&"

    def text(n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    def value(depth: int):
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return rng.random() < 0.5
        if kind == 2:
            return rng.randint(-(2**53), 2**53)
        if kind == 3:
            return (
                rng.choice([0.1, 5.0, -0.0, 1e21, 1e20, 1e-7, 1.5e-7, 1e300, 5e-324])
                * rng.choice([1, -1])
                if rng.random() < 0.3
                else rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)
            )
        if kind == 4:
            return text(rng.randrange(12))
        if kind in (5, 6):
            # Keys that are not integer-like: JavaScript moves those first.
            return {"k" + text(rng.randrange(6)): value(depth + 1) for _ in range(rng.randrange(5))}
        return [value(depth + 1) for _ in range(rng.randrange(5))]

    payloads = [value(0) for _ in range(300)]
    payloads = [p if isinstance(p, (dict, list)) else [p] for p in payloads]
    payloads.append({"z": 1e21, "a": [0.1, 5.0, "é/😀"], "m": {"y": 2, "b": 1}})
    with timehook.Scheduler.open(":memory:", autostart=False) as s:
        ids = s.schedule_many(
            [{"url": "https://example.com/hook", "payload": p, "after": 60} for p in payloads]
        )
        bodies = [s.get(i).body for i in ids]

    # Python reads each body back as the value given (nothing lost on the way), numbers as
    # numbers: JavaScript's notation writes 5.0 as 5, read back as an int.
    def numbers_as_floats(v):
        if isinstance(v, dict):
            return {k: numbers_as_floats(x) for k, x in v.items()}
        if isinstance(v, list):
            return [numbers_as_floats(x) for x in v]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        return v

    for p, body in zip(payloads, bodies):
        assert numbers_as_floats(json.loads(body)) == numbers_as_floats(p)
    script = (
        "const bodies = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const bad = [];"
        "bodies.forEach((b64, i) => { const b = Buffer.from(b64, 'base64').toString('utf8');"
        "  const again = JSON.stringify(JSON.parse(b));"
        "  if (again !== b) bad.push([i, b, again]); });"
        "process.stdout.write(JSON.stringify(bad));"
    )
    run = subprocess.run(
        [node, "-e", script],
        input=json.dumps([base64.b64encode(b).decode() for b in bodies]).encode(),
        capture_output=True,
        check=True,
    )
    assert json.loads(run.stdout) == [], run.stdout[:2000]
    assert bodies[-1] == '{"z":1e+21,"a":[0.1,5,"é/😀"],"m":{"y":2,"b":1}}'.encode()


def test_profiles_deliver_what_the_services_receivers_check(db, receiver):
    import hashlib
    import hmac

    def hex_hmac(message: bytes) -> str:
        return hmac.new(b"svc-secret", message, hashlib.sha256).hexdigest()

    # A whole scheduler as Runlater.eu; one job of it as CronFlow.
    with timehook.Scheduler.open(
        db, allow_private_targets=True, profile="runlater-eu", secret="svc-secret"
    ) as s:
        job_id = s.schedule(receiver.url("/runlater-eu"), payload={"action": "sync"})
        req = receiver.next()
        assert req.header("x-runlater-signature") == "sha256=" + hex_hmac(req.body)
        assert req.header("x-runlater-job-id") == job_id
        assert req.header("x-runlater-execution-id") == req.header("webhook-id")
        job = s.get(job_id)
        assert job.timeout == timedelta(seconds=30)
        s.schedule(receiver.url("/cronflow"), profile="cronflow", secret="svc-secret")
        req = receiver.next()
        assert req.header("x-cronflow-signature") == hex_hmac(req.body)
        assert req.header("x-cronflow-idempotency-key") == req.header("webhook-id")
        # A receiver moving to timehook's verifier names the profile as its scheme.
        timehook.Verifier("svc-secret", scheme="cronflow").verify(req.body, req.header_dict)
        with pytest.raises(timehook.InvalidJobError) as bad:
            s.schedule(receiver.url("/x"), profile="hookdeck", secret="s")
        assert bad.value.field == "profile"
        with pytest.raises(timehook.InvalidJobError) as bad:
            s.schedule(receiver.url("/x"), profile="runlater")
        assert bad.value.field == "secret"
    with pytest.raises(timehook.ConfigError) as bad:
        timehook.Scheduler.open(db, profile="svix", secret="not-a-whsec-secret")
    assert str(bad.value).startswith("secret: "), str(bad.value)
