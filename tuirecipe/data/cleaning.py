"""Row marks and cleaned exports of a data file (core: pandas only, no UI).

A person looking through the data marks rows: ``drop`` (remove it from the cleaned copy)
or ``label_wrong`` (keep it, but list it for review). :class:`MarkStore` keeps the marks
in ``<runs_dir>/data_marks.json``, keyed by the data file's sha256, and writes the file
atomically after every change, so nothing marked is only in memory.
:meth:`MarkStore.import_marks` takes marks flagged elsewhere (a run's bad cases) without
overriding the person's own, and remembers which ``(source, row)`` pairs it has taken, so
a row the person unmarks is not marked again by the same source.

:func:`export_cleaned` writes a cleaned copy *beside* the original
(``name.cleaned.<ext>``) and a manifest (``name.cleaned.manifest.json``) naming every
removed row and why, and the rows the loader skipped (also absent from the cleaned file).
The original file is never written to.

Rows are identified by their source row number (the ``row`` column of a loaded table),
which does not change when the file is loaded again.
"""

from __future__ import annotations

import builtins
import json
import os
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuirecipe.data.decoding import file_sha256 as sha256_of
from tuirecipe.data.loading import SkippedRow
from tuirecipe.fileio import atomic_write_bytes, temp_path_beside

__all__ = [
    "MARK_DROP",
    "MARK_LABEL_WRONG",
    "MARK_KINDS",
    "BULK_FLAGS",
    "MarkStore",
    "MarkImport",
    "ExportResult",
    "export_cleaned",
    "cleaned_paths",
    "sha256_of",
]

MARK_DROP = "drop"
MARK_LABEL_WRONG = "label_wrong"
MARK_KINDS = (MARK_DROP, MARK_LABEL_WRONG)
# Flags that export_cleaned can remove in bulk.
BULK_FLAGS = ("duplicate", "conflict", "label_error")
# What each bulk removal takes out, in the profile's units (the manifest repeats it).
REMOVAL_RULES = {
    "duplicate": "every copy of a text but its first row, texts compared ignoring case and "
    "spacing: the profile's surplus rows (case + space level)",
    "conflict": "every row of a text that appears with more than one label, compared "
    "ignoring case and spacing: the profile's conflict rows (case + space level)",
    "label_error": "every row the label-noise estimate flags as a likely label error "
    "(confident learning on out-of-fold probabilities): its flagged rows",
}
MARKS_FILE = "data_marks.json"


# ---------------------------------------------------------------------------------------
# marks


@dataclass
class MarkImport:
    """What :meth:`MarkStore.import_marks` did with the rows it was given for the first
    time (rows whose every source was taken before are left out)."""

    marked: list[int] = field(default_factory=list)  # newly marked
    already_marked: list[int] = field(default_factory=list)  # the person's mark kept
    not_found: list[int] = field(default_factory=list)  # not in the loaded table
    by_source: dict[str, int] = field(default_factory=dict)  # source → its new rows

    @property
    def new_rows(self) -> int:
        return len(self.marked) + len(self.already_marked) + len(self.not_found)


def _is_int(text: object) -> bool:
    return str(text).lstrip("-").isdigit()


