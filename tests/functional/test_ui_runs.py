"""Runs pane with Pilot: open a run, mark and compare runs, overlay one on the curves; the
Notes pane's switch to the followed run's notes."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.recorded_run import write_recorded_run
from support.waiting import wait_for

from tuirecipe.config import config_from_dict
from tuirecipe.ui.app import TuiRecipeApp, make_app
from tuirecipe.ui.widgets.curves import short_names

pytestmark = pytest.mark.usefixtures("without_data_pane")
SIZE = (120, 40)
PARENT, CHILD = "20231114-221320-demo", "20231114-231320-demo"


@pytest.fixture
def two_runs(tmp_path):
    runs = tmp_path / "runs"
    parent = write_recorded_run(runs, PARENT, lr=0.001)
    child = write_recorded_run(
        runs,
        CHILD,
        lr=0.003,
        steps=150,
        parent=PARENT,
        changed={"train.lr": [0.001, 0.003], "train.max_steps": [200, 150]},
        notes="# higher lr\n",
    )
    # Started an hour later: newest first in the list.
    status = child.read_status()
    child.write_status(started=status["started"] + 3600, ended=status["ended"] + 3600)
    return parent, child


def make(tmp_path: Path) -> TuiRecipeApp:
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs")}, base_dir=str(tmp_path)
    )
    return make_app(config, theme="dark", settings_dir=tmp_path / "settings")


async def runs_table(pilot, app):
    await pilot.press("5")
    table = app.query_one("#runs-table")
    assert await wait_for(pilot, lambda: table.row_count == 2)
    assert await wait_for(pilot, lambda: app.focused is table)
    return table


async def test_compare_two_runs_shows_the_config_diff_and_the_warning(tmp_path, two_runs):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        table = await runs_table(pilot, app)
        await pilot.press("space", "space")  # marks both (the cursor moves down)
        assert app.query_one("#runs").marked == [CHILD, PARENT]
        assert table.get_cell(CHILD, "mark") == "●"
        await pilot.press("c")
        from tuirecipe.ui.screens.compare import CompareScreen

        assert await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        diff = app.screen.query_one("#compare-diff")
        assert await wait_for(pilot, lambda: diff.row_count > 0)
        keys = [str(diff.get_row_at(i)[0]) for i in range(diff.row_count)]
        assert keys == ["train.lr", "train.max_steps"]  # only the changed keys
        assert [str(c) for c in diff.get_row_at(0)[1:]] == ["0.003", "0.001"]
        warnings = [str(w.content) for w in app.screen.query(".compare-warning")]
        assert len(warnings) == 1 and CHILD in warnings[0] and "one variable" in warnings[0]
        plot = app.screen.query_one("#compare-loss")
        assert await wait_for(pilot, lambda: len(plot.data.sources) == 2)
        labels = [line[0] for line in plot.data.lines(80)]
        parent_name, child_name = short_names([PARENT, CHILD])
        assert any(child_name in label for label in labels)
        assert any(parent_name in label for label in labels)
        await pilot.press("a")  # every key
        assert await wait_for(pilot, lambda: diff.row_count > 2)
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen))


async def test_compare_needs_two_marked_runs(tmp_path, two_runs):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await runs_table(pilot, app)
        await pilot.press("space", "c")
        await pilot.pause()
        assert any("mark two" in n.message for n in app._notifications)


async def test_the_highlighted_run_names_its_kept_checkpoint_as_the_cli_does(tmp_path, two_runs):
    from tuirecipe.runs.listing import kept_dev_eval, kept_sentence

    parent, child = two_runs
    # The child kept best.pt from step 150's evaluation; the parent, trained before
    # checkpoints were named, has none that reproduces its figures.
    child.update_meta(checkpoint={"file": "best.pt", "step": 150, "monitor": "dev.acc"})
    said = kept_sentence(kept_dev_eval(child))  # the words tuirecipe train prints
    assert said.startswith("kept best @ step 150 (best.pt) as model.pt (highest dev acc): ")
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await runs_table(pilot, app)
        line = app.query_one("#runs-kept")
        shown = lambda: str(line.render())  # noqa: E731
        assert await wait_for(pilot, lambda: shown().startswith(f"{CHILD}: "))
        assert shown() == f"{CHILD}: {said}; tuirecipe eval {CHILD} reproduces it"
        await pilot.press("down")
        assert await wait_for(pilot, lambda: shown().startswith(f"{PARENT}: "))
        # a finished run: none ever will ("yet" is for a run still training)
        assert shown() == f"{PARENT}: no saved checkpoint holds reported dev figures"


async def test_enter_opens_a_run_and_o_overlays_another(tmp_path, two_runs):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        table = await runs_table(pilot, app)
        await pilot.press("enter")  # the child: its curves, notes, in the Train pane
        train = app.query_one("#train")
        assert await wait_for(pilot, lambda: train.run is not None and train.run.id == CHILD)
        assert await wait_for(pilot, lambda: len(train.history.loss) == 150)
        assert app.query_one("#run-notes-editor").text == "# higher lr\n"
        await pilot.press("5")
        assert await wait_for(pilot, lambda: app.focused is table)
        await pilot.press("down", "o")
        assert await wait_for(pilot, lambda: PARENT in train.overlays)
        assert len(train.overlays[PARENT].loss) == 200
        sources = app.query_one("#plot-loss").data.sources
        assert [len(h.loss) for _, h in sources] == [150, 200]


async def test_an_overlaid_run_that_is_still_training_grows_on_the_curves(tmp_path, two_runs):
    import os

    from tuirecipe.events import EvalMetrics, StepMetrics
    from tuirecipe.runs.rundir import EventWriter

    parent, _ = two_runs
    parent.write_status(state="running", pid=os.getpid(), ended=None)  # a live worker
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        train = app.query_one("#train")
        table = await runs_table(pilot, app)
        await pilot.press("enter")  # the child, finished, is followed
        assert await wait_for(pilot, lambda: train.run is not None and train.run.id == CHILD)
        assert await wait_for(pilot, lambda: len(train.history.loss) == 150)
        await pilot.press("5")
        assert await wait_for(pilot, lambda: app.focused is table)
        await pilot.press("down", "o")  # overlay the parent, still training
        assert await wait_for(pilot, lambda: PARENT in train.overlays)
        assert len(train.overlays[PARENT].loss) == 200
        writer = EventWriter(parent.events_path)
        for step in range(201, 221):
            writer.write(
                StepMetrics(
                    step=step, epoch=step / 50, loss=0.5, lr=0.001, acc=0.8, elapsed=step * 0.05
                )
            )
        writer.write(
            EvalMetrics(step=220, epoch=4.4, split="dev", metrics={"loss": 0.4, "acc": 0.85}, n=100)
        )
        writer.close()
        overlay = train.overlays[PARENT]
        assert await wait_for(
            pilot, lambda: len(overlay.loss) == 220 and overlay.dev["loss"].x[-1] == 220, 10
        )
        assert len(train.history.loss) == 150  # the followed run is untouched
        await pilot.press("3")
        plot = app.query_one("#plot-loss")
        assert await wait_for(
            pilot,
            lambda: (
                plot._drawn is not None
                and plot._drawn == plot.data.signature(plot.size.width, plot.size.height)
            ),
            10,
        )
        assert [len(h.loss) for _, h in plot.data.sources] == [150, 220]
        await pilot.pause(0.5)  # not synchronisation: more polls pass, and read nothing twice
        assert len(overlay.loss) == 220


async def test_notes_pane_switches_to_the_followed_runs_notes(tmp_path, two_runs):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await runs_table(pilot, app)
        await pilot.press("enter")
        train = app.query_one("#train")
        assert await wait_for(pilot, lambda: train.run is not None)
        await pilot.press("4")
        await pilot.pause()
        await pilot.press("ctrl+o")
        view = app.query_one("#notes-run")
        assert await wait_for(pilot, lambda: view.display and view.text == "# higher lr\n")
        assert view.read_only
        await pilot.press("ctrl+o")  # back to the project log
        assert await wait_for(pilot, lambda: app.query_one("#notes-editor").display)


@pytest.mark.slow
async def test_a_sweep_started_from_the_console_makes_one_child_per_value(tmp_path):
    import json

    config = config_from_dict(
        {
            "name": "demo",
            "runs_dir": str(tmp_path / "runs"),
            "model": {"name": "fasttext"},
            "train": {"max_steps": 8, "eval_every": 0},
        },
        base_dir=str(tmp_path),
    )
    app = make_app(config, theme="dark", settings_dir=tmp_path / "settings")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        await pilot.press(*"train.lr=0.001,0.003 -j 2", "enter")
        runs = tmp_path / "runs"

        def children() -> list[dict]:
            metas = [json.loads(p.read_text()) for p in runs.glob("*/meta.json")]
            return [m for m in metas if m.get("parent")]

        def all_finished() -> bool:
            kids = children()
            return len(kids) == 2 and all(
                json.loads((runs / m["id"] / "status.json").read_text()).get("state") == "finished"
                for m in kids
            )

        assert await wait_for(pilot, all_finished, 240), [
            p.read_text()[-1500:] for p in (runs / ".sweeps").glob("*.log")
        ]
        kids = children()
        assert sorted(list(m["changed"]) for m in kids) == [["train.lr"], ["train.lr"]]
        assert sorted(m["changed"]["train.lr"][1] for m in kids) == [0.001, 0.003]
        # -j 2: both children trained at the same time
        spans = [
            (
                json.loads((runs / m["id"] / "status.json").read_text())["started"],
                json.loads((runs / m["id"] / "status.json").read_text())["ended"],
            )
            for m in kids
        ]
        assert max(s for s, _ in spans) < min(e for _, e in spans)
        await pilot.press("r")
        table = app.query_one("#runs-table")
        assert await wait_for(pilot, lambda: table.row_count == 3, 10)  # parent + 2 children


async def test_a_malformed_sweep_is_refused_with_a_message(tmp_path):
    app = make(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        await pilot.press(*"train.lrr=1,2", "enter")
        await wait_for(
            pilot, lambda: any("train.lrr" in str(n.message) for n in app._notifications)
        )
        assert not (tmp_path / "runs" / ".sweeps").exists()


def test_the_kept_line_fits_the_kind_of_run(tmp_path):
    from tuirecipe.runs.listing import RunSummary
    from tuirecipe.ui.panes.runs import kept_line

    def summary(job: str, state: str) -> RunSummary:
        return RunSummary("r1", str(tmp_path), "r1", job, state, None, None, 0)

    # a script's own run (tuirecipe.track, tuirecipe follow): tuirecipe saves no weights
    for job in ("track", "follow"):
        assert kept_line(summary(job, "finished")) == (
            "r1: recorded from its own script; its checkpoints are the script's"
        )
    assert kept_line(summary("train", "running")).endswith("reported dev figures yet")
    assert kept_line(summary("train", "failed")).endswith("reported dev figures")
