"""Hostile text through every pane (Pilot): the console neither crashes nor interprets it.

The project (tests/support/hostile.py) lives in a folder whose path holds ``[/]`` and
``[b]``; its rows, labels, run motivation, notes, config values, check results and the
model's error hold markup-like text, terminal escapes, emoji, right-to-left marks and a
4,400-character line. Walking each pane and sub-view at 120×40 and 80×24, the console
must keep running, show each string exactly (control characters as ``\\x1b``-style
escapes: :func:`tuirecipe.printable.printable`), and never put an ESC on the screen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.hostile import (
    ANSI,
    BOLD,
    CHECK_ERROR_SUMMARY,
    CHECK_FAIL_SUMMARY,
    CLOSE_TAG,
    EMOJI,
    FAILED_MESSAGE,
    LABELS,
    LOG_LINE,
    MODEL_ERROR,
    MODEL_ERROR_LINE,
    MOTIVATION,
    NOTES,
    OPTION,
    PROJECT_LOG,
    RTL,
    T0,
    TOKENS,
    HostileProject,
    hostile_rows,
    shown,
    write_hostile_check_run,
    write_hostile_project,
    write_hostile_run,
)
from support.screen_text import all_text, flat, screen_text, widget_text
from support.waiting import wait_for
from textual.content import Content
from textual.widgets import OptionList, TextArea

from tuirecipe.ui.app import TuiRecipeApp, make_app
from tuirecipe.ui.literal import editable

SIZES = [(120, 40), (80, 24)]
FINISHED, FAILED = "20231114-221320-hostile", "20231114-231320-hostile"
CHECK_RUN = "20231114-201320-hostile"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HostileProject:
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    project = write_hostile_project(tmp_path)
    write_hostile_run(project.runs, FINISHED, project)
    write_hostile_run(
        project.runs, FAILED, project, failed=True, parent=FINISHED, lr=0.003, started=T0 + 3600
    )
    write_hostile_check_run(project.runs, project.config())
    (project.runs / "notes.md").write_text(PROJECT_LOG, encoding="utf-8")
    return project


def make(project: HostileProject, tmp_path: Path) -> TuiRecipeApp:
    return make_app(project.config(), theme="dark", settings_dir=tmp_path / "settings")


def no_escape_on_screen(app) -> str:
    """The screen's text; fails the test if an ESC (or another C0 control) is on it."""
    text = screen_text(app)
    raw = sorted({f"{ord(c):#04x}" for c in text if ord(c) < 32 and c != "\n"})
    assert not raw, f"control characters sent to the terminal: {raw}\n{text}"
    return text


def assert_in(needle: str, haystack: str, where: str) -> None:
    assert flat(needle) in flat(haystack), f"{needle!r} not shown in {where}:\n{haystack}"


