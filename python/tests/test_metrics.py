"""Metrics in the Prometheus text format, after real deliveries to a receiver on 127.0.0.1."""

import re

import timehook


def _value(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_deliveries_show_up_in_the_prometheus_text(receiver):
    timehook.metrics.enable()
    timehook.metrics.enable()  # idempotent
    before = timehook.metrics.render()
    ok = 'timehook_attempts_total{outcome="success"}'
    failed = 'timehook_attempts_total{outcome="failure"}'
    receiver.answer("/broken", 500)
    with timehook.Scheduler.open(":memory:", allow_private_targets=True, autostart=False) as s:
        s.schedule(receiver.url("/ok"))
        s.schedule(receiver.url("/broken"), retry="none")
        assert s.run_due() == 2
    text = timehook.metrics.render()
    assert _value(text, ok) == _value(before, ok) + 1
    assert _value(text, failed) == _value(before, failed) + 1
    assert re.search(r"^# TYPE timehook_attempt_duration_seconds \w+", text, re.M), text
