"""``tuirecipe follow``'s engine: another tool's growing log turned into a run, live.

A follower is one process (the foreground command, or one started in the background by
the job client, :meth:`tuirecipe.runs.jobs.JobClient.start_follow`) that owns the run it
fills, like a worker: its status names it (pid, start time, host), so a follower that
dies shows as a dead worker, and ``tuirecipe stop`` / the console's stop end it cleanly
(the run is then *stopped*: following stopped, the log itself may go on growing).
Every poll's rows are logged through :mod:`tuirecipe.track` and written at once, so a row
appended to the log reaches the run within one poll interval.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuirecipe.errors import UserError
from tuirecipe.runs.logsources import LogSource, open_source

POLL_SECONDS = 0.2  # how often the log is looked at


def default_name(path: Path) -> str:
    """``follow-<the log's name>`` as a run name (``metrics.csv`` in ``version_3/``:
    ``follow-version_3``)."""
    path = Path(path)
    stem = path.parent.name if path.name in ("metrics.csv", "metrics.jsonl") else path.stem
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "log"
    return f"follow-{stem}"[:64]


def follow_log(
    path: Path | str,
    *,
    name: str | None = None,
    runs_dir: Path | str = "runs",
    config: Any = None,
    motivation: str = "",
    once: bool = False,
    idle: float | None = None,
    poll: float = POLL_SECONDS,
    should_stop: Callable[[], bool] = lambda: False,
    on_run: Callable[[Any], None] | None = None,
    on_rows: Callable[[int, int], None] | None = None,
) -> tuple[Any, str]:
    """Follow ``path`` into a new run under ``runs_dir``; return the run and how it ended
    (``finished``: ``once`` read to the end, or ``idle`` seconds passed without a row;
    ``stopped``: ``should_stop()`` said so).

    The log is read once before the run is made, so a file that cannot be followed (no
    step column, a bad first row) makes no run: the :class:`~tuirecipe.errors.UserError`
    names the file and row. A bad row met later ends the run failed with that message,
    and the error is raised too. ``on_run(run)`` is told the run once made;
    ``on_rows(rows, last_step)`` after each poll that brought rows.
    """
    import tuirecipe.track

    source = open_source(path)
    first = source.read_new()
    run = tuirecipe.track.start(
        name=name or default_name(source.path),
        config=config,
        motivation=motivation,
        runs_dir=runs_dir,
        job="follow",
        source=str(Path(path).expanduser().resolve()),
        code_dir=Path.cwd(),
    )
    if on_run is not None:
        on_run(run)
    try:
        state = _loop(run, source, first, once, idle, poll, should_stop, on_rows)
    except UserError as exc:
        run.finish("failed", str(exc))
        raise
    except BaseException as exc:
        run.finish_with(exc)
        raise
    message = "" if state == "finished" else f"stopped following {source.path}"
    if state == "finished" and idle is not None and not once:
        message = f"no new rows for {idle:g} s"
    run.finish(state, message)
    return run, state


def _loop(
    run: Any,
    source: LogSource,
    rows: list[tuple[int, dict[str, float]]],
    once: bool,
    idle: float | None,
    poll: float,
    should_stop: Callable[[], bool],
    on_rows: Callable[[int, int], None] | None,
) -> str:
    last_new = time.monotonic()
    last_step = 0
    while True:
        if rows:
            for step, values in rows:
                run.log(step, **values)
                last_step = max(last_step, step)
            run.flush()
            last_new = time.monotonic()
            if on_rows is not None:
                on_rows(len(rows), last_step)
        if once:
            return "finished"
        if should_stop():
            return "stopped"
        if idle is not None and time.monotonic() - last_new > idle:
            return "finished"
        time.sleep(poll)  # the poll interval of a process following a file
        if should_stop():
            return "stopped"
        rows = source.read_new()
