"""How a dev example's text is shown beside a prediction: cut to a table cell, marked
right or wrong by a symbol as well as a colour, and whole (wrapped) with the tokens a
saliency record points at highlighted.

A prediction row may carry per-token saliency as the saliency check records it
(``"tokens": [{"token": "dull", "saliency": 0.8}, …]``); without it the text is shown plain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.style import Style
from rich.text import Text

from tuirecipe.printable import printable, printable_line

# Right/wrong by shape as well as colour: colour is lost on the cursor row and in some
# 16-colour palettes. ASCII stand-ins for a terminal whose encoding lacks the symbols.
SYMBOLS = {True: "✓", False: "✗"}
ASCII_SYMBOLS = {True: "+", False: "x"}
STRONG_SHARE = 1 / 3  # tokens within this share of the largest |saliency|: bold+colour


def right_wrong_symbol(correct: bool, encoding: str = "utf-8") -> str:
    table = SYMBOLS if encoding.lower().replace("-", "").startswith("utf") else ASCII_SYMBOLS
    return table[bool(correct)]


def cell_text(text: Any, width: int) -> Text:
    """One line of ``text`` in ``width`` cells, with … when cut (never markup)."""
    line = str(text if text is not None else "").replace("\r", " ").replace("\n", " ")
    out = Text(printable(line), no_wrap=True, overflow="ellipsis")
    out.truncate(max(1, width), overflow="ellipsis")
    return out


def saliency_tokens(row: Mapping[str, Any]) -> list[tuple[str, float]]:
    """``(token, saliency)`` pairs of a prediction row, or [] when it has none (or they
    are malformed: a record from outside is read forgivingly)."""
    tokens = row.get("tokens")
    if not isinstance(tokens, list):
        return []
    out = []
    for item in tokens:
        if not isinstance(item, Mapping):
            return []
        token, value = item.get("token"), item.get("saliency")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return []
        out.append((str(token), float(value)))
    return out


def highlighted_tokens(
    pairs: list[tuple[str, float]], positive: Style | str, negative: Style | str
) -> Text:
    """The tokens in order; those near the largest |saliency| bold in ``positive`` (they
    push the prediction) or ``negative`` (they pull against it), the next third bold."""
    out = Text()
    top = max((abs(v) for _, v in pairs), default=0.0)
    for n, (token, value) in enumerate(pairs):
        if n:
            out.append(" ")
        share = abs(value) / top if top > 0 else 0.0
        token = printable_line(token)  # a token from the data: escapes shown, never sent
        if share >= 1 - STRONG_SHARE:
            style: Style | str = positive if value > 0 else negative
            out.append(token, style=Style.combine([Style.parse("bold underline"), _style(style)]))
        elif share >= STRONG_SHARE:
            out.append(token, style="bold")
        else:
            out.append(token)
    return out


def _style(style: Style | str) -> Style:
    return style if isinstance(style, Style) else Style.parse(style)
