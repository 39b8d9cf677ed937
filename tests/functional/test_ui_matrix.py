"""Theme × size × pane: every pane, sub-view and dialog drawn in dark, light and ansi16 at
80×24 and 120×40, with a recorded classification run and a recorded regression run. A
combination fails on any exception (the console would stop) or on text that overflows its
widget (:func:`support.console_walk.overflowing` says what that means). One console per
theme and size walks all the views, so the matrix stays affordable on two cores.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from support.console_walk import (
    back_to_main,
    footer_overflow,
    go_to,
    no_blinking,
    overflowing,
    settled,
)
from support.recorded_run import write_recorded_run
from support.waiting import wait_for
from textual.app import App, ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label

from tuirecipe.config import config_from_dict
from tuirecipe.errors import UserError
from tuirecipe.runs.rundir import RunDir
from tuirecipe.ui.app import make_app

THEMES = ("dark", "light", "ansi16")
# Overflows in views another part of issue 14 rebuilds (the Train layout's bad cases and
# confusion matrix, the compare screen): reported as warnings here, not failed, until that
# work lands; then this set empties and they fail like any other.
REBUILT_ELSEWHERE: set[str] = set()  # overflows tolerated for now (as warnings): none
SIZES = ((80, 24), (120, 40))


async def look(pilot, where: str, found: dict[str, list[str]]) -> None:
    pilot.app.clear_notifications()
    no_blinking(pilot.app)
    await settled(pilot)
    problems = []
    for problem in overflowing(pilot.app):
        widget_id = problem.split(":")[0].partition("#")[2]
        if widget_id in REBUILT_ELSEWHERE:
            warnings.warn(f"{where}: {problem}", stacklevel=1)
        else:
            problems.append(problem)
    if pilot.app.size.width >= 120 and (cut := footer_overflow(pilot.app)):
        problems.append(cut)  # 80 columns cannot hold them: ? lists them there
    if problems:
        found[where] = problems


async def dialog(pilot, keys: tuple[str, ...], screen: str, where: str, found) -> None:
    app = pilot.app
    await pilot.press(*keys)
    assert await wait_for(
        pilot, lambda: type(app.screen).__name__ == screen, 30, what=f"{where}: {screen}"
    )
    await look(pilot, where, found)
    await back_to_main(pilot, where)


async def follow(pilot, run: RunDir) -> None:
    train = pilot.app.query_one("#train")
    train.follow(run)
    assert await wait_for(pilot, lambda: len(train.history.loss) == 200, 15)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("theme", THEMES)
async def test_every_view_draws_without_overflow(tmp_path: Path, theme: str, size) -> None:
    runs = tmp_path / "runs"
    classification = write_recorded_run(runs, "20231114-221320-demo")
    regression = write_recorded_run(
        runs, "20231114-231320-regr", task="regression", notes="# regression\nmae falls\n"
    )
    config = config_from_dict({"name": "demo", "runs_dir": str(runs)}, base_dir=str(tmp_path))
    app = make_app(config, theme=theme, settings_dir=tmp_path / "settings")

    async def no_checks(*args, **kwargs):
        raise UserError("no check jobs in this test")

    app.workers_client.start_job = no_checks  # type: ignore[method-assign]
    found: dict[str, list[str]] = {}
    async with app.run_test(size=size) as pilot:
        assert app.theme == theme
        assert await wait_for(pilot, lambda: bool(app.query("#data-slot > #data")), 30)
        data = app.query_one("#data")
        assert await wait_for(pilot, lambda: data.profile_result is not None, 180)
        await go_to(pilot, "Data profile")
        await look(pilot, "Data profile", found)
        await go_to(pilot, "Data browse")
        await look(pilot, "Data browse", found)
        await dialog(pilot, ("enter",), "RowDetail", "Data row detail", found)
        await dialog(pilot, ("e",), "ExportDialog", "Data export dialog", found)

        await go_to(pilot, "Checks list")
        await look(pilot, "Checks list", found)
        await dialog(pilot, ("d",), "CheckDetailScreen", "Checks detail", found)

        for run, kind in ((classification, "classification"), (regression, "regression")):
            await follow(pilot, run)
            for view in ("Train curves", "Train examples", "Train bad cases"):
                await go_to(pilot, view)
                await look(pilot, f"{view} ({kind})", found)
        await go_to(pilot, "Train curves")
        await dialog(pilot, ("s",), "StartDialog", "Train start dialog", found)
        train = app.query_one("#train")
        train.state = "running"  # only a live run asks before stopping
        await dialog(pilot, ("x",), "ConfirmScreen", "Train stop confirmation", found)
        train.state = "finished"

        await go_to(pilot, "Notes")
        await look(pilot, "Notes log", found)
        await pilot.press("ctrl+o")
        view = app.query_one("#notes-run")
        assert await wait_for(pilot, lambda: view.display and "regression" in view.text)
        await look(pilot, "Notes run notes", found)

        await go_to(pilot, "Runs list")
        table = app.query_one("#runs-table")
        assert await wait_for(pilot, lambda: table.row_count == 2)
        await look(pilot, "Runs list", found)
        await pilot.press("home", "space", "space")
        await dialog(pilot, ("c",), "CompareScreen", "Runs compare", found)
        await dialog(pilot, ("question_mark",), "HelpScreen", "Help", found)
    report = "\n".join(f"{where}: {'; '.join(p)}" for where, p in found.items())
    assert not found, f"text overflows its widget ({theme}, {size[0]}x{size[1]}):\n{report}"


class OverflowApp(App):
    """Boxes built to overflow (and twins built not to), to prove the check."""

    CSS = """
    #short { height: 1; width: 20; }
    #cut { width: 20; text-wrap: nowrap; }
    #ellipsis { width: 20; text-wrap: nowrap; text-overflow: ellipsis; }
    #fits { height: 1; width: 40; }
    #row { height: 1; width: 30; }
    #row > Label { width: 20; }
    #scroll { height: 3; }
    """

    def compose(self) -> ComposeResult:
        long = "a sentence far longer than twenty columns"
        yield Label(long, id="short")
        yield Label(long, id="cut")
        yield Label(long, id="ellipsis")
        yield Label("fits in forty", id="fits")
        with Horizontal(id="row"):
            yield Label("left", id="left")
            yield Label("pushed past the edge", id="right")
        with VerticalScroll(id="scroll"):
            for i in range(10):
                yield Label(f"line {i}", id=f"scrolled-{i}")


async def test_the_overflow_check_fires_on_overflow_and_only_there():
    app = OverflowApp()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        problems = "\n".join(overflowing(app))
    assert "Label#short: 3 rows of text in 1" in problems
    assert "Label#cut: 41 columns of text in 20" in problems
    assert "Label#right: box" in problems  # cut by the row's edge
    for fine in ("#ellipsis", "#fits", "#left", "#scrolled-"):
        assert fine not in problems, problems
