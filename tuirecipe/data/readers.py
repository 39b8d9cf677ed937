"""Format readers: a file's bytes → a frame of every column, record and line numbers.

:func:`read_raw` knows about encodings, delimiters, quoting, headers and JSON lines, and
nothing about which column is the text or the label; :mod:`tuirecipe.data.loading` picks
those. Malformed records (a CSV line with too many fields, a JSONL line that is not JSON)
are reported in the report's ``skipped`` with their record and line numbers.

CSV and TSV are read by pyarrow's CSV reader straight from the file's bytes (fast, and no
decoded copy of the file in memory). pandas' C reader defined how records are split before,
and stays the reference: pyarrow is used only where it agrees with it (a test compares the
two on random hostile files), and a file it cannot take the same way goes to pandas.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from codecs import BOM_UTF8, BOM_UTF16_BE, BOM_UTF16_LE
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tuirecipe.config import DataConfig
from tuirecipe.data.decoding import check_not_binary, codec_name, decode_bytes
from tuirecipe.data.lines import count_breaks, count_lines, line_offset, record_lines
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
    ``rows`` holds each frame row's 1-based record number (counting the header), and
    ``lines`` the physical line where that record starts (see :mod:`tuirecipe.data.lines`).
    """

    frame: pd.DataFrame
    columns: list[Any]
    has_header: bool
    positional: bool
    header_guessed: bool
    rows: np.ndarray
    report: LoadReport
    lines: np.ndarray


@dataclass
class _Records:
    """Every record of a delimited file as a reader split it."""

    frame: pd.DataFrame  # the records kept (the header too), columns 0..k-1, as strings
    numbers: np.ndarray  # their record numbers, 1-based
    bad: list[tuple[int, str, str | None]]  # (record, reason, its text when known)
    n_records: int


def _report(
    path: Path, fmt: str, encoding: str, fallback: bool = False, notes: list[str] | None = None
) -> LoadReport:
    from tuirecipe.data.loading import LoadReport

    return LoadReport(
        path=str(path),
        format=fmt,
        encoding=encoding,
        encoding_fallback=fallback,
        rows_read=0,
        rows_used=0,
        skipped=[],
        notes=list(notes or []),
    )


def _is_header(first: list[str], cfg: DataConfig) -> bool:
    if cfg.header != "auto":
        return cfg.header == "yes"
    cells = {c.strip().strip('"') for c in first}
    names = [n for n in (cfg.text_column, cfg.label_column) if not n.isdigit()]
    return any(n in cells for n in names)


# Block size of a multi-threaded read (a record longer than this falls back to one block).
PARALLEL_BLOCK = 16 << 20


