"""Keys that never go dead: every key the footer offers, in every pane and sub-view, does
something a person can see (the screen changes: a view, a dialog, a mark, a notice); Esc
backs out one level; ``?`` lists the keys from the live bindings; stop and overwrite ask.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.console_walk import (
    SUBVIEWS,
    back_to_main,
    fingerprint,
    footer_keys,
    go_to,
    settled,
    typing,
)
from support.recorded_run import write_recorded_run
from support.waiting import wait_for
from textual.widgets import DataTable, Input

from tuirecipe.config import config_from_dict
from tuirecipe.errors import UserError
from tuirecipe.runs.badcases import LabelWrongRows
from tuirecipe.runs.rundir import RunDir
from tuirecipe.ui.app import TuiRecipeApp, make_app

SIZE = (120, 40)
NOT_WALKED = {"q"}  # quitting ends the walk: pressed last, on its own


def make(tmp_path: Path) -> TuiRecipeApp:
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs")}, base_dir=str(tmp_path)
    )
    return make_app(config, theme="dark", settings_dir=tmp_path / "settings")


def recorded_runs(tmp_path: Path) -> tuple[RunDir, RunDir]:
    runs = tmp_path / "runs"
    return (
        write_recorded_run(runs, "20231114-221320-demo"),
        write_recorded_run(runs, "20231114-231320-regr", task="regression", notes="# mse\n"),
    )


async def follow(pilot, run: RunDir) -> None:
    train = pilot.app.query_one("#train")
    train.follow(run)
    assert await wait_for(pilot, lambda: len(train.history.loss) == 200, 15)


def refuse_to_start_checks(app: TuiRecipeApp) -> list[list[str]]:
    """Check jobs asked for are recorded and refused (a real one would train models)."""
    asked: list[list[str]] = []

    async def start_job(config, kind, args=None, **kwargs):
        asked.append(list((args or {}).get("only", [])))
        raise UserError("check jobs are not started in this test")

    app.workers_client.start_job = start_job  # type: ignore[method-assign]
    return asked


@pytest.mark.slow
async def test_every_footer_key_of_every_subview_has_an_effect(tmp_path):
    classification, _ = recorded_runs(tmp_path)
    app = make(tmp_path)
    asked = refuse_to_start_checks(app)
    walked: dict[str, list[str]] = {}
    # Notices shown (run_test hides them by default): a notice is an effect too.
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert await wait_for(pilot, lambda: bool(app.query("#data-slot > #data")), 30)
        data = app.query_one("#data")
        assert await wait_for(pilot, lambda: data.profile_result is not None, 180)
        await follow(pilot, classification)
        for view in SUBVIEWS:
            await go_to(pilot, view)
            keys = [(k, d) for k, d in footer_keys(app) if k not in NOT_WALKED]
            assert keys, f"{view}: the footer offers no keys"
            walked[view] = [k for k, _ in keys]
            for key, description in keys:
                await go_to(pilot, view)
                if (key, description) not in footer_keys(app):
                    continue  # an earlier key changed what is offered (e.g. ctrl+o)
                app.clear_notifications()
                before = await settled(pilot)
                await pilot.press(key)
                assert await wait_for(
                    pilot,
                    lambda before=before: fingerprint(app) != before,
                    timeout=10,
                    what=f"{view}: the footer's '{key} {description}' to have an effect",
                )
                await back_to_main(pilot, f"{view} after {key}")
        assert asked, "r / a in the Checks pane asked for no check job"
        await pilot.press("q")  # nothing runs: quits at once
        assert await wait_for(pilot, lambda: app.return_value == 0)
    # The walk covered the keys a person leans on in each view.
    assert {"s", "x", "p", "question_mark"} <= set(walked["Train curves"])
    assert {"left_square_bracket", "right_square_bracket", "e", "b"} <= set(walked["Train curves"])
    assert {"w", "m", "space"} <= set(walked["Train bad cases"])
    assert {"slash", "e", "d", "s"} <= set(walked["Data browse"])
    assert {"escape", "ctrl+s", "ctrl+o"} <= set(walked["Notes"])


async def test_dead_keys_after_examples_then_curves(tmp_path, without_data_pane):
    """Train: e (examples) then g (curves) hid the focused table, focus went nowhere, and
    the footer shrank to q Quit: ], b, s, e and Tab did nothing until 3 was pressed."""
    classification, _ = recorded_runs(tmp_path)
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await follow(pilot, classification)
        train = app.query_one("#train")
        await pilot.press("e", "g")
        await pilot.pause()
        assert app.focused is not None and train in app.focused.ancestors_with_self
        offered = {k for k, _ in footer_keys(app)}
        assert {"right_square_bracket", "b", "s", "e"} <= offered
        smoothing = train.settings.smoothing
        await pilot.press("right_square_bracket")
        assert await wait_for(pilot, lambda: train.settings.smoothing != smoothing)
        await pilot.press("b")
        views = app.query_one("#train-views")
        assert await wait_for(pilot, lambda: views.active == "view-badcases")
        assert isinstance(app.focused, DataTable)
        await pilot.press("g", "tab")
        assert await wait_for(pilot, lambda: app.focused is not None and app.focused is not train)
        await pilot.press("e")
        assert await wait_for(pilot, lambda: views.active == "view-predictions")
        await pilot.press("s")  # start asks for a motivation
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "StartDialog")
        await pilot.press("escape")


async def test_focus_lost_anywhere_comes_back_to_the_shown_pane(tmp_path, without_data_pane):
    """Whatever hides or removes the focused widget, the pane's keys keep working."""
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        runs = app.query_one("#runs")
        assert await wait_for(pilot, lambda: app.focused is not None)
        app.focused.display = False  # hidden under the keyboard
        assert await wait_for(
            pilot, lambda: app.focused is not None and runs in app.focused.ancestors_with_self
        )


