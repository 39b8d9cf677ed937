"""How a prediction's text is shown: cut to a cell, right/wrong by symbol, saliency."""

from __future__ import annotations

from rich.console import Console
from rich.style import Style

from tuirecipe.ui.widgets.case_text import (
    cell_text,
    highlighted_tokens,
    right_wrong_symbol,
    saliency_tokens,
)


def test_right_and_wrong_have_symbols_with_an_ascii_fallback():
    assert (right_wrong_symbol(True), right_wrong_symbol(False)) == ("✓", "✗")
    assert (right_wrong_symbol(True, "ascii"), right_wrong_symbol(False, "ANSI_X3.4-1968")) == (
        "+",
        "x",
    )
    assert right_wrong_symbol(True, "UTF-8") == "✓"


def test_a_cell_is_one_line_cut_with_an_ellipsis_and_never_markup():
    cell = cell_text("a [bold]long[/] text\nwith a second line", 12)
    assert cell.cell_len == 12 and cell.plain.endswith("…") and "\n" not in cell.plain
    assert cell.plain.startswith("a [bold]")
    assert cell_text("short", 12).plain == "short"


def test_saliency_is_read_from_the_record_when_present_and_well_formed():
    row = {"tokens": [{"token": "dull", "saliency": 0.9}, {"token": "film", "saliency": -0.1}]}
    assert saliency_tokens(row) == [("dull", 0.9), ("film", -0.1)]
    assert saliency_tokens({"text": "no saliency"}) == []
    assert saliency_tokens({"tokens": "dull film"}) == []
    assert saliency_tokens({"tokens": [{"token": "x", "saliency": "high"}]}) == []
    assert saliency_tokens({"tokens": [{"token": "x", "saliency": True}]}) == []


def test_the_strongest_tokens_are_highlighted_by_sign():
    pairs = [("a", 0.01), ("dull", 0.9), ("not", -0.85), ("film", 0.4)]
    text = highlighted_tokens(pairs, Style(color="red"), Style(color="green"))
    assert text.plain == "a dull not film"

    def style_of(word: str) -> Style:
        start = text.plain.index(word)
        return text.get_style_at_offset(Console(), start)

    assert style_of("dull").bold and style_of("dull").color.name == "red"
    assert style_of("not").bold and style_of("not").color.name == "green"
    assert style_of("film").bold and style_of("film").color is None
    assert not style_of("a").bold
