"""Train pane with Pilot: a real run's progress and curves, pause/resume/stop, run notes,
curve keys, predictions and bad cases of a recorded run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.recorded_run import write_recorded_run
from support.waiting import wait_for

from tuirecipe.config import config_from_dict
from tuirecipe.runs.rundir import RunDir
from tuirecipe.ui.app import TuiRecipeApp, make_app

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("without_data_pane")
SIZE = (120, 40)


def make(tmp_path: Path, **table) -> TuiRecipeApp:
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs"), **table}, base_dir=str(tmp_path)
    )
    return make_app(config, theme="dark", settings_dir=tmp_path / "settings")


async def follow_recorded(pilot, app, run: RunDir):
    train = app.query_one("#train")
    await pilot.press("3")
    train.follow(run)
    assert await wait_for(pilot, lambda: len(train.history.loss) == 200)
    return train


@pytest.mark.slow
async def test_a_demo_run_trains_plots_pauses_resumes_and_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the worker is `python -m tuirecipe…`
    # Long enough to pause and resume in the middle (fastText steps take a millisecond).
    app = make(
        tmp_path,
        model={"name": "fasttext"},
        train={"epochs": 10_000, "max_steps": 200_000, "device": "cpu", "eval_every": 20},
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"curves", "enter")
        train = app.query_one("#train")
        loss_plot = app.query_one("#plot-loss")
        assert await wait_for(pilot, lambda: train.run is not None, timeout=30)
        assert await wait_for(pilot, lambda: len(train.history.loss) > 20, timeout=120), (
            train.run.path / "worker.log"
        ).read_text()[-2000:]
        first_len, first_redraws = len(train.history.loss), loss_plot.redraws
        assert await wait_for(pilot, lambda: len(train.history.loss) > first_len + 50, 60)
        assert await wait_for(pilot, lambda: loss_plot.redraws > first_redraws, 5)
        # the eval line is drawn on the pane's next display tick, not with the curves
        assert await wait_for(pilot, lambda: "dev" in str(app.query_one("#train-eval").content), 10)
        bar = app.query_one("#train-progress")
        assert bar.total == 200_000 and bar.progress > 0
        assert "steps/s" in str(app.query_one("#train-rate").content)
        assert "ETA" in str(app.query_one("#train-rate").content)
        assert await wait_for(pilot, lambda: (train.run.path / "dev_predictions.json").exists(), 30)

        await pilot.press("p")  # pause
        assert await wait_for(pilot, lambda: train.state == "paused", 30)
        # The steps taken before the pause took hold are all read, then none come.
        on_disk = lambda: sum(e.kind == "step" for e in train.run.events())  # noqa: E731
        assert await wait_for(pilot, lambda: len(train.history.loss) == on_disk(), 10)
        paused_at = len(train.history.loss)
        await pilot.pause(1.0)  # not synchronisation: time must pass to show a pause holds
        assert len(train.history.loss) == paused_at
        await pilot.press("p")  # resume
        assert await wait_for(pilot, lambda: train.state == "running", 30)
        assert await wait_for(pilot, lambda: len(train.history.loss) > paused_at + 20, 60)

        await pilot.press("x")  # stop: asked first
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.press("y")
        assert await wait_for(pilot, lambda: train.state == "stopped", 60)
        rows = json.loads((train.run.path / "dev_predictions.json").read_text())["rows"]
        assert rows and {"row", "text", "gold", "pred", "prob", "loss"} <= set(rows[0])
        assert len(rows) == json.loads(train.run.meta_path.read_text())["sizes"]["dev"]


async def test_run_notes_are_saved_beside_the_curves(tmp_path):
    run = write_recorded_run(tmp_path / "runs", notes="")
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        train = await follow_recorded(pilot, app, run)
        train.focus()
        await pilot.press("n")  # into the notes editor
        await pilot.press(*"lr looks fine")
        assert run.read_notes() == ""  # not on every key
        assert await wait_for(pilot, lambda: run.read_notes() == "lr looks fine", 3)
        await pilot.press("enter", "ctrl+t")  # stamp: step, metrics, change vs parent
        await pilot.press(*"then")
        await pilot.press("ctrl+q")  # saved on exit without waiting
        await pilot.pause()
    text = run.read_notes()
    lines = text.splitlines()
    assert lines[0] == "lr looks fine"
    assert "step 200" in lines[1] and "dev @ 200" in lines[1] and "no parent run" in lines[1]
    assert lines[2] == "then"


async def test_curve_keys_change_smoothing_scale_and_axis(tmp_path):
    run = write_recorded_run(tmp_path / "runs")
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        train = await follow_recorded(pilot, app, run)
        train.focus()
        plot = app.query_one("#plot-loss")
        assert await wait_for(pilot, lambda: plot.redraws > 0)
        before = plot.redraws
        await pilot.press("right_square_bracket", "l", "a")
        assert await wait_for(pilot, lambda: train.settings.x_axis == "epoch")
        assert await wait_for(pilot, lambda: plot.redraws > before)
        s = train.settings
        assert (s.smoothing, s.log_y, s.x_axis) == (0.8, True, "epoch")
        assert plot.redraws > before
        assert "smoothing 0.8" in str(app.query_one("#curve-settings").content)
        # The drawn x axis is epochs now: the last point is at epoch 200/40 = 5.
        lines = plot.data.lines(80)
        assert lines[0][1][-1] == pytest.approx(5.0)
        # Every line is at most two points per column, whatever the run's length.
        assert all(len(x) <= 160 for _, x, _, _, _ in lines)
        await pilot.press(
            "left_square_bracket",
            "left_square_bracket",
            "left_square_bracket",
            "left_square_bracket",
        )
        assert train.settings.smoothing == 0.0


async def test_a_finished_runs_plots_are_redrawn_in_a_new_theme(tmp_path):
    """The plots keep their built strips; a theme change must rebuild them even when no
    data changes (a finished run)."""
    run = write_recorded_run(tmp_path / "runs")
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await follow_recorded(pilot, app, run)
        plot = app.query_one("#plot-loss")
        signature = lambda: plot.data.signature(plot.size.width, plot.size.height)  # noqa: E731
        assert await wait_for(pilot, lambda: plot._drawn == signature(), 10)
        before = plot.redraws
        app.theme = "light"
        assert await wait_for(pilot, lambda: plot.redraws > before, 10)
        assert plot._built_theme == (plot.theme, "light")


async def test_predictions_over_evaluations_and_a_bad_case_mark(tmp_path):
    run = write_recorded_run(tmp_path / "runs")
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        train = await follow_recorded(pilot, app, run)
        train.focus()
        await pilot.press("N")  # the notes column hidden: room for the last four evaluations
        await pilot.press("e")
        table = app.query_one("#predictions")
        assert await wait_for(pilot, lambda: table.row_count == 8)
        keys = [c.key.value for c in table.ordered_columns]
        assert keys == ["row", "gold", "s50", "s100", "s150", "s200", "text"]
        await pilot.press("b")
        cases = app.query_one("#badcases-table")
        assert await wait_for(pilot, lambda: cases.row_count > 0)
        view = app.query_one("#badcases")
        worst = view.cases[0]
        assert worst["loss"] == max(c["loss"] for c in view.cases)
        await pilot.press("w")  # label wrong; the cursor moves to the next case
        await pilot.press("m")
        await pilot.pause()
    marks = json.loads((run.path / "badcase_marks.json").read_text())
    assert marks[str(worst["row"])]["mark"] == "label_wrong"
    assert marks[str(view.cases[1]["row"])]["mark"] == "model_weak"
    cleaning = (run.path / "label_wrong.csv").read_text().splitlines()
    assert cleaning[0] == "row,text,gold,pred" and cleaning[1].startswith(f"{worst['row']},")


@pytest.mark.parametrize("theme", ["dark", "light", "ansi16"])
async def test_predictions_and_bad_cases_paint_in_every_builtin_theme(tmp_path, theme):
    """Theme colours reach Rich through Textual's parser: ansi16's ``ansi_red`` once crashed
    the bad-case view with MissingStyle when a classification run was opened."""
    run = write_recorded_run(tmp_path / "runs")
    app = make_app(
        config_from_dict({"name": "demo", "runs_dir": str(tmp_path / "runs")}),
        theme=theme,
        settings_dir=tmp_path / "settings",
    )
    async with app.run_test(size=SIZE) as pilot:
        train = await follow_recorded(pilot, app, run)
        train.focus()
        await pilot.press("e")
        table = app.query_one("#predictions")
        assert await wait_for(pilot, lambda: table.row_count == 8)
        await pilot.press("b")
        cases = app.query_one("#badcases-table")
        assert await wait_for(pilot, lambda: cases.row_count > 0)
        confusion = app.query_one("#badcases-confusion")
        assert "most confused" in str(confusion.render())
        await pilot.pause()
    assert app.theme == theme
