"""The virtual data browser: only visible lines are rendered, filters are vectorised."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from textual.app import App, ComposeResult

from tuirecipe.data.row_query import BrowserQuery, select_rows
from tuirecipe.ui.screens.row_detail import RowDetail
from tuirecipe.ui.widgets.browser import DataBrowser


def _frame(n: int) -> pd.DataFrame:
    words = np.array(["alpha", "beta", "gamma", "delta", "Needle"])
    text = pd.Series(words[np.arange(n) % 5]) + " " + pd.Series(np.arange(n)).astype(str)
    return pd.DataFrame(
        {
            "text": text,
            "label": np.where(np.arange(n) % 3 == 0, "a", "b"),
            "row": np.arange(n, dtype=np.int64) + 2,
        }
    )


class BrowserApp(App):
    def __init__(self, frame: pd.DataFrame, flags: pd.DataFrame | None = None) -> None:
        super().__init__()
        self.frame = frame
        self.flags = flags
        self.requests: list[tuple[int, str | None]] = []
        self.opened: list[int] = []

    def compose(self) -> ComposeResult:
        yield DataBrowser(id="browser")

    def on_mount(self) -> None:
        browser = self.query_one(DataBrowser)
        browser.set_data(self.frame, self.flags)
        browser.focus()

    def on_data_browser_mark_requested(self, event: DataBrowser.MarkRequested) -> None:
        self.requests.append((event.row, event.mark))
        event.browser.set_mark(event.row, event.mark)

    def on_data_browser_row_opened(self, event: DataBrowser.RowOpened) -> None:
        self.opened.append(event.position)


def test_select_rows_filters_and_sorts() -> None:
    frame = _frame(20)
    lengths = frame["text"].str.len().to_numpy()
    flags = pd.DataFrame({"duplicate": np.arange(20) % 4 == 0})
    q = BrowserQuery(search="needle")
    assert (
        frame["text"].iloc[select_rows(frame, lengths, flags, {}, q)].str.startswith("Needle").all()
    )
    assert len(select_rows(frame, lengths, flags, {}, q)) == 4
    assert select_rows(frame, lengths, flags, {}, BrowserQuery(flag="duplicate")).tolist() == [
        0,
        4,
        8,
        12,
        16,
    ]
    assert select_rows(frame, lengths, None, {}, BrowserQuery(flag="duplicate")).tolist() == []
    assert select_rows(
        frame, lengths, flags, {5: "drop"}, BrowserQuery(flag="marked")
    ).tolist() == [3]
    by_label = select_rows(frame, lengths, flags, {}, BrowserQuery(label="a"))
    assert set(frame["label"].iloc[by_label]) == {"a"}
    by_len = select_rows(frame, lengths, flags, {}, BrowserQuery(sort="length", descending=True))
    assert np.all(np.diff(lengths[by_len]) <= 0)
    # regex characters are matched literally
    assert len(select_rows(frame, lengths, flags, {}, BrowserQuery(search="a.p"))) == 0


async def test_million_rows_render_only_visible_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 1_000_000
    frame = _frame(n)
    app = BrowserApp(frame)
    calls: list[int] = []
    original = DataBrowser._render_row

    def spy(self: DataBrowser, index: int, width: int, base):  # noqa: ANN001
        calls.append(index)
        return original(self, index, width, base)

    monkeypatch.setattr(DataBrowser, "_render_row", spy)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        browser = app.query_one(DataBrowser)
        assert len(browser.positions) == n
        assert calls and max(calls) < 40
        calls.clear()
        start = time.perf_counter()
        for _ in range(5):
            await pilot.press("pagedown")
        await pilot.pause()
        elapsed = time.perf_counter() - start
        assert elapsed < 1.0
        assert browser.cursor == 5 * (browser.size.height - 2)
        # only rows around the viewport were drawn, never the whole frame
        assert len(set(calls)) < 200
        assert all(i < 400 for i in calls)
        await pilot.press("end")
        await pilot.pause()
        assert browser.cursor == n - 1
        assert browser.current_row == n + 1
        assert browser.scroll_offset.y == n + 1 - browser.size.height


async def test_big_frame_search_runs_in_a_thread() -> None:
    frame = _frame(300_000)
    app = BrowserApp(frame)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        browser = app.query_one(DataBrowser)
        browser.set_query(BrowserQuery(search="NEEDLE 29999"))
        await app.workers.wait_for_complete()
        await pilot.pause()
        rows = frame["text"].iloc[browser.positions].tolist()
        assert rows and all(t.startswith("Needle 29999") for t in rows)


async def test_keys_mark_open_and_sort_by_header_click() -> None:
    frame = _frame(50)
    app = BrowserApp(frame, pd.DataFrame({"long": np.arange(50) == 1}))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        browser = app.query_one(DataBrowser)
        await pilot.press("down", "d")
        await pilot.press("w", "up", "u")
        assert app.requests == [(3, "drop"), (4, "label_wrong"), (4, None)]
        assert browser.marks == {3: "drop"}
        line = browser.render_line(2).text
        assert "DROP" in line and "beta 1" in line and " L " in line
        await pilot.press("enter")
        assert app.opened == [3]  # cursor moved on after each mark
        # click the "chars" header: sort by length; click again: descending
        x = browser.render_line(0).text.index("chars")
        await pilot.click(DataBrowser, offset=(x + 1, 0))
        assert browser.query_state.sort == "length" and not browser.query_state.descending
        await pilot.click(DataBrowser, offset=(x + 1, 0))
        assert browser.query_state.descending
        lengths = frame["text"].str.len().to_numpy()[browser.positions]
        assert np.all(np.diff(lengths) <= 0)


async def test_row_detail_shows_whole_text_and_group() -> None:
    frame = pd.DataFrame(
        {
            "text": ["same words " * 30, "other", "same words " * 30],
            "label": ["x", "y", "z"],
            "row": [2, 3, 4],
        }
    )
    app = BrowserApp(frame)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        browser = app.query_one(DataBrowser)
        app.push_screen(RowDetail(browser, 0))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RowDetail)
        text = str(screen.query_one("#row-detail-text").render())
        assert text.count("same words") == 30
        group = str(screen.query_one("#row-detail-group").render())
        assert "row 4" in group and "label z" in group
        await pilot.press("escape")
        assert not isinstance(app.screen, RowDetail)


async def test_the_sort_key_sorts_each_column_both_ways() -> None:
    frame = _frame(30)
    app = BrowserApp(frame)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        browser = app.query_one(DataBrowser)
        browser.focus()
        seen = []
        for _ in range(4):
            await pilot.press("s")
            await app.workers.wait_for_complete()
            await pilot.pause()
            seen.append((browser.query_state.sort, browser.query_state.descending))
            if len(seen) == 1:  # the second press on "row" (the start) reverses it
                rows = frame["row"].to_numpy()[browser.positions]
                assert len(rows) == 30 and np.all(np.diff(rows) < 0)
        assert seen == [("row", True), ("length", False), ("length", True), ("label", False)]
