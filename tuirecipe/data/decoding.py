"""Turning a data file's bytes into text without ever crashing on its encoding.

The configured encoding is tried first. Where it fails, only the offending lines are
decoded with a fallback — cp1252 when the line uses its 0x80–0x9F characters (curly
quotes, dashes), latin-1 otherwise — and each such line is reported by its number, so a
file that is mostly UTF-8 with a few Windows lines (a "mixed" file) keeps its UTF-8 text.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from tuirecipe.errors import DataError

_C1_BYTES = re.compile(rb"[\x80-\x9f]")
_MAX_LISTED = 5


@dataclass
class Decoded:
    """Decoded text; ``encoding`` is what was used ("utf-8", "latin-1", "utf-8+cp1252"…)."""

    text: str
    encoding: str
    fallback: bool = False
    notes: list[str] = field(default_factory=list)
    fallback_rows: list[int] = field(default_factory=list)  # 1-based line numbers


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def codec_name(encoding: str) -> str:
    """Python's canonical name for ``encoding`` ("UTF8" → "utf-8"); unknown names unchanged."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return encoding


def _ascii_compatible(encoding: str) -> bool:
    try:
        return "\n,\tab{".encode(encoding) == b"\n,\tab{"
    except (LookupError, UnicodeError):
        return False


def _fallback_decode(line: bytes) -> tuple[str, str]:
    if _C1_BYTES.search(line):
        try:
            return line.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass  # bytes cp1252 leaves undefined (0x81, 0x8d, …): latin-1 maps everything
    return line.decode("latin-1"), "latin-1"


def decode_bytes(raw: bytes, encoding: str, source: str, key: str = "data.path") -> Decoded:
    """Decode ``raw``; lines the configured ``encoding`` rejects use a reported fallback."""
    wanted = codec_name(encoding)
    if raw.startswith(codecs.BOM_UTF8) and wanted.startswith("utf-8"):
        raw = raw[len(codecs.BOM_UTF8) :]
    elif (marked := bom_encoding(raw)) and marked != "utf-8" and marked[-2:] not in wanted:
        try:
            text = raw.decode(marked)
        except UnicodeDecodeError:
            pass
        else:
            return Decoded(
                text,
                marked,
                True,
                [
                    f"decoded as {marked} (the file starts with a {marked.upper()} "
                    f"byte-order mark), not as the configured {encoding}"
                ],
            )
    try:
        return Decoded(raw.decode(encoding), wanted)
    except UnicodeDecodeError as exc:
        first_error = exc.start
    if not _ascii_compatible(encoding):
        raise DataError(
            f"cannot be decoded as {encoding} (byte {first_error}); "
            "set data.encoding to the file's encoding",
            source=source,
            key="data.encoding",
        )

    # Everything before the failing line is fine; from there on, go line by line.
    start = raw.rfind(b"\n", 0, first_error) + 1
    parts = [raw[:start].decode(encoding)]
    line_no = raw.count(b"\n", 0, start) + 1
    used: dict[str, list[int]] = {}
    for line in raw[start:].split(b"\n"):
        try:
            parts.append(line.decode(encoding))
        except UnicodeDecodeError:
            text, name = _fallback_decode(line)
            parts.append(text)
            used.setdefault(name, []).append(line_no)
        line_no += 1
    text = parts[0] + "\n".join(parts[1:])
    rows = sorted(r for lines in used.values() for r in lines)
    fallbacks = sorted(used)
    bad = set(rows)
    lines = text.split("\n")
    clean_non_ascii = any(not line.isascii() for i, line in enumerate(lines, 1) if i not in bad)
    label = "+".join(([wanted] if clean_non_ascii else []) + fallbacks)
    listed = ", ".join(str(r) for r in rows[:_MAX_LISTED])
    more = f" and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
    plural = "s" if len(rows) > 1 else ""
    mixed = "mixed encodings: " if clean_non_ascii else ""
    notes = [
        f"{mixed}{wanted} failed at byte {first_error} (row {rows[0]}); decoded "
        f"{len(rows)} row{plural} as {'/'.join(fallbacks)}: row{plural} {listed}{more}"
    ]
    return Decoded(text, label, True, notes, rows)


def bom_encoding(raw: bytes) -> str | None:
    """The encoding a byte-order mark at the start names (UTF-32 is tested first: its
    little-endian mark begins with UTF-16's)."""
    for mark, name in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(mark):
            return name
    return None


def check_not_binary(raw: bytes, source: str, key: str = "data.path", encoding: str = "") -> None:
    """Refuse files that are not text (a NUL byte anywhere, a Parquet magic). Text in
    UTF-16 or UTF-32 (by its byte-order mark, or as ``encoding`` says) is full of NULs.

    The whole file is searched (``bytes.find`` is a memchr: gigabytes a second), so one
    NUL deep in a large file is refused like one in its first rows."""
    head = raw[:65536]
    if head.startswith(b"PAR1"):
        raise DataError(
            "is a Parquet file; name it .parquet or set data.format = 'parquet'",
            source=source,
            key="data.format",
        )
    if bom_encoding(head) in ("utf-16", "utf-32") or codec_name(encoding).startswith(
        ("utf-16", "utf-32")
    ):
        return
    at = raw.find(b"\x00")
    if at >= 0:
        line = raw.count(b"\n", 0, at) + 1
        raise DataError(
            "looks like a binary file (it contains NUL bytes), not CSV, TSV or JSONL text"
            + (f" (the first NUL is on line {line:,})" if line > 1 else ""),
            source=source,
            key=key,
        )
