"""Line numbers of loaded and skipped rows, and the fast CSV reader agreeing with pandas."""

from __future__ import annotations

import csv
import io
import json
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tuirecipe.config import config_from_dict
from tuirecipe.data import load_table, readers
from tuirecipe.data.lines import count_lines, line_offset
from tuirecipe.data.loading import _blank
from tuirecipe.errors import DataError


def data_cfg(**data):
    return config_from_dict({"data": data}).data


def physical_lines(raw: bytes) -> list[str]:
    """The file's lines as an editor shows them (\\n, \\r\\n or \\r end a line)."""
    return raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n").split("\n")


MULTILINE_CRLF = (
    b"\xef\xbb\xbftext,label\r\n"  # line 1, record 1 (after a BOM)
    b'"first\r\nsecond",a\r\n'  # lines 2-3, record 2
    b"\r\n"  # line 4, record 3: blank row
    b",b\r\n"  # line 5, record 4: empty text
    b"plain,a\r\n"  # line 6, record 5
    b'"x\ny\n\nz",b\r\n'  # lines 7-10, record 6 (a blank line inside the quotes)
    b"too,many,fields\r\n"  # line 11, record 7: too many fields
    b'"say ""hi""",a\r\n'  # line 12, record 8
    b"last,b\r\n"  # line 13, record 9
)


def test_multiline_records_get_their_physical_lines(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(MULTILINE_CRLF)
    loaded = load_table(path, data_cfg())
    frame, report = loaded.frame, loaded.report
    assert frame["row"].tolist() == [2, 5, 6, 8, 9]
    assert frame["line"].tolist() == [2, 6, 7, 12, 13]
    assert frame["text"].tolist() == ["first\r\nsecond", "plain", "x\ny\n\nz", 'say "hi"', "last"]
    assert [(s.row, s.line, s.reason.split(" ")[0]) for s in report.skipped] == [
        (3, 4, "blank"),
        (4, 5, "empty"),
        (7, 11, "expected"),
    ]
    # Against the file itself: each row's line is where its text starts.
    lines = physical_lines(MULTILINE_CRLF)
    for text, line in zip(frame["text"], frame["line"]):
        first = text.replace("\r\n", "\n").split("\n")[0].replace('"', '""')
        assert lines[line - 1].lstrip('"').startswith(first)
    assert lines[11 - 1] == "too,many,fields" and lines[5 - 1] == ",b"
    assert not report.encoding_fallback and report.encoding == "utf-8"


def test_lone_cr_and_lf_files_count_lines_alike(tmp_path):
    for newline in ("\n", "\r"):
        text = newline.join(["text,label", '"a' + newline + 'b",x', "", "c,y", "d,x"]) + newline
        path = tmp_path / "n.csv"
        path.write_text(text, encoding="utf-8", newline="")
        loaded = load_table(path, data_cfg())
        assert loaded.frame["row"].tolist() == [2, 4, 5]
        assert loaded.frame["line"].tolist() == [2, 5, 6]
        assert [(s.row, s.line) for s in loaded.report.skipped] == [(3, 4)]


def test_fallback_decoding_keeps_line_numbers(tmp_path):
    raw = (
        b'text,label\n"caf\xc3\xa9\nau lait",a\n'  # UTF-8, two lines
        + "na\u00efve,b\n".encode("latin-1")  # line 4: decoded as latin-1
        + b'"one\ntwo",a\nend,b\n'
    )
    path = tmp_path / "mixed.csv"
    path.write_bytes(raw)
    loaded = load_table(path, data_cfg())
    assert loaded.report.encoding_fallback and "row 4" in loaded.report.notes[0]
    assert loaded.frame["text"].tolist() == ["café\nau lait", "naïve", "one\ntwo", "end"]
    assert loaded.frame["row"].tolist() == [2, 3, 4, 5]
    assert loaded.frame["line"].tolist() == [2, 4, 5, 7]


def test_short_rows_read_by_pandas_still_get_lines(tmp_path):
    # A row with too few fields is padded (pandas' rule), which pyarrow does not do.
    raw = b'text,label,extra\n"a\nb",x,1\nshort,y\n"c\n\nd",x,2\n'
    path = tmp_path / "s.csv"
    path.write_bytes(raw)
    loaded = load_table(path, data_cfg())
    assert loaded.frame["text"].tolist() == ["a\nb", "short", "c\n\nd"]
    assert loaded.frame["line"].tolist() == [2, 4, 5]
    assert not any("could not be matched" in note for note in loaded.report.notes)


def test_lines_left_unknown_rather_than_wrong(tmp_path):
    # pandas skips the multi-line bad row without its text: its span is unknown.
    raw = b'text,label,extra\nshort,a\n"x\ny",a,extra,more\nok,b\nfine,a\n'
    path = tmp_path / "u.csv"
    path.write_bytes(raw)
    loaded = load_table(path, data_cfg())
    assert loaded.frame["text"].tolist() == ["short", "ok", "fine"]
    assert loaded.frame["line"].tolist() == loaded.frame["row"].tolist() == [2, 4, 5]
    assert any("could not be matched" in note for note in loaded.report.notes)


@pytest.mark.parametrize(
    "raw", [b'text,label\na,b\nc,"d\ne\n', b'text,label\na,b\nc,"d', b'text,label\na,b\nc,"d""e']
)
def test_unclosed_quote_is_still_an_error(tmp_path, raw):
    # pyarrow would read the open field to the end of the file; pandas refuses it.
    path = tmp_path / "q.csv"
    path.write_bytes(raw)
    with pytest.raises(DataError, match="cannot be parsed as CSV"):
        load_table(path, data_cfg())


def test_tsv_and_jsonl_lines_equal_rows(tmp_path):
    tsv = tmp_path / "d.tsv"
    tsv.write_bytes(b'text\tlabel\r\n"quoted\tx\r\n\r\nplain "a\ty\r\n\tx\r\nlast\ty\r\n')
    loaded = load_table(tsv, data_cfg())
    assert loaded.frame["text"].tolist() == ['"quoted', 'plain "a', "last"]
    assert loaded.frame["line"].tolist() == loaded.frame["row"].tolist() == [2, 4, 6]
    assert [(s.row, s.line) for s in loaded.report.skipped] == [(3, 3), (5, 5)]

    rows = [
        json.dumps({"text": "a\nb", "label": 1}),  # an escaped newline stays on one line
        "",
        "{broken",
        json.dumps({"text": "", "label": 0}),
        json.dumps({"text": "c", "label": 0}),
    ]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(rows) + "\n", encoding="utf-8")
    loaded = load_table(jsonl, data_cfg())
    assert loaded.frame["line"].tolist() == loaded.frame["row"].tolist() == [1, 5]
    assert [(s.row, s.line, s.reason[:5]) for s in loaded.report.skipped] == [
        (3, 3, "not v"),
        (4, 4, "empty"),
    ]


