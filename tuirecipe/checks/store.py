"""What the checklist remembers across restarts, and whether it still holds (no torch).

- ``<runs_dir>/checklist.json``: manual ticks (``{name: {"note", "time", …}}``) and the
  human baseline's result, written atomically by :class:`ChecklistStore`. Given the
  config, a tick and the human baseline record what they were made for (the
  ``fingerprint``, ``ran_on`` and ``inputs`` of :mod:`tuirecipe.checks.fingerprint`).
- The automatic checks' results live in the ``check_result`` events of the ``check`` runs.
  :func:`checklist_view` judges them, the ticks and the human baseline against a config:
  each is *current* (made for this data, model and settings) or *stale*, with the reason.
  A stale result is history, never today's verdict. :func:`latest_results` is the newest
  result of each check whatever it ran on (for listings of the runs, not for verdicts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirecipe.checks.fingerprint import CurrentInputs
from tuirecipe.config import Config
from tuirecipe.runs import RunDir, atomic_write_json, list_runs
from tuirecipe.runs.rundir import read_json

FILENAME = "checklist.json"
VERSION = 1
# A stopped check compared too little to say anything: it is never a verdict.
VERDICTS = ("pass", "warn", "fail", "error")


class ChecklistStore:
    """Manual ticks and the human baseline of one runs directory.

    Every call reads the file afresh and every change rewrites it atomically, so two
    consoles (or a restart) never see half a file and never keep a stale copy.
    """

    def __init__(self, runs_dir: str | Path, config: Config | None = None) -> None:
        """With ``config``, ticks and the human baseline record what they were made for;
        without, they record nothing and every view shows them stale."""
        self.runs_dir = Path(runs_dir)
        self.path = self.runs_dir / FILENAME
        self.config = config
        self._inputs: CurrentInputs | None = None

    def _stamp(self, name: str) -> dict[str, Any]:
        if self.config is None:
            return {}
        if self._inputs is None:
            self._inputs = CurrentInputs(self.config)
        return self._inputs.stamp(name)

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
        """``{check name: {"note", "time", …}}`` for every ticked check, current or not
        (:func:`checklist_view` says which still hold)."""
        return dict(self._read()["ticks"])

    def is_ticked(self, name: str) -> bool:
        return name in self._read()["ticks"]

    def tick(self, name: str, note: str = "") -> dict[str, Any]:
        """Mark ``name`` done with a note (ticking again replaces the note and time) for
        the data (and model) of the store's config."""
        if not name:
            raise ValueError("a tick needs a check name")
        state = self._read()
        entry = {"note": str(note), "time": time.time(), **self._stamp(name)}
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
        saved = {
            **result,
            "time": result.get("time", time.time()),
            **self._stamp("human_baseline"),
        }
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


def tick(
    runs_dir: str | Path, name: str, note: str = "", config: Config | None = None
) -> dict[str, Any]:
    return ChecklistStore(runs_dir, config).tick(name, note)


def untick(runs_dir: str | Path, name: str) -> bool:
    return ChecklistStore(runs_dir).untick(name)


def check_records(runs_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Every ``check_result`` of every ``check`` run in ``runs_dir``, newest first per check.

    Each record is the event's fields (``name``, ``status``, ``summary``, ``numbers``,
    ``evidence``, ``seconds``, ``fingerprint``, ``ran_on``, ``inputs``) plus ``run_id``
    and ``time`` (when it was recorded).
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for summary in list_runs(Path(runs_dir)):
        if summary.job != "check":
            continue
        for event in RunDir(Path(summary.path)).events():
            if event.kind != "check_result":
                continue
            body = event.to_dict()
            body.pop("type", None)
            t = float(body.pop("t", 0.0) or 0.0)
            out.setdefault(body.get("name", ""), []).append(
                {**body, "run_id": summary.id, "time": t}
            )
    for records in out.values():
        records.sort(key=lambda r: r["time"], reverse=True)
    return out


