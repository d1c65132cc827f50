"""The receiver examples in python/examples/, each driven by its framework's test client, and
the Flask one served for real on 127.0.0.1 and fed by the scheduler."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from types import ModuleType

import pytest
from support import REPO, SECRET, WAIT

import timehook
from timehook.signing import Signer

EXAMPLES = REPO / "python" / "examples"
PATH = "/webhooks/timehook"
BODY = b'{"event": "trial.ended", "account": 42}'


def load(name: str) -> ModuleType:
    os.environ["TIMEHOOK_SECRET"] = SECRET
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Django finds its URLconf by module name
    spec.loader.exec_module(module)
    return module


def signed(msg_id: str = "exec_example1", body: bytes = BODY, secret: str = SECRET) -> dict:
    headers = dict(Signer(secret).headers(msg_id, int(time.time()), body))
    headers["content-type"] = "application/json"
    return headers


def check_receiver(post, module: ModuleType) -> None:
    """post(body, headers) -> (status, text). Good, tampered, unsigned and replayed requests."""
    assert post(BODY, signed())[0] == 204
    assert module.seen == {"exec_example1": {"event": "trial.ended", "account": 42}}
    status, text = post(BODY.replace(b"42", b"43"), signed())
    assert status == 400 and "no_matching_signature" in text
    status, text = post(BODY, {"content-type": "application/json"})
    assert status == 400 and "missing_header" in text
    other = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    assert post(BODY, signed("exec_example2", secret=other))[0] == 400
    assert post(BODY, signed())[0] == 204  # a retry of the same webhook-id is handled once
    assert len(module.seen) == 1


def test_flask_example():
    module = load("flask_receiver")
    client = module.app.test_client()

    def post(body, headers):
        r = client.post(PATH, data=body, headers=headers)
        return r.status_code, r.get_data(as_text=True)

    check_receiver(post, module)


def test_fastapi_example():
    from fastapi.testclient import TestClient

    module = load("fastapi_receiver")
    client = TestClient(module.app)

    def post(body, headers):
        r = client.post(PATH, content=body, headers=headers)
        return r.status_code, r.text

    check_receiver(post, module)


def test_django_example():
    module = load("django_receiver")
    import django
    from django.test import Client
    from django.test.utils import override_settings

    django.setup()
    client = Client()

    def post(body, headers):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        content_type = extra.pop("HTTP_CONTENT_TYPE", "application/octet-stream")
        r = client.post(PATH, data=body, content_type=content_type, **extra)
        return r.status_code, r.content.decode()

    with override_settings(ROOT_URLCONF=module.__name__):
        check_receiver(post, module)


def test_the_scheduler_delivers_to_the_flask_example_served_on_localhost(db):
    from werkzeug.serving import make_server

    module = load("flask_receiver")
    arrived = threading.Event()

    @module.app.after_request
    def notify(response):
        arrived.set()
        return response

    server = make_server("127.0.0.1", 0, module.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}{PATH}"
        with timehook.Scheduler.open(
            db, allow_private_targets=True, secret=SECRET, durability="normal"
        ) as s:
            job_id = s.schedule(url, payload={"event": "trial.ended", "account": 7})
            assert arrived.wait(WAIT), "the Flask example got nothing"
            s.close(grace=WAIT)
        with timehook.Scheduler.open(
            db, allow_private_targets=True, secret=SECRET, autostart=False
        ) as s:
            job = s.get(job_id)
            [attempt] = s.attempts(job_id)
        assert job.state == "succeeded" and attempt.status == 204
        assert module.seen == {job.execution_id: {"event": "trial.ended", "account": 7}}
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.parametrize("name", ["flask_receiver", "fastapi_receiver", "django_receiver"])
def test_examples_stay_short(name):
    lines = (EXAMPLES / f"{name}.py").read_text().splitlines()
    assert len(lines) < 60
