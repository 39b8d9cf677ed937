"""The Checks pane with Pilot: run checks in workers, details, ticks, human baseline.

The worker tests start real ``check`` workers on the demo data with small budgets
(``checks.steps`` 15 …); they are marked slow and allow minutes on a loaded machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.recorded_checks import write_check_run
from support.waiting import wait_for
from textual.widgets import OptionList

from tuirecipe.checks.base import all_checks
from tuirecipe.config import config_from_dict
from tuirecipe.ui.app import TuiRecipeApp, make_app
from tuirecipe.ui.widgets.check_detail import (
    CheckDetail,
    decoded_rows_markup,
    evidence_blocks,
    format_value,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("without_data_pane")
SIZE = (120, 40)
AUTO = [c.name for c in all_checks() if c.kind == "auto"]
FAST = {"steps": 15, "overfit_steps": 40, "lr_steps": 15, "human_baseline_examples": 5}


@pytest.fixture
def worker_env(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the worker is `python -m tuirecipe…`


def make(tmp_path: Path, checks: dict | None = None, **table) -> TuiRecipeApp:
    config = config_from_dict(
        {
            "name": "demo",
            "runs_dir": str(tmp_path / "runs"),
            "train": {"device": "cpu"},
            "checks": {**FAST, **(checks or {})},
            **table,
        },
        base_dir=str(tmp_path),
    )
    return make_app(config, settings_dir=tmp_path / "settings")


async def open_checks(pilot):
    app = pilot.app
    await pilot.press("2")
    pane = app.query_one("#checks")
    assert await wait_for(
        pilot, lambda: app.focused is not None and pane in app.focused.ancestors_with_self
    )
    assert await wait_for(pilot, lambda: pane.loaded)
    return pane


def highlight(pane, name: str) -> None:
    options = pane.query_one("#checks-list", OptionList)
    options.highlighted = options.get_option_index(name)


def detail_text(pane) -> str:
    detail = pane.query_one("#check-detail", CheckDetail)
    return "\n".join(str(w.render()) for w in detail.query("Static, Label"))


# -- evidence rendering (no app) -----------------------------------------------------------
def test_evidence_blocks_plot_float_series_and_tabulate_the_rest():
    blocks = evidence_blocks(
        {
            "lr": [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1],
            "loss": [2.3, 2.2, 2.0, 1.5, 1.2, 9.5],
            "suggested": [0.001, 0.01],
            "batch_rows": [5, 3, 9, 1, 2, 8, 7],
            "layers": [{"layer": "fc", "std": 0.1}],
            "matrix": [[1.0, 0.0], [0.0, 1.0]],
            "advice": "not shown here",
            "traceback": ["line 1", "ValueError: boom"],
        }
    )
    kinds = {b.kind: b for b in blocks}
    assert set(kinds) == {"kv", "series", "table", "matrix", "traceback"}
    series = kinds["series"]
    assert [name for name, _ in series.data] == ["loss"]  # plotted against lr, on a log axis
    assert series.extra["x_name"] == "lr" and series.extra["log_x"]
    assert dict(kinds["kv"].data)["batch_rows"].startswith("[5, 3, 9")  # ints: not a curve
    assert "advice" not in dict(kinds["kv"].data)
    assert kinds["traceback"].data[-1] == "ValueError: boom"


def test_decoded_rows_mark_padding_unk_and_truncation():
    from textual.content import Content

    markup = decoded_rows_markup(
        [
            {
                "view": "a <unk> [b] ✂[3 cut] ·×4",
                "label_name": "x[1]",
                "length": 3,
                "full_length": 6,
                "truncated": True,
                "unk": 1,
                "row": 7,
                "text": "A ? [b]",
            }
        ]
    )
    content = Content.from_markup(markup)
    assert "a <unk> [b] ✂[3 cut] ·×4" in content.plain
    assert "label x[1]" in content.plain and "truncated" in content.plain
    assert format_value(0.000123) == "0.000123" and format_value(12345) == "12,345"


# -- the pane --------------------------------------------------------------------------------
def prompt_of(pane, name: str) -> str:
    return str(pane.query_one("#checks-list", OptionList).get_option(name).prompt)


def summary_of(pane) -> str:
    return str(pane.query_one("#checks-summary").render())


async def switch_config(pilot, pane, config) -> None:
    pane.set_config(config)
    assert not pane.loaded and not pane.results  # nothing shown as current meanwhile
    assert await wait_for(pilot, lambda: pane.loaded, 30)
    await pilot.pause()


async def test_results_of_another_model_or_data_are_shown_stale_with_their_reason(tmp_path):
    """Issue 11, point 4: checks run on one config, then the model and the data change."""
    from support.check_jobs import FAST_CHECKS, check_job, write_csv
    from support.check_jobs import config as csv_config

    from tuirecipe.checks.store import ChecklistStore

    write_csv(tmp_path / "a.csv")
    write_csv(tmp_path / "b.csv", word="nice")
    first = csv_config(tmp_path)
    run = check_job(first, FAST_CHECKS)
    ChecklistStore(first.runs_path, first).tick("looked_at_data", "read 80 rows")
    manual = sum(c.kind == "manual" for c in all_checks())
    app = make_app(first, settings_dir=tmp_path / "settings")
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        for name in FAST_CHECKS:
            result = pane.results[name]
            assert result.current and result.run_id == run.id
            assert result.counts_as == result.status
            assert "↻" not in prompt_of(pane, name)
            assert result.summary[:30] in prompt_of(pane, name)  # clipped to the list
        assert "stale" not in summary_of(pane) and "none run" not in summary_of(pane)
        assert f"manual 1/{manual} ticked" in summary_of(pane)
        assert "☑" in prompt_of(pane, "looked_at_data")

        # another model: every result is stale, with why, and counts for nothing
        await switch_config(pilot, pane, csv_config(tmp_path, model="fasttext"))
        for name in FAST_CHECKS:
            result = pane.results[name]
            assert result.shown_status == "stale" and result.counts_as is None
            prompt = prompt_of(pane, name)
            assert "↻" in prompt and "ran on model textcnn — rerun" in prompt
            assert not any(glyph in prompt for glyph in "✓✗")
        summary = summary_of(pane)
        assert f"{len(FAST_CHECKS)} ↻ stale" in summary and not any(g in summary for g in "✓✗")
        assert f"manual 1/{manual} ticked" in summary  # looking at the data: same data
        highlight(pane, "init_loss")
        status = pane.results["init_loss"].status
        said = f"the stale run on model textcnn, data a.csv said: {status}"
        assert await wait_for(pilot, lambda: said in detail_text(pane))
        assert "↻ stale  ran on model textcnn — rerun" in detail_text(pane)

        # other data: every result and the tick are stale, with the data named
        await switch_config(pilot, pane, csv_config(tmp_path, data="b.csv"))
        for name in FAST_CHECKS:
            assert pane.results[name].counts_as is None
            assert "ran on data a.csv — rerun" in prompt_of(pane, name)
        tick = pane.ticks["looked_at_data"]
        assert tick.shown_status == "stale"
        assert "ticked on data a.csv — tick it again" in prompt_of(pane, "looked_at_data")
        assert "☑" not in prompt_of(pane, "looked_at_data")
        assert f"manual 0/{manual} ticked (1 stale)" in summary_of(pane)
        # space ticks a stale tick again, for this data (its note kept)
        highlight(pane, "looked_at_data")
        await pilot.press("space")
        assert pane.ticks["looked_at_data"].current
        assert pane.ticks["looked_at_data"].summary == "read 80 rows"
        assert "☑" in prompt_of(pane, "looked_at_data")

        # back to the config they ran on: current again
        await switch_config(pilot, pane, csv_config(tmp_path))
        assert all(pane.results[name].current for name in FAST_CHECKS)
        assert not pane.ticks["looked_at_data"].current  # now ticked for b.csv
    stored = json.loads((first.runs_path / "checklist.json").read_text())
    assert stored["ticks"]["looked_at_data"]["ran_on"] == "data b.csv"


async def test_a_live_result_is_judged_against_the_config(tmp_path):
    """Results on the bus (a running job) are judged like stored ones; a stopped check
    never hides the verdict before it."""
    import time

    from support.check_jobs import config as csv_config
    from support.check_jobs import write_csv

    from tuirecipe.checks.fingerprint import CurrentInputs
    from tuirecipe.events import CheckResult

    write_csv(tmp_path / "a.csv")
    cfg = csv_config(tmp_path)
    app = make_app(cfg, settings_dir=tmp_path / "settings")
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        pane.runs["r-live"] = (None, ["init_loss"])  # as _start records a job it started
        here = CurrentInputs(cfg).stamp("init_loss")
        elsewhere = CurrentInputs(csv_config(tmp_path, model="gru")).stamp("init_loss")

        def publish(status: str, stamp: dict) -> None:
            result = CheckResult(
                name="init_loss", status=status, summary=f"{status} here", t=time.time(), **stamp
            )
            app.bus.publish("check_result", result, run_id="r-live")

        publish("fail", here)
        assert await wait_for(pilot, lambda: "init_loss" in pane.results)
        assert pane.results["init_loss"].counts_as == "fail"
        assert pane.results["init_loss"].run_id == "r-live"
        assert "✗" in prompt_of(pane, "init_loss") and "1 ✗" in summary_of(pane)
        publish("stopped", here)
        publish("pass", elsewhere)
        # A later result of another check: once it is shown, the two above were handled.
        marker = CheckResult(name="initialisation", status="pass", summary="marker", t=time.time())
        app.bus.publish("check_result", marker, run_id="r-live")
        assert await wait_for(pilot, lambda: "initialisation" in pane.results)
        assert pane.results["init_loss"].counts_as == "fail"
        assert "✗" in prompt_of(pane, "init_loss")

    # with nothing current before it (nothing was stored: the results above came on the
    # bus only), a stopped check shows as stopped: no verdict
    assert not (tmp_path / "runs").exists()
    app = make_app(cfg, settings_dir=tmp_path / "settings")
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        pane.runs["r-live"] = (None, ["init_loss"])
        publish("pass", elsewhere)
        assert await wait_for(pilot, lambda: "init_loss" in pane.results)
        assert pane.results["init_loss"].shown_status == "stale"
        assert "ran on model gru — rerun" in prompt_of(pane, "init_loss")
        publish("stopped", here)
        assert await wait_for(pilot, lambda: pane.results["init_loss"].status == "stopped")
        assert "stopped before its verdict — rerun" in prompt_of(pane, "init_loss")
        assert "⊘" in prompt_of(pane, "init_loss") and "1 ⊘ stopped" in summary_of(pane)


async def test_the_checklist_is_grouped_by_stage_with_every_check(tmp_path):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        options = pane.query_one("#checks-list", OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids[0] == "stage:data"
        assert [i for i in ids if not i.startswith("stage:")] == [c.name for c in all_checks()]
        assert "none run" in str(pane.query_one("#checks-summary").render())


async def test_manual_tick_with_note_and_results_survive_a_restart(tmp_path):
    write_check_run(tmp_path / "runs")
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        assert pane.results["overfit_batch"].status == "fail"
        highlight(pane, "understood_labels")
        await pilot.press("space")
        assert "understood_labels" in pane.ticks
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"7 classes, returns vs billing blur", "enter")
        assert await wait_for(
            pilot,
            lambda: (
                "understood_labels" in pane.ticks
                and pane.ticks["understood_labels"].summary == "7 classes, returns vs billing blur"
            ),
        )
        highlight(pane, "init_loss")  # an automatic check: not ticked by hand
        await pilot.press("space")
        assert "init_loss" not in pane.ticks
    stored = json.loads((tmp_path / "runs" / "checklist.json").read_text())
    assert stored["ticks"]["understood_labels"]["note"] == "7 classes, returns vs billing blur"

    again = make(tmp_path)
    async with again.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        assert pane.results["overfit_batch"].status == "fail"
        assert pane.ticks["understood_labels"].summary.startswith("7 classes")
        prompt = str(
            pane.query_one("#checks-list", OptionList).get_option("understood_labels").prompt
        )
        assert "☑" in prompt and "returns vs billing" in prompt
        highlight(pane, "overfit_batch")
        await pilot.pause()
        assert await wait_for(pilot, lambda: "What to look at" in detail_text(pane))


async def test_human_baseline_keys_answer_skip_go_back_and_save(tmp_path):
    from tuirecipe.checks.human import sample_for_human
    from tuirecipe.data.profiling import load_dataset

    app = make(tmp_path)
    config = app.config
    data = load_dataset(config)
    sample = sample_for_human(data.dev["text"], data.dev["label"], n=5, seed=config.seed)
    classes = sorted({str(v) for v in data.frame["label"]})
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        await pilot.press("h")
        screen = app.screen
        assert screen.id == "human-baseline"
        assert await wait_for(pilot, lambda: screen.loaded, 60)
        assert screen.keys["1"] == classes[0] and "1 " in str(
            screen.query_one("#human-keys").render()
        )
        assert sample[0][1] in str(screen.query_one("#human-example").render())
        gold = [str(data.dev["label"].iloc[i]) for i, _ in sample]
        key_of = {c: k for k, c in screen.keys.items()}
        await pilot.press("2", "backspace")  # a wrong guess taken back
        assert screen.answers == []
        await pilot.press(key_of[gold[0]], key_of[gold[1]], "s")
        wrong = next(c for c in classes if c != gold[3])
        await pilot.press(key_of[wrong], key_of[gold[4]])
        assert await wait_for(pilot, lambda: screen.result is not None)
        assert "75%" in str(screen.query_one("#human-progress").render())
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: pane.human is not None)
        assert pane.human.current  # labelled for this config
        assert "75%" in str(
            pane.query_one("#checks-list", OptionList).get_option("human_baseline").prompt
        )
    saved = json.loads((tmp_path / "runs" / "checklist.json").read_text())["human_baseline"]
    assert saved["n"] == 4 and saved["correct"] == 3 and saved["skipped"] == 1
    assert saved["mistakes"] == [
        {
            "index": sample[3][0],
            "answer": wrong,
            "gold": gold[3],
            "text": saved["mistakes"][0]["text"],
        }
    ]
    assert saved["ci"][0] < 0.75 < saved["ci"][1]


@pytest.mark.slow
async def test_run_all_checks_from_the_pane_and_find_them_after_a_restart(tmp_path, worker_env):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        await pilot.press("a")
        assert await wait_for(pilot, lambda: bool(pane.runs), 60)
        run_dir = next(iter(pane.runs.values()))[0]
        assert set(pane.live) == set(AUTO)  # all queued or running
        assert await wait_for(
            pilot, lambda: any(v["state"] == "running" for v in pane.live.values()), 120
        )
        assert await wait_for(pilot, lambda: not pane.runs, 400, detail=lambda: pane.live)
        assert not pane.live
        assert set(pane.results) >= set(AUTO)
        assert all(r.run_id == run_dir.id and r.current for r in pane.results.values())
        summary = str(pane.query_one("#checks-summary").render())
        assert f"{len(AUTO)} automatic" in summary and "none run" not in summary
    assert run_dir.read_status()["state"] == "finished"
    recorded = [
        json.loads(line)["name"]
        for line in run_dir.events_path.read_text().splitlines()
        if '"check_result"' in line
    ]
    assert sorted(recorded) == sorted(AUTO)

    again = make(tmp_path)
    async with again.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        assert set(pane.results) >= set(AUTO)
        assert all(pane.results[name].current for name in AUTO)


@pytest.mark.slow
async def test_run_one_failing_check_shows_why_and_what_to_look_at(tmp_path, worker_env):
    # One step, and a loss no few steps reach (the retry gets 3 steps at a faster rate,
    # which on a lucky draw memorises a small batch to the usual target).
    app = make(tmp_path, checks={"overfit_steps": 1, "overfit_loss": 1e-9})
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        highlight(pane, "overfit_batch")
        await pilot.press("r")
        assert await wait_for(pilot, lambda: "overfit_batch" in pane.live)
        assert await wait_for(pilot, lambda: "overfit_batch" in pane.results and not pane.runs, 300)
        result = pane.results["overfit_batch"]
        assert result.status == "fail" and result.current
        assert set(pane.results) == {"overfit_batch"}  # only the one asked for ran
        # The detail recomposes on the next idle pass; a loaded machine may not be there yet.
        await wait_for(pilot, lambda: "What to look at" in detail_text(pane), 10)
        text = detail_text(pane)
        assert "What to look at" in text and "memorise" in text
        assert "✗" in str(
            pane.query_one("#checks-list", OptionList).get_option("overfit_batch").prompt
        )


@pytest.mark.slow
async def test_a_running_check_is_stopped_with_x(tmp_path, worker_env):
    app = make(tmp_path, checks={"steps": 400})  # fixed_seed first: long enough to stop
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_checks(pilot)
        await pilot.press("a")
        assert await wait_for(
            pilot, lambda: any(v["state"] == "running" for v in pane.live.values()), 180
        )
        run_dir = next(iter(pane.runs.values()))[0]
        await pilot.press("x")
        assert await wait_for(pilot, lambda: not pane.runs, 120)
        assert not pane.live  # what had not run is back to its previous state
    assert run_dir.read_status()["state"] == "stopped"
