"""Faults planted in a worker process for tests/functional/test_faults_io.py.

Python imports ``sitecustomize`` at start-up from the first folder on ``sys.path`` that
has one, so a test puts this folder first on ``PYTHONPATH`` and names a fault in the
environment. Only the worker (``python -m tuirecipe.worker``) is touched; the CLI that
starts it runs as usual.

``TUIRECIPE_TEST_DISK_FULL=<file name>:<n>``
    The disk fills up at the ``n``-th write of the run file ``<file name>`` (an append to
    ``events.jsonl``, or an atomic write of ``status.json``, ``model.pt``, ``vocab.json``
    …): that write fails with ``OSError(ENOSPC)`` after writing part of its bytes, and so
    does every later write in the run directory, until the worker deletes its space
    reserve (``.space-reserve``), which frees room as on a real disk.

``TUIRECIPE_TEST_BLOCK_LOAD=<marker path>``
    Loading the data writes ``<marker path>`` and then waits forever (a data set that
    takes very long to load); only a stop honoured during loading ends the worker.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from pathlib import Path
from typing import Any


def _in_worker() -> bool:
    return "tuirecipe.worker" in getattr(sys, "orig_argv", ())  # python -m tuirecipe.worker


def _plant_disk_full(spec: str) -> None:
    import tuirecipe.fileio as fileio
    import tuirecipe.runs.rundir as rundir
    import tuirecipe.train.callbacks as callbacks

    name, _, nth = spec.rpartition(":")
    seen = {"count": 0, "full_in": None}

    def disk_full(path: Path) -> bool:
        """Whether a write to ``path`` fails now (and counts it)."""
        path = Path(path)
        if seen["full_in"] is None and path.name == name:
            seen["count"] += 1
            if seen["count"] >= int(nth):
                seen["full_in"] = path.parent
        folder = seen["full_in"]
        return folder is not None and (folder / rundir.SPACE_RESERVE).exists()

    def no_space() -> OSError:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # write(2) names no file

    real_atomic, real_write = fileio.atomic_write, os.write

    def write(fd: int, data: Any) -> int:
        """os.write as the kernel does it on a full disk: part of the bytes, then ENOSPC."""
        if not disk_full(Path(os.readlink(f"/proc/self/fd/{fd}"))):
            return real_write(fd, data)
        real_write(fd, bytes(data[: len(data) // 2]))
        raise no_space()

    class OsWithAFullDisk:
        """The os module as tuirecipe.fileio sees it (appends go through os.write)."""

        def __getattr__(self, name: str) -> Any:
            return write if name == "write" else getattr(os, name)

    def atomic_write(path: Any, fill: Any) -> None:
        if not disk_full(path):
            return real_atomic(path, fill)

        def half_then_full(handle: Any) -> None:
            fill(handle)
            handle.flush()
            handle.truncate(max(handle.tell() // 2, 1))
            raise no_space()

        return real_atomic(path, half_then_full)

    fileio.os = OsWithAFullDisk()  # type: ignore[assignment]
    fileio.atomic_write = atomic_write  # type: ignore[assignment]
    callbacks.atomic_write = atomic_write  # type: ignore[assignment]


def _plant_blocking_load(marker: str) -> None:
    import tuirecipe.data.prepare as prepare

    real = prepare.prepare_data

    def prepare_data(*args: Any, **kwargs: Any) -> Any:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        threading.Event().wait()  # forever: a signal handler that raises ends it
        return real(*args, **kwargs)

    prepare.prepare_data = prepare_data


if _in_worker() and os.environ.get("TUIRECIPE_TEST_DISK_FULL"):
    _plant_disk_full(os.environ["TUIRECIPE_TEST_DISK_FULL"])
if _in_worker() and os.environ.get("TUIRECIPE_TEST_BLOCK_LOAD"):
    _plant_blocking_load(os.environ["TUIRECIPE_TEST_BLOCK_LOAD"])