# -- Data pane ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_data_pane_profile_browser_detail_and_export_show_hostile_text(
    project, tmp_path, size
):
    from tuirecipe.ui.panes.data import DataPane, ExportDialog
    from tuirecipe.ui.screens.row_detail import RowDetail
    from tuirecipe.ui.widgets.browser import DataBrowser

    app = make(project, tmp_path)
    async with app.run_test(size=size) as pilot:
        assert await wait_for(pilot, lambda: app.query(DataPane), 60, "the Data pane")
        progress = app.query_one("#profile-progress-row")
        assert await wait_for(pilot, lambda: progress.has_class("-done"), 120, "the profile")

        def drawn() -> bool:
            bodies = app.query(".profile-body").nodes
            return len(bodies) > 5 and all(map(widget_text, bodies))

        assert await wait_for(pilot, drawn)
        no_escape_on_screen(app)
        # the source line names the file, its "[/]" and "[b]" included
        assert str(project.data) in str(app.query_one("#data-source").render())
        labels = widget_text(app.query_one("#profile-labels .profile-body"))
        for label in LABELS:
            assert_in(shown(label), labels, "the labels section")
        duplicates = widget_text(app.query_one("#profile-duplicates .profile-body"))
        assert_in(CLOSE_TAG, duplicates, "the duplicates section")
        conflicts = widget_text(app.query_one("#profile-conflicts .profile-body"))
        assert_in(BOLD, conflicts, "the conflicts section")

        await pilot.press("b")  # the browser, every row
        browser = app.query_one(DataBrowser)
        assert await wait_for(pilot, lambda: browser.has_focus and len(browser.positions) == 71)
        rows = widget_text(browser)
        for label in LABELS:  # the label column is 14 cells: a longer label is cut with …
            assert shown(label)[:13] in rows
        assert "sunny bright great film [/] 7 #0" in rows
        if size[0] >= 120:  # the text column holds these whole
            assert f"gloomy dark {EMOJI} #7" in rows  # emoji and CJK: two cells each
            assert f"grey flat {RTL} #8" in rows  # bidi marks kept, in order
        no_escape_on_screen(app)

        # a literal search: "[/]" is text, not a pattern
        await pilot.press("slash", *"[/]")
        expected = sum("[/]" in text for text, _ in hostile_rows())
        assert await wait_for(pilot, lambda: len(browser.positions) == expected)
        assert "[/]" in widget_text(browser)
        # a row with a terminal escape: its detail shows the escape, never sends it
        search = app.query_one("#filter-search")
        search.value = "not red"
        with_ansi = [t for t, _ in hostile_rows() if "not red" in t]
        assert await wait_for(pilot, lambda: len(browser.positions) == len(with_ansi))
        assert shown(ANSI)[:10] in widget_text(browser)
        browser.focus()
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, RowDetail))
        detail = str(app.screen.query_one("#row-detail-text").render())
        assert shown(with_ansi[0]) in detail
        assert shown(LABELS[(int(with_ansi[0].rsplit("#", 1)[1])) % 3]) in str(
            app.screen.query_one("#row-detail-meta").render()
        )
        no_escape_on_screen(app)
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, RowDetail))

        # the label filter offers the labels as they are
        from textual.widgets import Select

        prompts = [str(p) for p, _ in app.query_one("#filter-label", Select)._options]
        for label in LABELS:
            assert shown(label) in prompts

        await pilot.press("e")  # the export dialog quotes the file's path
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        summary = str(app.screen.query_one("#export-summary").render())
        assert_in(str(project.data), summary, "the export summary")
        no_escape_on_screen(app)
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog))
    assert app.return_code in (0, None)


# -- Checks pane ---------------------------------------------------------------------------
def cut_from(cell: str, full: str) -> bool:
    """A table cell showing ``full``, whole or cut to its width with an ellipsis."""
    return cell == full or (cell.endswith("…") and len(cell) > 1 and full.startswith(cell[:-1]))


