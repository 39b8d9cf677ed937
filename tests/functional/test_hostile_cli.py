"""Hostile text through the headless CLI: ``data``, ``check``, ``train``, ``runs``,
``attach`` and ``augment-preview`` on the hostile project (tests/support/hostile.py).

Each command exits with its documented code (0 done, 1 a check failed or errored,
2 a user error such as the model's own exception), prints no traceback, prints the
text literally (``[/]``, ``[b]``, ``[CLS]`` as typed), and never writes an ESC to the
terminal: a control character from the data, a path or an error is printed escaped
(``\\x1b``, :func:`tuirecipe.printable.printable`). The JSON outputs keep the exact
strings (JSON escapes the control characters itself).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO_ROOT
from support.hostile import (
    CLICK,
    FAILED_MESSAGE,
    LABELS,
    LOG_LINE,
    MODEL_ERROR,
    MODEL_ERROR_LINE,
    MOTIVATION,
    NOTES,
    T0,
    HostileProject,
    shown,
    write_hostile_project,
    write_hostile_run,
)

from tuirecipe.runs import RunDir, list_runs

FINISHED, FAILED = "20231114-221320-hostile", "20231114-231320-hostile"
ODD_ID = "20231116-000000-odd [b]run [CLS] [@click=quit]x \x1b[31m"  # renamed by hand
EXIT_OK, EXIT_FAILED, EXIT_USER_ERROR = 0, 1, 2


def tuirecipe(project: HostileProject, *args: str, timeout: float = 300):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "COLUMNS": "400",  # long lines stay whole: the strings can be found as printed
        "TUIRECIPE_CACHE": str(project.folder.parent / "cache"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=project.folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    raw = sorted({f"{ord(c):#04x}" for c in out if ord(c) < 32 and c not in "\n\t"})
    assert not raw, f"control characters written to the terminal: {raw}\n{out}"
    return result


@pytest.fixture
def project(tmp_path: Path) -> HostileProject:
    return write_hostile_project(tmp_path)


@pytest.fixture
def recorded(project: HostileProject) -> HostileProject:
    write_hostile_run(project.runs, FINISHED, project)
    write_hostile_run(
        project.runs, FAILED, project, failed=True, parent=FINISHED, lr=0.003, started=T0 + 3600
    )
    write_hostile_run(project.runs, ODD_ID, project, started=T0 + 7200)
    return project


def test_data_prints_the_hostile_rows_labels_and_path_literally(project):
    result = tuirecipe(project, "data", "config.toml")
    assert result.returncode == EXIT_OK, result.stderr
    assert str(project.data) in result.stdout  # "films [/] [b]bold[/b] [CLS]/reviews [/] …"
    for label in LABELS:
        assert shown(label) in result.stdout
    assert "“great film [/] 7”" in result.stdout  # the duplicate group's text
    assert "\\x1b[31mnot red\\x1b[0m" in result.stdout  # a near-duplicate pair's text

    as_json = tuirecipe(project, "data", "config.toml", "--json")
    assert as_json.returncode == EXIT_OK
    profile = json.loads(as_json.stdout)
    assert profile["source"]["path"] == str(project.data)
    assert {c["label"] for c in profile["profile"]["labels"]["counts"]} == set(LABELS)


def test_augment_preview_prints_the_hostile_rows_literally(project):
    result = tuirecipe(project, "augment-preview", "config.toml", "-n", "66")
    assert result.returncode == EXIT_OK, result.stderr
    # the tokenizer lowercases and splits; the brackets stay text
    assert "[ / ]" in result.stdout or "[/]" in result.stdout
    assert "cls" in result.stdout and "@click=quit" in result.stdout.replace(" ", "")


def test_check_reports_the_models_hostile_error_literally(project):
    result = tuirecipe(project, "check", "config.toml", "--only", "init_loss")
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("E error"))
    assert line.split("  ")[-2].strip().endswith(shown(MODEL_ERROR)), line
    assert str(project.runs) in result.stderr  # "checks run … in <runs folder> on …"

    listed = tuirecipe(project, "check", "config.toml", "--list", "--only", "init_loss")
    assert listed.returncode == EXIT_FAILED  # a current result errored
    assert shown(MODEL_ERROR) in listed.stdout and str(project.runs) in listed.stdout

    as_json = tuirecipe(project, "check", "config.toml", "--only", "init_loss", "--json")
    assert as_json.returncode == EXIT_FAILED
    (found,) = json.loads(as_json.stdout)["results"]
    assert found["status"] == "error" and MODEL_ERROR in found["summary"]


def test_train_with_the_hostile_model_fails_in_one_line_naming_file_and_line(project):
    result = tuirecipe(project, "train", "config.toml", "-m", MOTIVATION)
    assert result.returncode == EXIT_USER_ERROR, result.stdout + result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("tuirecipe: error: ") and shown(MODEL_ERROR) in error
    assert f"hostile_model.py:{MODEL_ERROR_LINE}" in error
    (summary,) = list_runs(project.runs)
    run = RunDir(Path(summary.path))
    assert f"run {run.id}: failed" in result.stdout and str(run.path) in result.stdout
    assert run.read_meta()["motivation"] == MOTIVATION  # recorded exactly, ESC included
    assert run.read_status()["state"] == "failed"
    assert MODEL_ERROR in run.read_status()["message"]


def test_train_a_builtin_on_the_hostile_data_then_list_and_attach(project):
    result = tuirecipe(
        project, "train", "config.toml", "--set", "model.name=fasttext", "-m", MOTIVATION
    )
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    (summary,) = list_runs(project.runs)
    run = RunDir(Path(summary.path))
    assert f"run {run.id}: finished" in result.stdout
    assert run.read_meta()["motivation"] == MOTIVATION
    snapshots = [e for e in run.events() if e.kind == "predictions"]
    texts = {row["text"] for snapshot in snapshots for row in snapshot.rows}
    originals = [text for text, _ in _rows()]
    assert (
        texts
        and all(  # exact, as in the file (a long one cut with "…")
            text in originals or any(o.startswith(text[:-1]) for o in originals) for text in texts
        )
    )
    assert "sunny bright great film [/] 7 #0" in texts or "[b]not bold[/b]" in str(texts)
    runs = tuirecipe(project, "runs", "config.toml")
    assert runs.returncode == EXIT_OK and run.id in runs.stdout
    assert shown(MOTIVATION) in runs.stdout  # no notes: the motivation is the last column
    attached = tuirecipe(project, "attach", run.id, "--runs-dir", str(project.runs))
    assert attached.returncode == EXIT_OK and "finished" in attached.stdout


def _rows():
    from support.hostile import hostile_rows

    return hostile_rows()


def test_runs_and_attach_show_recorded_hostile_runs_literally(recorded):
    project = recorded
    listed = tuirecipe(project, "runs", "config.toml")
    assert listed.returncode == EXIT_OK
    assert f"runs in {project.runs}" in listed.stdout
    # a child run stands under its parent ("└ " in front of its id)
    failed_line = next(x for x in listed.stdout.splitlines() if x.lstrip(" └").startswith(FAILED))
    assert shown(FAILED_MESSAGE)[:50] in failed_line  # the cause comes before the notes
    finished_line = next(
        x for x in listed.stdout.splitlines() if x.lstrip(" └").startswith(FINISHED)
    )
    assert "notes [/] [b]bold?[/b]" in finished_line
    assert listed.stdout.splitlines()[2].startswith(shown(ODD_ID))  # newest first

    as_json = json.loads(tuirecipe(project, "runs", "config.toml", "--json").stdout)
    by_id = {r["id"]: r for r in as_json}
    assert by_id[FAILED]["message"] == FAILED_MESSAGE
    assert by_id[FINISHED]["motivation"] == MOTIVATION
    assert by_id[FINISHED]["notes_first_line"] == NOTES.splitlines()[0].lstrip("# ")

    failed = tuirecipe(project, "attach", FAILED, "--runs-dir", str(project.runs))
    assert failed.returncode == EXIT_USER_ERROR  # the model's error is the user's
    assert f"run {FAILED} in {project.runs}" in failed.stderr
    assert shown(LOG_LINE) in failed.stderr  # the run's log line, as recorded
    assert failed.stderr.strip().splitlines()[-1] == f"tuirecipe: error: {shown(FAILED_MESSAGE)}"
    finished = tuirecipe(project, "attach", FINISHED, "--runs-dir", str(project.runs))
    assert finished.returncode == EXIT_OK
    assert f"run {FINISHED}: finished at step 40 — {project.runs / FINISHED}" in finished.stdout
    odd = tuirecipe(project, "attach", str(project.runs / ODD_ID))
    assert odd.returncode == EXIT_OK, odd.stderr
    assert f"run {shown(ODD_ID)}: finished" in odd.stdout


def test_tuning_tables_print_swept_values_literally(capsys, monkeypatch):
    """sweep, search, seeds and cv print their results through one table (their runs
    train for real; the table is checked here in process): a swept value or run id with
    markup or an ESC in it was parsed as markup, or sent to the terminal."""
    from tuirecipe.cli_tune import _table

    monkeypatch.setenv("COLUMNS", "300")
    _table(f"sweep of data.path {CLICK}", ["data.path", "run"], [[MODEL_ERROR, ODD_ID]])
    out = capsys.readouterr().out
    assert f"sweep of data.path {CLICK}" in out
    assert shown(MODEL_ERROR) in out and shown(ODD_ID) in out and "\x1b" not in out
