"""Each service's own receiver code, copied from its docs into ``tests/receivers/`` and run
unchanged, against deliveries scheduled from Python with that service's profile: the Express
handlers and verifiers in Node processes (``tests/receivers/serve.cjs``), and A1Cron's Flask
handlers served here. A manual clock walks each retry schedule. Every docs handler must answer
2xx, see or log the fields it reads, and refuse a tampered body."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import queue
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest
from support import REPO, SECRET, WAIT

import timehook
from timehook.testing import ManualClock

RECEIVERS = REPO / "tests" / "receivers"


@pytest.fixture(scope="module", autouse=True)
def node_modules():
    """The receivers use Express and svix from node/'s locked dev dependencies."""
    if not (REPO / "node" / "node_modules" / "express" / "package.json").exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to run the services' Express receivers"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=REPO / "node", check=True)


class DocsReceiver:
    """One service's docs receiver, run by ``serve.cjs`` in a Node process of its own."""

    def __init__(self, service: str, **env: str) -> None:
        node = shutil.which("node")
        assert node, "node is needed to run the services' Express receivers"
        self.proc = subprocess.Popen(
            [node, str(RECEIVERS / "serve.cjs"), service],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        self.logs: list[str] = []
        self.requests: list[dict] = []
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        record = self._lines.get(timeout=WAIT)
        assert "listening" in record, record
        self.url = f"http://127.0.0.1:{record['listening']}"

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(json.loads(line))

    def answered(self, n: int) -> list[dict]:
        """Waits until ``n`` requests have been answered; returns them."""
        while len(self.requests) < n:
            record = self._lines.get(timeout=WAIT)
            if "log" in record:
                self.logs.append(record["log"])
            if "request" in record:
                self.requests.append(record["request"])
        # Log lines written while answering the n-th request come before its record.
        while not self._lines.empty():
            record = self._lines.get_nowait()
            if "log" in record:
                self.logs.append(record["log"])
            if "request" in record:
                self.requests.append(record["request"])
        return self.requests[:n]

    def replay(self, request: dict, body: str) -> int:
        """Sends a recorded request again with ``body`` in place of its own; returns the status."""
        headers = {
            k: v for k, v in request["headers"].items() if k not in ("content-length", "host")
        }
        req = urllib.request.Request(
            self.url + request["path"], data=body.encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as res:
                return res.status
        except urllib.error.HTTPError as e:
            return e.code

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture
def docs():
    started: list[DocsReceiver] = []

    def start(service: str, **env: str) -> DocsReceiver:
        started.append(DocsReceiver(service, **env))
        return started[-1]

    yield start
    for r in started:
        r.close()


def now_clock() -> ManualClock:
    """A manual clock at the real time (RunLater's verifier checks timestamps against its own)."""
    return ManualClock(datetime.now(timezone.utc).replace(microsecond=0))


def open_manual(clock: ManualClock, **options) -> timehook.Scheduler:
    return timehook.Scheduler.open(
        ":memory:", allow_private_targets=True, autostart=False, clock=clock, **options
    )


def walk(s: timehook.Scheduler, clock: ManualClock, delays) -> None:
    """Runs the attempts of a retry schedule: one now, then one after each of ``delays``
    (seconds), checking that nothing is due a second before each. ``run_due`` also delivers
    what an attempt makes due at once (callbacks, events)."""
    assert s.run_due() >= 1
    for d in delays:
        clock.advance(d - 1)
        assert s.run_due() == 0, f"nothing is due 1 s before the retry after {d} s"
        clock.advance(1)
        assert s.run_due() >= 1, f"the retry after {d} s"


def statuses(requests):
    return [r["status"] for r in requests]


def test_runlater_eu_docs_handler_verifies_after_its_five_retries(docs):
    rx = docs("runlater-eu", RUNLATER_WEBHOOK_SECRET="rl-secret", TIMEHOOK_FAIL_FIRST="5")
    clock = now_clock()
    with open_manual(clock, profile="runlater-eu", secret="rl-secret") as s:
        payload = {"action": "sync", "note": "naïve / ✓", "n": 0.1, "big": 1e21}
        job_id = s.schedule(rx.url + "/webhook", payload=payload)
        walk(s, clock, [20, 45, 90, 120, 180])
        got = rx.answered(6)
        assert statuses(got) == [503] * 5 + [200]
        job = s.get(job_id)
        assert job.state == "succeeded"
        for r in got:
            assert r["headers"]["x-runlater-job-id"] == job_id
            assert r["headers"]["x-runlater-execution-id"] == job.execution_id
        # The handler re-serializes the parsed body with JSON.stringify, and it still verifies.
        assert rx.replay(got[5], got[5]["body"]) == 200
        assert rx.replay(got[5], got[5]["body"].replace("sync", "drop")) == 401


def test_runlater_docs_verifier_accepts_the_retry_after_60_s(docs):
    rx = docs("runlater", RUNLATER_WEBHOOK_SECRET="rl-secret", TIMEHOOK_FAIL_FIRST="1")
    clock = now_clock()
    with open_manual(clock, profile="runlater", secret="rl-secret") as s:
        job_id = s.schedule(rx.url + "/api/downgrade", payload={"user_id": "u_123", "plan": "free"})
        walk(s, clock, [60])
        got = rx.answered(2)
        assert statuses(got) == [503, 200]
        assert got[1]["headers"]["x-runlater-job-id"] == job_id
        assert int(got[1]["headers"]["x-runlater-timestamp"]) == int(clock.now().timestamp())
        assert rx.replay(got[1], got[1]["body"].replace("free", "paid")) == 401


def test_cronflow_handler_gets_job_failed_after_its_retries_and_job_completed(docs):
    rx = docs("cronflow", CRONFLOW_WEBHOOK_SECRET="cf-secret")
    clock = now_clock()
    with open_manual(clock, profile="cronflow", secret="cf-secret", environment="production") as s:
        s.subscribe(rx.url + "/webhooks/cronflow", ["job.failed", "job.completed"])
        failing = s.schedule(rx.url + "/fail/sync", payload={"n": 1})
        # The last attempt, then its job.failed event.
        walk(s, clock, [30, 120, 600, 3600, 6 * 3600])
        nightly = s.cron(rx.url + "/ok/nightly", "0 3 * * *")
        s.trigger(nightly)
        assert s.run_due() == 2, "the triggered run, then its job.completed event"
        got = rx.answered(9)
        assert statuses(got) == [500] * 6 + [200] * 3
        keys = {r["headers"]["x-cronflow-idempotency-key"] for r in got[:6]}
        assert keys == {s.get(failing).execution_id}
        assert [got[6]["path"], got[8]["path"]] == ["/webhooks/cronflow"] * 2
        assert any(
            line.startswith(f"job.failed for {failing} (production) at ") for line in rx.logs
        )
        assert "error 500: HTTP 500 after 5 retries" in rx.logs
        assert any(line.startswith(f"job.completed for {nightly} (production)") for line in rx.logs)
        next_run = next(line for line in rx.logs if line.startswith("took "))
        assert next_run.endswith("T03:00:00.000Z"), rx.logs
        logged = len(rx.logs)
        assert rx.replay(got[6], got[6]["body"]) == 200  # a duplicate, known by its key
        rx.answered(10)
        assert len(rx.logs) == logged
        assert rx.replay(got[6], got[6]["body"].replace("production", "staging")) == 401


def test_svix_docs_handler_verifies_after_retries_at_0_and_5_s(docs):
    rx = docs("svix", SVIX_WEBHOOK_SECRET=SECRET, TIMEHOOK_FAIL_FIRST="2")
    clock = now_clock()
    with open_manual(clock, profile="svix", secret=SECRET) as s:
        job_id = s.schedule(rx.url + "/webhook", payload={"type": "order.completion", "order": 7})
        assert s.run_due() == 2, "the first retry is immediate"
        clock.advance(4)
        assert s.run_due() == 0
        clock.advance(1)
        assert s.run_due() == 1
        got = rx.answered(3)
        assert statuses(got) == [503, 503, 200]
        execution_id = s.get(job_id).execution_id
        assert got[2]["headers"]["svix-id"] == execution_id == got[2]["headers"]["webhook-id"]
        message = f'svix message {execution_id}: {{"type":"order.completion","order":7}}'
        assert message in rx.logs
        assert rx.replay(got[2], got[2]["body"].replace("7", "8")) == 400


def a1cron_callbacks(base: str) -> dict:
    return {
        "profile": "a1cron",
        "secret": "a1-secret",
        "name": "Daily Sales Report",
        "on_success_url": base + "/webhooks/cron-success",
        "on_failure_url": base + "/webhooks/cron-failure",
    }


def test_a1cron_docs_express_handlers_log_callbacks_verified_by_the_docs_function(docs):
    rx = docs("a1cron", WEBHOOK_SECRET="a1-secret")
    clock = now_clock()
    with open_manual(clock) as s:
        ok = s.schedule(rx.url + "/ok/report", **a1cron_callbacks(rx.url))
        assert s.run_due() == 2, "the job, then its success callback"
        retry = timehook.RetryPolicy(delays=(300,))
        failing = s.schedule(rx.url + "/fail/report", retry=retry, **a1cron_callbacks(rx.url))
        walk(s, clock, [300])
        got = rx.answered(6)
        assert statuses(got) == [200, 200, 500, 200, 500, 200]
        failures = [json.loads(r["body"]) for r in got if r["path"] == "/webhooks/cron-failure"]
        assert [f["retry_attempt"] for f in failures] == [0, 1]
        assert {f["cron_job_id"] for f in failures} == {failing}
        for line in [
            '✅ Cron job "Daily Sales Report" executed successfully',
            f"Execution ID: {s.get(ok).execution_id}",
            'Response: {"message":"Report generated successfully"}',
            '❌ Cron job "Daily Sales Report" failed',
            "Status: failure",
            "Retry attempt: 0",
            "Retry attempt: 1",
            "No more retries scheduled",
        ]:
            assert line in rx.logs, rx.logs
        assert any(line.startswith("Next retry at: ") for line in rx.logs), rx.logs
        success = next(r for r in got if r["path"] == "/webhooks/cron-success")
        assert rx.replay(success, success["body"].replace("Daily", "Weekly")) == 401


def test_a1cron_docs_flask_handlers_log_success_and_failure_callbacks(caplog):
    from werkzeug.serving import make_server

    spec = importlib.util.spec_from_file_location("a1cron_flask", RECEIVERS / "a1cron_flask.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answered: list[tuple[str, int, bytes, dict]] = []

    @module.app.after_request
    def record(response):
        from flask import request

        headers = dict(request.headers)
        answered.append((request.path, response.status_code, request.get_data(), headers))
        return response

    server = make_server("127.0.0.1", 0, module.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    caplog.set_level(logging.INFO)
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        clock = now_clock()
        # The jobs' own targets: serve.cjs answers /ok/... with 200 and /fail/... with 500.
        rx = DocsReceiver("runlater-eu", RUNLATER_WEBHOOK_SECRET="unused")
        try:
            with open_manual(clock) as s:
                ok = s.schedule(rx.url + "/ok/report", **a1cron_callbacks(base))
                assert s.run_due() == 2
                retry = timehook.RetryPolicy(delays=(300,))
                s.schedule(rx.url + "/fail/report", retry=retry, **a1cron_callbacks(base))
                walk(s, clock, [300])
                ok_execution = s.get(ok).execution_id
        finally:
            rx.close()
        assert [(p, status) for p, status, _, _ in answered] == [
            ("/webhooks/cron-success", 200),
            ("/webhooks/cron-failure", 200),
            ("/webhooks/cron-failure", 200),
        ]
        messages = [r.getMessage() for r in caplog.records]
        for line in [
            "✅ Cron job 'Daily Sales Report' executed successfully",
            f"Execution ID: {ok_execution}",
            'Response: {"message":"Report generated successfully"}',
            "❌ Cron job 'Daily Sales Report' failed",
            "Status: failure",
            "Retry attempt: 0",
            "Retry attempt: 1",
            "No more retries scheduled",
        ]:
            assert line in messages, messages
        assert any(m.startswith("Next retry at: ") for m in messages)
        # The page gives Flask no verifier; timehook's, with the a1cron scheme, checks the
        # callbacks the handlers got, and refuses one tampered.
        verifier = timehook.Verifier("a1-secret", scheme="a1cron")
        for _, _, body, headers in answered:
            verifier.verify(body, headers)
            with pytest.raises(timehook.VerificationError):
                verifier.verify(body.replace(b"Daily", b"Weekly"), headers)
    finally:
        server.shutdown()
        thread.join()
