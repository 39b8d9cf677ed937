"""Reading other tools' training logs as they grow: a metrics CSV, a JSONL file, a
TensorBoard event folder (``tuirecipe follow``).

Each source hands out the rows added since its last read as ``(step, {name: value})``;
the follower logs them into a run with :mod:`tuirecipe.track`, which maps the names
(``val_loss`` → dev loss …). Readers wait for a line being written (no newline yet) and
raise a :class:`~tuirecipe.errors.DataError` naming the file and the row for a line that
cannot be read.

* **CSV** (Lightning's ``CSVLogger`` ``metrics.csv``): a header naming a step column
  (``step``, ``global_step``, ``iteration`` or ``iter``) and one column per metric; rows
  are sparse (a metric's cell is empty where it was not logged). Lightning rewrites the
  whole file with a wider header when a new metric appears: a changed header means the
  file is read again from the top, skipping the rows already taken.
* **JSONL**: one object per line with a step key (as above) and numbers; other values
  (strings, lists) are left out.
* **TensorBoard**: through ``tensorboard``'s own event reader (``EventAccumulator``),
  scalar summaries only; without the ``tensorboard`` package, a one-line error says so.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Protocol

from tuirecipe.errors import DataError

STEP_KEYS = ("step", "global_step", "iteration", "iter")
Rows = list[tuple[int, dict[str, float]]]


class LogSource(Protocol):
    path: Path
    kind: str

    def read_new(self) -> Rows: ...


def _step_of(value: Any) -> int | None:
    """``value`` as a whole step number, or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return int(number)


class CsvSource:
    """A metrics CSV read incrementally (see the module's doc)."""

    kind = "csv"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        self.header: list[str] | None = None
        self.offset = 0  # bytes consumed (whole lines)
        self.lines = 0  # lines consumed, the header included
        self.rows_taken = 0  # data rows handed out

    def read_new(self) -> Rows:
        try:
            with open(self.path, "rb") as handle:
                first = handle.readline()
                if not first.endswith(b"\n"):
                    return []  # the header is being written
                header = self._parse_header(first)
                size = handle.seek(0, io.SEEK_END)
                if header != self.header or size < self.offset:
                    # A new file, or one rewritten with a wider header: from the top again.
                    self.header, self.offset, skip = header, len(first), self.rows_taken
                    self.lines = 1
                else:
                    skip = 0
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []  # rotated or being replaced: read again next time
        except OSError as exc:
            raise DataError(f"cannot read: {exc.strerror or exc}", source=str(self.path)) from None
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        body = chunk[: end + 1]
        out = self._parse_rows(body, self.lines + 1)
        self.offset += end + 1
        self.lines += body.count(b"\n")
        new = out[skip:] if skip else out
        self.rows_taken += len(new)
        return new

    def _parse_header(self, line: bytes) -> list[str]:
        text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
        names = next(csv.reader([text], delimiter=self.delimiter), [])
        names = [n.strip() for n in names]
        if not any(n in STEP_KEYS for n in names):
            raise DataError(
                f"the header names no step column (one of {', '.join(STEP_KEYS)}): "
                f"{', '.join(names[:8]) or 'nothing'}",
                source=str(self.path),
                row=1,
            )
        return names

    def _parse_rows(self, body: bytes, first_line: int) -> Rows:
        assert self.header is not None
        header = self.header
        step_col = next(i for i, n in enumerate(header) if n in STEP_KEYS)
        text = body.decode("utf-8", errors="replace")
        out: Rows = []
        for n, cells in enumerate(csv.reader(io.StringIO(text), delimiter=self.delimiter)):
            line = first_line + n
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise DataError(
                    f"{len(cells)} cells for {len(header)} columns", source=str(self.path), row=line
                )
            raw = cells[step_col].strip() if step_col < len(cells) else ""
            step = _step_of(raw)
            if step is None:
                raise DataError(
                    f"column '{header[step_col]}': {raw!r} is not a whole number",
                    source=str(self.path),
                    row=line,
                )
            values: dict[str, float] = {}
            for i, cell in enumerate(cells):
                cell = cell.strip()
                if i == step_col or not cell:
                    continue
                try:
                    values[header[i]] = float(cell)
                except ValueError:
                    raise DataError(
                        f"column '{header[i]}': {cell!r} is not a number",
                        source=str(self.path),
                        row=line,
                    ) from None
            out.append((step, values))
        return out


