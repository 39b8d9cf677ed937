"""The detail view of one sanity check: what it is, what it measured, what it saw.

:class:`CheckDetail` shows a check's description, status and summary, the advice when it
did not pass, its numbers, and its evidence rendered generically (no check is special):

* scalars and short lists → a key/value table;
* a dict → its entries, with dotted keys (``real.losses``);
* a list of dicts → a table (or, when the rows carry a decoded ``view``, the decoded
  input rows with padding, ``<unk>`` and truncation marks coloured);
* lists of floats → plots (:class:`EvidencePlot`), series of the same length together,
  against ``lr`` on a log axis when the evidence has one (the learning-rate range test);
* a list of number lists → a small matrix;
* ``traceback`` → the tail of an error's traceback.

A result, tick or human baseline is a :class:`~tuirecipe.checks.store.ResultView`, judged
against the config: a stale one is shown as history — the reason it is stale first, then
what that run said, labelled as from it — never as today's verdict.

:func:`evidence_blocks` turns evidence into plain blocks (no Textual), so it is testable
on its own. The widget never imports torch.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label, Static
from textual_plotext import PlotextPlot

from tuirecipe.checks.store import ResultView
from tuirecipe.printable import printable

STATUS_GLYPHS: dict[str, tuple[str, str]] = {
    "pass": ("✓", "$success"),
    "warn": ("!", "$warning"),
    "fail": ("✗", "$error"),
    "error": ("E", "$error"),
}
# What is no verdict: a result (or tick) made for another config, and a check stopped
# before its verdict. Neutral glyphs in a neutral colour, neither pass nor fail.
OTHER_GLYPHS: dict[str, tuple[str, str]] = {
    "stale": ("↻", "$secondary"),
    "stopped": ("⊘", "$secondary"),
}
STOPPED_SUMMARY = "stopped before its verdict — rerun"
MAX_TABLE_ROWS = 20
MAX_MATRIX = 12
MAX_SERIES_PER_PLOT = 4
TRACEBACK_LINES = 18


def status_glyph(status: str) -> tuple[str, str]:
    """``(glyph, colour variable)`` of a shown status (a verdict, stale or stopped)."""
    return STATUS_GLYPHS.get(status) or OTHER_GLYPHS.get(status) or ("?", "$text-muted")


def escape(text: str) -> str:
    """Make ``text`` literal in Textual markup (every ``[`` escaped, even an unclosed
    one, which ``textual.markup.escape`` leaves alone), its control characters shown
    escaped (an ESC in a summary must not reach the terminal)."""
    return printable(str(text)).replace("[", "\\[")


# -- evidence → blocks (plain data) ------------------------------------------------------
@dataclass
class Block:
    """One piece of the evidence view: ``kind`` is kv, table, rows, series, matrix, lines
    or traceback; ``title`` names it; ``data`` depends on the kind."""

    kind: str
    title: str
    data: Any
    extra: dict[str, Any] = field(default_factory=dict)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_value(value: Any, limit: int = 90) -> str:
    """A short human form of a plain JSON value."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3g}"
        return f"{value:.4g}"
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, list):
        if len(value) <= 6 and all(_is_number(v) or isinstance(v, str) for v in value):
            return "[" + ", ".join(format_value(v, 20) for v in value) + "]"
        if all(_is_number(v) for v in value):
            shown = ", ".join(format_value(v, 12) for v in value[:6])
            return f"[{shown}, … ({len(value)} values)]"
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_float_series(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 5
        and all(_is_number(v) for v in value)
        and any(isinstance(v, float) and not float(v).is_integer() for v in value)
    )


def _is_matrix(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(r, list) and r and all(_is_number(v) for v in r) for r in value)
    )


