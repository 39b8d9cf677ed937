"""What the checklist remembers across restarts (no torch).

- ``<runs_dir>/checklist.json``: manual ticks (``{name: {"note", "time"}}``) and the
  human baseline's result, written atomically by :class:`ChecklistStore`.
- The automatic checks' results live in the ``check_result`` events of the ``check`` runs;
  :func:`latest_results` gathers the newest result of each check.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tuirecipe.runs import RunDir, atomic_write_json, list_runs
from tuirecipe.runs.rundir import read_json

FILENAME = "checklist.json"
VERSION = 1


class ChecklistStore:
    """Manual ticks and the human baseline of one runs directory.

    Every call reads the file afresh and every change rewrites it atomically, so two
    consoles (or a restart) never see half a file and never keep a stale copy.
    """

    def __init__(self, runs_dir: str | Path) -> None:
        self.runs_dir = Path(runs_dir)
        self.path = self.runs_dir / FILENAME

    # -- reading and writing -------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        state = read_json(self.path, default=None)
        if not isinstance(state, dict):
            state = {}
        state.setdefault("version", VERSION)
        if not isinstance(state.get("ticks"), dict):
            state["ticks"] = {}
        return state

    def _write(self, state: dict[str, Any]) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, state)

    # -- manual ticks --------------------------------------------------------------------
    def ticks(self) -> dict[str, dict[str, Any]]:
        """``{check name: {"note", "time"}}`` for every ticked check."""
        return dict(self._read()["ticks"])

    def is_ticked(self, name: str) -> bool:
        return name in self._read()["ticks"]

    def tick(self, name: str, note: str = "") -> dict[str, Any]:
        """Mark ``name`` done with a note (ticking again replaces the note and time)."""
        if not name:
            raise ValueError("a tick needs a check name")
        state = self._read()
        entry = {"note": str(note), "time": time.time()}
        state["ticks"][name] = entry
        self._write(state)
        return entry

    def untick(self, name: str) -> bool:
        """Remove the tick; returns whether there was one."""
        state = self._read()
        if name not in state["ticks"]:
            return False
        del state["ticks"][name]
        self._write(state)
        return True

    # -- human baseline ------------------------------------------------------------------
    def save_human_baseline(self, result: dict[str, Any]) -> dict[str, Any]:
        """Store a :func:`tuirecipe.checks.human.score_human` result (plus a time)."""
        state = self._read()
        saved = {**result, "time": result.get("time", time.time())}
        state["human_baseline"] = saved
        self._write(state)
        return saved

    def human_baseline(self) -> dict[str, Any] | None:
        value = self._read().get("human_baseline")
        return value if isinstance(value, dict) else None

    def clear_human_baseline(self) -> None:
        state = self._read()
        if state.pop("human_baseline", None) is not None:
            self._write(state)


def tick(runs_dir: str | Path, name: str, note: str = "") -> dict[str, Any]:
    return ChecklistStore(runs_dir).tick(name, note)


def untick(runs_dir: str | Path, name: str) -> bool:
    return ChecklistStore(runs_dir).untick(name)


def latest_results(runs_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The newest ``check_result`` of each check over every ``check`` run in ``runs_dir``.

    Each value is the event's fields (``name``, ``status``, ``summary``, ``numbers``,
    ``evidence``, ``seconds``) plus ``run_id`` and ``time`` (when it was recorded).
    """
    out: dict[str, dict[str, Any]] = {}
    for summary in list_runs(Path(runs_dir)):
        if summary.job != "check":
            continue
        for event in RunDir(Path(summary.path)).events():
            if event.kind != "check_result":
                continue
            body = event.to_dict()
            body.pop("type", None)
            t = float(body.pop("t", 0.0) or 0.0)
            name = body.get("name", "")
            if name in out and out[name]["time"] >= t:
                continue
            out[name] = {**body, "run_id": summary.id, "time": t}
    return out