class MarkStore:
    """The marks of one data file, persisted on every change.

    The JSON file holds every data file's marks: ``{"version": 1, "files": {sha256:
    {"path": …, "marks": {"<row>": {"mark": "drop"}}, "imported": {source: [row, …]}}}}``,
    so marks made on another file (or another version of this one) are kept.
    ``imported`` records the rows :meth:`import_marks` took from each source (a run id).
    """

    def __init__(self, runs_dir: Path, sha256: str, data_path: Path | str = "") -> None:
        self.path = Path(runs_dir) / MARKS_FILE
        self.sha256 = sha256
        self.data_path = str(data_path)
        self._marks: dict[int, str] = {}
        self._imported: dict[str, set[int]] = {}
        document = self._read()
        entry = document["files"].get(sha256, {})
        if not isinstance(entry, dict):
            entry = {}
        marks = entry.get("marks", {})
        for key, value in marks.items() if isinstance(marks, dict) else ():
            mark = value.get("mark") if isinstance(value, dict) else value
            if mark in MARK_KINDS and _is_int(key):
                self._marks[int(key)] = mark
        imported = entry.get("imported", {})
        for source, rows in imported.items() if isinstance(imported, dict) else ():
            if isinstance(rows, list):
                self._imported[str(source)] = {
                    int(r) for r in rows if not isinstance(r, bool) and _is_int(r)
                }

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            document = {}
        if not isinstance(document, dict) or not isinstance(document.get("files"), dict):
            document = {"version": 1, "files": {}}
        return document

    @property
    def marks(self) -> dict[int, str]:
        """Row number → mark (a copy)."""
        return dict(self._marks)

    def get(self, row: int) -> str | None:
        return self._marks.get(int(row))

    def __len__(self) -> int:
        return len(self._marks)

    def set(self, row: int, mark: str | None) -> None:
        """Mark ``row`` (``None`` removes its mark) and save at once."""
        self.set_many([row], mark)

    def set_many(self, rows: Iterable[int], mark: str | None) -> None:
        if mark is not None and mark not in MARK_KINDS:
            raise ValueError(f"unknown mark {mark!r}; use one of {MARK_KINDS}")
        for row in rows:
            if mark is None:
                self._marks.pop(int(row), None)
            else:
                self._marks[int(row)] = mark
        self.save()

    @property
    def imported(self) -> dict[str, builtins.set[int]]:
        """Source → the rows :meth:`import_marks` has taken from it (a copy)."""
        return {source: set(rows) for source, rows in self._imported.items()}

    def import_marks(
        self,
        flagged: Mapping[int, Iterable[str]],
        mark: str = MARK_LABEL_WRONG,
        *,
        known_rows: Collection[int] | None = None,
    ) -> MarkImport:
        """Mark rows flagged by other sources (``row → source ids``), then save once.

        Only ``(source, row)`` pairs not taken before count: a row the person unmarked
        after an import stays unmarked until a *new* source flags it. A row the person
        has already marked keeps its mark; a row not in ``known_rows`` (when given) is
        only counted. Every new pair is recorded either way.
        """
        if mark not in MARK_KINDS:
            raise ValueError(f"unknown mark {mark!r}; use one of {MARK_KINDS}")
        result = MarkImport()
        marks_before = dict(self._marks)
        imported_before = {source: set(rows) for source, rows in self._imported.items()}
        for row, sources in sorted(flagged.items()):
            row = int(row)
            new = sorted(
                {str(s) for s in sources} - {s for s, rows in self._imported.items() if row in rows}
            )
            if not new:
                continue
            for source in new:
                self._imported.setdefault(source, set()).add(row)
                result.by_source[source] = result.by_source.get(source, 0) + 1
            if known_rows is not None and row not in known_rows:
                result.not_found.append(row)
            elif row in self._marks:
                result.already_marked.append(row)
            else:
                self._marks[row] = mark
                result.marked.append(row)
        if result.by_source:
            try:
                self.save()
            except OSError:  # nothing imported that is not on disk
                self._marks, self._imported = marks_before, imported_before
                raise
        return result

    def save(self) -> None:
        document = self._read()  # keep other files' marks written meanwhile
        now = time.time()
        document["files"][self.sha256] = {
            "path": self.data_path,
            "updated": now,
            "marks": {str(row): {"mark": mark} for row, mark in sorted(self._marks.items())},
        }
        if self._imported:
            document["files"][self.sha256]["imported"] = {
                source: sorted(rows) for source, rows in sorted(self._imported.items())
            }
        if not self._marks and not self._imported:
            document["files"].pop(self.sha256, None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, (json.dumps(document, indent=1) + "\n").encode("utf-8"))


# ---------------------------------------------------------------------------------------
# export


@dataclass
class ExportResult:
    path: Path
    manifest_path: Path
    removed: int
    kept: int
    label_wrong: list[int] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)


_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def cleaned_paths(source_path: Path, out_dir: Path | None = None) -> tuple[Path, Path, str]:
    """``(cleaned file, manifest, format)`` for ``source_path``: ``x.csv`` → ``x.cleaned.csv``."""
    source_path = Path(source_path)
    suffix = source_path.suffix.lower()
    fmt = _FORMATS.get(suffix, "csv")
    ext = suffix if suffix in _FORMATS else ".csv"
    folder = Path(out_dir) if out_dir is not None else source_path.parent
    stem = source_path.stem if suffix else source_path.name
    return (folder / f"{stem}.cleaned{ext}", folder / f"{stem}.cleaned.manifest.json", fmt)