def evidence_blocks(evidence: dict[str, Any]) -> list[Block]:
    """Turn a check's evidence into display blocks, scalars first, then tables and plots.

    ``advice`` is left out (the view shows it on its own); ``traceback`` becomes a
    traceback block.
    """
    scalars: list[tuple[str, str]] = []
    blocks: list[Block] = []
    series: list[tuple[str, list[float]]] = []

    def walk(path: str, value: Any) -> None:
        last = path.rsplit(".", 1)[-1]
        if path == "traceback":
            lines = value if isinstance(value, list) else str(value).splitlines()
            blocks.append(
                Block(
                    "traceback",
                    "traceback (tail)",
                    [str(line) for line in lines][-TRACEBACK_LINES:],
                )
            )
        elif isinstance(value, dict):
            if not value:
                scalars.append((path, "(none)"))
            for key, sub in value.items():
                walk(f"{path}.{key}" if path else str(key), sub)
        elif _is_float_series(value):
            series.append((path, [float(v) for v in value]))
        elif _is_matrix(value):
            blocks.append(Block("matrix", path, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            if any("view" in v for v in value):
                blocks.append(Block("rows", path, value))
            else:
                blocks.append(Block("table", path, value))
        elif isinstance(value, list) and len(value) > 6 and all(isinstance(v, str) for v in value):
            blocks.append(Block("lines", path, value))
        else:
            scalars.append((path or last, format_value(value)))

    for key, value in evidence.items():
        if key == "advice":
            continue
        walk(str(key), value)
    decoded = [b for b in blocks if b.kind == "rows"]  # decoded input: the point of it
    out = [Block("kv", "evidence", scalars)] if scalars else []
    return decoded + out + _series_blocks(series) + [b for b in blocks if b.kind != "rows"]


def _series_blocks(series: list[tuple[str, list[float]]]) -> list[Block]:
    """Series of the same length plot together; against ``lr`` (log x) when present."""
    by_length: dict[int, list[tuple[str, list[float]]]] = {}
    for name, values in series:
        by_length.setdefault(len(values), []).append((name, values))
    blocks = []
    for group in by_length.values():
        x_name = next((n for n, _ in group if n.rsplit(".", 1)[-1] == "lr"), None)
        x = dict(group)[x_name] if x_name else None
        ys = [(n, v) for n, v in group if n != x_name]
        if not ys:
            continue
        log_x = x is not None and bool(x) and all(v > 0 for v in x)
        for start in range(0, len(ys), MAX_SERIES_PER_PLOT):
            chunk = ys[start : start + MAX_SERIES_PER_PLOT]
            title = ", ".join(n for n, _ in chunk)
            blocks.append(
                Block("series", title, chunk, {"x": x, "x_name": x_name or "step", "log_x": log_x})
            )
    return blocks


# -- blocks → renderables ----------------------------------------------------------------
def _literal(value: object) -> Text:
    """A table cell from evidence: Rich would read a ``str`` as markup."""
    return Text(printable(str(value)))


def kv_table(pairs: list[tuple[str, str]], title: str = "") -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_header=False,
        title=title or None,
        title_justify="left",
        title_style="bold",
        pad_edge=False,
        expand=True,
    )
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("value", ratio=1, overflow="fold")
    for key, value in pairs:  # evidence quotes rows, labels, paths: text, never markup
        table.add_row(_literal(key), _literal(value))
    return table


def dict_table(rows: list[dict[str, Any]], title: str) -> Table:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"{title} ({len(rows)})",
        title_justify="left",
        title_style="bold",
        header_style="bold",
        pad_edge=False,
        expand=True,
    )
    for column in columns:
        wide = any(isinstance(v := r.get(column), str) and len(v) > 20 for r in rows)
        table.add_column(
            _literal(column),
            ratio=3 if wide else 1,
            overflow="fold",
            justify="left" if wide else "right",
        )
    for row in rows[:MAX_TABLE_ROWS]:
        table.add_row(*(_literal(format_value(row[c], 60)) if c in row else "" for c in columns))
    if len(rows) > MAX_TABLE_ROWS:
        table.caption = f"… {len(rows) - MAX_TABLE_ROWS} more"
    return table