class JsonlSource:
    """A JSON-lines log read incrementally (see the module's doc)."""

    kind = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0  # complete lines consumed

    def read_new(self) -> Rows:
        try:
            with open(self.path, "rb") as handle:
                if handle.seek(0, io.SEEK_END) < self.offset:
                    self.offset = self.lines = 0  # truncated: a new file
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise DataError(f"cannot read: {exc.strerror or exc}", source=str(self.path)) from None
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        out: Rows = []
        for raw in chunk[: end + 1].split(b"\n")[:-1]:
            self.lines += 1
            line = self.lines
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise DataError(
                    f"not a JSON line ({exc})", source=str(self.path), row=line
                ) from None
            if not isinstance(obj, dict):
                raise DataError("a line must be a JSON object", source=str(self.path), row=line)
            key = next((k for k in STEP_KEYS if k in obj), None)
            if key is None:
                raise DataError(
                    f"no step key (one of {', '.join(STEP_KEYS)})", source=str(self.path), row=line
                )
            step = _step_of(obj[key])
            if step is None:
                raise DataError(
                    f"'{key}': {obj[key]!r} is not a whole number", source=str(self.path), row=line
                )
            values = {
                str(k): float(v)
                for k, v in obj.items()
                if k != key and isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            out.append((step, values))
        self.offset += end + 1
        return out


class TensorBoardSource:
    """A TensorBoard log folder, read with tensorboard's own ``EventAccumulator``."""

    kind = "tensorboard"

    def __init__(self, path: Path) -> None:
        try:
            from tensorboard.backend.event_processing import event_accumulator
        except ImportError:
            raise DataError(
                "reading TensorBoard logs needs the tensorboard package (pip install tensorboard)",
                source=str(path),
            ) from None
        self.path = path
        # size_guidance 0: keep every scalar (the default samples 10,000 per tag)
        self._acc = event_accumulator.EventAccumulator(
            str(path), size_guidance={event_accumulator.SCALARS: 0}
        )
        self._seen: dict[str, int] = {}

    def read_new(self) -> Rows:
        try:
            self._acc.Reload()
        except Exception as exc:  # noqa: BLE001 - tensorboard's reader raises many kinds
            raise DataError(f"cannot read the event files: {exc}", source=str(self.path)) from None
        by_step: dict[int, dict[str, float]] = {}
        for tag in self._acc.Tags().get("scalars", []):
            events = self._acc.Scalars(tag)
            for event in events[self._seen.get(tag, 0) :]:
                by_step.setdefault(int(event.step), {})[tag] = float(event.value)
            self._seen[tag] = len(events)
        return sorted(by_step.items())


def open_source(path: Path | str) -> LogSource:
    """The reader for ``path``: a folder of TensorBoard event files (or one of them), a
    folder holding ``metrics.csv`` (a Lightning CSVLogger version folder), a ``.csv`` /
    ``.tsv`` file, or a ``.jsonl`` / ``.ndjson`` / ``.json`` file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError("no such file or folder", source=str(path))
    if path.is_dir():
        if (path / "metrics.csv").is_file():
            return CsvSource(path / "metrics.csv")
        if any(path.glob("events.out.tfevents*")):
            return TensorBoardSource(path)
        nested = sorted({p.parent for p in path.rglob("events.out.tfevents*")})
        if nested:  # TensorBoard's reader takes one run's folder, not a tree of runs
            names = ", ".join(str(p.relative_to(path)) for p in nested[:5])
            raise DataError(
                f"the TensorBoard event files are in sub-folders ({names}): follow one of them",
                source=str(path),
            )
        raise DataError(
            "the folder holds neither metrics.csv nor TensorBoard event files", source=str(path)
        )
    name = path.name.lower()
    if name.startswith("events.out.tfevents"):
        return TensorBoardSource(path.parent)
    if name.endswith((".csv", ".tsv")):
        return CsvSource(path)
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return JsonlSource(path)
    raise DataError(
        "not a log tuirecipe can follow (a .csv, .tsv, .jsonl file or a TensorBoard folder)",
        source=str(path),
    )
