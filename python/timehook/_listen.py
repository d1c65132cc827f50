"""In-process listeners: the :class:`Listener` handle and the callables the native listener
thread calls (directly for :class:`Scheduler`, through the event loop for
:class:`AsyncScheduler`)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from types import TracebackType
from typing import Any, Callable, Iterable, List, Optional, Set, Tuple, Type, TypeVar, Union

from ._native import LISTENER_EVENTS, NativeListener
from ._types import Event, EventType
from .errors import ArgumentTypeError

__all__ = ["Events", "Listener", "Listeners", "LoopCall", "ThreadCall", "event_kinds"]

#: Event kinds to listen to: one (``"job.completed"``), several, or ``"*"`` / None for all.
Events = Union[str, EventType, Iterable[Union[str, EventType]], None]
#: A listener function.
F = TypeVar("F", bound=Callable[..., Any])


def event_kinds(events: Events) -> List[str]:
    """The kinds as the native side takes them: an empty list means all (it checks the names)."""
    if events is None:
        return []
    if isinstance(events, str):
        events = [events]
    try:
        items = iter(events)
    except TypeError:
        raise ArgumentTypeError(
            f"events: expected an event kind or a list of them, got {type(events).__name__}",
            "invalid_config",
            "events",
        ) from None
    kinds = [str(e) for e in items]
    return [] if "*" in kinds else kinds


class ThreadCall:
    """Calls ``fn`` with each :class:`Event`, on the listener's own thread (with the GIL taken
    only for the calls, once for the events waiting together). An exception goes to
    ``sys.unraisablehook`` (from the native side)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Event], Any]) -> None:
        self.fn = fn

    def __call__(self, record: dict) -> None:
        self.fn(Event._from_native(record))

    def __repr__(self) -> str:
        return f"<timehook listener {self.fn!r}>"


class LoopCall:
    """Hands each :class:`Event` to the event loop that registered ``fn``, which calls it there
    (awaiting it as a task when it returns an awaitable). An exception goes to the loop's
    exception handler."""

    __slots__ = ("fn", "listener", "loop", "tasks")

    def __init__(self, fn: Callable[[Event], Any], loop: asyncio.AbstractEventLoop) -> None:
        self.fn = fn
        self.loop = loop
        self.listener: Optional[Listener] = None
        self.tasks: Set[asyncio.Future[Any]] = set()

    def __call__(self, record: dict) -> None:
        event = Event._from_native(record)
        try:
            self.loop.call_soon_threadsafe(self._run, event)
        except RuntimeError:
            # The loop is closed: nobody is left to call.
            if self.listener is not None:
                self.listener.remove()

    def _run(self, event: Event) -> None:
        if self.listener is not None and not self.listener.active:
            return
        try:
            result = self.fn(event)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self.tasks.add(task)
                task.add_done_callback(self._done)
        except Exception as exc:
            self._report(exc)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._report(task.exception())

    def _report(self, exc: Optional[BaseException]) -> None:
        self.loop.call_exception_handler(
            {"message": f"exception in timehook listener {self.fn!r}", "exception": exc}
        )

    def __repr__(self) -> str:
        return f"<timehook listener {self.fn!r}>"


class Listener:
    """A registered listener: its function is called with every :class:`Event` of its kinds
    until :meth:`remove` (or :meth:`close`, or leaving a ``with`` block) or until the scheduler
    closes. Events come in the order they happened. A listener more than 1024 events behind
    skips the oldest (:attr:`skipped` counts them)."""

    __slots__ = ("_call", "_events", "_native", "_registry")

    def __init__(
        self,
        native: NativeListener,
        call: Union[ThreadCall, LoopCall],
        events: Tuple[EventType, ...],
        registry: Listeners,
    ) -> None:
        self._native = native
        self._call = call
        self._events = events
        self._registry = registry

    @property
    def function(self) -> Callable[[Event], Any]:
        """The function called."""
        return self._call.fn

    @property
    def events(self) -> Tuple[EventType, ...]:
        """The kinds it receives; empty for all."""
        return self._events

    @property
    def active(self) -> bool:
        """Whether its function may still be called."""
        return not self._native.stopped

    @property
    def skipped(self) -> int:
        """Events skipped because the function fell more than 1024 events behind."""
        return self._native.skipped

    def remove(self) -> None:
        """Stops the listener: its function is not called again once the call in progress (if
        any) returns. Safe to call from the function itself, and more than once."""
        self._native.stop()
        self._registry.discard(self)

    close = remove

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        kinds = ", ".join(self._events) or "*"
        state = "active" if self.active else "removed"
        return f"<timehook.Listener {self._call.fn!r} on {kinds} {state}>"


class Listeners:
    """A scheduler's listeners, kept alive here (a native listener stops when dropped)."""

    __slots__ = ("_lock", "_set")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set: Set[Listener] = set()

    def add(
        self,
        native_listen: Callable[[List[str], Any], NativeListener],
        fn: Callable[[Event], Any],
        events: Events,
        call: Union[ThreadCall, LoopCall],
    ) -> Listener:
        if not callable(fn):
            raise ArgumentTypeError(
                f"fn: a listener must be callable, got {type(fn).__name__}", "invalid_config", "fn"
            )
        kinds = event_kinds(events)
        native = native_listen(kinds, call)
        known = set(LISTENER_EVENTS)
        listener = Listener(
            native, call, tuple(EventType(k.strip()) for k in kinds if k.strip() in known), self
        )
        if isinstance(call, LoopCall):
            call.listener = listener
        with self._lock:
            self._set.add(listener)
        return listener

    def discard(self, listener: Listener) -> None:
        with self._lock:
            self._set.discard(listener)

    def remove_function(self, fn: Callable[..., Any]) -> int:
        with self._lock:
            found = [x for x in self._set if x.function == fn]
        for listener in found:
            listener.remove()
        return len(found)

    def stop_all(self) -> None:
        with self._lock:
            found = list(self._set)
            self._set.clear()
        for listener in found:
            listener._native.stop()


def decorator(register: Callable[[Callable[[Event], Any]], Listener]) -> Callable[[F], F]:
    """A decorator that registers the function and returns it unchanged."""

    def decorate(fn: F) -> F:
        register(fn)
        return fn

    return decorate
