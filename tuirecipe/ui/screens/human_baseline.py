"""The human baseline: label a sample of dev examples yourself, then see your accuracy.

The screen loads the data in a thread (pandas, no torch), draws
``config.checks.human_baseline_examples`` dev examples with
:func:`~tuirecipe.checks.human.sample_for_human` and shows them one at a time without
their gold label. One key per class (1–9, then letters; the mapping is on screen), ``s``
skips, backspace goes back. At the end :func:`~tuirecipe.checks.human.score_human` scores
the answers with a Wilson interval; the result is saved through
:class:`~tuirecipe.checks.store.ChecklistStore` and is the screen's dismiss value.
"""

from __future__ import annotations

import asyncio
import string
from typing import Any

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from tuirecipe.checks.human import sample_for_human, score_human
from tuirecipe.checks.store import ChecklistStore
from tuirecipe.config import Config
from tuirecipe.ui.widgets.check_detail import dict_table, escape, human_summary

SKIP_KEY = "s"
# Keys for classes: digits first, then letters that are not a command here.
CLASS_KEYS = tuple("123456789") + tuple(c for c in string.ascii_lowercase if c != SKIP_KEY)


def class_keys(classes: list[str]) -> dict[str, str]:
    """``{key: class}``: 1–9, then a, b, … (never ``s``); at most 34 classes."""
    return dict(zip(CLASS_KEYS, classes))


def _load_examples(config: Config) -> tuple[list[tuple[int, str]], dict[int, str], list[str]]:
    from tuirecipe.data.profiling import load_dataset

    data = load_dataset(config)
    dev = data.dev
    classes = sorted({str(v) for v in data.frame["label"].dropna().tolist()})
    sample = sample_for_human(
        dev["text"], dev["label"], n=config.checks.human_baseline_examples, seed=config.seed
    )
    gold = {index: str(dev["label"].iloc[index]) for index, _ in sample}
    return sample, gold, classes


class HumanBaselineScreen(Screen[dict[str, Any] | None]):
    """Label sampled dev examples; dismisses with the saved result (None if abandoned).

    :class:`~tuirecipe.ui.screens.label_audit.LabelAuditScreen` reuses it for the label
    audit through :meth:`load_examples` and :meth:`record`."""

    TITLE_TEXT = "Human baseline"
    LOADING_TEXT = "Loading the dev examples…"

    BINDINGS = [
        Binding("escape", "leave", "Leave"),
        Binding("backspace", "back", "Back"),
        Binding(SKIP_KEY, "skip", "Skip"),
    ]

    def __init__(self, config: Config) -> None:
        super().__init__(id="human-baseline")
        self.config = config
        self.sample: list[tuple[int, str]] = []
        self.gold: dict[int, str] = {}
        self.keys: dict[str, str] = {}
        self.answers: list[str | None] = []  # one per example answered or skipped so far
        self.result: dict[str, Any] | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical(id="human-body"):
            yield Label(self.TITLE_TEXT, id="human-title")
            yield Label(self.LOADING_TEXT, id="human-progress")
            with VerticalScroll(id="human-example-box"):
                yield Static("", id="human-example")
            yield Static("", id="human-keys")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="human-load")
    async def load(self) -> None:
        try:
            sample, gold, classes = await asyncio.to_thread(self.load_examples)
        except Exception as exc:  # bad data is reported, the console goes on
            self.query_one("#human-progress", Label).update(
                f"[$error]could not load the dev examples:[/] {escape(str(exc))}"
            )
            return
        if self.config.data.task != "classification":
            self.query_one("#human-progress", Label).update(
                "The human baseline labels classes; this is a regression task."
            )
            return
        if not sample:
            self.query_one("#human-progress", Label).update("The dev split has no examples.")
            return
        self.sample, self.gold, self.keys = sample, gold, class_keys(classes)
        if len(classes) > len(CLASS_KEYS):
            self.notify(
                f"{len(classes)} classes: only the first {len(CLASS_KEYS)} have keys",
                severity="warning",
            )
        self.loaded = True
        self.query_one("#human-keys", Static).update(self._keys_markup())
        self._show_current()

    def _keys_markup(self) -> str:
        keys = "   ".join(f"[b $accent]{k}[/] {escape(c)}" for k, c in self.keys.items())
        return (
            f"{keys}\n[$text-muted][b]s[/b] skip · [b]backspace[/b] back · "
            f"[b]esc[/b] leave without saving[/]"
        )

    def _show_current(self) -> None:
        position = len(self.answers)
        total = len(self.sample)
        if position >= total:
            self._finish()
            return
        answered = sum(a is not None for a in self.answers)
        self.query_one("#human-progress", Label).update(
            f"example {position + 1} of {total} · {answered} answered · "
            f"{position - answered} skipped — which class is it?"
        )
        self.query_one("#human-example", Static).update(escape(self.sample[position][1]))

    def on_key(self, event: events.Key) -> None:
        if not self.loaded or self.result is not None:
            return
        label = self.keys.get(event.character or "")
        if label is not None and event.key != SKIP_KEY:
            event.stop()
            event.prevent_default()
            self.answer(label)

    def answer(self, label: str | None) -> None:
        if not self.loaded or self.result is not None or len(self.answers) >= len(self.sample):
            return
        self.answers.append(label)
        self._show_current()

    def action_skip(self) -> None:
        self.answer(None)

    def action_back(self) -> None:
        if self.result is None and self.answers:
            self.answers.pop()
            self._show_current()

    def load_examples(self) -> tuple[list[tuple[int, str]], dict[int, str], list[str]]:
        """``(sample [(index, text)], gold {index: label}, classes)``; runs in a thread."""
        return _load_examples(self.config)

    def _finish(self) -> None:
        answers = {index: self.answers[n] for n, (index, _) in enumerate(self.sample)}
        summary, table, footer = self.record(answers)
        self.query_one("#human-progress", Label).update(f"[b]Done.[/b] {escape(summary)}")
        self.query_one("#human-example", Static).update(table)
        self.query_one("#human-keys", Static).update(footer)

    def record(self, answers: dict[int, str | None]) -> tuple[str, Any, str]:
        """Score and save the answers, set :attr:`result`; returns the summary line, what
        to show below it and the keys line (markup)."""
        result = score_human(answers, self.gold)
        for mistake in result["mistakes"]:
            text = dict(self.sample).get(mistake["index"], "")
            mistake["text"] = text if len(text) <= 100 else text[:99] + "…"
        result["examples"] = len(self.sample)
        try:
            # Given the config, the saved result says what it was labelled for.
            store = ChecklistStore(self.config.runs_path, config=self.config)
            self.result = store.save_human_baseline(result)
        except OSError as exc:
            self.result = result
            self.notify(f"human baseline not saved: {exc}", severity="error")
        mistakes = self.result.get("mistakes") or []
        return (
            human_summary(self.result),
            dict_table(mistakes, "where you and the gold label disagree")
            if mistakes
            else "You agreed with every gold label you answered.",
            "[$text-muted]saved in checklist.json · [b]esc[/b] back to the checklist[/]",
        )

    def action_leave(self) -> None:
        self.dismiss(self.result)
