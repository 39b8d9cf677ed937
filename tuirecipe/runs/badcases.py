"""Bad cases of a run: mispredictions by loss, confusion matrix, marks, cleaning list.

Reads ``dev_predictions.json``, which the worker rewrites atomically at each evaluation::

    {"step": 120, "task": "classification", "labels": ["neg", "pos"],
     "rows": [{"row": 17, "text": "…", "gold": "pos", "pred": "neg",
               "prob": 0.81, "loss": 1.66}, …]}

``row`` is the example's row number in its source file (as the data browser shows it),
``prob`` the probability of the predicted class, ``loss`` the example's cross-entropy.

A person marks each misprediction in ``badcase_marks.json`` (written atomically)::

    {"17": {"mark": "label_wrong", "gold": "pos", "pred": "neg", "step": 120}, …}

where ``mark`` is ``label_wrong`` (the gold label looks wrong), ``model_weak`` (the label
is right, the model is not) or ``skipped``.

The label-wrong ones are exported as the cleaning list ``label_wrong.csv``: UTF-8, a
header line, RFC 4180 quoting, one line per example, columns::

    row,text,gold,pred

``row`` is the source row number (an integer), so a data browser or a script can look the
row up or drop it; ``text`` is truncated at 300 characters.

:func:`label_wrong_rows` gathers those lists across the runs of a runs directory for one
data file (matched by sha256), for the data browser to import as marks. No UI here.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuirecipe.runs.rundir import atomic_write_json, atomic_write_text, read_json

if TYPE_CHECKING:
    from tuirecipe.data.cleaning import MarkImport

PREDICTIONS_FILE = "dev_predictions.json"
MARKS_FILE = "badcase_marks.json"
CLEANING_FILE = "label_wrong.csv"
MARKS = ("label_wrong", "model_weak", "skipped")
CLEANING_COLUMNS = ("row", "text", "gold", "pred")


@dataclass(frozen=True)
class DevPredictions:
    step: int
    task: str
    labels: list[str]
    rows: list[dict[str, Any]]


def load_predictions(run_path: Path) -> DevPredictions | None:
    """The last evaluation's dev predictions, or None when the run has none yet."""
    data = read_json(Path(run_path) / PREDICTIONS_FILE)
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        return None
    return DevPredictions(
        int(data.get("step", 0)),
        str(data.get("task", "classification")),
        [str(x) for x in data.get("labels", [])],
        data["rows"],
    )


def mispredictions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Examples predicted wrong, highest loss first (ties: lower row first)."""
    wrong = [r for r in rows if str(r.get("pred")) != str(r.get("gold"))]
    return sorted(wrong, key=lambda r: (-float(r.get("loss") or 0.0), r.get("row", 0)))


def confusion_matrix(
    rows: list[dict[str, Any]], labels: list[str] | None = None
) -> tuple[list[str], list[list[int]]]:
    """``(labels, matrix)`` with ``matrix[gold][pred]`` counts, labels in the given order
    (then any label only seen in the rows, sorted)."""
    seen = {str(r.get("gold")) for r in rows} | {str(r.get("pred")) for r in rows}
    order = list(labels or [])
    order += sorted(seen - set(order))
    index = {label: i for i, label in enumerate(order)}
    matrix = [[0] * len(order) for _ in order]
    for r in rows:
        matrix[index[str(r.get("gold"))]][index[str(r.get("pred"))]] += 1
    return order, matrix


def most_confused(rows: list[dict[str, Any]], top: int = 5) -> list[tuple[str, str, int]]:
    """``(gold, pred, count)`` of the most frequent mistakes, most first (ties by name)."""
    counts = Counter(
        (str(r.get("gold")), str(r.get("pred")))
        for r in rows
        if str(r.get("pred")) != str(r.get("gold"))
    )
    return sorted(((g, p, n) for (g, p), n in counts.items()), key=lambda t: (-t[2], t[0], t[1]))[
        :top
    ]


class BadCaseMarks:
    """A run's marks, by source row number; every change is written to disk at once."""

    def __init__(self, run_path: Path) -> None:
        self.run_path = Path(run_path)
        data = read_json(self.path, default={})
        self.marks: dict[str, dict[str, Any]] = data if isinstance(data, dict) else {}

    @property
    def path(self) -> Path:
        return self.run_path / MARKS_FILE

    def get(self, row: int) -> str | None:
        entry = self.marks.get(str(row))
        return entry.get("mark") if entry else None

    def mark(self, case: dict[str, Any], mark: str, step: int = 0) -> None:
        if mark not in MARKS:
            raise ValueError(f"unknown mark '{mark}'; use one of {', '.join(MARKS)}")
        self.marks[str(case["row"])] = {
            "mark": mark,
            "gold": case.get("gold"),
            "pred": case.get("pred"),
            "step": step,
            "text": str(case.get("text", ""))[:300],
        }
        self.save()

    def save(self) -> None:
        atomic_write_json(self.path, self.marks)
        self.export_label_wrong()

    def label_wrong(self) -> list[dict[str, Any]]:
        out = [
            {"row": int(row), **entry}
            for row, entry in self.marks.items()
            if entry.get("mark") == "label_wrong"
        ]
        return sorted(out, key=lambda e: e["row"])

    def export_label_wrong(self) -> Path:
        """Write ``label_wrong.csv`` (see the module docstring); returns its path."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CLEANING_COLUMNS)
        for entry in self.label_wrong():
            writer.writerow(
                [entry["row"], entry.get("text", ""), entry.get("gold", ""), entry.get("pred", "")]
            )
        path = self.run_path / CLEANING_FILE
        atomic_write_text(path, buffer.getvalue())
        return path


def read_cleaning_list(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``label_wrong.csv`` (``row`` as int), for a browser or a script."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [{**r, "row": int(r["row"])} for r in csv.DictReader(handle)]


@dataclass
class LabelWrongRows:
    """The rows the runs' cleaning lists flag as label-wrong, for one data file."""

    rows: dict[int, list[str]] = field(default_factory=dict)  # row → run ids, sorted
    runs: dict[str, int] = field(default_factory=dict)  # run id → rows its list names
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (run id, why)


