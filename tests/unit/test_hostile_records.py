"""Run records with hostile text parse back exactly: config.toml, meta.json, events.jsonl,
notes.md, written by the project's own writers and read by its readers (and by the
standard TOML / JSON parsers, as another tool would)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest
from support.hostile import (
    ALL,
    ANSI,
    FAILED_MESSAGE,
    LABELS,
    LOG_LINE,
    MODEL_ERROR,
    MOTIVATION,
    NOTES,
    OPTION,
    PROJECT_LOG,
    T0,
    write_hostile_check_run,
    write_hostile_project,
    write_hostile_run,
)

from tuirecipe.config import config_from_dict, load_config
from tuirecipe.events import CheckResult, Error, Log, PredictionsSnapshot, RunStatus
from tuirecipe.printable import printable, printable_line
from tuirecipe.runs import list_runs
from tuirecipe.runs.rundir import EventWriter, RunDir, create_run_dir, read_events

# Characters some line splitters treat as line ends, and a NUL-free C0 mix.
SEPARATORS = "a\u2028b\u2029c\x85d\x1ce\x0bf\x0cg"
HOSTILE_PATH = f"data [/] [b]x[/b] [CLS] {ANSI} 🎬 \u202eflip\u202c {SEPARATORS}/rows.csv"


def strict_json(text: str):
    """Parse as strict JSON: a bare NaN or Infinity is an error, as in other tools."""

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_printable_escapes_control_characters_only():
    assert printable("a\x1b[31mb\x07\r") == "a\\x1b[31mb\\x07\\x0d"
    assert printable("tab\tand\nnewline kept") == "tab\tand\nnewline kept"
    assert printable("\x7f\x85\x9f") == "\\x7f\\x85\\x9f"  # DEL and C1
    for text in (LABELS[0], LABELS[1], "[CLS] 🎬 \u202eflip\u202c שלום", "\\[b]"):
        assert printable(text) == text  # brackets, emoji, bidi marks: text, left alone
    assert printable_line("two\nlines\tand tab") == "two\\nlines\\tand tab"


def test_a_config_with_hostile_values_round_trips_through_toml(tmp_path: Path):
    config = config_from_dict(
        {
            "name": "hostile",
            "data": {"path": HOSTILE_PATH, "text_column": "[b]text[/b]"},
            "model": {"name": "hostile_model:build", "options": {"note": OPTION, "all": list(ALL)}},
        },
        base_dir=str(tmp_path),
    )
    text = config.to_toml()
    parsed = tomllib.loads(text)  # what any TOML reader gets
    assert parsed["data"]["path"] == HOSTILE_PATH
    assert parsed["data"]["text_column"] == "[b]text[/b]"
    assert parsed["model"]["options"] == {"note": OPTION, "all": list(ALL)}
    saved = tmp_path / "config.toml"
    saved.write_text(text, encoding="utf-8")
    again = load_config(saved)
    assert again.data.path == HOSTILE_PATH and again.model.options["note"] == OPTION
    assert again.to_toml() == text


def test_meta_events_and_notes_with_hostile_text_parse_back_exactly(tmp_path: Path):
    run = create_run_dir(tmp_path / "runs [/] [b]", "hostile")
    run.update_meta(motivation=MOTIVATION, changed={"model.options.note": ["[/]", OPTION]})
    meta = strict_json(run.meta_path.read_text(encoding="utf-8"))
    assert meta["motivation"] == MOTIVATION and run.read_meta()["motivation"] == MOTIVATION
    assert meta["changed"]["model.options.note"] == ["[/]", OPTION]

    rows = [
        {"index": i, "text": text, "label": LABELS[i % 3], "pred": LABELS[0], "prob": 0.5}
        for i, text in enumerate((*ALL, SEPARATORS))
    ]
    written = [
        RunStatus(state="running", t=T0),
        Log(LOG_LINE, "warning", t=T0 + 1),
        Log(SEPARATORS, t=T0 + 2),
        PredictionsSnapshot(step=5, rows=rows, t=T0 + 3),
        CheckResult(
            name="init_loss",
            status="error",
            summary=f"ValueError: {MODEL_ERROR}",
            evidence={"traceback": [f"ValueError: {MODEL_ERROR}"], LABELS[1]: ANSI},
            t=T0 + 4,
        ),
        Error(message=FAILED_MESSAGE, traceback=f"File x\n{MODEL_ERROR}", step=7, t=T0 + 5),
        RunStatus(state="failed", message=FAILED_MESSAGE, step=7, t=T0 + 6),
    ]
    writer = EventWriter(run.events_path)
    writer.write_many(written)
    writer.close()
    lines = run.events_path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == len(written) + 1  # one event per line
    for line in lines[:-1]:
        strict_json(line)
    events, _ = read_events(run.events_path)
    assert events == written
    assert [dataclasses.asdict(e) for e in run.events()] == [dataclasses.asdict(e) for e in written]

    notes = NOTES + PROJECT_LOG + f"windows line\r\n{SEPARATORS}\n"
    run.write_notes(notes)
    assert run.read_notes() == notes
    assert run.notes_path.read_bytes() == notes.encode("utf-8")


def test_listing_reads_the_recorded_hostile_runs_exactly(tmp_path: Path):
    project = write_hostile_project(tmp_path)
    write_hostile_run(project.runs, "20231114-221320-hostile", project)
    write_hostile_run(project.runs, "20231114-231320-hostile", project, failed=True, parent="x")
    write_hostile_check_run(project.runs, project.config())
    runs = {r.id: r for r in list_runs(project.runs)}
    assert len(runs) == 3
    failed = runs["20231114-231320-hostile"]
    assert failed.state == "failed" and failed.message == FAILED_MESSAGE
    assert failed.motivation == MOTIVATION
    assert failed.notes_first_line == NOTES.splitlines()[0].lstrip("# ")
    config = tomllib.loads((Path(failed.path) / "config.toml").read_text(encoding="utf-8"))
    assert config["data"]["path"] == str(project.data)
    assert config["model"]["options"]["hostile"] == OPTION
    recorded = RunDir(Path(failed.path))
    assert recorded.read_notes() == NOTES
    logs = [e.message for e in recorded.events() if isinstance(e, Log)]
    assert logs == [LOG_LINE]


@pytest.mark.parametrize("text", ALL, ids=range(len(ALL)))
def test_every_hostile_string_is_escaped_into_one_visible_line(text: str):
    shown = printable_line(text)
    assert "\n" not in shown and not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in shown)
    assert shown.replace("\\x1b", "\x1b").replace("\\x07", "\x07") == text
