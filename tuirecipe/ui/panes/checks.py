"""Checks pane: the recipe's manual checks, ticked with a note, kept in checklist.json.

The automatic sanity checks (initial loss, overfitting one batch, …) run headless with
``tuirecipe check`` for now; this pane says so rather than pretending to run them. What
the user ticks is written at once to ``<runs_dir>/checklist.json`` under ``"manual"``,
keeping any other keys another writer put there.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tuirecipe.config import Config
from tuirecipe.runs.rundir import atomic_write_json

# (stage, [(id, what the person checked)]) — the recipe's stages, in order.
MANUAL_CHECKS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("1 · Become one with the data", (
        ("looked_through_data", "Looked through a few hundred examples, by label"),
        ("understood_labels", "Understood the labels: what each means, how they are spread"),
        ("noticed_noise", "Looked for duplicates, label noise and corrupted rows"),
    )),
    ("2 · End-to-end skeleton, dumb baselines", (
        ("human_baseline", "Labelled some dev examples myself (a human baseline)"),
        ("saw_model_input", "Decoded a batch just before the model: the input is right"),
        ("watched_predictions", "Watched predictions on fixed dev examples during training"),
    )),
    ("3 · Overfit", (
        ("started_simple", "Started from a simple model before a bigger one"),
    )),
    ("4 · Regularize", (
        ("more_data_first", "Tried getting more (or cleaner) data before regularizers"),
    )),
    ("5 · Tune", (
        ("random_search", "Searched learning rate and size on a log scale, noted in the log"),
    )),
)


def _prompt(text: str, entry: dict[str, Any]) -> str:
    tick = "[x]" if entry.get("done") else "[ ]"
    note = f"\n      [i]{entry['note']}[/i]" if entry.get("note") else ""
    return f"{tick} {text}{note}"


class ChecksPane(Widget):
    BINDINGS = [Binding("space", "toggle", "Tick"), Binding("n", "edit_note", "Note")]

    def __init__(self, config: Config, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path: Path = config.runs_path / "checklist.json"
        self.data = self._load()
        self.texts = {cid: text for _, items in MANUAL_CHECKS for cid, text in items}

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"manual": {}}
        if not isinstance(data, dict) or not isinstance(data.get("manual"), dict):
            return {**(data if isinstance(data, dict) else {}), "manual": {}}
        return data

    @property
    def manual(self) -> dict[str, dict[str, Any]]:
        return self.data["manual"]

    def compose(self) -> ComposeResult:
        yield Label("", id="checks-summary")
        options: list[Option | None] = []
        for stage, items in MANUAL_CHECKS:
            options.append(Option(f"[b]{stage}[/b]", id=f"stage:{stage}", disabled=True))
            options += [Option(_prompt(text, self.manual.get(cid, {})), id=cid)
                        for cid, text in items]
        yield OptionList(*options, id="checks-list")
        yield Label("Automatic checks (initial loss, overfit one batch, input independence, "
                    "…) run headless with `tuirecipe check`; they join this list with "
                    "issue 4.", id="checks-automatic")

    def on_mount(self) -> None:
        self._update_summary()

    def _update_summary(self) -> None:
        done = sum(1 for cid in self.texts if self.manual.get(cid, {}).get("done"))
        self.query_one("#checks-summary", Label).update(
            f"Manual checks: {done}/{len(self.texts)} ticked · space: tick · n: note · "
            f"saved in {self.path}")

    def _current(self) -> str | None:
        option = self.query_one("#checks-list", OptionList).highlighted_option
        return option.id if option is not None and option.id in self.texts else None

    @on(OptionList.OptionSelected, "#checks-list")
    def toggle_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id in self.texts:
            self.set_check(event.option.id, done=not self.manual.get(event.option.id, {})
                           .get("done", False))

    def action_toggle(self) -> None:
        cid = self._current()
        if cid is not None:
            self.set_check(cid, done=not self.manual.get(cid, {}).get("done", False))

    def action_edit_note(self) -> None:
        from tuirecipe.ui.modals import TextPrompt

        cid = self._current()
        if cid is None:
            return
        self.app.push_screen(
            TextPrompt(self.texts[cid], placeholder="what you saw, in one line",
                       value=self.manual.get(cid, {}).get("note", "")),
            lambda note: None if note is None else self.set_check(cid, note=note))

    def set_check(self, cid: str, *, done: bool | None = None, note: str | None = None) -> None:
        entry = dict(self.manual.get(cid, {}))
        if done is not None:
            entry["done"] = done
        if note is not None:
            entry["note"] = note
        entry["updated"] = time.time()
        self.manual[cid] = entry
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, self.data)
        except OSError as exc:
            self.notify(f"checklist not saved: {exc}", severity="error")
        self.query_one("#checks-list", OptionList).replace_option_prompt(
            cid, _prompt(self.texts[cid], entry))
        self._update_summary()
