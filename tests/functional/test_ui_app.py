"""The console with Pilot: panes, palette, themes, notes, checklist, a real run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from support.waiting import wait_for
from textual.command import CommandPalette
from textual.widgets import TabbedContent

import tuirecipe.ui.app as app_module
from tuirecipe.config import config_from_dict
from tuirecipe.ui.app import TuiRecipeApp, make_app

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("without_data_pane")
SIZE = (120, 40)


REAL_DATA_PANE = app_module.DATA_PANE_MODULE


def make(tmp_path: Path, theme: str | None = None, **table) -> TuiRecipeApp:
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs"), **table}, base_dir=str(tmp_path)
    )
    return make_app(config, theme=theme, settings_dir=tmp_path / "settings")


def active(app: TuiRecipeApp) -> str:
    return app.query_one("#panes", TabbedContent).active


async def show(pilot, key: str, pane: str) -> None:
    """Press a pane key and wait until the keyboard is in that pane."""
    app = pilot.app
    await pilot.press(key)
    target = app.query_one(f"#tab-{pane}")
    assert await wait_for(
        pilot, lambda: app.focused is not None and target in app.focused.ancestors_with_self
    )


async def test_keys_1_to_5_switch_panes(tmp_path):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for key, pane in (
            ("5", "runs"),
            ("3", "train"),
            ("2", "checks"),
            ("1", "data"),
            ("4", "notes"),
        ):
            await pilot.press(key)
            assert await wait_for(pilot, lambda pane=pane: active(app) == f"tab-{pane}")
        # Notes takes the keyboard; escape gives it back, then digits switch again.
        await pilot.press("escape")
        await pilot.press("5")
        await pilot.pause()
        assert active(app) == "tab-runs"


async def test_the_data_pane_is_mounted_after_the_first_paint(tmp_path, monkeypatch):
    monkeypatch.setattr(app_module, "DATA_PANE_MODULE", REAL_DATA_PANE)
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert app.query("#data-loading")  # the shell paints first
        assert await wait_for(pilot, lambda: bool(app.query("#data-slot > #data")), 15)
        data = app.query_one("#data")
        assert await wait_for(
            pilot, lambda: data.is_mounted and all(w.is_mounted for w in data.query("*"))
        )
        await pilot.pause()  # its own after-refresh step runs before the app is torn down


async def test_a_missing_data_pane_is_said_so(tmp_path):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        label = app.query_one("#data-loading")
        assert await wait_for(pilot, lambda: "not part of this build" in str(label.content))


async def test_clicking_tabs_switches_panes(tmp_path):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for pane in ("runs", "notes", "checks", "train", "data"):
            await pilot.click(f"#--content-tab-tab-{pane}")
            await pilot.pause()
            assert active(app) == f"tab-{pane}"


async def test_command_palette_lists_console_actions(tmp_path):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        from textual.command import CommandList

        await pilot.press(*"runs pane")
        listing = app.screen.query_one(CommandList)
        assert await wait_for(pilot, lambda: listing.option_count > 0)
        prompts = [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
        assert any("Show Runs pane" in p for p in prompts)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: active(app) == "tab-runs")


async def test_palette_has_an_entry_for_every_action(tmp_path):
    from tuirecipe.ui.commands import ConsoleCommands

    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        provider = ConsoleCommands(app.screen)
        titles = [title for title, _, _ in provider._commands()]
    for expected in (
        "Show Data pane",
        "Show Checks pane",
        "Show Train pane",
        "Show Notes pane",
        "Show Runs pane",
        "Start training run",
        "Stop run",
        "Pause run",
        "Resume run",
        "Refresh runs",
        "Save notes",
        "Theme: dark",
        "Theme: light",
        "Theme: ansi16",
    ):
        assert expected in titles


async def test_a_malformed_theme_file_is_reported_and_skipped(tmp_path):
    themes = tmp_path / "settings" / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (themes / "garbage.toml").write_text("this is = = not toml")
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("broken.toml" in m for m in messages)
        assert any("garbage.toml" in m for m in messages)
        assert "broken" not in app.available_themes
        assert app.theme == "dark"
        await pilot.press("5")  # still a working console
        await pilot.pause()
        assert active(app) == "tab-runs"


async def test_theme_choice_is_remembered_for_the_next_start(tmp_path):
    app = make(tmp_path, theme="light")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "light"
    settings = json.loads((tmp_path / "settings" / "settings.json").read_text())
    assert settings["theme"] == "light"
    app = make(tmp_path)  # no --theme this time
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "light"
        app.action_set_theme("ansi16")  # from the palette
        await pilot.pause()
    settings = json.loads((tmp_path / "settings" / "settings.json").read_text())
    assert settings["theme"] == "ansi16"


async def test_an_unknown_theme_name_falls_back_with_a_notification(tmp_path):
    app = make(tmp_path, theme="no-such-theme")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "dark"
        assert any("no-such-theme" in n.message for n in app._notifications)


async def test_notes_are_saved_to_disk_soon_after_typing(tmp_path):
    app = make(tmp_path)
    notes = tmp_path / "runs" / "notes.md"
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, "4", "notes")
        await pilot.press("l")
        assert not notes.exists()  # not on every key: a second after the last one
        await pilot.press(*"r 1e-3 diverges")
        await pilot.press("enter")
        # a loaded machine types slower than a second a key: a save may come mid-word,
        # so wait for the last one
        typed = lambda: notes.exists() and notes.read_text() == "lr 1e-3 diverges\n"  # noqa: E731
        assert await wait_for(pilot, typed, timeout=5)
        assert notes.read_text() == "lr 1e-3 diverges\n"
        await pilot.press(*"more")
        await pilot.press("ctrl+q")  # saved on exit too, without waiting
        await pilot.pause()
    assert notes.read_text() == "lr 1e-3 diverges\nmore"


async def test_a_key_after_the_longest_wait_saves_at_once(tmp_path, monkeypatch):
    """The console was busy past the save deadline and a key arrives: saved then and
    there. (It was once left to a zero-delay Textual timer, which never fires when it
    starts late: typing on in a busy console then saved nothing at all.)"""
    import tuirecipe.ui.save_schedule as notes_module

    app = make(tmp_path)
    notes = tmp_path / "runs" / "notes.md"
    clock = [1000.0]
    monkeypatch.setattr(notes_module.SaveSchedule, "clock", staticmethod(lambda: clock[0]))
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, "4", "notes")
        await pilot.press(*"busy")
        assert not notes.exists()
        clock[0] += notes_module.MAX_UNSAVED_SECONDS  # the deadline, not yet saved
        await pilot.press("!")
        assert notes.read_text() == "busy!"  # no pause, no timer: already on disk
        await pilot.press(*"more")
        assert notes.read_text() == "busy!"  # a new unsaved stretch starts
        await pilot.press("ctrl+q")


async def test_manual_checks_are_ticked_with_a_note_and_persisted(tmp_path):
    app = make(tmp_path)
    path = tmp_path / "runs" / "checklist.json"
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, "2", "checks")
        await pilot.press("space")  # the first item under the first stage
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"read 300 rows")
        await pilot.press("enter")
        await pilot.pause()
    data = json.loads(path.read_text())
    entry = data["ticks"]["looked_at_data"]
    assert entry["note"] == "read 300 rows"


async def test_runs_pane_lists_runs_of_the_runs_dir(tmp_path):
    from tuirecipe.runs.rundir import create_run_dir

    run = create_run_dir(tmp_path / "runs", "demo")
    run.write_status(state="finished", step=20, started=time.time() - 5, ended=time.time())
    run.write_notes("# tried textcnn\nmore")
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, "5", "runs")
        table = app.query_one("#runs-table")
        assert await wait_for(pilot, lambda: table.row_count == 1)
        cell = lambda column: str(table.get_cell(run.id, column))  # noqa: E731
        assert (cell("run"), cell("state"), cell("notes")) == (run.id, "finished", "tried textcnn")
        assert cell("job") == "train" and cell("mark") == ""
        await pilot.press("enter")  # follow it in Train
        assert await wait_for(pilot, lambda: active(app) == "tab-train")
        header = app.query_one("#header")
        assert header.run_id == run.id and header.state == "finished"


@pytest.mark.slow
async def test_starting_a_run_from_the_train_pane_follows_its_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the worker is `python -m tuirecipe…`
    app = make(tmp_path, train={"max_steps": 20, "device": "cpu", "eval_every": 10})
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, "3", "train")
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"smoke test", "enter")
        train = app.query_one("#train")
        assert await wait_for(pilot, lambda: train.run is not None, timeout=30)
        meta = json.loads((train.run.path / "meta.json").read_text())
        assert meta["motivation"] == "smoke test"
        bar = app.query_one("#train-progress")
        assert await wait_for(pilot, lambda: train.state in ("finished", "failed"), 180)
        assert train.state == "finished", (train.run.path / "worker.log").read_text()[-2000:]
        assert bar.total == 20 and bar.progress == 20


async def test_the_followed_run_reaches_the_header_under_a_modal_screen(tmp_path):
    # A run re-attached while a dialog is open (the header is not on the top screen): the
    # console used to crash with NoMatches; the header shows the run once the dialog goes.
    from textual.widgets import Label

    from tuirecipe.ui.modals import TextPrompt
    from tuirecipe.ui.panes.train import TrainPane

    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(TextPrompt("why?", placeholder="one line"))
        await pilot.pause()
        train = app.query_one(TrainPane)  # the App's own DOM, whatever screen is on top
        train.post_message(TrainPane.RunChanged("2026[/]-odd-run", "running"))
        header = app.header
        await wait_for(pilot, lambda: header.run_id == "2026[/]-odd-run", 5)
        app.pop_screen()
        await pilot.pause()
        run_label = header.query_one("#header-run", Label)
        assert str(run_label.render()) == "run 2026[/]-odd-run"  # literally, no markup
        assert header.query_one("#header-state", Label).has_class("-running")


async def test_a_toast_quoting_markup_is_drawn_literally(tmp_path):
    # A notification quotes an exception, a path or a run id: "[/]" in it is text. As
    # markup the toast raised MarkupError while drawing and took the console down.
    from textual.widgets._toast import Toast

    from tuirecipe.ui.panes.train import TrainPane

    app = make(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        message = "could not read /data/[/]odd[bold]/notes.md: [Errno 13]"
        app.query_one(TrainPane).notify(message, severity="error")  # a widget's notify
        toasts = []

        def shown() -> bool:
            toasts[:] = list(app.screen.query(Toast))
            return bool(toasts)

        await wait_for(pilot, shown, 5)
        assert message in toasts[0].render().plain
        await pilot.pause()
    assert app.return_code in (None, 0)


async def test_the_run_lines_show_motivation_paths_and_errors_literally(tmp_path):
    # The typed motivation, the data path and a worker's error message reach the Train
    # pane's lines as they are: a "[/]" in any of them is text, not a closing tag.
    from textual.widgets import Label

    from tuirecipe.ui.widgets.run_status import RunStatus

    app = make(tmp_path, data={"path": "data/[/]odd[b].csv"})
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, "3", "train")
        status = app.query_one(RunStatus)
        status.show_run("20261130-000000-demo", "try [/] without [bold]dropout")
        await pilot.pause()

        def line(part: str) -> str:
            return str(status.query_one(part, Label).render())

        assert "why: try [/] without [bold]dropout" in line("#train-run")
        assert "data data/[/]odd[b].csv" in line("#train-config")


async def test_the_start_prompt_quotes_a_markup_like_data_path_literally(tmp_path):
    # s on the Train pane opens a prompt that quotes the config line; a data path with
    # "[/]" in it crashed the console there.
    from textual.widgets import Label

    from tuirecipe.ui.screens.start_dialog import StartDialog

    app = make(tmp_path, data={"path": "d[/]ir/[b]data.csv"})
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, "3", "train")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StartDialog), 5)
        explain = app.screen.query_one(".dialog-explain", Label)
        assert "data d[/]ir/[b]data.csv" in str(explain.render())