def _arrow_records(payload: memoryview, fmt: str, *, skip_bad_rows: bool) -> _Records | None:
    """Read with pyarrow's CSV reader where it splits records exactly as pandas' C reader.

    None when it cannot be trusted to: a row with too few fields (pandas pads it), a file
    starting with a blank line (pandas finds no columns), anything pyarrow refuses
    (invalid UTF-8, a record longer than a block, more columns than are typed as strings).
    ``skip_bad_rows`` reports rows with too many fields instead of giving up; the payload
    must then be valid UTF-8 (pyarrow decodes a bad row's text to hand it over).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not payload or payload[:1] in (b"\n", b"\r"):
        return None
    bad: list[tuple[int, str, str | None]] = []

    def on_bad_row(row: Any) -> str:
        if row.actual_columns < row.expected_columns or row.number is None:
            return "error"
        reason = f"expected {row.expected_columns} fields, saw {row.actual_columns}"
        bad.append((int(row.number), reason, row.text))
        return "skip"

    tsv = fmt == "tsv"
    options = {
        # Single-threaded when rows may be skipped: only then does pyarrow number them,
        # and then in one block for the whole file (up to 1 GiB). Otherwise blocks of
        # 16 MiB parsed in threads, joined into one piece after (the profile's kernels
        # need each column whole): 0.41 -> 0.25 s for 147 MB on two cores.
        "read_options": pacsv.ReadOptions(
            autogenerate_column_names=True,
            use_threads=not skip_bad_rows,
            block_size=max(1 << 20, min(len(payload) + 1, 1 << 30))
            if skip_bad_rows
            else PARALLEL_BLOCK,
        ),
        "parse_options": pacsv.ParseOptions(
            delimiter="\t" if tsv else ",",
            # Quote characters in TSV are text (pandas: QUOTE_NONE).
            quote_char=False if tsv else '"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=not tsv,
            ignore_empty_lines=False,
            invalid_row_handler=on_bad_row if skip_bad_rows else None,
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types=_string_columns(),
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }
    try:
        # The system allocator: the parser's scratch goes back to malloc when freed, where
        # the profile's numpy arrays can reuse it (pyarrow's own pool keeps it to itself).
        table = pacsv.read_csv(
            pa.BufferReader(payload), **options, memory_pool=pa.system_memory_pool()
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not all(pa.types.is_large_string(t) for t in table.schema.types):
        return None  # more columns than _string_columns names: pyarrow guessed types
    if any(column.num_chunks > 1 for column in table.columns):
        table = table.combine_chunks(memory_pool=pa.system_memory_pool())
    frame = table.to_pandas()
    frame.columns = range(frame.shape[1])
    n_records = len(frame) + len(bad)
    numbers = np.arange(1, n_records + 1, dtype=np.int64)
    if bad:
        numbers = np.delete(numbers, [record - 1 for record, _, _ in bad])
    return _Records(frame, numbers, bad, n_records)


def _string_columns(limit: int = 1024) -> dict[str, Any]:
    """Every column (as pyarrow names them) read as a string, never a guessed number.

    Large strings (64-bit offsets): what pandas' arrow-backed strings hold, so handing the
    table to pandas copies nothing.
    """
    import pyarrow as pa

    return {f"f{i}": pa.large_string() for i in range(limit)}


def _pandas_records(text: str, fmt: str, path: Path, key: str) -> _Records:
    """pandas' C reader on decoded text: the reference for files pyarrow cannot take."""
    options: dict[str, Any] = {"sep": ","}
    if fmt == "tsv":
        # Quote characters in TSV are text: default quoting would swallow lines.
        options = {"sep": "\t", "quoting": csv.QUOTE_NONE}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(
                io.StringIO(text),
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
    bad: list[tuple[int, str, str | None]] = []
    for warning in caught:
        for line, reason in _BAD_LINE_RE.findall(str(warning.message)):
            bad.append((int(line), reason.strip(), None))
    n_records = len(frame) + len(bad)
    kept = np.ones(n_records, dtype=bool)
    kept[[record - 1 for record, _, _ in bad]] = False
    numbers = np.flatnonzero(kept).astype(np.int64) + 1
    return _Records(frame, numbers, bad, n_records)


def _bom_free(data: bytes) -> memoryview:
    view = memoryview(data)
    return view[len(BOM_UTF8) :] if data.startswith(BOM_UTF8) else view


def _start_lines(records: _Records, total_lines: int) -> np.ndarray | None:
    breaks = {record: count_breaks(text) if text else 0 for record, _, text in records.bad}
    return record_lines(total_lines, records.n_records, records.frame, records.numbers, breaks)


_QUOTED = re.compile(rb'(?:"[^"]*")+')  # a quoted field; "" inside is an escaped quote
_UNQUOTED = re.compile(rb"[^,\r\n]*")  # the rest of a field: quotes here are text


def _ends_inside_quotes(tail: bytes) -> bool:
    """Whether CSV records starting at ``tail`` leave a quoted field open at the end.

    pandas refuses such a file ("EOF inside string"); pyarrow reads the field to the end.
    """
    pos = 0
    while pos < len(tail):
        if tail[pos] == 0x22:  # a quote opens a field
            match = _QUOTED.match(tail, pos)
            if match is None or tail[match.end() : match.end() + 1] == b'"':
                return True
            pos = match.end()
        pos = _UNQUOTED.match(tail, pos).end() + 1  # type: ignore[union-attr]
    return False


def _arrow_with_lines(
    data: bytes, fmt: str, *, skip_bad_rows: bool
) -> tuple[_Records, np.ndarray] | None:
    """pyarrow's records of UTF-8 ``data`` and their start lines; None where pandas must
    decide: pyarrow declined, the records do not add up to the file's lines, or the last
    record leaves a quoted field open (pandas' error, which pyarrow does not raise)."""
    records = _arrow_records(_bom_free(data), fmt, skip_bad_rows=skip_bad_rows)
    if records is None:
        return None
    total = count_lines(data)
    starts = _start_lines(records, total)
    if starts is None:
        return None
    if fmt == "csv":
        last = line_offset(data, int(starts[-1]), total)
        if last == 0 and data.startswith(BOM_UTF8):
            last = len(BOM_UTF8)
        if _ends_inside_quotes(data[last:]):
            return None
    return records, starts


def _read_delimited(path: Path, fmt: str, raw: bytes, cfg: DataConfig, key: str) -> RawTable:
    from tuirecipe.data.loading import SkippedRow

    # Fast path: pyarrow on the file's own bytes. It gives up on anything unusual (bad
    # rows, invalid UTF-8); then the text is decoded with per-line fallbacks and read
    # again, by pyarrow when it can, by pandas' C reader otherwise.
    plain_utf8 = codec_name(cfg.encoding) == "utf-8" and not raw.startswith(
        (BOM_UTF16_LE, BOM_UTF16_BE)
    )
    found: tuple[_Records, np.ndarray | None] | None = None
    if plain_utf8:
        found = _arrow_with_lines(raw, fmt, skip_bad_rows=False)
    encoding, fallback, notes = "utf-8", False, []
    if found is None:
        decoded = decode_bytes(raw, cfg.encoding, str(path), key)
        encoding, fallback, notes = decoded.encoding, decoded.fallback, decoded.notes
        data = raw if plain_utf8 and not decoded.fallback else decoded.text.encode("utf-8")
        found = _arrow_with_lines(data, fmt, skip_bad_rows=True)
        if found is None:
            records = _pandas_records(decoded.text, fmt, path, key)
            found = records, _start_lines(records, count_lines(decoded.text))
    records, starts = found
    report = _report(path, fmt, encoding, fallback, notes)
    frame, numbers, bad = records.frame, records.numbers, sorted(records.bad)
    if starts is None:
        starts = np.arange(1, records.n_records + 1, dtype=np.int64)
        report.notes.append(
            "the records could not be matched to the file's lines: line numbers repeat the "
            "row (record) numbers"
        )
    lines = starts[numbers - 1]
    has_header = len(frame) > 0 and _is_header(list(frame.iloc[0]), cfg)
    if has_header:
        columns: list[Any] = [str(c).strip().strip('"') for c in frame.iloc[0]]
        frame = frame.iloc[1:].reset_index(drop=True)
        numbers, lines = numbers[1:], lines[1:]
    else:
        columns = list(range(frame.shape[1]))
    frame.columns = range(frame.shape[1])
    report.skipped = [
        SkippedRow(record, reason, int(starts[record - 1])) for record, reason, _ in bad
    ]
    report.rows_read = len(frame) + len(bad)
    report.rows_used = len(frame)
    return RawTable(frame, columns, has_header, True, cfg.header == "auto", numbers, report, lines)


def _read_json(path: Path, decoded: Decoded, key: str) -> RawTable:
    """JSON lines (row = line, counting blank lines), or one JSON array (row = position).

    A JSON array has no line per record, so its ``lines`` repeat the record numbers.
    """
    from tuirecipe.data.loading import SkippedRow

    report = _report(path, "jsonl", decoded.encoding, decoded.fallback, decoded.notes)
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
                    SkippedRow(number, f"not valid JSON: {exc.msg} (column {exc.colno})", number)
                )
                continue
        if not isinstance(item, dict):
            report.skipped.append(SkippedRow(number, "not a JSON object", number))
            continue
        records.append(item)
        numbers.append(number)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    columns = [str(c) for c in frame.columns]
    frame.columns = range(frame.shape[1])
    report.rows_read = len(records) + len(report.skipped)
    report.rows_used = len(records)
    rows = np.array(numbers, dtype=np.int64)
    return RawTable(frame, columns, True, False, False, rows, report, rows.copy())


def _read_parquet(path: Path, raw: bytes, key: str) -> RawTable:
    """Parquet has no lines: ``rows`` and ``lines`` are both the record number (from 1)."""
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"is not a readable Parquet file: {exc}", source=str(path), key=key)
    report = _report(path, "parquet", "binary")
    columns = [str(c) for c in frame.columns]
    frame = frame.reset_index(drop=True)
    frame.columns = range(frame.shape[1])
    report.rows_read = report.rows_used = len(frame)
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    return RawTable(frame, columns, True, False, False, rows, report, rows.copy())


def read_raw(path: Path, fmt: str, raw: bytes, cfg: DataConfig, key: str) -> RawTable:
    """Dispatch on ``fmt`` (csv, tsv, jsonl, parquet); text formats are decoded here."""
    if fmt == "parquet":
        return _read_parquet(path, raw, key)
    check_not_binary(raw, str(path), key, cfg.encoding)
    if fmt == "jsonl":
        return _read_json(path, decode_bytes(raw, cfg.encoding, str(path), key), key)
    return _read_delimited(path, fmt, raw, cfg, key)
