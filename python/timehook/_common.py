"""What the blocking and the asyncio scheduler share: argument packing and result unpacking."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ._types import Attempt, Job, RetryPolicy, Seconds

__all__ = [
    "Headers",
    "Payload",
    "Retry",
    "attempts",
    "job",
    "jobs",
    "list_filter",
    "one_job",
    "open_options",
]

#: A request body: a dict or list (sent as JSON), or str or bytes (sent as-is).
Payload = Union[Mapping[str, Any], Sequence[Any], str, bytes, bytearray, memoryview]
#: Request headers: a mapping or a list of ``(name, value)`` pairs.
Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
#: A retry policy: a preset name or a :class:`RetryPolicy`.
Retry = Union[str, RetryPolicy]


def job(
    url: str,
    *,
    at: Optional[datetime] = None,
    after: Optional[Seconds] = None,
    cron: Optional[str] = None,
    tz: Optional[str] = None,
    missed: Optional[str] = None,
    payload: Optional[Payload] = None,
    headers: Optional[Headers] = None,
    method: str = "POST",
    content_type: Optional[str] = None,
    timeout: Optional[Seconds] = None,
    retry: Optional[Retry] = None,
    idempotency_key: Optional[str] = None,
    name: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
) -> dict:
    """One job as the dict that ``schedule_many`` takes (the native side checks every field)."""
    return {
        "url": url,
        "at": at,
        "after": after,
        "cron": cron,
        "tz": tz,
        "missed": missed,
        "payload": payload,
        "headers": headers,
        "method": method,
        "content_type": content_type,
        "timeout": timeout,
        "retry": retry,
        "idempotency_key": idempotency_key,
        "name": name,
        "labels": labels,
    }


def open_options(**options: Any) -> dict:
    """The keyword options of ``open``, as the native side takes them."""
    return options


def one_job(record: dict) -> Job:
    return Job._from_native(record)


def jobs(records: List[dict]) -> List[Job]:
    return [Job._from_native(r) for r in records]


def attempts(records: List[dict]) -> List[Attempt]:
    return [Attempt._from_native(r) for r in records]


def list_filter(
    state: Any,
    name: Optional[str],
    label: Optional[str],
    kind: Optional[str],
    created_after: Optional[datetime],
    created_before: Optional[datetime],
    due_after: Optional[datetime],
    due_before: Optional[datetime],
    limit: Optional[int],
    after: Optional[str],
) -> dict:
    return {
        "state": state,
        "name": name,
        "label": label,
        "kind": kind,
        "created_after": created_after,
        "created_before": created_before,
        "due_after": due_after,
        "due_before": due_before,
        "limit": limit,
        "after": after,
    }