def text_groups(text: pd.Series) -> np.ndarray:
    """Each row's duplicate group: its ``case_space`` text (lowercased, whitespace runs
    collapsed, stripped) as an integer code, -1 for a blank text. The profile's
    duplicate and conflict counts, the browser's flags and the export's removals all come
    from these groups (the profile carries them as ``row_groups``)."""
    from tuirecipe.data.profile.normalize import build_text_index

    index = build_text_index(text)
    return np.where(index.blank, -1, index.space_codes).astype(np.int64)


def _bulk_reasons(
    frame: pd.DataFrame, drop_flags: Iterable[str], groups: np.ndarray | None = None
) -> dict[int, str]:
    """Position → reason for the rows removed by ``drop_flags``.

    ``conflict`` removes every row of a group with more than one label (the profile's
    conflict rows); ``duplicate`` removes every row of a group but its first (the
    profile's surplus rows), so the counts removed equal the profile's.
    """
    reasons: dict[int, str] = {}
    flags = set(drop_flags)
    unknown = flags - set(BULK_FLAGS)
    if unknown:
        raise ValueError(f"cannot bulk-remove {sorted(unknown)}; use {BULK_FLAGS}")
    flags.discard("label_error")  # export_cleaned removes those from ``label_errors``
    if not flags or not len(frame):
        return reasons
    if groups is None or len(groups) != len(frame):
        groups = text_groups(frame["text"])
    groups = np.asarray(groups, dtype=np.int64)
    rows = frame["row"].to_numpy()
    in_group = groups >= 0
    if "conflict" in flags:
        label_codes, _ = pd.factorize(frame["label"].astype(str))
        keyed = pd.DataFrame({"g": groups[in_group], "l": label_codes[in_group]})
        n_labels = keyed.groupby("g")["l"].transform("nunique").to_numpy()
        for pos in np.flatnonzero(in_group)[n_labels > 1]:
            reasons[int(pos)] = "conflict: the same text has other labels"
    if "duplicate" in flags:
        positions = np.flatnonzero(in_group)
        first = pd.Series(positions).groupby(groups[positions]).transform("min").to_numpy()
        for pos, first_pos in zip(positions, first):
            if pos != first_pos:
                reasons.setdefault(int(pos), f"duplicate of row {int(rows[first_pos])}")
    return reasons


