"""Loading a labelled text table (CSV, TSV, JSONL, Parquet) into ``text, label, row``.

A bad row never stops a load: it is counted in :class:`LoadReport.skipped` with its row
number and reason, and left out. Only a problem that makes the whole file unusable
(missing, a folder, binary, empty, no usable rows, a missing column, a single class)
raises :class:`~tuirecipe.errors.DataError`, naming the file and the config key.

Row numbers are 1-based record numbers counting the header: a row's identity everywhere
(marks, bad cases, manifests). The ``line`` column is the physical line where the record
starts, what an editor shows: equal to ``row`` for a CSV/TSV/JSONL file whose records are
one line each, larger after a CSV record whose quoted field spans lines. Parquet and a JSON
array have no lines per record: there ``line`` is the record number, like ``row``.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuirecipe.config import DataConfig
from tuirecipe.data.decoding import file_sha256
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
    """A record left out of the loaded table: its record number, why, and its line.

    ``line`` is the physical line where the record starts (0 when built without one: it
    then repeats ``row``).
    """

    row: int
    reason: str
    line: int = 0

    def __post_init__(self) -> None:
        if self.line <= 0:
            self.line = self.row


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
    head = raw[:65536]
    if head.startswith(b"PAR1"):
        guess = "parquet"
    else:
        first = head.lstrip()[:1]
        line = head.split(b"\n", 1)[0]
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
    if not path.is_file():  # reading a pipe or a device would wait forever
        raise _error("is not a regular file (a pipe or a device?)", path, key)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _error(f"cannot be read: {exc.strerror}", path, key)
    fmt, note = _detect_format(path, raw, data_cfg.format)
    if not raw or raw.isspace():  # isspace: the same ASCII whitespace as bytes.strip()
        raise _error("is empty", path, key)
    # hashlib lets go of the GIL on large buffers: hash while the file is parsed.
    with ThreadPoolExecutor(max_workers=1) as pool:
        sha = pool.submit(lambda: hashlib.sha256(raw).hexdigest())
        table = read_raw(path, fmt, raw, data_cfg, key)
        report = table.report
        report.sha256 = sha.result()
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
    """Cells to strings; missing cells (None, NaN) become ""."""
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

    if pd.api.types.is_numeric_dtype(values.dtype):
        # Numbers and booleans repeat (labels above all): convert each distinct value once.
        # Equal numbers give equal strings (0.0 and -0.0 are both "0"); missing values stay
        # distinct (use_na_sentinel=False), so NaN → "" and pd.NA → "<NA>" as before.
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        names = np.array([one(v) for v in uniques], dtype=object)
        return pd.Series(names[codes], index=values.index, dtype=str)
    return pd.Series([one(v) for v in values], index=values.index, dtype=str)


def _blank(text: pd.Series) -> np.ndarray:
    """Empty or whitespace-only cells (``str.strip() == ""``), as a bool array."""
    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        cells = pa.array(text.array)  # the column's own arrow data, not a copy
        # Byte lengths come from the offsets alone; utf8_is_space is str.isspace (the
        # Unicode whitespace str.strip removes) and false for "".
        empty = pc.equal(pc.binary_length(cells), 0)
        return np.asarray(pc.or_(empty, pc.utf8_is_space(cells)), dtype=bool)
    return (text.str.isspace() | (text.str.len() == 0)).to_numpy(dtype=bool)


def _one_chunk(values: Any) -> Any:
    """Arrow-backed strings in one piece: pyarrow's reader gives a chunk per block, and the
    profile's string kernels would join them anyway (a copy each time they are asked)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        import pyarrow as pa

        data = pa.array(values)
        if isinstance(data, pa.ChunkedArray) and data.num_chunks > 1:
            return pd.array(data.combine_chunks(), dtype=values.dtype)
    return values


