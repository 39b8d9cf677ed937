"""The console's layout at the sizes people use (80x24 over SSH, 120x40, 160x60): the Train
pane's plots keep rows to read, the compare screen's plots fill their room with the legend
above the data, bad cases show their texts, Enter on a case opens its row in Data."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.recorded_run import LABELS, write_recorded_run
from support.waiting import wait_for

from tuirecipe.config import config_from_dict
from tuirecipe.runs.badcases import dumps_predictions, load_predictions
from tuirecipe.runs.rundir import RunDir
from tuirecipe.ui.app import TuiRecipeApp, make_app

REPO_ROOT = Path(__file__).resolve().parents[2]
MIN_DATA_ROWS = 6  # issue 14: loss and accuracy readable at 80x24


def make(tmp_path: Path, theme: str = "dark", **table) -> TuiRecipeApp:
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs"), **table}, base_dir=str(tmp_path)
    )
    return make_app(config, theme=theme, settings_dir=tmp_path / "settings")


def drawn(plot) -> bool:
    """The plot on screen was built for its current size and data."""
    return bool(plot._strips) and plot._drawn == plot.data.signature(
        plot.size.width, plot.size.height
    )


def drawn_at_size(plot) -> bool:
    """The plot on screen was built for its current size (a live run's data moves on)."""
    return (
        bool(plot._strips)
        and plot._drawn is not None
        and plot._drawn[3:5] == (plot.size.width, plot.size.height)
    )


def y_labels(plot) -> list[float]:
    """The y tick labels of a drawn plot, top to bottom."""
    out = []
    for strip in plot._strips:
        text = strip.text
        if "┤" in text:
            out.append(float(text.split("┤")[0].strip()))
    return out


async def follow_recorded(pilot, app, run: RunDir):
    train = app.query_one("#train")
    await pilot.press("3")
    train.follow(run)
    assert await wait_for(pilot, lambda: len(train.history.loss) == 200, 10)
    return train


@pytest.mark.usefixtures("without_data_pane")
@pytest.mark.parametrize("theme", ["dark", "ansi16"])
async def test_at_80x24_the_train_pane_shows_loss_and_accuracy_with_rows_to_read(tmp_path, theme):
    run = write_recorded_run(tmp_path / "runs")
    app = make(tmp_path, theme=theme)
    async with app.run_test(size=(80, 24)) as pilot:
        train = await follow_recorded(pilot, app, run)
        loss, acc = app.query_one("#plot-loss"), app.query_one("#plot-acc")
        assert await wait_for(pilot, lambda: drawn(loss) and drawn(acc), 10)
        assert loss.data_rows() >= MIN_DATA_ROWS, loss.data_rows()
        assert acc.data_rows() >= MIN_DATA_ROWS, acc.data_rows()
        # The status is two lines; the buttons, config line and notes column make room.
        status = app.query_one("#train-status")
        assert status.compact and status.size.height == 2
        assert (
            not app.query_one("#train-buttons").display
            or app.query_one("#train-buttons").size.height == 0
        )
        assert app.query_one("#run-notes").size.width == 0
        assert "step 200/200" in str(app.query_one("#train-rate").content)
        assert "dev @ step 200" in str(app.query_one("#train-eval").content)
        # y ticks rise upwards
        for plot in (loss, acc):
            labels = y_labels(plot)
            assert labels == sorted(labels, reverse=True) and len(labels) >= 2
        # N shows the notes column; n would put the keyboard in it
        train.focus()
        await pilot.press("N")
        notes = app.query_one("#run-notes")
        assert await wait_for(pilot, lambda: notes.size.width > 0)
        await pilot.press("N")
        assert await wait_for(pilot, lambda: notes.size.width == 0)
        # z: the loss plot alone, taller; z again: back
        rows_before = loss.data_rows()
        await pilot.press("z")
        assert await wait_for(pilot, lambda: acc.size.height == 0 and drawn(loss))
        assert await wait_for(pilot, lambda: loss.data_rows() > rows_before)
        await pilot.press("z")
        assert await wait_for(pilot, lambda: acc.size.height > 0 and drawn(acc))


@pytest.mark.usefixtures("without_data_pane")
@pytest.mark.parametrize("size", [(120, 40), (160, 60)])
async def test_larger_terminals_keep_the_full_status_notes_and_three_plots(tmp_path, size):
    run = write_recorded_run(tmp_path / "runs")
    app = make(tmp_path)
    async with app.run_test(size=size) as pilot:
        await follow_recorded(pilot, app, run)
        plots = [app.query_one(f"#plot-{name}") for name in ("loss", "acc", "lr")]
        assert await wait_for(pilot, lambda: all(drawn(p) for p in plots), 10)
        assert not app.query_one("#train-status").compact
        assert app.query_one("#run-notes").size.width >= 30
        assert all(p.data_rows() >= MIN_DATA_ROWS for p in plots)
        # the constant learning rate sits inside its axis, whose ticks rise upwards
        lr = y_labels(plots[2])
        assert lr == sorted(lr, reverse=True) and lr[-1] < 0.001 < lr[0]


@pytest.mark.usefixtures("without_data_pane")
async def test_focus_a_plot_and_zoom_it(tmp_path):
    run = write_recorded_run(tmp_path / "runs")
    app = make(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await follow_recorded(pilot, app, run)
        acc, loss = app.query_one("#plot-acc"), app.query_one("#plot-loss")
        acc.focus()
        await pilot.press("z")
        assert await wait_for(pilot, lambda: loss.size.height == 0 and drawn(acc))
        assert acc.size.height > 30  # the whole pane but the tab line
        await pilot.press("z")
        assert await wait_for(pilot, lambda: loss.size.height > 0)


@pytest.mark.slow
@pytest.mark.usefixtures("without_data_pane")
async def test_at_80x24_a_live_demo_run_shows_readable_loss_and_accuracy(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the worker is `python -m tuirecipe…`
    app = make(
        tmp_path,
        model={"name": "fasttext"},
        train={"epochs": 1000, "max_steps": 100_000, "device": "cpu", "eval_every": 20},
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"layout", "enter")
        train = app.query_one("#train")
        assert await wait_for(pilot, lambda: train.run is not None, 30)
        assert await wait_for(
            pilot,
            lambda: len(train.history.loss) > 50 and len(train.history.dev.get("acc", ())) >= 1,
            120,
            detail=lambda: (train.run.path / "worker.log").read_text()[-2000:],
        )
        loss, acc = app.query_one("#plot-loss"), app.query_one("#plot-acc")
        assert await wait_for(
            pilot,
            lambda: drawn_at_size(loss) and drawn_at_size(acc) and train.state == "running",
            30,
        )
        rows = (loss.data_rows(), acc.data_rows())
        await pilot.press("x")  # stopping a live run asks first
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.press("y")
        assert await wait_for(pilot, lambda: train.state == "stopped", 60)
    assert min(rows) >= MIN_DATA_ROWS, rows


@pytest.mark.usefixtures("without_data_pane")
@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 60)])
async def test_compare_plots_fill_their_room_with_every_run_named_above_the_data(tmp_path, size):
    runs = tmp_path / "runs"
    ids = [f"20231114-22132{n}-lr{n}" for n in range(4)]
    for n, run_id in enumerate(ids):
        write_recorded_run(runs, run_id, lr=0.001 * (n + 1))
    app = make(tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.press("5")
        table = app.query_one("#runs-table")
        assert await wait_for(pilot, lambda: table.row_count == 4 and app.focused is table)
        await pilot.press("space", "space", "space", "space", "c")
        from tuirecipe.ui.screens.compare import CompareScreen

        assert await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        loss = app.screen.query_one("#compare-loss")
        acc = app.screen.query_one("#compare-acc")
        assert await wait_for(
            pilot, lambda: len(loss.data.sources) == 4 and drawn(loss) and drawn(acc), 10
        )
        for plot in (loss, acc):
            assert plot.data_rows() >= MIN_DATA_ROWS, (plot.id, plot.data_rows())
            labels = y_labels(plot)
            assert labels == sorted(labels, reverse=True) and len(labels) >= 2
            # the legend: lines above the data that name all four runs
            header = "".join(line.plain for line in plot.data.header)
            assert all(run_id[-7:] in header for run_id in ids)
            legend_rows = len(plot.data.header)
            assert all("┤" not in s.text and "│" not in s.text for s in plot._strips[:legend_rows])
            assert not any("lr" in s.text for s in plot._strips[legend_rows:])
        # the plots take the room: no block of blank rows above them
        assert loss.region.y <= app.screen.query_one("#compare-title").region.y + 4
        assert loss.size.height >= (size[1] - 8) // 2


@pytest.mark.usefixtures("without_data_pane")
async def test_bad_cases_show_their_texts_at_120_columns(tmp_path):
    run = write_recorded_run(tmp_path / "runs")
    # one case carries per-token saliency (as the saliency check records it)
    predictions = load_predictions(run.path)
    rows = [dict(r) for r in predictions.rows]
    worst = max(rows, key=lambda r: r["loss"] if r["gold"] != r["pred"] else -1)
    worst["tokens"] = [{"token": w, "saliency": 0.1 * n} for n, w in enumerate(["xx", "yy", "zz"])]
    (run.path / "dev_predictions.json").write_text(
        dumps_predictions(predictions.step, predictions.task, predictions.labels, rows),
        encoding="utf-8",
    )
    app = make(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        train = await follow_recorded(pilot, app, run)
        train.focus()
        await pilot.press("b")
        table = app.query_one("#badcases-table")
        assert await wait_for(pilot, lambda: table.row_count > 0, 10)
        await pilot.pause()
        widths = {c.key.value: c.get_render_width(table) for c in table.ordered_columns}
        assert sum(widths.values()) <= table.size.width  # the text column is on screen
        assert widths["text"] >= 20
        view = app.query_one("#badcases")
        first_text = str(view.cases[0]["text"])
        cell = table.get_cell_at((0, list(widths).index("text")))
        assert first_text.startswith(cell.plain.rstrip("…"))
        # the highlighted case whole, under the list, with its tokens by saliency
        box = app.query_one("#badcases-text")
        assert await wait_for(pilot, lambda: "saliency: xx yy zz" in str(box.render()))
        await pilot.press("down")
        box = app.query_one("#badcases-text")
        assert await wait_for(pilot, lambda: str(view.cases[1]["text"]) in str(box.render()))


@pytest.mark.usefixtures("without_data_pane")
async def test_the_confusion_matrix_shows_every_label(tmp_path):
    run = write_recorded_run(tmp_path / "runs")
    labels = [f"topic{n}" for n in range(9)]
    rows = [
        {
            "row": 100 + i,
            "text": f"text {i}",
            "gold": labels[i % 9],
            "pred": labels[(i * 2) % 9] if i % 3 else labels[i % 9],
            "prob": 0.5,
            "loss": 1.0 + i / 10,
        }
        for i in range(40)
    ]
    rows.append(
        {"row": 999, "text": "rare", "gold": "rare", "pred": "topic0", "prob": 0.9, "loss": 9.0}
    )
    (run.path / "dev_predictions.json").write_text(
        dumps_predictions(200, "classification", [*labels, "rare"], rows), encoding="utf-8"
    )
    app = make(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        train = await follow_recorded(pilot, app, run)
        train.focus()
        await pilot.press("b")
        view = app.query_one("#badcases")
        assert await wait_for(pilot, lambda: view.cases, 10)
        shown = str(app.query_one("#badcases-confusion").render())
        assert all(label in shown for label in [*labels, "rare"])
        assert "most frequent" not in shown


@pytest.mark.usefixtures("without_data_pane")
async def test_predictions_say_right_or_wrong_by_symbol(tmp_path):
    run = write_recorded_run(tmp_path / "runs")
    app = make(tmp_path, theme="ansi16")
    async with app.run_test(size=(120, 40)) as pilot:
        train = await follow_recorded(pilot, app, run)
        train.focus()
        await pilot.press("e")
        table = app.query_one("#predictions")
        assert await wait_for(pilot, lambda: table.row_count == 8)
        snapshot = {r["index"]: r for r in train.query_one("#predictions").snapshots[200]}
        for index, row in snapshot.items():
            cell = table.get_cell(str(index), "s200").plain
            assert cell.startswith("✓" if row["correct"] else "✗"), cell
        # beside the notes column, older evaluations give way to the text (two kept)
        keys = [c.key.value for c in table.ordered_columns]
        assert keys[-3:] == ["s150", "s200", "text"]
        widths = [c.get_render_width(table) for c in table.ordered_columns]
        assert sum(widths) <= table.size.width and widths[-1] >= 30
        for index, row in snapshot.items():
            text = table.get_cell(str(index), "text").plain
            assert text.endswith("…") or text == row["text"]
            assert row["text"].startswith(text.rstrip("…"))


def write_data(path: Path, rows: int) -> None:
    lines = ["text,label"] + [f"example number {i} here,{LABELS[i % 3]}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def test_enter_on_a_bad_case_opens_its_row_in_the_data_browser(tmp_path):
    write_data(tmp_path / "data.csv", 200)
    run = write_recorded_run(tmp_path / "runs")
    app = make(tmp_path, data={"path": "data.csv"})
    async with app.run_test(size=(120, 40)) as pilot:
        data = app.query_one("#data-slot")
        assert await wait_for(
            pilot, lambda: data.query("#data") and data.query_one("#data").data is not None, 30
        )
        train = await follow_recorded(pilot, app, run)
        train.focus()
        await pilot.press("b")
        table = app.query_one("#badcases-table")
        assert await wait_for(pilot, lambda: table.row_count > 0, 10)
        await pilot.press("down")
        case = app.query_one("#badcases").cases[1]
        await pilot.press("enter")
        tabs = app.query_one("#panes")
        browser = app.query_one("#browser")
        assert await wait_for(pilot, lambda: tabs.active == "tab-data" and app.focused is browser)
        assert await wait_for(pilot, lambda: browser.current_row == case["row"])
        # on screen: the cursor's line is inside the scrolled window
        top = int(browser.scroll_offset.y)
        assert top <= browser.cursor < top + browser.size.height - 1