@pytest.mark.usefixtures("without_data_pane")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_checks_pane_list_and_details_show_hostile_results(project, tmp_path, size):
    from tuirecipe.ui.screens.check_detail import CheckDetailScreen

    app = make(project, tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        pane = app.query_one("#checks")
        assert await wait_for(pilot, lambda: pane.loaded)
        options = pane.query_one("#checks-list", OptionList)
        prompt = Content.from_markup(str(options.get_option("input_view").prompt)).plain
        assert "rows truncated great film [/] 7" in prompt
        prompt = Content.from_markup(str(options.get_option("gradient_flow").prompt)).plain
        assert shown(CHECK_ERROR_SUMMARY)[:30] in prompt
        no_escape_on_screen(app)

        async def detail_of(name: str) -> str:
            """The check's full-screen detail (``d``), as drawn; closed again after."""
            options.focus()
            options.highlighted = options.get_option_index(name)
            await pilot.press("d")
            assert await wait_for(pilot, lambda: isinstance(app.screen, CheckDetailScreen))
            box = app.screen.query_one("#check-detail-full")
            assert await wait_for(pilot, lambda: all_text(box))
            text = all_text(box)
            no_escape_on_screen(app)
            await pilot.press("escape")
            assert await wait_for(pilot, lambda: not isinstance(app.screen, CheckDetailScreen))
            return text

        failed = await detail_of("overfit_batch")
        assert_in(CHECK_FAIL_SUMMARY, failed, "the failed check")
        assert_in("look for a bug [/] in [$error]no theme colour[/]", failed, "its advice")
        errored = await detail_of("gradient_flow")
        assert_in(shown(CHECK_ERROR_SUMMARY), errored, "the errored check")
        assert_in(shown(f"ValueError: {MODEL_ERROR}"), errored.split("traceback")[-1], "tb")
        rows = await detail_of("input_view")
        assert_in(f"{TOKENS} <unk> {CLOSE_TAG}", rows, "the decoded row")
        assert_in(f"label {LABELS[1]}", rows, "the decoded row's label")
        assert_in(shown(f"{CLOSE_TAG} {ANSI}"), rows, "the row's text")


# -- Runs, compare, Train and Notes -------------------------------------------------------------
async def runs_table(pilot, app):
    await pilot.press("5")
    table = app.query_one("#runs-table")
    assert await wait_for(pilot, lambda: table.row_count == 3)
    assert await wait_for(pilot, lambda: app.focused is table)
    return table


@pytest.mark.usefixtures("without_data_pane")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_runs_compare_train_and_notes_show_hostile_runs(project, tmp_path, size):
    from tuirecipe.ui.screens.compare import CompareScreen

    app = make(project, tmp_path)
    async with app.run_test(size=size) as pilot:
        table = await runs_table(pilot, app)
        assert str(table.get_cell(FAILED, "run")) == FAILED
        assert str(table.get_cell(FAILED, "state")) == "failed"
        notes = str(table.get_cell(FINISHED, "notes"))
        assert notes == "notes [/] [b]bold?[/b]"  # the notes' first line
        summary = str(app.query_one("#runs-summary").render())
        assert_in(str(project.runs), summary, "the runs summary")
        no_escape_on_screen(app)

        # compare the two train runs: the config diff holds the hostile option
        await pilot.press("space", "space", "c")
        assert await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        diff = app.screen.query_one("#compare-diff")
        assert await wait_for(pilot, lambda: diff.row_count > 0)
        cells = {str(diff.get_row_at(i)[0]): diff.get_row_at(i) for i in range(diff.row_count)}
        assert shown(OPTION) in [str(c) for c in cells["model.options.hostile"][1:]]
        await pilot.press("a")  # every key: the data path with its "[/]" and "[b]"
        assert await wait_for(pilot, lambda: diff.row_count > len(cells))
        values = [str(c) for i in range(diff.row_count) for c in diff.get_row_at(i)[1:]]
        assert str(project.data) in values
        no_escape_on_screen(app)
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen))

        # open the failed run in Train: header, status, cause, predictions, bad cases, notes
        table.move_cursor(row=table.get_row_index(FAILED))
        await pilot.press("enter")
        train = app.query_one("#train")
        assert await wait_for(pilot, lambda: train.run is not None and train.run.id == FAILED)
        assert await wait_for(pilot, lambda: len(train.history.loss) == 7)
        assert app.header.run_id == FAILED and app.header.state == "failed"
        status = app.query_one("#train-status")
        assert await wait_for(
            pilot,
            lambda: flat(shown(FAILED_MESSAGE))[:60] in flat(all_text(status)),
            5,
            detail=lambda: all_text(status),
        )
        if size[1] >= 30:  # a short pane's two-line status leaves out the run and config lines
            assert_in(f"why: {shown(MOTIVATION)}", all_text(status), "the run line")
            assert_in(str(project.data.relative_to(project.folder)), all_text(status), "config")
        notes = app.query_one("#run-notes-editor", TextArea)
        assert await wait_for(pilot, lambda: notes.text == editable(NOTES))
        assert "a line\\u2028separator and a \\x1c file separator" in notes.text
        no_escape_on_screen(app)

        train.focus()
        await pilot.press("e")  # examples: texts and labels of the last snapshot
        predictions = app.query_one("#predictions")
        assert await wait_for(pilot, lambda: predictions.row_count == 9)
        cells = [str(c) for i in range(9) for c in predictions.get_row_at(i)]
        for label in LABELS:
            assert shown(label) in cells
        assert any(cut_from(c, "sunny bright great film [/] 7 #0") for c in cells), cells
        no_escape_on_screen(app)

        await pilot.press("b")  # bad cases of the failed run's last evaluation
        cases = app.query_one("#badcases-table")
        assert await wait_for(pilot, lambda: cases.row_count > 0)
        texts = [str(c) for i in range(cases.row_count) for c in cases.get_row_at(i)]
        assert any(cut_from(c, "sunny bright great film [/] 7 #0") for c in texts), texts
        assert shown(LABELS[1]) in texts and shown(LABELS[2]) in texts
        # the highlighted case's whole text, wrapped under the list, exactly
        view = app.query_one("#badcases")
        panel = flat(all_text(app.query_one("#badcases-text")))
        assert flat(shown(view.cases[0]["text"])) in panel, panel
        confusion = str(app.query_one("#badcases-confusion").render())
        assert "most confused" in confusion and "neg [/]" in confusion
        no_escape_on_screen(app)

        await pilot.press("4")  # the project log, then the followed run's notes
        log = app.query_one("#notes-editor", TextArea)
        assert await wait_for(pilot, lambda: log.text == editable(PROJECT_LOG))
        no_escape_on_screen(app)
        await pilot.press("ctrl+o")
        run_notes = app.query_one("#notes-run", TextArea)
        assert await wait_for(pilot, lambda: run_notes.text == editable(NOTES))
        assert FAILED in str(app.query_one("#notes-status").render())
        no_escape_on_screen(app)
    # nothing was edited: neither file was rewritten
    assert (project.runs / "notes.md").read_text(encoding="utf-8") == PROJECT_LOG
    assert (project.runs / FAILED / "notes.md").read_text(encoding="utf-8") == NOTES