def test_parquet_line_is_the_record_number(tmp_path):
    pd.DataFrame({"text": ["a", "", "c"], "label": ["x", "y", "y"]}).to_parquet(
        tmp_path / "d.parquet"
    )
    loaded = load_table(tmp_path / "d.parquet", data_cfg())
    assert loaded.frame["line"].tolist() == [1, 3]
    assert [(s.row, s.line) for s in loaded.report.skipped] == [(2, 2)]


# -- the fast reader against pandas' C reader ---------------------------------------------


def _csv_module_starts(text: str, fmt: str) -> list[int] | None:
    """Record start lines by the standard library's csv reader (an independent count)."""
    options = {} if fmt == "csv" else {"delimiter": "\t", "quoting": csv.QUOTE_NONE}
    reader = csv.reader(io.StringIO(text, newline=""), **options)  # type: ignore[arg-type]
    starts, previous = [], 0
    try:
        for _ in reader:
            starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error:
        return None
    return starts


def _hostile_file(rng: random.Random) -> str:
    if rng.random() < 0.5:  # any characters that matter to CSV
        pieces = ["a", "b", ",", ",", '"', '"', "\n", "\n", "\r\n", "\r", " ", "\t", "é"]
        return "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
    newline = rng.choice(["\n", "\r\n", "\r"])  # a table with quoted fields and bad rows

    def field() -> str:
        core = "".join(rng.choice(["a", " ", "é", '"', "\n", "\r\n", ","]) for _ in range(4))
        if rng.random() < 0.5:
            return '"' + core.replace('"', '""') + '"'
        return "".join(c for c in core if c not in '"\r\n,')

    rows = ["text,label"]
    for _ in range(rng.randint(1, 8)):
        width = rng.choice([2, 2, 2, 3, 0, 1])
        rows.append(",".join(field() for _ in range(width)))
    return newline.join(rows) + rng.choice([newline, ""])