def _release_parse_memory() -> None:
    """Hand the CSV parser's scratch memory back: pyarrow's allocator keeps freed blocks
    for reuse, a few hundred MB for a 1M-row file, which would sit under the profile's own
    peak."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pandas without pyarrow
        return
    pa.default_memory_pool().release_unused()


def _skip_reason(blank: bool, missing: bool, label: str) -> str:
    if blank:
        return "blank row (no text, no label)" if missing else "empty text"
    if missing:
        return "missing label"
    return f"label {label!r} is not a number"


def _nested(values: pd.Series) -> np.ndarray:
    """Cells holding a dict or a list (only an object column can)."""
    if values.dtype != object:
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((isinstance(v, (dict, list)) for v in values), dtype=bool, count=len(values))


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
    if not table.columns and report.skipped:  # e.g. a JSON array of arrays
        first = report.skipped[0]
        raise _error(
            f"has no usable rows: all {len(report.skipped)} rows were skipped "
            f"(first: row {first.row}, {first.reason})",
            path,
            key,
        )
    ti = _column_index(data_cfg.text_column, table, "data.text_column", path)
    li = _column_index(data_cfg.label_column, table, "data.label_column", path)
    if ti == li:
        raise _error(
            f"text_column and label_column name the same column ({table.columns[ti]!r})",
            path,
            "data.label_column",
        )

    text = _as_strings(frame.iloc[:, ti])
    blank = _blank(text)
    # Labels repeat: clean each distinct label once, then spread to the rows by code.
    label_cells = _as_strings(frame.iloc[:, li])
    codes, uniques = pd.factorize(label_cells)
    distinct = pd.Series(uniques, dtype=str).str.strip()
    missing = distinct.isin(MISSING_LABELS).to_numpy(dtype=bool)[codes]
    rows, lines = table.rows, table.lines
    not_number = np.zeros(len(codes), dtype=bool)
    if data_cfg.task == "regression":
        numbers = pd.to_numeric(distinct.mask(distinct.isin(MISSING_LABELS)), errors="coerce")
        distinct_out: Any = numbers.astype(float).to_numpy()
        not_number = ~missing & ~blank & ~np.isfinite(distinct_out[codes])
    else:
        distinct_out = distinct.str.replace(r"^([+-]?\d+)\.0*$", r"\1", regex=True).array
    # JSON and Parquet cells can hold objects and lists: not a text, not a label
    nested_text, nested_label = _nested(frame.iloc[:, ti]), _nested(frame.iloc[:, li])
    dropped = np.flatnonzero(blank | missing | not_number | nested_text | nested_label)
    keep = np.ones(len(codes), dtype=bool)
    keep[dropped] = False
    skipped = report.skipped + [
        SkippedRow(
            int(rows[i]),
            "text is a JSON object or list, not a string"
            if nested_text[i]
            else "label is a JSON object or list, not a value"
            if nested_label[i]
            else _skip_reason(blank[i], missing[i], distinct.iat[codes[i]]),
            int(lines[i]),
        )
        for i in dropped
    ]
    report.skipped = sorted(skipped, key=lambda s: s.row)
    everything = len(dropped) == 0  # the usual case: no copies of the columns
    if data_cfg.task != "regression" and list(distinct_out) == list(uniques):
        labels_out = label_cells.array  # cleaning changed no label: keep the column as read
        labels_out = labels_out if everything else labels_out[keep]
    else:
        labels_out = distinct_out.take(codes if everything else codes[keep])
    out = pd.DataFrame(
        {
            "text": _one_chunk(text.array if everything else text.array[keep]),
            "label": _one_chunk(labels_out),
            "row": rows if everything else rows[keep],
            "line": lines if everything else lines[keep],
        },
        copy=False,
    )
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
        first_label = distinct.iat[codes[0]] if len(codes) else None
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
    del table, frame, text, label_cells  # the reader's chunks; ``out`` has one piece each
    _release_parse_memory()
    return LoadedTable(out, report)