async def test_help_lists_the_keys_of_where_the_keyboard_is(tmp_path, without_data_pane):
    from tuirecipe.ui.screens.help import HelpScreen

    classification, _ = recorded_runs(tmp_path)
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await follow(pilot, classification)
        await pilot.press("b")
        await pilot.pause()
        expected = {b.binding.description for b in app.screen.active_bindings.values()}
        await pilot.press("question_mark")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = "\n".join(str(s.render()) for s in app.screen.query("#help-keys Static"))
        for words in ("Label wrong", "Model weak", "Pause/resume", "Curves", "Examples"):
            assert words in shown
        assert "Quit" in shown and "Everywhere" in shown
        assert all(d in shown for d in expected if d)  # every live key, from the bindings
        # the view on show is not offered again
        assert not re.search(r"^\s*b\s+Bad cases\s*$", shown, re.M), shown
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        # In the curves view the curve keys are there, the bad-case marks are not.
        await pilot.press("g", "question_mark")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = "\n".join(str(s.render()) for s in app.screen.query("#help-keys Static"))
        assert "Smooth+" in shown and "Log y" in shown and "Label wrong" not in shown
        assert re.search(r"^\s*b\s+Bad cases\s*$", shown, re.M)  # offered from here
        await pilot.press("escape")


async def test_stop_asks_first_and_no_keeps_the_run(tmp_path, without_data_pane):
    from tuirecipe.ui.modals import ConfirmScreen

    live, _ = recorded_runs(tmp_path)
    app = make(tmp_path)
    sent = []
    async with app.run_test(size=SIZE) as pilot:
        app.bus.publish = lambda topic, payload=None, **kw: sent.append((topic, payload))
        await pilot.press("3")
        train = app.query_one("#train")
        await follow(pilot, live)
        train.state = "running"  # as if it trained: only a live run asks
        for answer, stops in (("n", 0), ("escape", 0), ("y", 1)):
            await pilot.press("x")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press(answer)
            assert await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            commands = [p for t, p in sent if t == "command" and p.action == "stop"]
            assert len(commands) == stops, answer
        train.state = "finished"
        await pilot.press("x")  # nothing to stop: said, not asked
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)


