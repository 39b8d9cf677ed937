"""The bug zoo (tests/support/bug_zoo.py) through the whole automatic checklist: every bug
is caught by the check its entry names, with the expected words; the sound setup it is
built from gets no ✗; the README's matrix lists exactly the zoo's entries and
expectations.

Each entry runs every automatic check in this process on a 1500-row stratified slice of
the demo (about a minute for the whole zoo on one core); the full matrix, with the sound
models at full size, is benchmarks/checks_matrix.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import REPO_ROOT
from support.bug_zoo import ZOO, Bug, glyph, missed, run_entry, zoo_frame

from tuirecipe.checks.runner import selected_checks

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BEGIN = "<!-- checks matrix: begin"
END = "<!-- checks matrix: end -->"


@pytest.fixture(scope="module")
def frame():
    return zoo_frame()


def _row(results: dict) -> str:
    return " ".join(f"{name}={r.status}" for name, r in results.items())


@pytest.mark.parametrize("bug", ZOO, ids=[b.name for b in ZOO])
def test_every_bug_is_caught_by_the_check_named(
    bug: Bug, frame, tmp_path: Path, record_property
) -> None:
    results = run_entry(bug, tmp_path, frame)
    record_property("statuses", {name: r.status for name, r in results.items()})
    assert list(results) == [c.name for c in selected_checks(None)]  # the whole checklist ran
    problems = missed(bug, results)
    assert not problems, f"{bug.name}: {problems}\nwhole row: {_row(results)}"
    for want in bug.expect:
        if want.status != "error":  # a verdict comes with advice a person acts on
            assert results[want.check].evidence.get("advice"), (want.check, bug.name)


def test_the_sound_setup_the_zoo_starts_from_gets_no_fail(frame, tmp_path: Path) -> None:
    results = run_entry(None, tmp_path, frame)
    bad = {n: r.summary for n, r in results.items() if r.status in ("fail", "error")}
    assert not bad, _row(results)
    # and no expectation of the zoo holds on it: each one tells the bug from the sound setup
    for bug in ZOO:
        assert len(missed(bug, results)) == len(bug.expect), bug.name


def test_the_zoo_is_large_and_names_real_checks() -> None:
    names = {c.name for c in selected_checks(None)}
    assert len(ZOO) >= 20
    assert len({b.name for b in ZOO}) == len(ZOO)
    for bug in ZOO:
        assert bug.expect and bug.what
        for want in bug.expect:
            assert want.check in names, (bug.name, want.check)
            assert want.status in ("fail", "warn", "error")


def _readme_table() -> list[list[str]]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert BEGIN in text and END in text, "README.md: the checks matrix markers are missing"
    block = text.split(BEGIN, 1)[1].split("\n", 1)[1].split(END, 1)[0]
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in block.strip().splitlines()
    ]


def test_the_readme_matrix_matches_the_zoo() -> None:
    """Regenerate with ``python benchmarks/checks_matrix.py --zoo --readme README.md``."""
    header, _rule, *rows = _readme_table()
    checks = [c.name for c in selected_checks(None)]
    assert header == ["bug", *(f"`{n}`" for n in checks)]
    sound, *bug_rows = rows
    assert "sound" in sound[0] and "✗" not in sound
    assert [r[0] for r in bug_rows] == [b.what for b in ZOO]
    glyphs = {"fail": "✗", "warn": "!", "error": "E"}
    for bug, row in zip(ZOO, bug_rows):
        bold = {checks[i] for i, cell in enumerate(row[1:]) if cell.startswith("**")}
        assert bold == {e.check for e in bug.expect}, bug.name
        for want in bug.expect:
            cell = row[1 + checks.index(want.check)]
            assert re.fullmatch(r"\*\*(.)\*\*", cell).group(1) == glyphs[want.status], (
                bug.name,
                want.check,
            )


def test_glyphs_cover_every_status() -> None:
    from tuirecipe.checks.base import STATUSES

    class R:
        def __init__(self, status: str) -> None:
            self.status = status

    assert {glyph(R(s)) for s in STATUSES} <= {"✗", "!", "✓", "E", "·"}
    assert glyph(None) == "·"
