"""The label-noise estimate and the label audit in the Data pane (Pilot): ``n`` estimates
in a worker process, the browser flags and sorts the rows, a marked row's export carries
the reason, the bulk removal takes exactly the flagged rows; ``A`` relabels a sample and
marks the disagreements label-wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.noisy_text import flip, separable
from support.waiting import wait_for
from textual.app import App, ComposeResult
from textual.widgets import Collapsible, Footer, Select

pytest.importorskip("cleanlab")

from tuirecipe.config import Config, config_from_dict  # noqa: E402
from tuirecipe.data.label_noise import flagged_positions  # noqa: E402
from tuirecipe.ui.panes.data import DataPane, ExportDialog  # noqa: E402
from tuirecipe.ui.screens.label_audit import LabelAuditScreen  # noqa: E402
from tuirecipe.ui.widgets.browser import DataBrowser  # noqa: E402
from tuirecipe.ui.widgets.profile_view import ProfileView  # noqa: E402


class PaneApp(App):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        yield DataPane(self.config, id="data")
        yield Footer()


@pytest.fixture
def noisy_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Config, np.ndarray]:
    """A separable three-class file with 8 % of its labels flipped; which were flipped."""
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    texts, truth = separable(40)
    noisy, flipped = flip(truth, 0.08, seed=5)
    path = tmp_path / "news.csv"
    pd.DataFrame({"text": texts, "label": noisy}).to_csv(path, index=False)
    config = config_from_dict(
        {"runs_dir": str(tmp_path / "runs"), "data": {"path": str(path)}},
        base_dir=str(tmp_path),
    )
    return config, flipped


async def _loaded(app: App, pilot) -> DataPane:
    pane = app.query_one(DataPane)
    await wait_for(pilot, lambda: pane.profile is not None, timeout=60)
    await app.workers.wait_for_complete()
    await pilot.pause()
    return pane


async def test_label_errors_are_flagged_sorted_marked_and_exported(
    noisy_config: tuple[Config, np.ndarray], tmp_path: Path
) -> None:
    config, flipped = noisy_config
    app = PaneApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _loaded(app, pilot)
        assert pane.label_noise is None  # nothing estimated until asked
        await pilot.press("n")
        await wait_for(pilot, lambda: pane.label_noise is not None, timeout=120)
        noise = pane.label_noise
        assert noise is not None
        flagged = flagged_positions(noise)
        assert (noise.issue & flipped).sum() >= 0.8 * flipped.sum()
        # the profile shows the section, counted as the browser counts
        view = app.query_one(ProfileView)
        titles = [str(c.title) for c in view.query(Collapsible)]
        noise_title = next(t for t in titles if t.startswith("Label noise (whole file)"))
        assert f"{len(flagged)} rows" in noise_title

        await pilot.press("b")
        browser = app.query_one(DataBrowser)
        app.query_one("#filter-flag", Select).value = "label_error"
        await pilot.pause()
        assert sorted(browser.positions.tolist()) == flagged.tolist()
        browser.sort_by("quality")  # most suspect first
        await pilot.pause()
        shown = browser.positions
        assert np.all(np.diff(noise.quality[shown]) >= 0)
        first_row = int(browser.frame["row"].iat[int(shown[0])])
        browser.focus()
        await pilot.press("enter")
        await pilot.pause()
        detail = str(app.screen.query_one("#row-detail-label-error").render())
        assert "likely label error: suggested" in detail
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("d")  # drop the most suspect row
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        await pilot.click("#export-label-errors")
        await pilot.click("#export-confirm")
        await wait_for(pilot, lambda: pane.last_export is not None, timeout=30)

    manifest = json.loads((tmp_path / "news.cleaned.manifest.json").read_text())
    reasons = {item["row"]: item["reason"] for item in manifest["removed"]}
    assert reasons[first_row].startswith("marked: drop; likely label error: suggested")
    flagged_rows = set(noise.rows[flagged].tolist())
    assert set(reasons) == flagged_rows  # the bulk removal took the flagged rows, no more
    assert manifest["removed_by_reason"] == {"marked": 1, "label_error": len(flagged) - 1}
    cleaned = pd.read_csv(tmp_path / "news.cleaned.csv")
    assert len(cleaned) == len(noise.issue) - len(flagged)

    # a second start shows the estimate from the cache, without asking
    app = PaneApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _loaded(app, pilot)
        await wait_for(pilot, lambda: pane.label_noise is not None, timeout=30)
        assert pane.label_noise is not None
        assert flagged_positions(pane.label_noise).tolist() == flagged.tolist()


async def test_label_audit_reports_agreement_and_marks_disagreements(
    noisy_config: tuple[Config, np.ndarray], tmp_path: Path
) -> None:
    config, _ = noisy_config
    app = PaneApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _loaded(app, pilot)
        await pilot.press("a")  # "a" is the Checks pane's; the audit is A
        assert not isinstance(app.screen, LabelAuditScreen)
        await pilot.press("A")
        screen = app.screen
        assert isinstance(screen, LabelAuditScreen)
        await wait_for(pilot, lambda: screen.loaded, timeout=30)
        assert len(screen.sample) == 50
        first_class = screen.keys["1"]
        for _ in range(len(screen.sample)):  # answer every row with the first class
            await pilot.press("1")
        await wait_for(pilot, lambda: screen.result is not None)
        result = screen.result
        assert result is not None
        frame = pane.data.frame
        given = [str(frame["label"].iat[p]) for p, _ in screen.sample]
        agreed = sum(g == first_class for g in given)
        assert result["agreed"] == agreed and result["answered"] == 50
        lo, hi = result["agreement_interval"]
        assert lo <= agreed / 50 <= hi
        assert result["noise_rate"] == pytest.approx(1 - agreed / 50)
        await pilot.press("escape")
        await pilot.pause()
        wrong_rows = {d["row"] for d in result["disagreements"]}
        assert len(wrong_rows) == 50 - agreed
        marks = pane.marks.marks
        assert {r for r, m in marks.items() if m == "label_wrong"} == wrong_rows
    audits = json.loads((tmp_path / "runs" / "label_audits.json").read_text())
    (entry,) = audits["files"].values()
    assert entry["audits"][-1]["agreed"] == agreed
