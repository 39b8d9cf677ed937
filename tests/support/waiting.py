"""The one way tests wait for something to happen: poll a condition until a deadline.

``wait_until`` is for plain tests (files a worker writes, a process ending); it raises
with ``what`` in the message when the deadline passes. ``wait_for`` is for console tests
under ``App.run_test()``: it lets the app process its messages between polls. Both fail
the test with a message naming what was awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 60.0,
    what: str = "the condition",
    interval: float = 0.05,
) -> None:
    """Return once ``predicate()`` is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)  # polling interval, not synchronisation


async def wait_for(
    pilot,
    condition: Callable[[], object],
    timeout: float = 5.0,
    what: str | None = None,
    detail: Callable[[], object] | None = None,
    interval: float = 0.05,
) -> bool:
    """Let a running console work until ``condition()`` holds (answers True, so callers may
    ``assert`` it); after ``timeout`` seconds fail the test, naming ``what`` (by default the
    condition's source line) and ``detail()`` when given (say the worker's log).

    ``pilot`` is the ``App.run_test()`` pilot, or None in a plain asyncio test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if pilot is None:
            await asyncio.sleep(interval)  # polling interval, not synchronisation
        else:
            await pilot.pause(interval)  # polling interval, not synchronisation
    if condition():
        return True
    message = f"timed out after {timeout:g} s waiting for {what or _describe(condition)}"
    if detail is not None:
        message += f"\n{detail()}"
    raise AssertionError(message)


def _describe(condition: Callable[[], object]) -> str:
    try:
        return inspect.getsource(condition).strip()
    except (OSError, TypeError):
        return repr(condition)
