"""Type stubs of the native module ``timehook._native`` (built from ``python/src``)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

__version__: str
ERROR_CODES: List[str]
MEMORY_PATH: str
LISTENER_EVENTS: List[str]

_Seconds = Union[timedelta, int, float]
_Waiter = Optional[Tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]]
_Body = Union[bytes, bytearray, memoryview, str]
_Headers = Union[Mapping[str, Any], Iterable[Tuple[Union[str, bytes], Union[str, bytes]]]]
_Now = Union[int, float, datetime, None]

class Scheme:
    """A signature scheme: Standard Webhooks (the default) or a compatibility scheme."""

    @staticmethod
    def standard() -> Scheme: ...
    @staticmethod
    def github() -> Scheme: ...
    @staticmethod
    def stripe() -> Scheme: ...
    @staticmethod
    def hex_body(header: str, *, prefix: bool = True) -> Scheme: ...
    @staticmethod
    def timestamped_hex(header: str, *, timestamp_header: Optional[str] = None) -> Scheme: ...
    @property
    def name(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...

class Verifier:
    """Checks signed webhook deliveries against one or more secrets (any match passes).

    ``secret_or_secrets``: ``whsec_...`` secrets (prefix optional) or ``whpk_...`` ed25519
    public keys for Standard Webhooks; the raw secret strings for the other schemes.
    ``tolerance``: seconds (or a timedelta) a timestamp may differ from ``now`` (default 300).
    ``scheme``: a :class:`Scheme` or ``"standard"``, ``"github"``, ``"stripe"``.
    """

    def __init__(
        self,
        secret_or_secrets: Union[str, Iterable[str]],
        *,
        tolerance: Optional[_Seconds] = None,
        scheme: Union[Scheme, str, None] = None,
    ) -> None: ...
    def verify(self, body: _Body, headers: _Headers, *, now: _Now = None) -> None:
        """Raises :class:`timehook.VerificationError` unless a signature matches and the
        timestamp is within the tolerance of ``now`` (Unix seconds or an aware datetime;
        default: the current time). ``headers`` is any mapping (dict, Flask, Starlette or Django
        headers, a WSGI environ) or a list of pairs; names match in any case."""
    def verify_ignoring_timestamp(self, body: _Body, headers: _Headers) -> None:
        """As :meth:`verify`, without the tolerance check (for replaying stored deliveries)."""
    @property
    def tolerance(self) -> int: ...
    @property
    def scheme(self) -> Scheme: ...

class Signer:
    """Signs messages the way the scheduler signs its deliveries (to test a receiver)."""

    def __init__(
        self, keys: Union[str, Iterable[str]], *, scheme: Union[Scheme, str, None] = None
    ) -> None: ...
    def sign(self, msg_id: str, timestamp: int, body: _Body) -> str:
        """The signature header's value."""
    def headers(self, msg_id: str, timestamp: int, body: _Body) -> List[Tuple[str, str]]:
        """Every header the scheme sends."""

class ManualClock:
    """A clock that moves only when told to (see :mod:`timehook.testing`)."""

    def __init__(self, start: datetime) -> None: ...
    def now(self) -> datetime: ...
    def set(self, to: datetime) -> None: ...
    def advance(self, by: _Seconds) -> None: ...

class NativeScheduler:
    """The native scheduler behind :class:`timehook.Scheduler` and :class:`timehook.AsyncScheduler`.

    Each method blocks (GIL released) without ``waiter``; with an asyncio ``(loop, future)``
    waiter it returns None at once and completes the future on that loop.
    """

    @staticmethod
    def open(path: str, options: Mapping[str, Any], waiter: _Waiter = None) -> Any: ...
    def schedule_many(self, jobs: Iterable[Mapping[str, Any]], waiter: _Waiter = None) -> Any: ...
    def submit_many(self, jobs: Iterable[Mapping[str, Any]], waiter: _Waiter = None) -> Any: ...
    def get(self, job_id: str, waiter: _Waiter = None) -> Any: ...
    def list(self, query: Mapping[str, Any], waiter: _Waiter = None) -> Any: ...
    def attempts(self, job_id: str, waiter: _Waiter = None) -> Any: ...
    def attempts_page(
        self, job_id: str, after: Optional[str], limit: int, waiter: _Waiter = None
    ) -> Any: ...
    def cancel(self, job_id: str, waiter: _Waiter = None) -> Any: ...
    def reschedule(self, job_id: str, at: datetime, waiter: _Waiter = None) -> Any: ...
    def pause(self, job_id: str, waiter: _Waiter = None) -> Any: ...
    def resume(self, job_id: str, waiter: _Waiter = None) -> Any: ...
    def trigger(self, job_id: str, waiter: _Waiter = None) -> Any: ...
    def retry(self, job_id: str, waiter: _Waiter = None) -> Any: ...
    def prune(self, waiter: _Waiter = None) -> Any: ...
    def run_due(self, waiter: _Waiter = None) -> Any: ...
    def subscribe(self, url: str, events: Iterable[str], waiter: _Waiter = None) -> Any: ...
    def unsubscribe(self, subscription_id: str, waiter: _Waiter = None) -> Any: ...
    def subscriptions(self, waiter: _Waiter = None) -> Any: ...
    def endpoints(self, waiter: _Waiter = None) -> Any: ...
    def enable_endpoint(self, endpoint: str, waiter: _Waiter = None) -> Any: ...
    def retry_failed(self, query: Mapping[str, Any], waiter: _Waiter = None) -> Any: ...
    def purge(self, query: Mapping[str, Any], waiter: _Waiter = None) -> Any: ...
    def send_test(self, url: str, event: str, waiter: _Waiter = None) -> Any: ...
    def export_to_path(
        self, path: str, format: str, query: Mapping[str, Any], waiter: _Waiter = None
    ) -> Any: ...
    def export_stream(self, format: str, query: Mapping[str, Any]) -> NativeExport: ...
    def listen(
        self, kinds: List[str], callback: Callable[[Dict[str, Any]], None]
    ) -> NativeListener: ...
    def start(self) -> None: ...
    def close(self, grace: Optional[_Seconds] = None, waiter: _Waiter = None) -> Any: ...
    @property
    def closed(self) -> bool: ...
    def verifier(self) -> Verifier: ...

class NativeListener:
    """A function called with every event's dict, on a thread of its own."""

    def stop(self) -> None: ...
    @property
    def stopped(self) -> bool: ...
    @property
    def skipped(self) -> int: ...

class NativeExport:
    """An export in progress, read chunk by chunk."""

    def next_chunk(self, waiter: _Waiter = None) -> Any:
        """The next ``bytes`` chunk, or None at the end."""
    @property
    def rows(self) -> int:
        """Rows exported; final once ``next_chunk`` has returned None."""
    def close(self) -> None: ...

def enable_metrics() -> None:
    """Installs the Prometheus recorder for the scheduler's metrics (idempotent)."""

def metrics_text() -> str:
    """The metrics in the Prometheus text format; empty before ``enable_metrics``."""

def generate_secret() -> str:
    """A new random HMAC secret, ``whsec_...``."""

def generate_signing_key() -> str:
    """A new random ed25519 signing key, ``whsk_...``."""

def public_key(signing_key: str) -> str:
    """The ``whpk_...`` public key of a ``whsk_...`` signing key."""

def normalize_secret(secret: str) -> str:
    """The canonical ``whsec_...`` form of a secret."""

def normalize_public_key(key: str) -> str:
    """The canonical ``whpk_...`` form of a public key."""