def test_fast_reader_splits_records_exactly_like_pandas():
    rng = random.Random(12)
    taken = checked_lines = 0
    for _ in range(1500):
        fmt = rng.choice(["csv", "csv", "tsv"])
        text = _hostile_file(rng)
        if not text.strip():
            continue
        bom = b"\xef\xbb\xbf" if rng.random() < 0.2 else b""
        fast = readers._arrow_with_lines(bom + text.encode(), fmt, skip_bad_rows=True)
        if fast is None:
            continue  # pyarrow declined: pandas reads it
        taken += 1
        records, starts = fast
        reference = readers._pandas_records(text, fmt, Path("f"), "data.path")  # no error
        assert records.frame.values.tolist() == reference.frame.values.tolist(), repr(text)
        assert records.numbers.tolist() == reference.numbers.tolist(), repr(text)
        assert [b[:2] for b in records.bad] == [b[:2] for b in reference.bad], repr(text)
        expected = _csv_module_starts(text, fmt)
        if expected is not None and len(expected) == records.n_records:
            checked_lines += 1
            assert starts.tolist() == expected, repr(text)
    assert taken > 400 and checked_lines > 300  # the comparison really ran


def test_count_lines_and_line_offsets():
    rng = random.Random(3)
    for _ in range(2000):
        text = "".join(rng.choice(["a", "\n", "\r", "\r\n", "é"]) for _ in range(12))
        data = text.encode()
        lines = re.findall(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", data)
        total = count_lines(data)
        assert total == len(lines) == count_lines(text)
        offsets = np.cumsum([0] + [len(line) for line in lines])
        for number in range(1, total + 1):
            assert line_offset(data, number, total) == offsets[number - 1]


def test_blank_matches_str_strip_on_every_character():
    chars = [chr(c) for c in range(0x3100) if not 0xD800 <= c <= 0xDFFF]
    cells = chars + ["", "  ", "\u3000\t", " a ", "\u00a0x"]
    expected = np.array([c.strip() == "" for c in cells])
    assert np.array_equal(_blank(pd.Series(cells, dtype="str")), expected)
    assert np.array_equal(_blank(pd.Series(cells, dtype=object)), expected)


def test_threaded_blocks_read_the_records_of_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast read parses 16 MiB blocks in threads; with tiny blocks (records, quoted
    newlines and CRLFs falling across block edges) it must give one block's records, or
    decline (a record longer than a block) so the one-block read takes the file."""
    rng = random.Random(7)
    compared = 0
    for _ in range(600):
        fmt = rng.choice(["csv", "csv", "tsv"])
        text = _hostile_file(rng)
        if not text.strip():
            continue
        payload = memoryview(text.encode())
        monkeypatch.setattr(readers, "PARALLEL_BLOCK", 1 << 30)
        whole = readers._arrow_records(payload, fmt, skip_bad_rows=False)
        monkeypatch.setattr(readers, "PARALLEL_BLOCK", 48)
        blocks = readers._arrow_records(payload, fmt, skip_bad_rows=False)
        if whole is None or blocks is None:
            continue
        compared += 1
        assert blocks.frame.values.tolist() == whole.frame.values.tolist(), repr(text)
        assert blocks.numbers.tolist() == whole.numbers.tolist(), repr(text)
    assert compared > 150
    # and through the reader, with the records' lines
    text = "text,label\n" + "".join(f'"row {i}\nnext line",{i % 2}\n' for i in range(40))
    read = []
    for block in (1 << 30, 64):
        monkeypatch.setattr(readers, "PARALLEL_BLOCK", block)
        raw = readers.read_raw(Path("x.csv"), "csv", text.encode(), data_cfg(), "data.path")
        read.append((raw.frame.values.tolist(), raw.lines.tolist()))
    assert read[0] == read[1] and read[0][1][:3] == [2, 4, 6]