def matrix_table(values: list[list[float]], title: str) -> Table:
    table = Table(
        box=box.SIMPLE,
        show_header=False,
        title=title,
        title_justify="left",
        title_style="bold",
        pad_edge=False,
    )
    width = min(MAX_MATRIX, max(len(r) for r in values))
    for _ in range(width):
        table.add_column(justify="right")
    for row in values[:MAX_MATRIX]:
        table.add_row(*(f"{v:.3g}" for v in row[:width]), *([""] * (width - len(row[:width]))))
    if len(values) > MAX_MATRIX or any(len(r) > MAX_MATRIX for r in values):
        table.caption = f"first {MAX_MATRIX}×{MAX_MATRIX} shown"
    return table


_MARKS = re.compile(r"(<unk>|✂\[[^\]]*\]|·×\d+)")


def marked_view(view: str) -> str:
    """Markup for a decoded row: ``<unk>`` warning, ``✂[n cut]`` error, padding muted."""
    out = []
    for part in _MARKS.split(view):
        if not part:
            continue
        if part == "<unk>":
            out.append(f"[$warning b]{escape(part)}[/]")
        elif part.startswith("✂"):
            out.append(f"[$error b]{escape(part)}[/]")
        elif part.startswith("·×"):
            out.append(f"[$text-muted]{escape(part)}[/]")
        else:
            out.append(escape(part))
    return "".join(out)


def decoded_rows_markup(rows: list[dict[str, Any]]) -> str:
    """The input view's decoded rows: a header line per row, the text, the tokens."""
    lines = []
    for n, row in enumerate(rows[:MAX_TABLE_ROWS]):
        label = row.get("label_name", row.get("label"))
        head = [f"#{n}"]
        if "row" in row:
            head.append(f"row {row['row']}")
        if label is not None:
            head.append(f"label [b]{escape(str(label))}[/b]")
        if "length" in row:
            full = row.get("full_length", row["length"])
            head.append(
                f"{row['length']} tokens" + (f" of {full}" if full != row["length"] else "")
            )
        if row.get("truncated"):
            head.append("[$error]truncated[/]")
        if row.get("unk"):
            head.append(f"[$warning]{row['unk']} <unk>[/]")
        lines.append(" · ".join(head))
        if row.get("text"):
            lines.append(f"  [$text-muted]text:[/]   {escape(str(row['text']))}")
        lines.append(f"  [$text-muted]tokens:[/] {marked_view(str(row.get('view', '')))}")
    if len(rows) > MAX_TABLE_ROWS:
        lines.append(f"[$text-muted]… {len(rows) - MAX_TABLE_ROWS} more rows[/]")
    return "\n".join(lines)


