"""The Train pane's one-line progress bar."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tuirecipe.ui.widgets.progress import PERCENT_WIDTH, RunProgress


class OneBar(App):
    def compose(self) -> ComposeResult:
        yield RunProgress(id="bar")


def cells(bar: RunProgress) -> str:
    return bar.render().plain


async def test_the_bar_fills_in_half_cells_and_says_the_percentage():
    app = OneBar()
    async with app.run_test(size=(60, 3)) as pilot:
        bar = app.query_one(RunProgress)
        await pilot.pause()
        width = bar.size.width - PERCENT_WIDTH
        assert cells(bar).endswith("--%")  # total not known yet: no guess
        bar.update(total=200, progress=50)
        assert bar.fraction == 0.25
        text = bar.render()
        assert text.plain.endswith(" 25%") and len(text.plain) == bar.size.width
        todo = [span for span in text.spans if span.end == width]  # the rest of the track
        assert len(todo) == 1 and todo[0].start == round(width * 0.25)
        bar.update(progress=201)  # a last step past the total still reads 100 %
        assert cells(bar).endswith("100%")
        bar.update(progress=3)  # 1.5 % of 35 cells: about half a cell
        assert "╸" in cells(bar)


async def test_an_update_that_changes_nothing_does_not_repaint():
    app = OneBar()
    async with app.run_test(size=(60, 3)) as pilot:
        bar = app.query_one(RunProgress)
        bar.update(total=10, progress=5)
        await pilot.pause()
        refreshed = []
        bar.refresh = lambda *a, **k: refreshed.append(1)  # type: ignore[method-assign]
        bar.update(total=10, progress=5)
        assert not refreshed
        bar.update(progress=6)
        assert refreshed
