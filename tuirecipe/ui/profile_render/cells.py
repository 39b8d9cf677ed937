"""Small pieces the profile's section builders share: tolerant key lookup, number and
percentage formats, bars, key-value grids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar ``width`` cells wide filled to ``fraction`` (eighth-cell steps)."""
    fraction = max(0.0, min(1.0, float(fraction or 0.0)))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BLOCKS[part] if part else "")
    return text.ljust(width)


def pick(data: Any, *names: str, default: Any = None) -> Any:
    """The first of ``names`` that ``data`` holds (not None), else ``default``; anything
    that is not a mapping holds nothing."""
    if not isinstance(data, Mapping):
        return default
    for name in names:
        if name in data and data[name] is not None:
            return data[name]
    return default


def num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and digits == 0:
            return f"{int(value):,}"
        return f"{value:,.{digits or 2}f}"
    return str(value)


def pct(value: Any) -> str:
    if value is None:
        return "–"
    return f"{100 * float(value):.1f}%"


def row_list(rows: Any, limit: int = 12) -> str:
    if not rows:
        return ""
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f", … (+{len(rows) - limit})" if len(rows) > limit else "")


def where(data: Any, limit: int = 12, rows_key: str = "rows") -> str:
    """ "rows 2, 4" — or, when the profile gives lines that differ (records spanning
    several lines), "lines 3, 9 (records 2, 4)"."""
    rows = pick(data, rows_key, default=[]) or []
    lines = pick(data, "lines" if rows_key == "rows" else f"{rows_key[:-1]}_lines")
    if lines and list(lines) != list(rows):
        return f"lines {row_list(lines, limit)} (records {row_list(rows, limit)})"
    return f"rows {row_list(rows, limit)}"


def advice_lines(items: Any) -> list[RenderableType]:
    if not items:
        return []
    if isinstance(items, str):
        items = [items]
    return [Text("→ " + str(item), style="italic") for item in items]


def kv_table(pairs: Iterable[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs:
        table.add_row(key, Text(value))  # values may come from the data
    return table


def cut(text: Any, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
