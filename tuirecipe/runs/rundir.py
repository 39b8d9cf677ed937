"""One run directory: the files a job writes and everyone else reads (DESIGN.md §2).

``runs/<run-id>/`` holds ``config.toml``, ``meta.json``, ``events.jsonl``, ``notes.md``,
``status.json`` and artifacts. Writers append a line and flush it; whole-file writes
(status, meta, notes) go to a temporary file that is fsynced and renamed over the old one,
so a reader never sees a half-written file and a crash never truncates one.

``status.json`` has one writer at a time, so no update is lost to a concurrent
read-modify-write: the launcher before the worker starts, then the worker (for the parent
record of a sweep, search, seeds or cv: its one orchestrating process). Readers never
write it. A reader that finds the worker gone without a word records that once, in
``gone.json`` beside it (created exclusively, so one reader wins), and ``read_status``
shows the run failed from then on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuirecipe.errors import RunError
from tuirecipe.events import Event, drop_superseded, finite_or_null, from_dict
from tuirecipe.fileio import (
    FILE_MODE,
    append_all,
    atomic_write_bytes,
    open_append,
    storage_errors_named,
)

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
TERMINAL_STATES = ("finished", "failed", "stopped")
# A file of free space a live worker keeps in its run directory and lets go when the disk
# fills, so that the failure can still be recorded (tuirecipe.worker).
SPACE_RESERVE = ".space-reserve"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """``obj`` as strict JSON (a NaN or infinity is written as null: other tools reject
    the bare words), replaced atomically."""
    text = json.dumps(finite_or_null(obj), indent=2, sort_keys=True, default=str, allow_nan=False)
    atomic_write_text(path, text + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def process_start(pid: int | None) -> str | None:
    """When process ``pid`` started, as a token that differs between two processes that
    held the same pid; None when no such process is running (a zombie counts as gone).

    Linux: the start time in clock ticks since boot from ``/proc/<pid>/stat``. Elsewhere:
    ``ps -o lstart=`` (a one-second resolution is enough: a pid is not reused that fast).
    """
    if not pid:
        return None
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None if os.path.isdir("/proc/self") else _ps_start(int(pid))
    except (OSError, IndexError, ValueError):
        return None
    # fields[0] is field 3 of stat(5) (the state), so field 22 (starttime) is fields[19].
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _ps_start(pid: int) -> str | None:
    import subprocess

    try:
        out = subprocess.run(
            ["ps", "-o", "stat=,lstart=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.split(None, 1)
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) != 2 or out[0].startswith("Z"):
        return None
    return " ".join(out[1].split())


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0).
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def worker_alive(status: dict[str, Any]) -> bool:
    """Whether the process a status names is still running: the same pid *and* the same
    start time when the writer recorded it (``pid_start``), so a reused pid is not taken
    for the worker. Records without a start time are judged by the pid alone."""
    recorded = status.get("pid_start")
    if recorded is None:
        return pid_alive(status.get("pid"))
    return process_start(status.get("pid")) == recorded


# What the signals that end a worker from outside Python usually mean.
_SIGNAL_CAUSES = {
    "SIGKILL": "killed: by a person, or by the kernel when memory ran out",
    "SIGSEGV": "crashed in native code",
    "SIGBUS": "crashed in native code",
    "SIGILL": "crashed in native code",
    "SIGFPE": "crashed in native code",
    "SIGABRT": "aborted in native code",
    "SIGTERM": "terminated from outside tuirecipe",
}


def how_a_worker_ended(exit_status: int | None) -> str:
    """Words for a worker's end: the signal and its usual cause when the status is known
    (``Popen.returncode``: minus the signal's number), a guess when it is not (the worker
    was started by another process)."""
    if exit_status is None:
        return "killed, or crashed in native code"
    if exit_status >= 0:
        return f"exit status {exit_status}"
    try:
        name = signal.Signals(-exit_status).name
    except ValueError:
        return f"ended by signal {-exit_status}"
    cause = _SIGNAL_CAUSES.get(name)
    return f"ended by {name}" + (f": {cause}" if cause else "")


class EventWriter:
    """Appends events to ``events.jsonl``, one line each, written through at once.

    Each line goes in one ``write`` to a descriptor opened with ``O_APPEND`` (and never
    through a symbolic link); a line that cannot be written whole (the disk full) is cut
    back out, so readers never meet half a line, and the failure is a
    :class:`~tuirecipe.errors.StorageError` naming the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = open_append(self.path)

    def write(self, event: Event) -> None:
        self._append((event.to_json() + "\n").encode("utf-8"))

    def write_many(self, events: list[Event]) -> None:
        self._append("".join(e.to_json() + "\n" for e in events).encode("utf-8"))

    def write_lines(self, lines: list[str]) -> None:
        """Append event lines already in their JSON form (``Event.to_json``), in one write."""
        self._append("".join(line + "\n" for line in lines).encode("utf-8"))

    def _append(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: the event writer is closed")
        append_all(self._fd, data, self.path)

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with storage_errors_named(self.path):
                os.fsync(fd)
        finally:
            os.close(fd)

    def __del__(self) -> None:  # a writer dropped without close(): release its descriptor
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def read_events(path: Path, offset: int = 0) -> tuple[list[Event], int]:
    """Events from byte ``offset`` on, and the offset to continue from.

    A last line without its newline is a write in progress: it is left for the next call.
    A corrupt complete line (a crash mid-write followed by more writes) is skipped. Step
    events superseded by a later ``resumed`` event among those read are dropped
    (:func:`~tuirecipe.events.drop_superseded`); a reader that reads on from an offset
    meets the ``resumed`` event and cuts back what it holds itself (``RunHistory``).
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n")
    if end < 0:
        return [], offset
    events: list[Event] = []
    for line in chunk[: end + 1].splitlines():
        if not line.strip():
            continue
        try:
            events.append(from_dict(json.loads(line)))
        except (ValueError, UnicodeDecodeError):
            continue
    return drop_superseded(events), offset + end + 1


def last_event_step(path: Path) -> int:
    """The largest step of the step and evaluation events in ``path`` (0 without any)."""
    last = 0
    for event in read_events(path)[0]:
        step = getattr(event, "step", None)
        if event.kind in ("step", "eval", "metrics") and isinstance(step, int):
            if not isinstance(step, bool):
                last = max(last, step)
    return last


@dataclass
class RunDir:
    """Paths and small helpers for one run directory."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def meta_path(self) -> Path:
        return self.path / "meta.json"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def notes_path(self) -> Path:
        return self.path / "notes.md"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def job_path(self) -> Path:
        return self.path / "job.json"

    @property
    def log_path(self) -> Path:
        return self.path / "worker.log"

    @property
    def gone_path(self) -> Path:
        return self.path / "gone.json"

    @property
    def space_reserve_path(self) -> Path:
        return self.path / SPACE_RESERVE

    def rank_failure_path(self, rank: int) -> Path:
        """Where rank ``rank`` (> 0) of a multi-process run leaves its failure, for the one
        who records the run's end: rank 0, or a reader when rank 0 was killed first."""
        return self.path / f"rank{rank}.failed.json"

    def rank_failure(self) -> dict[str, Any] | None:
        """The failure the lowest-numbered failed rank left (``rank``, ``world``,
        ``message``, ``traceback``, ``user_error``), or None."""
        found = []
        for path in self.path.glob("rank*.failed.json"):
            report = read_json(path, default=None)
            if isinstance(report, dict) and isinstance(report.get("rank"), int):
                found.append(report)
        return min(found, key=lambda r: r["rank"]) if found else None

    def write_rank_failure(
        self, rank: int, world: int, message: str, trace: str = "", user_error: bool = False
    ) -> None:
        report = {
            "rank": rank,
            "world": world,
            "message": message,
            "traceback": trace,
            "user_error": user_error,
            "t": time.time(),
        }
        try:
            atomic_write_json(self.rank_failure_path(rank), report)
        except OSError:  # a full disk: torchrun's store and worker.log still have it
            pass

    # -- status --------------------------------------------------------------------------
    def read_status(self) -> dict[str, Any]:
        """``status.json`` as its writer left it, except that a worker recorded gone (by a
        reader, in ``gone.json``) shows as failed with the reason."""
        status = read_json(self.status_path, default={}) or {}
        if status.get("state") in TERMINAL_STATES or not self.gone_path.exists():
            return status
        gone = read_json(self.gone_path, default=None)
        if isinstance(gone, dict) and gone.get("pid") == status.get("pid"):
            status.update(state="failed", message=gone.get("message", ""), ended=gone.get("t"))
            if gone.get("user_error"):
                status["user_error"] = True
        return status

    def write_status(self, **fields: Any) -> dict[str, Any]:
        """Update ``status.json``. Only its one writer calls this (see the module's doc)."""
        status = read_json(self.status_path, default={}) or {}
        status.update(fields)
        status["updated"] = time.time()
        atomic_write_json(self.status_path, status)
        return status

    def state(self) -> str:
        """The run's state, with a dead worker seen for what it is."""
        status = self.read_status()
        state = status.get("state", "unknown")
        if state in TERMINAL_STATES or state == "unknown":
            return state
        if status.get("host") not in (None, socket.gethostname()):
            return state  # another machine's process: cannot tell from here
        if status.get("pid") and not worker_alive(status):
            return "failed"
        if not status.get("pid") and time.time() - status.get("updated", 0) > 30:
            return "failed"  # launched but never started
        return state

    def mark_dead_if_stale(self, exit_status: int | None = None, *, exited: bool = False) -> bool:
        """If the worker died without saying so, record it once. Returns whether it did.

        ``exit_status``: how it ended, when the caller started it and reaped it (the job
        client); ``exited``: the caller knows it has exited (even one that never got as
        far as writing its pid). Writes the failure to the events, then ``gone.json``;
        never ``status.json``, whose writer is the worker.
        """
        status = self.read_status()
        if status.get("state") in TERMINAL_STATES:
            return False
        if not exited and self.state() != "failed":
            return False
        try:  # the claim: of several readers seeing the death, one records it
            fd = os.open(self.gone_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return False
        except OSError:  # a full disk, a read-only copy of the runs: a reader cannot record
            return False
        os.close(fd)
        # The worker's space reserve (see tuirecipe.worker) is no longer needed: freeing it
        # lets the failure be recorded on a full disk.
        self.space_reserve_path.unlink(missing_ok=True)
        message = (
            f"worker process {status.get('pid')} is gone without finishing "
            f"({how_a_worker_ended(exit_status)})"
        )
        if (status.get("ranks") or 1) > 1:  # torchrun and its ranks (train.gpus)
            launcher = (status.get("launcher") or {}).get("pid", "?")
            message = (
                f"the {status['ranks']} training processes (torchrun {launcher}, rank 0 "
                f"{status.get('pid')}) are gone without finishing "
                f"({how_a_worker_ended(exit_status)})"
            )
        # A rank that failed by itself (a bad setting every rank meets) ends, and torchrun
        # then stops rank 0 — sometimes before rank 0 records it; the rank's own words win.
        user_error, trace = False, ""
        failed = self.rank_failure() if (status.get("ranks") or 1) > 1 else None
        if failed is not None:
            world = failed.get("world") or status.get("ranks")
            message = f"rank {failed['rank']} of {world} failed: {failed.get('message', '')}"
            user_error = bool(failed.get("user_error"))
            trace = str(failed.get("traceback") or "")
        from tuirecipe.events import Error, RunStatus

        # The last step the events recorded: a worker writes its step there, not to
        # status.json, and a killed one never brings status.json up to date.
        step = max(int(status.get("step", 0) or 0), last_event_step(self.events_path))
        try:
            writer = EventWriter(self.events_path)
            try:
                writer.write(
                    Error(message=message, traceback=trace, step=step, user_error=user_error)
                )
                writer.write(RunStatus(state="failed", message=message, step=step))
            finally:
                writer.close()
        except OSError:  # a full disk or a linked events file: gone.json still says it
            pass
        # Written last: a run shows failed only once its events say so too (or could not).
        try:
            atomic_write_json(
                self.gone_path,
                {
                    "pid": status.get("pid"),
                    "message": message,
                    "user_error": user_error,
                    "t": time.time(),
                },
            )
        except OSError:
            return False  # the empty claim stays; read_status ignores it
        return True

    # -- meta, notes, events -------------------------------------------------------------
    def read_meta(self) -> dict[str, Any]:
        return read_json(self.meta_path, default={}) or {}

    def update_meta(self, **fields: Any) -> dict[str, Any]:
        meta = self.read_meta()
        meta.update(fields)
        atomic_write_json(self.meta_path, meta)
        return meta

    def read_notes(self) -> str:
        try:
            # decoded as written: Windows line ends stay (read_text would translate them)
            return self.notes_path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return ""

    def write_notes(self, text: str) -> None:
        atomic_write_text(self.notes_path, text)

    def events(self) -> list[Event]:
        return read_events(self.events_path)[0]

    def iter_event_dicts(self) -> Iterator[dict[str, Any]]:
        for event in self.events():
            yield event.to_dict()


def new_run_id(name: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{name}"


def create_run_dir(runs_dir: Path, name: str) -> RunDir:
    """Make a fresh, uniquely named run directory under ``runs_dir``."""
    if not RUN_ID_RE.match(name) or name in (".", ".."):
        raise RunError(f"'{name}' is not a valid run name", key="name")
    runs_dir = Path(runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(
            f"cannot create the runs directory: {exc.strerror}",
            source=str(runs_dir),
            key="runs_dir",
        )
    if not os.access(runs_dir, os.W_OK):
        raise RunError("the runs directory is not writable", source=str(runs_dir), key="runs_dir")
    base = new_run_id(name)
    for n in range(1000):
        run_id = base if n == 0 else f"{base}-{n + 1}"
        path = runs_dir / run_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunError(
                f"cannot create a run directory: {exc.strerror}",
                source=str(runs_dir),
                key="runs_dir",
            )
        return RunDir(path)
    raise RunError("too many runs with the same name this second", source=str(runs_dir))


def open_run_dir(runs_dir: Path, run_id: str) -> RunDir:
    """The run ``run_id`` (or a path to a run directory), refusing ids that escape."""
    candidate = Path(run_id)
    if candidate.is_dir() and (candidate / "status.json").exists():
        return RunDir(candidate.resolve())
    if not RUN_ID_RE.match(run_id) or ".." in run_id:
        raise RunError(f"'{run_id}' is not a valid run id", source=str(runs_dir))
    path = Path(runs_dir) / run_id
    if not path.is_dir():
        matches = sorted(p for p in Path(runs_dir).glob(f"*{run_id}*") if p.is_dir())
        if len(matches) == 1:
            return RunDir(matches[0])
        if len(matches) > 1:
            names = ", ".join(p.name for p in matches[:5])
            raise RunError(f"'{run_id}' matches several runs: {names}", source=str(runs_dir))
        raise RunError(f"no run '{run_id}'", source=str(runs_dir))
    return RunDir(path)
