"""A virtual data browser: renders only the visible lines of a (possibly huge) table.

:class:`DataBrowser` shows a loaded table (``text``, ``label``, ``row``) one row per line:
mark, row number, label, flags, length and the text cut to the width. It keeps only an
array of row positions (the current filter and sort); ``render_line`` looks up the few
rows on screen, so drawing and paging cost the same at 100 rows and 1,000,000.

Filtering (label, flag, case-insensitive substring) and sorting are vectorised on whole
columns (:func:`tuirecipe.data.row_query.select_rows`); for big tables they run in a
thread worker. :class:`~tuirecipe.ui.screens.row_detail.RowDetail` shows one row whole.
Marks are shown here but owned by the caller: the browser posts
:class:`DataBrowser.MarkRequested` and :class:`DataBrowser.RowOpened` and the parent
decides (attributes down, messages up).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuirecipe.data.label_noise import LabelNoise
from tuirecipe.data.row_query import SORTS, BrowserQuery, select_rows
from tuirecipe.printable import printable

__all__ = [
    "FLAG_NAMES",
    "FLAG_LETTERS",
    "BrowserQuery",
    "DataBrowser",
    "select_rows",
    "THREAD_THRESHOLD",
]

# Flag column name → (letter shown in the flags column, readable name).
FLAG_LETTERS = {
    "duplicate": "D",
    "conflict": "C",
    "near_duplicate": "N",
    "corrupted": "X",
    "long": "L",
    "label_error": "E",
}
FLAG_NAMES = {
    "duplicate": "duplicate",
    "conflict": "conflict",
    "near_duplicate": "near-dup",
    "corrupted": "corrupted",
    "long": "long",
    "label_error": "label error?",
}
MARK_TEXT = {"drop": "DROP", "label_wrong": "WRONG"}
# Above this many rows, filtering and sorting run in a thread worker.
THREAD_THRESHOLD = 200_000


def _one_line(text: str) -> str:
    """Newlines shown as ⏎, tabs as a space, other control characters escaped (ESC as
    ``\\x1b``: shown, never sent to the terminal)."""
    text = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", " ")
    return printable(text)


def _fit(text: str, width: int) -> str:
    """``text`` cut (with …) or padded to exactly ``width`` cells."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