def latest_results(runs_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The newest ``check_result`` of each check over every ``check`` run in ``runs_dir``,
    whatever data, model or settings it ran on: history, not verdicts (those come from
    :func:`checklist_view`)."""
    return {name: records[0] for name, records in check_records(runs_dir).items() if records}


# ---------------------------------------------------------------------------------------
# the checklist as it stands for one config


@dataclass(frozen=True)
class ResultView:
    """One remembered result, tick or human baseline, judged against the current config.

    ``status`` is what was recorded (pass / warn / fail / error / stopped for a result,
    ``"ticked"`` for a tick, ``"done"`` for the human baseline); ``shown_status`` is what
    to draw: ``"stale"`` unless ``current``. ``stale_reason`` says why in words
    ("ran on model textcnn, data trec.csv — rerun"); ``ran_on`` what it was made for
    ("" when it predates fingerprints). ``record`` is the stored entry itself (numbers,
    evidence, note…) for a detail view.
    """

    name: str
    kind: str  # "result" | "tick" | "human_baseline"
    status: str
    summary: str
    current: bool
    stale_reason: str = ""
    ran_on: str = ""
    time: float = 0.0
    run_id: str = ""
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def shown_status(self) -> str:
        return self.status if self.current else "stale"

    @property
    def counts_as(self) -> str | None:
        """The verdict this adds to today's tally: a current pass/warn/fail/error, else
        None (stale results and stopped checks count for nothing)."""
        return self.status if self.current and self.status in VERDICTS else None


@dataclass(frozen=True)
class ChecklistView:
    """The checklist for one config: per check name, its result and its tick."""

    results: dict[str, ResultView]
    ticks: dict[str, ResultView]
    human_baseline: ResultView | None

    def current_results(self) -> dict[str, ResultView]:
        return {n: v for n, v in self.results.items() if v.current}

    def stale(self) -> list[ResultView]:
        views = [*self.results.values(), *self.ticks.values()]
        if self.human_baseline is not None:
            views.append(self.human_baseline)
        return [v for v in views if not v.current]


def judge_result(inputs: CurrentInputs, record: dict[str, Any], run_id: str = "") -> ResultView:
    """A ``check_result`` record (stored, or live from a running job) judged against
    ``inputs``."""
    name = str(record.get("name", ""))
    verdict = inputs.judge(name, record)
    return ResultView(
        name=name,
        kind="result",
        status=str(record.get("status", "")),
        summary=str(record.get("summary", "")),
        current=verdict.current,
        stale_reason=verdict.reason,
        ran_on=str(record.get("ran_on", "")),
        time=float(record.get("time", record.get("t", 0.0)) or 0.0),
        run_id=str(record.get("run_id", run_id)),
        record=dict(record),
    )


def _human_summary(human: dict[str, Any]) -> str:
    acc = human.get("accuracy")
    if not isinstance(acc, (int, float)):
        return "nothing answered"
    return f"your accuracy {acc:.0%} on {human.get('n', 0)} examples"


def _pick(views: list[ResultView]) -> ResultView:
    """Of one check's results (newest first): the newest current verdict, else the newest
    current result (a stopped one), else the newest result, stale."""
    current = [v for v in views if v.current]
    for view in current:
        if view.status in VERDICTS:
            return view
    return current[0] if current else views[0]


def judge_tick(inputs: CurrentInputs, name: str, entry: dict[str, Any]) -> ResultView:
    """A tick as stored (``ChecklistStore.tick``) judged against ``inputs``."""
    verdict = inputs.judge(name, entry, verb="ticked", redo="tick it again")
    return ResultView(
        name=name,
        kind="tick",
        status="ticked",
        summary=str(entry.get("note", "")),
        current=verdict.current,
        stale_reason=verdict.reason,
        ran_on=str(entry.get("ran_on", "")),
        time=float(entry.get("time", 0.0) or 0.0),
        record=dict(entry),
    )


def checklist_view(
    config: Config, runs_dir: str | Path | None = None, *, inputs: CurrentInputs | None = None
) -> ChecklistView:
    """The remembered checklist of ``runs_dir`` (the config's by default) as it stands for
    ``config``: each check's result, tick and the human baseline, current or stale.

    Reads files and hashes the data (cached on its size and mtime): call it off the UI's
    event loop. ``inputs`` may pass a :class:`CurrentInputs` already computed.
    """
    runs = Path(runs_dir) if runs_dir is not None else config.runs_path
    inputs = inputs or CurrentInputs(config)
    results = {}
    for name, records in check_records(runs).items():
        if records:
            results[name] = _pick([judge_result(inputs, r) for r in records])
    store = ChecklistStore(runs)
    ticks = {
        name: judge_tick(inputs, name, entry)
        for name, entry in store.ticks().items()
        if isinstance(entry, dict)
    }
    human = store.human_baseline()
    human_view = None
    if human is not None:
        verdict = inputs.judge(
            "human_baseline", human, verb="labelled", redo="label the examples again"
        )
        human_view = ResultView(
            name="human_baseline",
            kind="human_baseline",
            status="done",
            summary=_human_summary(human),
            current=verdict.current,
            stale_reason=verdict.reason,
            ran_on=str(human.get("ran_on", "")),
            time=float(human.get("time", 0.0) or 0.0),
            record=dict(human),
        )
    return ChecklistView(results=results, ticks=ticks, human_baseline=human_view)
