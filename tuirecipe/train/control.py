"""Stop / pause / resume requests for a running trainer.

The flags are plain attributes, so setting them is safe from a signal handler (no locks:
a handler that waited on a lock held by the interrupted main thread would deadlock) and
from another thread (attribute assignment is atomic under the GIL). The trainer calls
:meth:`Control.checkpoint` between steps; when nothing is requested that costs one
attribute read.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_POLL_SECONDS = 0.05


class StopRequested(BaseException):
    """A stop asked for during work that is ended at once rather than between steps
    (loading data). A ``BaseException``, like ``KeyboardInterrupt``: a handler of
    ``Exception`` in the interrupted code does not swallow it."""


class Control:
    def __init__(self, on_state: Callable[[str], None] | None = None) -> None:
        # on_state("paused" | "running") is called when a pause starts and ends (from the
        # training thread, never from a signal handler).
        self.on_state = on_state
        self._wanted = False  # any request pending: the fast path reads only this
        self._stop = False
        self._pause = False
        self.paused_seconds = 0.0  # total time spent blocked in pauses

    def request_stop(self) -> None:
        self._stop = True
        self._wanted = True

    def pause(self) -> None:
        self._pause = True
        self._wanted = True

    def resume(self) -> None:
        self._pause = False

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def paused(self) -> bool:
        return self._pause

    def checkpoint(self) -> bool:
        """Between steps: block while paused; True when the trainer should stop now."""
        if not self._wanted:
            return False
        # Clear before reading the flags: a request arriving from here on sets it again,
        # so none is lost (no lock needed).
        self._wanted = False
        if self._pause and not self._stop:
            started = time.monotonic()
            if self.on_state is not None:
                self.on_state("paused")
            while self._pause and not self._stop:
                time.sleep(_POLL_SECONDS)
            self.paused_seconds += time.monotonic() - started
            if not self._stop and self.on_state is not None:
                self.on_state("running")
        if self._stop:
            self._wanted = True  # stop is sticky: every later checkpoint says stop too
        return self._stop
