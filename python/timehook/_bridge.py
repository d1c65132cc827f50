"""Completes asyncio futures with outcomes from the native runtime (called on the loop's thread)."""

from __future__ import annotations


def settle_many(items: list) -> None:
    """Sets each ``(future, ok, value)``: a result when ``ok``, else an exception.

    A future already done (its awaiting task was cancelled) is left alone.
    """
    for future, ok, value in items:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