class DataBrowser(ScrollView, can_focus=True):
    """One line per row of a loaded table; only the visible lines are ever rendered."""

    DEFAULT_CSS = """
    DataBrowser {
        height: 1fr;
        background: $surface;
        overflow-x: hidden;
    }
    DataBrowser > .data-browser--header {
        text-style: bold;
        background: $panel;
        color: $text;
    }
    DataBrowser > .data-browser--cursor {
        background: $primary 40%;
    }
    DataBrowser:focus > .data-browser--cursor {
        background: $primary;
        color: $text;
    }
    DataBrowser > .data-browser--drop {
        color: $error;
    }
    DataBrowser > .data-browser--wrong {
        color: $warning;
    }
    DataBrowser > .data-browser--flags {
        color: $warning;
    }
    DataBrowser > .data-browser--muted {
        color: $text-muted;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "data-browser--header",
        "data-browser--cursor",
        "data-browser--drop",
        "data-browser--wrong",
        "data-browser--flags",
        "data-browser--muted",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_row", "Open row"),
        Binding("d", "mark('drop')", "Drop"),
        Binding("w", "mark('label_wrong')", "Label wrong"),
        Binding("u", "mark('')", "Unmark"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class RowOpened(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, browser: DataBrowser, position: int) -> None:
            super().__init__()
            self.browser = browser
            self.position = position  # position in the frame

        @property
        def control(self) -> DataBrowser:
            return self.browser

    class MarkRequested(Message):
        """The user asked to mark (``mark``) or unmark (``None``) a source row."""

        def __init__(self, browser: DataBrowser, row: int, mark: str | None) -> None:
            super().__init__()
            self.browser = browser
            self.row = row
            self.mark = mark

        @property
        def control(self) -> DataBrowser:
            return self.browser

    class ViewChanged(Message):
        """The filter or sort changed: ``shown`` of ``total`` rows are listed."""

        def __init__(self, browser: DataBrowser, shown: int, total: int) -> None:
            super().__init__()
            self.browser = browser
            self.shown = shown
            self.total = total

        @property
        def control(self) -> DataBrowser:
            return self.browser

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.frame: pd.DataFrame = pd.DataFrame({"text": [], "label": [], "row": []})
        self.flags: pd.DataFrame | None = None
        self.marks: dict[int, str] = {}
        self.query_state = BrowserQuery()
        self.positions: np.ndarray = np.zeros(0, dtype=np.int64)
        self._lengths: np.ndarray = np.zeros(0, dtype=np.int64)
        self._flag_letters: np.ndarray | None = None
        self.groups: np.ndarray | None = None
        self._label_width = 8
        # the label-noise estimate (rows aligned with ``frame``): its flag column is added
        # to ``flags``, its quality sorts, its reason is shown in the row detail
        self.label_noise: LabelNoise | None = None

    # -- data in ---------------------------------------------------------------------------
    def set_data(
        self,
        frame: pd.DataFrame,
        flags: pd.DataFrame | None = None,
        marks: dict[int, str] | None = None,
    ) -> None:
        """Show ``frame`` (columns text, label, row); ``flags``: bool columns, same order."""
        self.frame = frame.reset_index(drop=True)
        self.marks = dict(marks or {})
        self._lengths = self.frame["text"].astype(str).str.len().to_numpy(dtype=np.int64)
        labels = self.frame["label"].astype(str)
        longest = int(labels.str.len().max()) if len(labels) else 5
        self._label_width = max(5, min(16, longest))
        self.label_noise = None
        self.set_flags(flags)
        self.positions = np.arange(len(self.frame), dtype=np.int64)
        self.set_query(self.query_state)

    def set_flags(self, flags: pd.DataFrame | None, groups: np.ndarray | None = None) -> None:
        """Per-row boolean flags (columns named as in :data:`FLAG_LETTERS`) and, from the
        same profile, each row's duplicate group (the row detail lists its group)."""
        if flags is not None:
            flags = flags.reset_index(drop=True)
            if len(flags) != len(self.frame):
                flags = None
        noise = self.label_noise
        if noise is not None and len(noise.issue) == len(self.frame):
            flags = pd.DataFrame(index=range(len(self.frame))) if flags is None else flags.copy()
            flags["label_error"] = np.asarray(noise.issue, dtype=bool)
        self.flags = flags
        self.groups = groups if groups is not None and len(groups) == len(self.frame) else None
        self._flag_letters = None
        if flags is not None and len(flags):
            letters = np.full(len(flags), "", dtype=object)
            for column, letter in FLAG_LETTERS.items():
                if column in flags.columns:
                    hit = flags[column].to_numpy(dtype=bool)
                    letters[hit] = letters[hit] + letter
            self._flag_letters = letters
        if self.query_state.flag not in (None, "marked"):
            self.set_query(self.query_state)  # the filtered rows depend on the flags
        self.refresh()

    def set_label_noise(self, noise: LabelNoise | None) -> None:
        """The label-noise estimate of these rows: adds the ``label_error`` flag and the
        ``quality`` sort; ``None`` removes them."""
        if noise is not None and len(noise.issue) != len(self.frame):
            noise = None
        base = self.flags
        if base is not None and "label_error" in base.columns:
            base = base.drop(columns="label_error")
            if base.columns.empty:
                base = None
        self.label_noise = noise
        self.set_flags(base, self.groups)
        if self.query_state.sort == "quality":
            self.set_query(self.query_state)

    def label_error_reason(self, position: int) -> str | None:
        """Why the row is flagged as a likely label error (None when it is not)."""
        noise = self.label_noise
        if noise is None or not bool(noise.issue[position]):
            return None
        return noise.reason(position)

    def _quality(self) -> np.ndarray | None:
        return None if self.label_noise is None else self.label_noise.quality

    def set_mark(self, row: int, mark: str | None) -> None:
        if mark:
            self.marks[int(row)] = mark
        else:
            self.marks.pop(int(row), None)
        self.refresh()

    def set_query(self, query: BrowserQuery) -> None:
        """Filter and sort; in a thread worker when the table is big."""
        self.query_state = query
        if len(self.frame) > THREAD_THRESHOLD and self.is_attached:
            self._select_in_thread(query)
        else:
            self._apply_positions(
                select_rows(
                    self.frame, self._lengths, self.flags, self.marks, query, self._quality()
                )
            )

    @work(thread=True, exclusive=True, group="browser-select")
    def _select_in_thread(self, query: BrowserQuery) -> None:
        positions = select_rows(
            self.frame, self._lengths, self.flags, dict(self.marks), query, self._quality()
        )
        if query == self.query_state:
            self.app.call_from_thread(self._apply_positions, positions)

    def _apply_positions(self, positions: np.ndarray) -> None:
        self.positions = positions
        self.virtual_size = Size(self.size.width, len(positions) + 1)
        self.cursor = 0
        self.scroll_to(y=0, animate=False)
        self.refresh()
        self.post_message(self.ViewChanged(self, len(positions), len(self.frame)))

    # -- what is under the cursor ---------------------------------------------------------
    @property
    def current_position(self) -> int | None:
        """Position (in the frame) of the row under the cursor."""
        if 0 <= self.cursor < len(self.positions):
            return int(self.positions[self.cursor])
        return None

    @property
    def current_row(self) -> int | None:
        """Source row number of the row under the cursor."""
        pos = self.current_position
        return None if pos is None else int(self.frame["row"].iat[pos])

    def go_to_row(self, row: int) -> str:
        """Put the cursor on source row ``row``: "shown", or why not: "hidden" (the
        filters leave it out) or "absent" (not in this table)."""
        hits = np.flatnonzero(self.frame["row"].to_numpy() == int(row))
        if not len(hits):
            return "absent"
        where = np.flatnonzero(self.positions == hits[0])
        if not len(where):
            return "hidden"
        self.cursor = int(where[0])
        # Shown from another pane, this browser may not have its size yet: scroll once it
        # has, with the row in the middle of the page.
        self.call_after_refresh(self._centre_cursor)
        return "shown"

    def _centre_cursor(self) -> None:
        self.scroll_to(y=max(0, self.cursor - self._page // 2), animate=False)

    def flags_of(self, position: int) -> list[str]:
        if self.flags is None:
            return []
        return [c for c in self.flags.columns if bool(self.flags[c].iat[position])]

    # -- layout ----------------------------------------------------------------------------
    def _columns(self, width: int) -> list[tuple[str, int]]:
        cols = [("mark", 5), ("row", 8), ("label", self._label_width), ("flags", 5), ("chars", 6)]
        used = sum(w for _, w in cols) + len(cols)
        return cols + [("text", max(4, width - used))]

    def _header_cells(self) -> dict[str, str]:
        arrow = "▼" if self.query_state.descending else "▲"
        cells = {
            "mark": "mark",
            "row": "row",
            "label": "label",
            "flags": "flags",
            "chars": "chars",
            "text": "text",
        }
        key = {"length": "chars", "label": "label", "row": "row", "quality": "flags"}[
            self.query_state.sort
        ]
        cells[key] = cells[key] + arrow
        return cells

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.positions) + 1)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:  # the header stays put while the rows scroll
            style = self.get_component_rich_style("data-browser--header")
            cells = self._header_cells()
            text = " ".join(_fit(cells[name], w) for name, w in self._columns(width))
            return Strip([Segment(_fit(text, width), style)], width)
        index = int(self.scroll_offset.y) + y - 1
        base = self.rich_style
        if index >= len(self.positions) or index < 0:
            return Strip.blank(width, base)
        return self._render_row(index, width, base)

    def _render_row(self, index: int, width: int, base: Style) -> Strip:
        pos = int(self.positions[index])
        frame = self.frame
        row = int(frame["row"].iat[pos])
        mark = self.marks.get(row)
        letters = "" if self._flag_letters is None else str(self._flag_letters[pos])
        values = {
            "mark": MARK_TEXT.get(mark, "") if mark else "",
            "row": str(row),
            "label": _one_line(str(frame["label"].iat[pos])),
            "flags": letters,
            "chars": str(int(self._lengths[pos])),
            "text": _one_line(str(frame["text"].iat[pos])),
        }
        muted = self.get_component_rich_style("data-browser--muted", partial=True)
        styles = {
            "mark": self.get_component_rich_style(
                "data-browser--drop" if mark == "drop" else "data-browser--wrong", partial=True
            )
            if mark
            else Style(),
            "row": muted,
            "flags": self.get_component_rich_style("data-browser--flags", partial=True),
            "chars": muted,
        }
        if index == self.cursor:
            base = base + self.get_component_rich_style("data-browser--cursor")
        segments: list[Segment] = []
        for i, (name, w) in enumerate(self._columns(width)):
            if i:
                segments.append(Segment(" ", base))
            cell = _fit(values[name], w) if name != "chars" else values[name].rjust(w)[:w]
            segments.append(Segment(cell, base + styles.get(name, Style())))
        return Strip(segments).adjust_cell_length(width, base)

    # -- cursor and scrolling --------------------------------------------------------------
    @property
    def _page(self) -> int:
        return max(1, self.size.height - 2)

    def watch_cursor(self, old: int, new: int) -> None:
        n = len(self.positions)
        clamped = max(0, min(new, n - 1)) if n else 0
        if clamped != new:
            self.cursor = clamped
            return
        top = int(self.scroll_offset.y)
        visible = max(1, self.size.height - 1)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + visible:
            self.scroll_to(y=new - visible + 1, animate=False)
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self.cursor = self.cursor + delta

    def action_page(self, direction: int) -> None:
        self.cursor = self.cursor + direction * self._page

    def action_jump(self, where: int) -> None:
        self.cursor = 0 if where == 0 else max(0, len(self.positions) - 1)

    def action_open_row(self) -> None:
        pos = self.current_position
        if pos is not None:
            self.post_message(self.RowOpened(self, pos))

    def action_mark(self, mark: str) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.MarkRequested(self, row, mark or None))
            self.cursor = self.cursor + 1  # move on, like a reviewer working down a list

    def action_cycle_sort(self) -> None:
        """Each key ascending, then (pressed again) descending, then the next key."""
        q = self.query_state
        if not q.descending:
            self.set_query(BrowserQuery(q.label, q.flag, q.search, q.sort, True))
            return
        # the label quality sort only once there is an estimate to sort by
        sorts = SORTS if self.label_noise is not None else tuple(k for k in SORTS if k != "quality")
        nxt = sorts[(sorts.index(q.sort) + 1) % len(sorts)] if q.sort in sorts else sorts[0]
        self.set_query(BrowserQuery(q.label, q.flag, q.search, nxt, False))

    def sort_by(self, key: str) -> None:
        """Sort by ``key``; asking again for the same key flips the direction."""
        q = self.query_state
        descending = (not q.descending) if q.sort == key else False
        self.set_query(BrowserQuery(q.label, q.flag, q.search, key, descending))

    # -- mouse -----------------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x = 0
            for name, w in self._columns(self.size.width):
                if x <= offset.x < x + w + 1:
                    key = {
                        "chars": "length",
                        "label": "label",
                        "row": "row",
                        "flags": "quality",
                    }.get(name)
                    if key:
                        self.sort_by(key)
                    return
                x += w + 1
            return
        index = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < len(self.positions):
            self.cursor = index
            if event.chain >= 2:
                self.action_open_row()