def _listed_rows(path: Path) -> list[int]:
    """The ``row`` column of a cleaning list; ``ValueError`` saying what is wrong."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or "row" not in reader.fieldnames:
                raise ValueError(f"no 'row' column (header: {reader.fieldnames or 'none'})")
            rows = []
            for record in reader:
                value = (record.get("row") or "").strip()
                try:
                    rows.append(int(value))
                except ValueError:
                    raise ValueError(
                        f"line {reader.line_num}: row {value!r} is not a row number"
                    ) from None
            return rows
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ValueError(f"not a readable CSV: {exc}") from None


def _rows_file_sha256(meta: Any) -> str:
    """sha256 of the file a run's dev rows are numbered in: the dev file when the run had
    one (``data.dev_sha256``), else the data file it split dev from (``data.sha256``)."""
    data = meta.get("data") if isinstance(meta, dict) else None
    if not isinstance(data, dict):
        return ""
    return str(data.get("dev_sha256") or data.get("sha256") or "")


def label_wrong_rows(runs_dir: Path, data_sha256: str) -> LabelWrongRows:
    """Rows flagged label-wrong by every run of ``runs_dir`` on the file ``data_sha256``.

    A run counts when its ``meta.json`` says its dev rows are numbers in that file (see
    :func:`_rows_file_sha256`) and it has a ``label_wrong.csv``; runs on other data are
    ignored. A list that cannot be read or parsed is skipped whole, with the reason in
    ``skipped``, so one bad file never hides the others nor raises.
    """
    out = LabelWrongRows()
    runs_dir = Path(runs_dir)
    if not data_sha256 or not runs_dir.is_dir():
        return out
    flagged: dict[int, set[str]] = {}
    try:
        run_paths = sorted(runs_dir.iterdir())
    except OSError:  # unreadable runs folder: as if it had no runs
        return out
    for run_path in run_paths:
        listing = run_path / CLEANING_FILE
        try:
            if not listing.is_file():
                continue
        except OSError:  # e.g. a run folder without read permission
            continue
        if _rows_file_sha256(read_json(run_path / "meta.json")) != data_sha256:
            continue
        try:
            rows = _listed_rows(listing)
        except OSError as exc:
            out.skipped.append((run_path.name, f"{CLEANING_FILE}: {exc.strerror or exc}"))
            continue
        except ValueError as exc:
            out.skipped.append((run_path.name, f"{CLEANING_FILE}: {exc}"))
            continue
        out.runs[run_path.name] = len(set(rows))
        for row in rows:
            flagged.setdefault(row, set()).add(run_path.name)
    out.rows = {row: sorted(ids) for row, ids in sorted(flagged.items())}
    return out


def dumps_predictions(step: int, task: str, labels: list[str], rows: list[dict[str, Any]]) -> str:
    """The ``dev_predictions.json`` text (what the worker writes), for tests and tools."""
    return (
        json.dumps(
            {"step": step, "task": task, "labels": labels, "rows": rows},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        + "\n"
    )


def describe_bad_case_import(result: MarkImport, found: LabelWrongRows, most_runs: int = 5) -> str:
    """One notification's words for rows imported from runs' bad cases ("" when none)."""
    lines = []
    if result.new_rows:
        runs = sorted(result.by_source.items(), key=lambda kv: (-kv[1], kv[0]))
        named = ", ".join(f"{run} ({n})" for run, n in runs[:most_runs])
        if len(runs) > most_runs:
            named += f" and {len(runs) - most_runs} more"
        plural = "s" if len(runs) != 1 else ""
        lines.append(
            f"{result.new_rows} row(s) from the bad cases of {len(runs)} run{plural}: {named}."
        )
        parts = [f"{len(result.marked)} marked label-wrong"]
        if result.already_marked:
            parts.append(f"{len(result.already_marked)} already marked, your mark kept")
        if result.not_found:
            parts.append(f"{len(result.not_found)} not found in this table")
        lines.append("; ".join(parts) + ".")
    for run, why in found.skipped:
        lines.append(f"skipped {run}: {why}")
    return "\n".join(lines)
