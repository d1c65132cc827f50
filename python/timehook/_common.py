"""What the blocking and the asyncio scheduler share: argument packing and result unpacking."""

from __future__ import annotations

import io
import os
from datetime import datetime
from typing import (
    IO,
    Any,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from ._types import Attempt, Endpoint, EventType, Job, JobState, RetryPolicy, Seconds, Subscription
from .errors import ArgumentTypeError, InvalidJobError

__all__ = [
    "ExportFormat",
    "ExportTarget",
    "Headers",
    "Payload",
    "Retry",
    "SubscribeEvents",
    "attempts",
    "dead_letter_filter",
    "endpoint_origin",
    "endpoints",
    "export_filter",
    "export_path",
    "job",
    "jobs",
    "list_filter",
    "one_job",
    "open_options",
    "store_path",
    "subscribe_events",
    "subscription",
    "subscriptions",
    "write_chunk",
]

#: A request body: a dict or list (sent as JSON), or str or bytes (sent as-is).
Payload = Union[Mapping[str, Any], Sequence[Any], str, bytes, bytearray, memoryview]
#: Request headers: a mapping or a list of ``(name, value)`` pairs.
Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
#: A retry policy: a preset name or a :class:`RetryPolicy`.
Retry = Union[str, RetryPolicy]
#: The format of an attempt export.
ExportFormat = Literal["csv", "jsonl"]
#: Where an export goes: a file path, or a binary file object (anything with ``write(bytes)``).
ExportTarget = Union[str, "os.PathLike[str]", IO[bytes]]
#: Subscription event types: one or several.
SubscribeEvents = Union[str, EventType, Iterable[Union[str, EventType]]]


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
    on_success_url: Optional[str] = None,
    on_failure_url: Optional[str] = None,
    scheme: Any = None,
    secret: Union[str, Sequence[str], None] = None,
    profile: Optional[str] = None,
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
        "on_success_url": on_success_url,
        "on_failure_url": on_failure_url,
        "scheme": scheme,
        "secret": secret,
        "profile": profile,
    }


def store_path(path: Any) -> str:
    """The path of ``open`` as a str (a str, bytes or ``os.PathLike``)."""
    try:
        return os.fsdecode(path)
    except TypeError:
        raise ArgumentTypeError(
            f'path: expected a file path (str or os.PathLike), ":memory:" or a postgresql:// '
            f"URL, got {type(path).__name__}",
            "invalid_config",
            "path",
        ) from None


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
    with_bodies: bool = False,
) -> dict:
    return {
        "with_bodies": with_bodies or None,
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


def page_limit(limit: Any) -> int:
    """A page size for the native layer: an int from 1 on (the engine caps it at 10 000)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidJobError(
            f"invalid job: limit: expected a whole number from 1 on, got {limit!r}",
            "invalid_job",
            "limit",
        )
    return min(limit, 2**32 - 1)


def subscribe_events(events: SubscribeEvents) -> List[str]:
    if isinstance(events, str):
        return [events]
    try:
        items = iter(events)
    except TypeError:
        raise InvalidJobError(
            "invalid job: events: expected an event type or a list of them, "
            f"got {type(events).__name__}",
            "invalid_job",
            "events",
        ) from None
    return [str(e) for e in items]


def subscription(record: dict) -> Subscription:
    return Subscription._from_native(record)


def subscriptions(records: List[dict]) -> List[Subscription]:
    return [Subscription._from_native(r) for r in records]


def endpoints(records: List[dict]) -> List[Endpoint]:
    return [Endpoint._from_native(r) for r in records]


def endpoint_origin(endpoint: Union[str, Endpoint]) -> str:
    return endpoint.origin if isinstance(endpoint, Endpoint) else endpoint


def dead_letter_filter(
    since: Optional[datetime],
    until: Optional[datetime],
    name: Optional[str],
    label: Optional[str],
    job: Optional[str],
) -> dict:
    return {"since": since, "until": until, "name": name, "label": label, "job": job}


def export_filter(
    since: Optional[datetime],
    until: Optional[datetime],
    job: Optional[str],
    state: Union[str, JobState, None],
) -> dict:
    return {"since": since, "until": until, "job": job, "state": state}


def export_path(dest: ExportTarget) -> Optional[str]:
    """The file path of an export target, or None for a file object (checked to take bytes)."""
    if isinstance(dest, (str, bytes, os.PathLike)):
        return os.fsdecode(dest)
    if not callable(getattr(dest, "write", None)):
        raise ArgumentTypeError(
            "dest: an export goes to a file path or a binary file object, "
            f"got {type(dest).__name__}",
            "invalid_config",
            "dest",
        )
    if isinstance(dest, io.TextIOBase):
        raise ArgumentTypeError(
            'dest: an export is bytes: open the file in binary mode ("wb")',
            "invalid_config",
            "dest",
        )
    return None


def write_chunk(dest: Any, chunk: bytes) -> None:
    """Writes all of ``chunk`` (a raw, unbuffered file may take part of it per call)."""
    view = memoryview(chunk)
    while view:
        n = dest.write(view)
        if not isinstance(n, int) or n >= len(view):
            return
        view = view[n:]
