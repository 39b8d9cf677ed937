"""Format readers: decoded text (or Parquet bytes) → a frame of every column, row numbers.

:func:`read_raw` knows about delimiters, quoting, headers and JSON lines, and nothing
about which column is the text or the label; :mod:`tuirecipe.data.loading` picks those.
Malformed records (a CSV line with too many fields, a JSONL line that is not JSON) are
reported in the report's ``skipped`` with their line number.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tuirecipe.config import DataConfig
from tuirecipe.errors import DataError

if TYPE_CHECKING:
    from tuirecipe.data.decoding import Decoded
    from tuirecipe.data.loading import LoadReport

_BAD_LINE_RE = re.compile(r"Skipping line (\d+): (.*)")


@dataclass
class RawTable:
    """All columns of a file, before picking text and label.

    ``columns`` are the names a config can use: header cells, JSON keys, Parquet column
    names, or positions 0..k-1 for a delimited file without a header (``positional``).
    ``rows`` holds each frame row's 1-based source row number.
    """

    frame: pd.DataFrame
    columns: list[Any]
    has_header: bool
    positional: bool
    header_guessed: bool
    rows: np.ndarray
    report: LoadReport


def _report(path: Path, fmt: str, decoded: Decoded | None) -> LoadReport:
    from tuirecipe.data.loading import LoadReport

    return LoadReport(
        path=str(path),
        format=fmt,
        encoding=decoded.encoding if decoded else "binary",
        encoding_fallback=bool(decoded and decoded.fallback),
        rows_read=0,
        rows_used=0,
        skipped=[],
        notes=list(decoded.notes) if decoded else [],
    )


def _is_header(first: list[str], cfg: DataConfig) -> bool:
    if cfg.header != "auto":
        return cfg.header == "yes"
    cells = {c.strip().strip('"') for c in first}
    names = [n for n in (cfg.text_column, cfg.label_column) if not n.isdigit()]
    return any(n in cells for n in names)


def _read_delimited(path: Path, fmt: str, decoded: Decoded, cfg: DataConfig, key: str) -> RawTable:
    from tuirecipe.data.loading import SkippedRow

    options: dict[str, Any] = {"sep": ","}
    if fmt == "tsv":
        # Quote characters in TSV are text: default quoting would swallow lines.
        options = {"sep": "\t", "quoting": csv.QUOTE_NONE}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(
                io.StringIO(decoded.text),
                header=None,
                dtype=str,
                na_filter=False,
                skip_blank_lines=False,
                on_bad_lines="warn",
                engine="c",
                **options,
            )
        except pd.errors.EmptyDataError:
            raise DataError("is empty", source=str(path), key=key)
        except pd.errors.ParserError as exc:
            raise DataError(
                f"cannot be parsed as {fmt.upper()}: {exc}", source=str(path), key="data.format"
            )
    report = _report(path, fmt, decoded)
    bad: list[tuple[int, str]] = []
    for warning in caught:
        for line, reason in _BAD_LINE_RE.findall(str(warning.message)):
            bad.append((int(line), reason.strip()))
    bad_lines = np.array(sorted(line for line, _ in bad), dtype=np.int64)
    numbers = np.setdiff1d(np.arange(1, len(frame) + len(bad) + 1, dtype=np.int64), bad_lines)
    has_header = len(frame) > 0 and _is_header(list(frame.iloc[0]), cfg)
    if has_header:
        columns: list[Any] = [str(c).strip().strip('"') for c in frame.iloc[0]]
        frame = frame.iloc[1:].reset_index(drop=True)
        numbers = numbers[1:]
    else:
        columns = list(range(frame.shape[1]))
    frame.columns = range(frame.shape[1])
    report.skipped = [SkippedRow(line, reason) for line, reason in sorted(bad)]
    report.rows_read = len(frame) + len(bad)
    report.rows_used = len(frame)
    return RawTable(frame, columns, has_header, True, cfg.header == "auto", numbers, report)


def _read_json(path: Path, decoded: Decoded, key: str) -> RawTable:
    from tuirecipe.data.loading import SkippedRow

    report = _report(path, "jsonl", decoded)
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    text = decoded.text
    if text.lstrip().startswith("["):  # a JSON array of objects (.json)
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"is not valid JSON: {exc}", source=str(path), key=key)
        lines = list(enumerate(items, 1))
    else:
        lines = [(i, line) for i, line in enumerate(text.split("\n"), 1) if line.strip()]
    for number, item in lines:
        if isinstance(item, str):
            try:
                item = json.loads(item)
            except json.JSONDecodeError as exc:
                report.skipped.append(
                    SkippedRow(number, f"not valid JSON: {exc.msg} (column {exc.colno})")
                )
                continue
        if not isinstance(item, dict):
            report.skipped.append(SkippedRow(number, "not a JSON object"))
            continue
        records.append(item)
        numbers.append(number)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    columns = [str(c) for c in frame.columns]
    frame.columns = range(frame.shape[1])
    report.rows_read = len(records) + len(report.skipped)
    report.rows_used = len(records)
    return RawTable(frame, columns, True, False, False, np.array(numbers, dtype=np.int64), report)


def _read_parquet(path: Path, raw: bytes, key: str) -> RawTable:
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"is not a readable Parquet file: {exc}", source=str(path), key=key)
    report = _report(path, "parquet", None)
    columns = [str(c) for c in frame.columns]
    frame = frame.reset_index(drop=True)
    frame.columns = range(frame.shape[1])
    report.rows_read = report.rows_used = len(frame)
    return RawTable(
        frame, columns, True, False, False, np.arange(1, len(frame) + 1, dtype=np.int64), report
    )


def read_raw(
    path: Path, fmt: str, raw: bytes, decoded: Decoded | None, cfg: DataConfig, key: str
) -> RawTable:
    """Dispatch on ``fmt`` (csv, tsv, jsonl, parquet)."""
    if fmt == "parquet":
        return _read_parquet(path, raw, key)
    assert decoded is not None
    if fmt == "jsonl":
        return _read_json(path, decoded, key)
    return _read_delimited(path, fmt, decoded, cfg, key)
