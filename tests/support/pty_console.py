"""The real console (``python -m tuirecipe``) under a pseudo-terminal, for tests.

The console gets the pty's slave as stdin/stdout/stderr, its own session (so a signal to
its process group is what a closing terminal sends), ``TERM=xterm-256color`` and a window
size set with ``TIOCSWINSZ``. A thread drains the master so the app never blocks writing
its screen; keys are written to the master as a terminal would send them.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

KEYS = {
    "enter": "\r",
    "escape": "\x1b",
    "tab": "\t",
    "ctrl+q": "\x11",
    "ctrl+s": "\x13",
    "backspace": "\x7f",
}


class PtyConsole:
    def __init__(
        self,
        *args: str,
        cwd: Path,
        columns: int = 120,
        lines: int = 40,
        env: dict[str, str] | None = None,
    ) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        full_env = {
            **os.environ,
            "TERM": "xterm-256color",
            "COLUMNS": str(columns),
            "LINES": str(lines),
            "PYTHONPATH": str(REPO_ROOT),
            **(env or {}),
        }
        full_env.pop("TEXTUAL", None)  # no devtools
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tuirecipe", *args],
                cwd=cwd,
                env=full_env,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(slave)
        self.output = bytearray()
        self._lock = threading.Lock()
        self._closed = False
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        """Read the master until asked to close it (then close it here: no other thread
        is inside a read of it) or until the console's side is gone."""
        try:
            while not self._closed:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                if not ready:
                    continue
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: every slave fd is closed (the console is gone)
                    break
                if not chunk:
                    break
                with self._lock:
                    self.output += chunk
        finally:
            os.close(self.master)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def screen_text(self, since: int = 0) -> str:
        """What the console wrote (escape sequences and all) from byte ``since`` on."""
        with self._lock:
            return self.output[since:].decode("utf-8", "replace")

    def mark(self) -> int:
        """A position in the output, for ``wait_output(..., since=...)``."""
        with self._lock:
            return len(self.output)

    def wait_output(self, text: str, timeout: float = 60.0, since: int = 0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.screen_text(since):
                return True
            if self.proc.poll() is not None:
                return text in self.screen_text(since)
            time.sleep(0.1)  # polling interval, not synchronisation
        return False

    def send(self, *keys: str, gap: float = 0.05) -> None:
        """Each key: a name from KEYS, or literal text (written as typed, one write)."""
        for key in keys:
            os.write(self.master, KEYS.get(key, key).encode())
            time.sleep(gap)  # not synchronisation: the pace of a person's keys

    def type(self, text: str, gap: float = 0.03) -> None:
        for char in text:
            os.write(self.master, char.encode())
            time.sleep(gap)  # not synchronisation: the pace of a person's typing

    def hangup(self) -> None:
        """What closing the terminal window does: the master goes, the session's process
        group gets SIGHUP."""
        self.close_master()
        try:
            os.killpg(self.proc.pid, signal.SIGHUP)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float = 30.0) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close_master(self) -> None:
        self._closed = True
        self._reader.join(5)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
            self.wait(10)
        self.close_master()

    def __enter__(self) -> PtyConsole:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
