"""The new findings as the Data pane and ``tuirecipe data`` draw them: typographic Unicode,
length as a shortcut, regression conflicts with their spread. The sections come from the
core functions on small constructed sets; labels and texts that read as Rich markup must
appear literally. Plain pytest: the builders are Rich only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from rich.console import Console

from tuirecipe.data.profile.regression import regression_conflicts
from tuirecipe.data.profile.shortcut import length_shortcut
from tuirecipe.data.profile.unicode import unicode_section
from tuirecipe.ui.profile_render import (
    SECTION_TITLES,
    profile_sections,
    render_profile,
    render_section,
    section_summary,
)


def _text(renderable: Any, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return " ".join(console.export_text().split())


def _unicode(texts: list[str]) -> dict:
    codes, uniques = pd.factorize(pd.Series(texts))
    rows = np.arange(len(texts)) + 2
    return unicode_section(pa.array(list(uniques), type=pa.large_string()), codes, rows, rows)


def _shortcut(label: str) -> dict:
    rng = np.random.default_rng(0)
    lengths = np.r_[rng.integers(5, 40, 200), rng.integers(80, 160, 60)]
    codes = np.r_[np.zeros(200, dtype=int), np.ones(60, dtype=int)]
    n = len(codes)
    return length_shortcut(
        lengths, codes, ["review", label], np.ones(n, dtype=bool), 64, np.arange(n) + 2
    )


def _regression_levels(text: str) -> dict:
    texts = [text, text, "calm", "calm", "other", "x", "y", "z"]
    values = np.array([0.5, 4.5, 3.0, 3.1, 1.0, 2.0, 4.0, 5.0])
    codes, uniques = pd.factorize(pd.Series(texts))
    summary, _ = regression_conflicts(
        codes,
        len(uniques),
        np.ones(len(texts), dtype=bool),
        np.arange(len(texts)) + 2,
        lambda i: texts[i],
        values,
        None,
    )
    return {"exact": summary, "case_space": summary}


def test_unicode_section_shows_kinds_characters_rows_and_the_split_literally() -> None:
    section = _unicode(["I don’t [/] like [b]it", "I don't like it", "10\u00a0km", "hel\u200blo"])
    out = _text(render_section("unicode", section))
    assert "3 rows" in out and "quotes" in out and "’ U+2019 ×1" in out
    assert "no-break space U+00A0" in out  # an invisible character is named, not drawn
    assert "zero width space U+200B" in out
    assert "row 2 (line 2): “I don’t [/] like [b]it”" in out
    assert "vocabulary split: 1 word types spelled both ways: don’t ≠ don't" in out
    assert section_summary("unicode", section) == "3 rows, 1 word types split"


def test_a_clean_unicode_section_says_so() -> None:
    section = _unicode(["plain text", "café"])
    out = _text(render_section("unicode", section))
    assert out == "No typographic or compatibility characters (1 non-ASCII texts checked)."
    assert section_summary("unicode", section) == "0 rows, 0 word types split"


def test_length_shortcut_shows_the_verdict_classes_classifier_and_truncation() -> None:
    section = _shortcut("[/]plot[b]")
    assert section["fires"]
    out = _text(render_section("length_shortcut", section))
    assert "Length alone predicts the label: '[/]plot[b]' rows are longer" in out
    assert "[/]plot[b] 60" in out and "longer, strong" in out
    assert "length-only classifier: balanced accuracy" in out
    assert "rows over max_len 64: 60 (23.1%)" in out
    assert "[/]plot[b]: 60 rows, 100.0% of the class, 100.0% of the truncated" in out
    assert section_summary("length_shortcut", section).startswith("length predicts the label")


def test_a_quiet_length_shortcut_says_no_shortcut() -> None:
    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 60, 400)
    codes = rng.integers(0, 2, 400)
    section = length_shortcut(
        lengths, codes, ["a", "b"], np.ones(400, dtype=bool), 64, np.arange(400) + 2
    )
    out = _text(render_section("length_shortcut", section))
    assert "Length says little about the label." in out
    assert section_summary("length_shortcut", section).startswith("no shortcut")


def test_regression_conflicts_show_spread_and_tolerance() -> None:
    levels = _regression_levels("rated [/] twice [b]")
    out = _text(render_section("conflicts", levels))
    tol = levels["exact"]["tolerance"]["value"]
    assert f"tolerance: {tol:.3f} target units" in out
    assert "values spread beyond tolerance (exact)" in out
    assert "×2 rows 2, 3 values 0.50–4.50 (spread 4.00, std 2.00) “rated [/] twice [b]”" in out
    assert section_summary("conflicts", levels) == "1 texts beyond tolerance (exact)"
    # within tolerance ("calm", 3.0/3.1) is counted, not listed
    assert "calm" not in out


def test_new_sections_are_registered_and_drawn_in_the_full_profile() -> None:
    assert {"unicode", "length_shortcut"} <= set(SECTION_TITLES)
    profile = {
        "task": "classification",
        "unicode": _unicode(["it’s [/]", "it's"]),
        "length_shortcut": _shortcut("long"),
    }
    keys = [key for key, _, _ in profile_sections(profile)]
    assert keys == ["length_shortcut", "unicode"]
    out = _text(render_profile(profile))
    assert "Length as a shortcut (all rows) — length predicts the label" in out
    assert "Typographic Unicode (all rows) — 1 rows, 1 word types split" in out
    assert "“it’s [/]”" in out