async def test_esc_backs_out_of_browse_search(tmp_path):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: bool(app.query("#data-slot > #data")), 30)
        data = app.query_one("#data")
        assert await wait_for(pilot, lambda: data.data is not None, 120)
        await pilot.press("1", "slash")
        assert await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press(*"zzz", "escape")
        assert await wait_for(pilot, lambda: type(app.focused).__name__ == "DataBrowser")
        assert not typing(app)
        await pilot.press("escape")  # and out of the rows, to the profile
        tabs = app.query_one("#data-tabs")
        assert await wait_for(pilot, lambda: tabs.active == "data-profile-tab")

        # The two lines that count marks say the same, however a mark came.
        def counts() -> list[str]:
            return [str(app.query_one(f"#{w}").render()) for w in ("data-source", "browser-status")]

        data.query_one("#filter-search", Input).value = ""  # (the search typed above)
        await pilot.press("b", "d")
        assert await wait_for(pilot, lambda: all("1 marked" in c for c in counts()), detail=counts)
        row = int(data.data.frame["row"].iat[10])
        listed = LabelWrongRows(rows={row: ["20231114-221320-demo"]})
        listed.runs["20231114-221320-demo"] = 1
        data._import_bad_cases(listed, {row}, data.data)  # a rescan found a run's list
        assert await wait_for(pilot, lambda: all("2 marked" in c for c in counts()), detail=counts)


async def test_a_newcomer_is_pointed_from_data_to_the_checks(tmp_path):
    app = make(tmp_path)
    asked = refuse_to_start_checks(app)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: bool(app.query("#data-slot > #data")), 30)
        data = app.query_one("#data")
        pointer = app.query_one("#data-next")
        assert not pointer.display  # not before the profile is in
        assert await wait_for(pilot, lambda: data.profile_result is not None, 180)
        assert await wait_for(pilot, lambda: pointer.display)
        words = str(pointer.render())
        assert "2 opens Checks" in words and "a runs them all" in words
        await pilot.press("2", "a")  # doing as it says starts the checks
        assert await wait_for(pilot, lambda: bool(asked))
        summary = str(app.query_one("#checks-summary").render())
        assert "a: run them all" in summary


async def test_export_ticks_read_without_colour_and_a_second_export_asks(tmp_path):
    from tuirecipe.ui.modals import ConfirmScreen
    from tuirecipe.ui.screens.export_dialog import ExportDialog

    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs")}, base_dir=str(tmp_path)
    )
    app = make_app(config, theme="ansi16", settings_dir=tmp_path / "settings")
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: bool(app.query("#data-slot > #data")), 30)
        data = app.query_one("#data")
        assert await wait_for(pilot, lambda: data.profile_result is not None, 180)
        await pilot.press("1", "e")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        box = app.screen.query_one("#export-dups")
        assert str(box.render()).startswith("[ ]")  # unticked reads unticked, in 16 colours
        await pilot.click("#export-dups")
        assert await wait_for(pilot, lambda: str(box.render()).startswith("[x]"))
        await pilot.click("#export-confirm")
        # (another test of this session may have exported the demo data already)
        assert await wait_for(
            pilot,
            lambda: data.last_export is not None or isinstance(app.screen, ConfirmScreen),
            60,
        )
        if isinstance(app.screen, ConfirmScreen):
            await pilot.press("y")
        assert await wait_for(pilot, lambda: data.last_export is not None, 60)
        first = data.last_export.path
        written = first.stat().st_mtime_ns
        for answer, overwritten in (("n", False), ("y", True)):
            data.last_export = None
            await pilot.press("e")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
            await pilot.click("#export-confirm")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert first.name in str(app.screen.query_one(".dialog-explain").render())
            await pilot.press(answer)
            if overwritten:
                assert await wait_for(pilot, lambda: data.last_export is not None, 60)
            else:
                assert await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
                assert data.last_export is None and first.stat().st_mtime_ns == written


async def test_esc_backs_out_of_a_train_view_and_home_goes_to_the_newest_run(
    tmp_path, without_data_pane
):
    classification, _ = recorded_runs(tmp_path)
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await follow(pilot, classification)
        views = app.query_one("#train-views")
        await pilot.press("b")
        assert await wait_for(pilot, lambda: views.active == "view-badcases")
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: views.active == "view-curves")
        await pilot.press("5")
        table = app.query_one("#runs-table", DataTable)
        assert await wait_for(pilot, lambda: table.row_count == 2)
        await pilot.press("down")
        assert await wait_for(pilot, lambda: table.cursor_row == 1)
        await pilot.press("home")
        assert await wait_for(pilot, lambda: table.cursor_row == 0)
        await pilot.press("end")
        assert await wait_for(pilot, lambda: table.cursor_row == 1)