def _write_table(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write to a temp file in the same folder, then rename: never a half-written copy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_beside(path)  # created with the umask's mode, like the other run files
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        elif fmt == "tsv":
            frame.to_csv(tmp, index=False, sep="\t")
        elif fmt == "jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _skipped_entry(item: SkippedRow | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, Mapping):
        row = int(item["row"])
        return {"row": row, "line": int(item.get("line") or row), "reason": str(item["reason"])}
    return {"row": int(item.row), "line": int(item.line), "reason": str(item.reason)}


def export_cleaned(
    source_path: Path | str,
    frame: pd.DataFrame,
    marks: Mapping[int, str],
    *,
    drop_flags: Iterable[str] = (),
    out_dir: Path | str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    groups: np.ndarray | None = None,
    skipped: Iterable[SkippedRow | Mapping[str, Any]] | None = None,
    label_errors: Mapping[int, str] | None = None,
) -> ExportResult:
    """Write ``frame`` minus the removed rows beside ``source_path``, with a manifest.

    ``frame`` is a loaded table (``text``, ``label``, ``row``); ``marks`` maps source row
    numbers to ``"drop"`` or ``"label_wrong"``. Rows marked ``drop`` are removed; rows
    marked ``label_wrong`` are kept and listed in the manifest for review. ``drop_flags``
    may name ``"duplicate"`` (remove every copy of a text but the first, ignoring case and
    spacing: the profile's surplus rows) and ``"conflict"`` (remove every row whose text
    also appears with another label: the profile's conflict rows). ``groups`` are the
    profile's ``row_groups`` for ``frame`` (computed the same way when not given).
    The cleaned file has the columns ``text_column`` and ``label_column`` in the source's
    format (CSV when the extension is unknown). The source file is only read.

    ``skipped`` are the rows the loader left out (``LoadReport.skipped``, or the same as
    ``{"row", "line", "reason"}`` dicts): they are listed in the manifest with their row,
    line and reason, as rows the cleaned file lacks.
    Every listed row carries ``row`` (record number) and ``line`` (where it starts in the
    source file; the same number unless a quoted field above it spans lines).

    ``label_errors`` maps source row numbers to the label-noise estimate's reason
    (:func:`tuirecipe.data.label_noise.label_errors_by_row`): a flagged row the person
    marked keeps that reason beside the mark, and ``drop_flags`` may name
    ``"label_error"`` to remove every flagged row.
    """
    source_path = Path(source_path)
    source_sha = sha256_of(source_path) if source_path.is_file() else ""
    out_path, manifest_path, fmt = cleaned_paths(source_path, Path(out_dir) if out_dir else None)
    if out_path.resolve() == source_path.resolve():  # paranoia: never the original
        raise ValueError(f"refusing to overwrite the original file {source_path}")
    rows = frame["row"].to_numpy()
    row_pos = {int(r): i for i, r in enumerate(rows)}
    reasons: dict[int, str] = {}
    errors = {int(r): str(why) for r, why in (label_errors or {}).items()}
    for row, mark in marks.items():
        pos = row_pos.get(int(row))
        if pos is not None and mark == MARK_DROP:
            why = errors.get(int(row))
            reasons[pos] = "marked: drop" + (f"; {why}" if why else "")
    for pos, reason in _bulk_reasons(frame, drop_flags, groups).items():
        reasons.setdefault(pos, reason)
    if "label_error" in set(drop_flags):
        for row, why in errors.items():
            pos = row_pos.get(row)
            if pos is not None:
                reasons.setdefault(pos, f"label_error: {why}")
    keep = np.ones(len(frame), dtype=bool)
    if reasons:
        keep[np.fromiter(reasons.keys(), dtype=np.int64)] = False
    cleaned = pd.DataFrame(
        {text_column: frame["text"].to_numpy()[keep], label_column: frame["label"].to_numpy()[keep]}
    )
    _write_table(cleaned, out_path, fmt)

    lines = frame["line"].to_numpy() if "line" in frame.columns else rows
    removed = [
        {"row": int(rows[pos]), "line": int(lines[pos]), "reason": reason}
        for pos, reason in sorted(reasons.items(), key=lambda kv: int(rows[kv[0]]))
    ]
    wrong_rows = sorted(
        int(r) for r, m in marks.items() if m == MARK_LABEL_WRONG and int(r) in row_pos
    )
    label_wrong = [
        {
            "row": r,
            "line": int(lines[row_pos[r]]),
            "label": str(frame["label"].iat[row_pos[r]]),
            "text": str(frame["text"].iat[row_pos[r]]),
            "kept": bool(keep[row_pos[r]]),
            **({"likely_label_error": errors[r]} if r in errors else {}),
        }
        for r in wrong_rows
    ]
    skipped_rows = sorted((_skipped_entry(item) for item in skipped or ()), key=lambda e: e["row"])
    counts: dict[str, int] = {}
    for item in removed:
        kind = str(item["reason"]).split(" of row")[0].split(":")[0]
        counts[kind] = counts.get(kind, 0) + 1
    manifest = {
        "source": {"path": str(source_path), "sha256": source_sha, "rows": int(len(frame))},
        "output": {
            "path": str(out_path),
            "format": fmt,
            "rows": int(keep.sum()),
            "sha256": sha256_of(out_path),
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "drop_flags": sorted(set(drop_flags)),
        "rules": {name: rule for name, rule in REMOVAL_RULES.items() if name in set(drop_flags)},
        "removed_count": len(removed),
        "removed_by_reason": counts,
        "removed": removed,
        "label_wrong": label_wrong,
        "skipped_count": len(skipped_rows),
        "skipped_note": (
            "rows of the source the loader could not use (row = record number, line = "
            "the line where it starts); they are not in the cleaned file"
        ),
        "skipped": skipped_rows,
    }
    atomic_write_bytes(
        manifest_path, (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    )
    return ExportResult(
        out_path,
        manifest_path,
        removed=len(removed),
        kept=int(keep.sum()),
        label_wrong=wrong_rows,
        reasons=counts,
    )