@pytest.mark.usefixtures("without_data_pane")
async def test_a_toast_quoting_hostile_text_is_shown_literally(project, tmp_path):
    app = make(project, tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        for text in (MODEL_ERROR, MOTIVATION, LOG_LINE, TOKENS):
            app.notify(text, severity="error", markup=True)  # markup asked for: refused
        await pilot.pause()
        from textual.widgets._toast import Toast

        assert await wait_for(pilot, lambda: len(app.screen.query(Toast)) == 4)
        toasts = "\n".join(t.render().plain for t in app.screen.query(Toast))
        for text in (MODEL_ERROR, MOTIVATION, LOG_LINE, TOKENS):
            assert_in(shown(text), toasts, "the toasts")
        no_escape_on_screen(app)


ODD_ID = "20231116-000000-odd [b]run [CLS] [@click=quit]x \x1b[31m"  # renamed by hand (no "/")


@pytest.mark.usefixtures("without_data_pane")
async def test_a_run_folder_with_a_hostile_name_is_listed_and_followed_literally(tmp_path):
    project = write_hostile_project(tmp_path)
    write_hostile_run(project.runs, ODD_ID, project, started=T0 + 7200)
    app = make(project, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        table = app.query_one("#runs-table")
        assert await wait_for(pilot, lambda: table.row_count == 1)
        assert str(table.get_cell(ODD_ID, "run")) == shown(ODD_ID)
        no_escape_on_screen(app)
        table.focus()
        await pilot.press("enter")
        train = app.query_one("#train")
        assert await wait_for(pilot, lambda: train.run is not None and train.run.id == ODD_ID)
        assert await wait_for(pilot, lambda: len(train.history.loss) == 40)
        assert app.header.run_id == ODD_ID  # the id itself; shown escaped
        header = screen_text(app).splitlines()[0]
        assert f"run {shown(ODD_ID)}" in header and "finished" in header
        assert_in(f"Run {shown(ODD_ID)}", all_text(app.query_one("#train-status")), "status")
        no_escape_on_screen(app)


TYPED = "why [/] [b]bold[/b] [CLS] [@click=quit]"  # a motivation typed in the console


async def start_run_from_the_train_pane(pilot, app):
    await pilot.press("3")
    train = app.query_one("#train")
    assert await wait_for(pilot, lambda: app.focused is not None)
    await pilot.press("s")
    await pilot.pause()
    await pilot.press(*TYPED, "enter")
    assert await wait_for(pilot, lambda: train.run is not None, 60)
    return train


@pytest.mark.slow
@pytest.mark.usefixtures("without_data_pane")
async def test_training_the_hostile_data_live_shows_examples_and_bad_cases(tmp_path, monkeypatch):
    """The issue's crash: a row ``great film [/] 7`` took the console down seconds after
    ``s`` (the first evaluation's bad cases, str cells in a DataTable)."""
    from support import REPO_ROOT

    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the worker is `python -m tuirecipe…`
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    project = write_hostile_project(tmp_path, model="fasttext")
    app = make(project, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        train = await start_run_from_the_train_pane(pilot, app)
        assert await wait_for(pilot, lambda: train.state in ("finished", "failed"), 240)
        log = (train.run.path / "worker.log").read_text()[-2000:]
        assert train.state == "finished", log
        assert train.run.read_meta()["motivation"] == TYPED
        assert_in(f"why: {TYPED}", all_text(app.query_one("#train-status")), "the run line")
        train.focus()
        await pilot.press("e")
        predictions = app.query_one("#predictions")
        assert await wait_for(pilot, lambda: predictions.row_count > 0)
        cells = [str(c) for i in range(predictions.row_count) for c in predictions.get_row_at(i)]
        assert set(cells) & {shown(label) for label in LABELS}
        no_escape_on_screen(app)
        await pilot.press("b")
        cases = app.query_one("#badcases-table")
        view = app.query_one("#badcases")
        assert await wait_for(pilot, lambda: view.predictions is not None, 10)
        texts = [str(c) for i in range(cases.row_count) for c in cases.get_row_at(i)]
        for case in view.cases:
            assert any(cut_from(t, shown(case["text"])) for t in texts), (case["text"], texts)
        no_escape_on_screen(app)


@pytest.mark.slow
@pytest.mark.usefixtures("without_data_pane")
async def test_a_run_failing_with_the_hostile_model_error_shows_it_literally(tmp_path, monkeypatch):
    from support import REPO_ROOT

    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    project = write_hostile_project(tmp_path)
    app = make(project, tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        train = await start_run_from_the_train_pane(pilot, app)
        assert await wait_for(pilot, lambda: train.state in ("finished", "failed"), 240)
        assert train.state == "failed"
        status = app.query_one("#train-status")
        assert await wait_for(pilot, lambda: shown(MODEL_ERROR) in flat(all_text(status)), 10)
        assert f"hostile_model.py:{MODEL_ERROR_LINE}" in flat(all_text(status))
        assert await wait_for(pilot, lambda: app.header.state == "failed")
        no_escape_on_screen(app)
    assert app.return_code in (0, None)  # the console ran on until the test closed it


@pytest.mark.usefixtures("without_data_pane")
async def test_notes_files_are_not_rewritten_by_opening_and_quitting(tmp_path):
    """Mixed line ends, a line separator and an ESC: the editors show them (the ESC
    escaped) and, as long as nobody types, quitting writes neither file."""
    project = write_hostile_project(tmp_path)
    run = write_hostile_run(project.runs, FINISHED, project)
    log = b"windows\r\nunix\nsep\xe2\x80\xa8arated \x1b[1m\nlast"
    (project.runs / "notes.md").write_bytes(log)
    run.notes_path.write_bytes(log)
    app = make(project, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        pane = app.query_one("#notes")
        assert await wait_for(pilot, lambda: pane.loaded)
        assert "\\x1b[1m" in pane.editor.text and "sep\\u2028arated" in pane.editor.text
        train = app.query_one("#train")
        train.follow(run)
        notes = app.query_one("#run-notes")
        assert await wait_for(pilot, lambda: notes.loaded)
        assert not pane.dirty and not notes.dirty
        await pilot.press("ctrl+q")  # saves whatever changed
    assert (project.runs / "notes.md").read_bytes() == log
    assert run.notes_path.read_bytes() == log


@pytest.mark.usefixtures("without_data_pane")
async def test_the_human_baseline_shows_hostile_rows_and_labels_literally(project, tmp_path):
    app = make(project, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        pane = app.query_one("#checks")
        assert await wait_for(pilot, lambda: pane.loaded)
        pane.query_one("#checks-list", OptionList).focus()
        await pilot.press("h")
        screen = app.screen
        assert screen.id == "human-baseline"
        assert await wait_for(pilot, lambda: screen.loaded, 60)
        keys = widget_text(screen.query_one("#human-keys"))
        for label in LABELS:
            assert_in(shown(label), keys, "the class keys")
        for _ in range(len(screen.sample)):  # every example, as it is in the file
            text = screen.sample[len(screen.answers)][1]
            example = all_text(screen.query_one("#human-example-box"))
            assert_in(shown(text)[:200], example, "the example")
            no_escape_on_screen(app)
            await pilot.press("s")
        assert await wait_for(pilot, lambda: screen.result is not None)
