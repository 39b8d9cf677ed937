"""Loading a labelled text table (CSV, TSV, JSONL, Parquet) into ``text, label, row``.

A bad row never stops a load: it is counted in :class:`LoadReport.skipped` with its row
number and reason, and left out. Only a problem that makes the whole file unusable
(missing, a folder, binary, empty, no usable rows, a missing column, a single class)
raises :class:`~tuirecipe.errors.DataError`, naming the file and the config key.

Row numbers are 1-based and count the header, so "row 7" is line 7 of a CSV/TSV/JSONL
file (for a CSV whose quoted fields span lines it is the record number; for Parquet and a
JSON array, the record number).

Columns: by name when the file has a header (or for JSONL keys / Parquet columns), or by
0-based position written as a string (``text_column = "1"``). A file without a header
maps the default names ``text`` → column 0 and ``label`` → column 1. With
``header = "auto"``, the first row is a header when it contains a configured column name.

Labels: classification labels are strings, stripped; integer-valued numbers read as
integers (``1``, ``1.0`` and ``"1.0"`` are all the class ``"1"``). A label that is empty
or one of ``nan NaN NA N/A null NULL None <NA>`` is missing. Regression labels must be
finite numbers. Text is kept exactly as in the file; empty or whitespace-only text is
skipped.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuirecipe.config import DataConfig
from tuirecipe.data.decoding import check_not_binary, decode_bytes, file_sha256
from tuirecipe.data.readers import RawTable, read_raw
from tuirecipe.errors import DataError

__all__ = ["LoadReport", "LoadedTable", "SkippedRow", "file_sha256", "load_table", "read_columns"]

MISSING_LABELS = frozenset({"", "nan", "NaN", "NA", "N/A", "null", "NULL", "None", "<NA>"})
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass
class SkippedRow:
    row: int
    reason: str


@dataclass
class LoadReport:
    path: str
    format: str
    encoding: str
    encoding_fallback: bool
    rows_read: int
    rows_used: int
    skipped: list[SkippedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sha256: str = ""


@dataclass
class LoadedTable:
    frame: pd.DataFrame
    report: LoadReport


def _error(message: str, path: Path, key: str | None) -> DataError:
    return DataError(message, source=str(path), key=key)


def _detect_format(path: Path, raw: bytes, configured: str) -> tuple[str, str | None]:
    if configured != "auto":
        return configured, None
    if path.suffix.lower() in _EXTENSIONS:
        return _EXTENSIONS[path.suffix.lower()], None
    if raw.startswith(b"PAR1"):
        guess = "parquet"
    else:
        first = raw.lstrip()[:1]
        line = raw.split(b"\n", 1)[0]
        guess = "jsonl" if first in (b"{", b"[") else "tsv" if b"\t" in line else "csv"
    return guess, f"format guessed as {guess} (no known file extension)"


def read_columns(path: Path, data_cfg: DataConfig, *, key: str = "data.path") -> RawTable:
    """Read every column of ``path`` as it is: the layer under :func:`load_table`.

    Useful to look at a file that is not (yet) a text/label table; the report's
    ``rows_used`` is the number of records read.
    """
    path = Path(path)
    if not path.exists():
        raise _error("file not found", path, key)
    if path.is_dir():
        raise _error("is a directory, not a data file", path, key)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _error(f"cannot be read: {exc.strerror}", path, key)
    sha = hashlib.sha256(raw).hexdigest()
    fmt, note = _detect_format(path, raw, data_cfg.format)
    if not raw.strip():
        raise _error("is empty", path, key)
    if fmt == "parquet":
        decoded = None
    else:
        check_not_binary(raw, str(path), key)
        decoded = decode_bytes(raw, data_cfg.encoding, str(path), key)
    table = read_raw(path, fmt, raw, decoded, data_cfg, key)
    report = table.report
    report.sha256 = sha
    if note:
        report.notes.insert(0, note)
    return table


def _column_index(name: str, table: RawTable, cfg_key: str, path: Path) -> int:
    columns = table.columns
    if table.has_header and name in columns:
        return columns.index(name)
    if name.isdigit():
        if int(name) < len(columns):
            return int(name)
        raise _error(
            f"column {name} does not exist: the file has {len(columns)} column(s) "
            f"({', '.join(map(str, columns))})",
            path,
            cfg_key,
        )
    if not table.has_header and table.positional:
        default = {"text": 0, "label": 1}.get(name)
        if default is not None and default < len(columns):
            return default
        raise _error(
            f"column '{name}' not found: the file has no header row, so name "
            f"columns by position 0..{len(columns) - 1} (or set data.header = "
            "'yes')",
            path,
            cfg_key,
        )
    listed = ", ".join(repr(c) for c in columns)
    raise _error(f"column '{name}' not found; the columns are: {listed}", path, cfg_key)


def _as_strings(values: pd.Series) -> pd.Series:
    """Cells to stripped strings; missing cells (None, NaN) become ""."""
    if pd.api.types.is_string_dtype(values.dtype):
        return values.fillna("").astype(str)

    def one(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer():
            return str(int(v))
        if isinstance(v, (bool, np.bool_)):
            return "true" if v else "false"
        return str(v)

    return pd.Series([one(v) for v in values], index=values.index, dtype=str)


def load_table(
    path: Path, data_cfg: DataConfig, *, key: str = "data.path", require_classes: bool = True
) -> LoadedTable:
    """Load ``path`` as ``text``, ``label`` and source ``row`` columns, with a report.

    ``key`` names the config key the path came from (``data.dev_path`` for a dev file).
    ``require_classes`` refuses a classification file with a single class (turned off
    for a dev file, which may legitimately be small).
    """
    path = Path(path)
    table = read_columns(path, data_cfg, key=key)
    report = table.report
    frame = table.frame
    ti = _column_index(data_cfg.text_column, table, "data.text_column", path)
    li = _column_index(data_cfg.label_column, table, "data.label_column", path)
    if ti == li:
        raise _error(
            f"text_column and label_column name the same column ({table.columns[ti]!r})",
            path,
            "data.label_column",
        )

    text = _as_strings(frame.iloc[:, ti])
    labels = _as_strings(frame.iloc[:, li]).str.strip()
    rows = table.rows
    reasons = pd.Series("", index=frame.index, dtype=object)
    blank = text.str.strip() == ""
    missing = labels.isin(MISSING_LABELS)
    reasons[blank & missing] = "blank row (no text, no label)"
    reasons[blank & ~missing] = "empty text"
    reasons[~blank & missing] = "missing label"
    if data_cfg.task == "regression":
        values = pd.to_numeric(labels.where(~missing, None), errors="coerce").astype(float)
        bad = ~missing & ~blank & ~np.isfinite(values.to_numpy())
        for i in np.flatnonzero(bad.to_numpy()):
            reasons.iat[i] = f"label {labels.iat[i]!r} is not a number"
        label_out: pd.Series = values
    else:
        label_out = labels.str.replace(r"^([+-]?\d+)\.0*$", r"\1", regex=True)
    keep = (reasons == "").to_numpy()
    dropped = np.flatnonzero(~keep)
    skipped = report.skipped + [SkippedRow(int(rows[i]), reasons.iat[i]) for i in dropped]
    report.skipped = sorted(skipped, key=lambda s: s.row)
    out = pd.DataFrame(
        {
            "text": text[keep].astype(str).to_numpy(),
            "label": label_out[keep].to_numpy(),
            "row": rows[keep].astype(np.int64),
        }
    )
    if data_cfg.task != "regression":
        out["label"] = out["label"].astype(str)
    report.rows_used = len(out)

    if len(out) == 0:
        if report.rows_read == 0:
            raise _error(
                "has a header row but no data rows" if table.has_header else "has no data rows",
                path,
                key,
            )
        first = report.skipped[0]
        raise _error(
            f"has no usable rows: all {report.rows_read} rows were skipped "
            f"(first: row {first.row}, {first.reason})",
            path,
            key,
        )
    if data_cfg.task == "classification":
        counts = out["label"].value_counts()
        if len(counts) < 2 and require_classes:
            raise _error(
                f"has only one class ({counts.index[0]!r}); classification needs "
                "at least two (is data.label_column the right column?)",
                path,
                "data.label_column",
            )
        first_label = labels.iat[0] if len(labels) else None
        if (
            table.header_guessed
            and not table.has_header
            and keep[0]
            and counts.get(out["label"].iat[0], 0) == 1
            and len(counts) < len(out) / 2
        ):
            report.notes.append(
                f"row 1 has the only label {first_label!r}: if row 1 is a header, set "
                "data.header = 'yes' and name the columns"
            )
    return LoadedTable(out, report)