class EvidencePlot(PlotextPlot):
    """A small plot of one evidence block's series; it owns its figure (``self.plt``)."""

    DEFAULT_CSS = """
    EvidencePlot {
        height: 14;
        margin-bottom: 1;
    }
    """

    def __init__(self, block: Block, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = block

    def on_mount(self) -> None:
        plt, block = self.plt, self.block
        x = block.extra.get("x")
        log_x = bool(block.extra.get("log_x")) and x is not None
        if log_x and x is not None:
            # Log axis drawn by hand: plotext's own log scale re-logs on every redraw.
            x = [math.log10(v) for v in x]
            decades = range(math.floor(min(x)), math.ceil(max(x)) + 1)
            plt.xticks(list(decades), [f"1e{d}" for d in decades])
        for name, values in block.data:
            xs = x if x is not None else list(range(1, len(values) + 1))
            finite = [(a, b) for a, b in zip(xs, values) if math.isfinite(b)]
            if finite:
                plt.plot(
                    [a for a, _ in finite],
                    [b for _, b in finite],
                    label=name.rsplit(".", 1)[-1] if len(block.data) > 1 else None,
                    marker="braille",
                )
        values = sorted(v for _, ys in block.data for v in ys if math.isfinite(v))
        if len(values) >= 10:
            # A blow-up at the end (lr range test) would flatten the rest: clip it.
            p90 = values[int(0.9 * (len(values) - 1))]
            if values[-1] - values[0] > 3 * (p90 - values[0]) > 0:
                plt.ylim(values[0], values[0] + 1.5 * (p90 - values[0]))
        plt.title(block.title)
        plt.xlabel(block.extra.get("x_name", "step") + (" (log)" if log_x else ""))


# -- the widget -------------------------------------------------------------------------
@dataclass
class CheckView:
    """Everything the detail view shows about one check (plain values)."""

    name: str
    title: str
    stage: str
    kind: str
    description: str
    result: ResultView | None = None  # the check's result for the config (or a stale one)
    live: dict[str, Any] | None = None  # {"state": queued|running, "fraction", "message"}
    tick: ResultView | None = None  # its manual tick (summary: the note)
    human: ResultView | None = None  # the saved human baseline (human_baseline only)
    hint: str = ""


def _when(t: float | None) -> str:
    if not t:
        return ""
    return _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def human_summary(human: dict[str, Any]) -> str:
    acc = human.get("accuracy")
    if acc is None:
        return f"nothing answered ({human.get('skipped', 0)} skipped)"
    lo, hi = (human.get("ci") or [0.0, 1.0])[:2]
    return (
        f"your accuracy {acc:.0%} [{lo:.0%}, {hi:.0%}] on {human.get('n', 0)} "
        f"examples ({human.get('correct', 0)} right, {human.get('skipped', 0)} skipped)"
    )


def _on(view: ResultView) -> str:
    return f" on {escape(view.ran_on)}" if view.ran_on else ""


def _stale_head(view: ResultView) -> str:
    """The first line of anything stale: the glyph, and why (what to do about it)."""
    glyph, colour = status_glyph("stale")
    return f"[{colour} b]{glyph} stale[/]  {escape(view.stale_reason)}"


def _result_markup(result: ResultView) -> str:
    """A result's status lines: its verdict, or why it is stale and what that run said."""
    record = result.record
    seconds = record.get("seconds")
    meta = [f"{seconds:.1f}s"] if isinstance(seconds, (int, float)) and seconds else []
    meta += [_when(result.time), result.run_id]
    meta_line = escape(" · ".join(m for m in meta if m))
    summary = escape(result.summary)
    if result.current:
        glyph, colour = status_glyph(result.status)
        if result.status == "stopped":
            summary = STOPPED_SUMMARY + (f" ({summary})" if summary else "")
        head = f"[{colour} b]{glyph} {escape(result.status)}[/]"
        return f"{head}  {summary}\n[$text-muted]{meta_line}[/]"
    # The old verdict in words and muted: history, never today's ✓.
    return (
        f"{_stale_head(result)}\n[$text-muted]the stale run{_on(result)} said: "
        f"{escape(result.status)} — {summary}\n{meta_line}[/]"
    )


class CheckDetail(VerticalScroll):
    """Shows one :class:`CheckView`; ``show`` replaces it (the view recomposes).

    Not focusable beside a list (``focusable=False``): a focusable sibling in a tab pane
    takes the focus back when the pane is hidden, which re-activates the tab.
    """

    def __init__(
        self, view: CheckView | None = None, *, focusable: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.view = view
        self.can_focus = focusable

    def show(self, view: CheckView | None) -> None:
        if view == self.view:
            return
        self.view = view
        self.scroll_home(animate=False)
        self.refresh(recompose=True)

    def compose(self) -> ComposeResult:
        view = self.view
        if view is None:
            yield Label("Choose a check to see what it measured.", classes="check-muted")
            return
        yield Label(
            f"[b]{escape(view.title)}[/b]  [$text-muted]{escape(view.name)} · {view.kind}[/]",
            classes="check-title",
        )
        yield from self._status(view)
        if view.description:
            yield Static(escape(view.description), classes="check-description")
        if view.tick is not None:
            yield from self._tick(view.tick)
        if view.human is not None:
            yield from self._human(view.human)
        result = view.result
        if result is None:
            return
        record = result.record
        stale = " (stale run)" if not result.current else ""
        evidence = record.get("evidence") or {}
        advice = evidence.get("advice")
        if result.status != "pass" and advice:
            yield Static(
                f"[b]What to look at{stale}:[/b] {escape(str(advice))}",
                classes=f"check-advice -{result.status}",
            )
        numbers = record.get("numbers") or {}
        if numbers:
            yield Static(
                kv_table([(k, format_value(v)) for k, v in numbers.items()], "numbers" + stale),
                classes="check-table",
            )
        for block in evidence_blocks(evidence):
            yield from self._block(block, stale)

    def _status(self, view: CheckView) -> ComposeResult:
        if view.live is not None:
            if view.live.get("state") == "queued":
                line = "[$text-muted]queued: waiting for the worker[/]"
            else:
                fraction = view.live.get("fraction")
                done = f" {fraction:.0%}" if fraction is not None else ""
                line = f"[$accent b]running{done}[/] {escape(view.live.get('message') or '')}"
            yield Label(line, classes="check-status")
        result = view.result
        if result is not None:
            yield Static(_result_markup(result), classes="check-summary")
        elif view.live is None and view.kind == "auto":
            yield Label(
                f"[$text-muted]not run yet{' — ' + view.hint if view.hint else ''}[/]",
                classes="check-status",
            )
        elif view.hint and view.live is None:
            yield Label(f"[$text-muted]{escape(view.hint)}[/]", classes="check-status")

    def _tick(self, tick: ResultView) -> ComposeResult:
        note = escape(tick.summary or "(no note)")
        when = _when(tick.time)
        if tick.current:
            line = f"[$success]☑ ticked[/] {when} — {note}"
        else:
            line = (
                f"{_stale_head(tick)}\n[$text-muted]the stale tick: {when}{_on(tick)} — {note}[/]"
            )
        yield Static(line, classes="check-tick")

    def _human(self, human: ResultView) -> ComposeResult:
        line = f"[b]Human baseline:[/b] {escape(human_summary(human.record))} · {_when(human.time)}"
        if not human.current:
            line = (
                f"{_stale_head(human)}\n[$text-muted]the stale human baseline"
                f"{_on(human)}: {escape(human_summary(human.record))} · {_when(human.time)}[/]"
            )
        yield Static(line, classes="check-summary")
        mistakes = human.record.get("mistakes") or []
        if mistakes:
            title = "where you and the gold label disagree" + ("" if human.current else " (stale)")
            yield Static(dict_table(mistakes, title), classes="check-table")

    def _block(self, block: Block, stale: str = "") -> ComposeResult:
        if block.kind == "kv":
            yield Static(kv_table(block.data, "evidence" + stale), classes="check-table")
        elif block.kind == "table":
            yield Static(dict_table(block.data, block.title), classes="check-table")
        elif block.kind == "matrix":
            yield Static(matrix_table(block.data, block.title), classes="check-table")
        elif block.kind == "rows":
            yield Label(
                f"[b]{escape(block.title)}[/b] ({len(block.data)} rows)",
                classes="check-block-title",
            )
            yield Static(decoded_rows_markup(block.data), classes="check-rows")
        elif block.kind == "series":
            yield EvidencePlot(block)
        elif block.kind == "lines":
            yield Label(f"[b]{escape(block.title)}[/b]", classes="check-block-title")
            yield Static(escape("\n".join(block.data[:MAX_TABLE_ROWS])), classes="check-rows")
        elif block.kind == "traceback":
            yield Label("[b]traceback (tail)[/b]", classes="check-block-title")
            yield Static(escape("\n".join(block.data)), classes="check-traceback")
