"""Physical line numbers of the records of a delimited file.

A record's *row* number (1-based, counting the header) is its identity everywhere; its
*line* is where it starts in the file, which is what a person finds in an editor. The two
differ only after a record whose quoted field holds a line break. Lines end at ``\\n``,
``\\r\\n`` or a lone ``\\r``, as the CSV readers split them.

The check is cheap: when the file has exactly as many lines as records, every record is one
line and ``line == row``. Otherwise each record spans one line plus the line breaks inside
its values (readers keep quoted line breaks verbatim), and the starts are a running sum.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

_BREAKS = r"\r\n|\r|\n"
_CR, _LF = 13, 10
_STEP = 1 << 20  # numpy compares in slices: fast, and no file-sized temporary


def count_lines(data: bytes | memoryview | str) -> int:
    """Lines in ``data``: its line breaks, plus a last line that has none."""
    if isinstance(data, str):
        return count_breaks(data) + int(bool(data) and not data.endswith(("\r", "\n")))
    codes = np.frombuffer(data, dtype=np.uint8)
    breaks = _count_pairs(codes, _LF, None)
    lone_or_paired_cr = _count_pairs(codes, _CR, None)
    if lone_or_paired_cr:
        breaks += lone_or_paired_cr - _count_pairs(codes, _CR, _LF)
    return breaks + int(len(codes) > 0 and codes[-1] not in (_CR, _LF))


def _count_pairs(codes: np.ndarray, first: int, second: int | None) -> int:
    """How often byte ``first`` occurs (followed by ``second``, when given)."""
    total = 0
    for start in range(0, len(codes), _STEP):
        part = codes[start : start + _STEP + 1]  # one byte of overlap for the pairs
        if second is None:
            total += int(np.count_nonzero(part[:_STEP] == first))
        else:
            total += int(np.count_nonzero((part[:-1] == first) & (part[1:] == second)))
    return total


def breaks_per_row(frame: pd.DataFrame) -> np.ndarray:
    """Line breaks inside each row's values (all columns), as int64."""
    total = np.zeros(len(frame), dtype=np.int64)
    for _, column in frame.items():
        total += column.astype(str).str.count(_BREAKS).to_numpy(dtype=np.int64)
    return total


def record_lines(
    total_lines: int,
    n_records: int,
    kept: pd.DataFrame,
    kept_records: np.ndarray,
    skipped_breaks: Mapping[int, int],
) -> np.ndarray | None:
    """The line each record 1..``n_records`` starts on; None when unknown.

    ``total_lines`` is :func:`count_lines` of the text the records were read from.
    ``kept`` holds the values of the records ``kept_records`` (the header included);
    ``skipped_breaks`` maps each record the reader skipped to the line breaks in its text
    (0 when its text is unknown). The spans must add up to the lines of ``source``: when a
    reader dropped or split lines some other way, the lines are left unknown, not guessed.
    """
    total = total_lines
    if total == n_records:  # every record is one line: the common case, no per-row work
        return np.arange(1, n_records + 1, dtype=np.int64)
    spans = np.ones(n_records, dtype=np.int64)
    spans[kept_records - 1] += breaks_per_row(kept)
    for record, breaks in skipped_breaks.items():
        spans[record - 1] += breaks
    if n_records == 0 or int(spans.sum()) != total:
        return None
    starts = np.empty(n_records, dtype=np.int64)
    starts[0] = 1
    np.cumsum(spans[:-1], out=starts[1:])
    starts[1:] += 1
    return starts


def count_breaks(text: str) -> int:
    """Line breaks in one string (``\\r\\n`` counts once)."""
    breaks = text.count("\n")
    if "\r" in text:
        breaks += text.count("\r") - text.count("\r\n")
    return breaks


def line_offset(data: bytes, line: int, total_lines: int) -> int:
    """Byte offset where 1-based ``line`` of ``data`` starts, found walking back from the end.

    Meant for the last few lines (a file's last record): it costs one search per line
    between ``line`` and the end.
    """
    has_cr = b"\r" in data
    end = len(data)  # end of the current line's content, before its break
    if data.endswith(b"\r\n"):
        end -= 2
    elif data.endswith((b"\r", b"\n")):
        end -= 1
    for current in range(total_lines, line - 1, -1):
        brk = data.rfind(b"\n", 0, end)
        if has_cr:
            brk = max(brk, data.rfind(b"\r", 0, end))
        if current == line or brk < 0:
            return brk + 1
        end = brk - 1 if brk > 0 and data[brk - 1 : brk + 1] == b"\r\n" else brk
    return 0
