"""Every malformed input in ``tests/support/bad_inputs/`` gets one clear line, never a traceback.

Table-driven: each case runs the real CLI (``python -m tuirecipe …``) in its own copy of
the corpus and asserts the exit code, the words of the one-line answer, that stderr holds
no traceback, and that every run directory the attempt created ended in a terminal state
with its message recorded. Cases that start a worker (data errors are found there) run
in parallel threads; the rest fail before any worker starts. The expected messages are
listed for people in ``tests/support/bad_inputs/README.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import BAD_INPUTS, REPO_ROOT, SUPPORT

from tuirecipe.runs import RunDir

CORPUS = BAD_INPUTS
TESTS = SUPPORT  # fault_models.py
REPO = REPO_ROOT
TERMINAL = ("finished", "failed", "stopped")
# Quick runs: two steps of the fastest built-in model.
QUICK = ["--set", "train.max_steps=2", "--set", "model.name=fasttext"]
FAULTS_ON_PATH = ["--set", f'model.python_path=["{TESTS}"]']


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    exit: int
    words: tuple[str, ...]  # all must appear in the `tuirecipe: error:` line (or stdout)
    # for exit 0: words that must appear in the output (a handled input); a tuple: each
    note: str | tuple[str, ...] = ""
    setup: str = ""  # name of a function below that writes a generated file
    # a fault planted in the worker (tests/support/fault_injection/sitecustomize.py)
    fault: tuple[str, str] | None = None
    names_run_file: bool = False  # the line names a run file (the one the disk refused)
    untouched: tuple[str, ...] = ()  # files (setup writes them) that must stay as they were


def train(*args: str, quick: bool = True) -> tuple[str, ...]:
    return ("train", *args, *(QUICK if quick else ()), "-q")


def data(path: str, *args: str, quick: bool = True) -> tuple[str, ...]:
    """Train on ``path``: the data is read by the worker, which marks the run failed."""
    return train("--set", f"data.path={path}", *args, quick=quick)


def profile(path: str, *args: str) -> tuple[str, ...]:
    """``tuirecipe data`` on ``path``: the same loader, no worker (keeps the suite fast)."""
    return ("data", "--set", f"data.path={path}", *args)


CASES: list[Case] = [
    # --- the config file itself --------------------------------------------------------
    Case(
        "config missing",
        train("no_such_config.toml"),
        2,
        ("no_such_config.toml", "config file not found"),
    ),
    Case(
        "config is a directory", train("a_directory.csv"), 2, ("a_directory.csv", "is a directory")
    ),
    Case(
        "config malformed TOML",
        train("config_malformed.toml"),
        2,
        ("config_malformed.toml", "is not valid TOML", "line"),
    ),
    Case(
        "config is a binary file",
        train("config_binary.toml"),
        2,
        ("config_binary.toml", "not a UTF-8 text file"),
    ),
    Case(
        "config unknown key",
        train("config_unknown_key.toml"),
        2,
        ("config_unknown_key.toml", "key 'train.learning_rate'", "unknown key", "lr"),
    ),
    Case(
        "config unknown section",
        train("config_unknown_section.toml"),
        2,
        ("key 'optimiser'", "unknown key"),
    ),
    Case(
        "config wrong type",
        train("config_wrong_type.toml"),
        2,
        ("config_wrong_type.toml", "key 'train.batch_size'", "must be an integer", "'32'"),
    ),
    Case(
        "config section not a table",
        train("config_section_not_table.toml", quick=False),
        2,
        ("key 'train'", "must be a table"),
    ),
    Case(
        "config negative lr",
        train("config_negative_lr.toml"),
        2,
        ("key 'train.lr'", "must be greater than 0", "-0.001"),
    ),
    Case(
        "config zero batch size",
        train("config_zero_batch.toml"),
        2,
        ("key 'train.batch_size'", "must be at least 1", "got 0"),
    ),
    Case(
        "config zero max_len",
        train("config_zero_max_len.toml"),
        2,
        ("key 'data.max_len'", "must be at least 1", "got 0"),
    ),
    Case(
        "config device cuda without CUDA",
        train("config_cuda.toml"),
        2,
        ("key 'train.device'", "CUDA is not available"),
    ),
    Case(
        "runs_dir under a regular file",
        train("config_runs_dir_under_file.toml"),
        2,
        ("runs_blocker/runs", "key 'runs_dir'", "cannot create the runs directory"),
    ),
    # --- --set overrides -----------------------------------------------------------------
    Case(
        "--set without '='",
        train("--set", "train.lr"),
        2,
        ("--set", "'train.lr' is not of the form section.key=value"),
    ),
    Case(
        "--set name escaping",
        train("--set", "name=../../x"),
        2,
        ("key 'name'", "'../../x' is not a valid run name"),
    ),
    Case(
        "--set unknown model",
        train("--set", "model.name=resnet9000", quick=False),
        2,
        ("key 'model.name'", "unknown model 'resnet9000'"),
    ),
    Case(
        "--set dev_fraction out of range",
        train("--set", "data.dev_fraction=1.5"),
        2,
        ("key 'data.dev_fraction'", "between 0 and 1"),
    ),
    Case(
        "--set unknown encoding",
        train("--set", "data.encoding=klingon"),
        2,
        ("key 'data.encoding'", "unknown encoding 'klingon'"),
    ),
    Case(
        "--set lr not a number",
        train("--set", "train.lr=fast"),
        2,
        ("key 'train.lr'", "must be a number", "'fast'"),
    ),
    # --- data files (found by the worker) ----------------------------------------------
    Case(
        "data file missing",
        data("no_such.csv"),
        2,
        ("no_such.csv", "key 'data.path'", "file not found"),
    ),
    Case(
        "data is a directory",
        profile("a_directory.csv"),
        2,
        ("a_directory.csv", "key 'data.path'", "is a directory"),
    ),
    Case("data is binary", data("binary.csv"), 2, ("binary.csv", "key 'data.path'", "binary file")),
    Case("data empty file", profile("empty.csv"), 2, ("empty.csv", "key 'data.path'", "is empty")),
    Case(
        "data header only",
        profile("header_only.csv"),
        2,
        ("header_only.csv", "key 'data.path'", "no data rows"),
    ),
    Case(
        "data missing text column",
        profile("no_text_column.csv"),
        2,
        ("no_text_column.csv", "key 'data.text_column'", "column 'text' not found", "'review'"),
    ),
    Case(
        "data missing label column",
        data("no_label_column.csv"),
        2,
        (
            "no_label_column.csv",
            "key 'data.label_column'",
            "column 'label' not found",
            "'sentiment'",
        ),
    ),
    Case(
        "data one class",
        data("one_class.csv"),
        2,
        ("one_class.csv", "key 'data.label_column'", "only one class"),
    ),
    Case(
        "data all labels NaN",
        profile("nan_labels_all.csv"),
        2,
        ("nan_labels_all.csv", "no usable rows", "row 2", "missing label"),
    ),
    Case(
        "data some labels NaN",
        profile("nan_labels_some.csv"),
        0,
        (),
        note=("40 rows read: 38 used (34 train + 4 dev), 2 skipped", "train / dev   34 / 4"),
    ),
    Case(
        "data float labels for classification",
        data("float_labels.csv"),
        2,
        (
            "float_labels.csv",
            "key 'data.task'",
            "all 40 labels are different",
            "data.task = 'regression'",
        ),
    ),
    Case(
        "regression with text labels",
        profile("regression_text_labels.csv", "--set", "data.task=regression"),
        2,
        ("regression_text_labels.csv", "no usable rows", "is not a number"),
    ),
    Case(
        "dev labels absent from train",
        train("config_dev_unseen_labels.toml"),
        2,
        ("dev_unseen_dev.csv", "key 'data.label_column'", "'neutral'"),
    ),
    Case(
        "dev split empty (dev_fraction)",
        train("config_dev_fraction_empty.toml"),
        2,
        ("tiny.csv", "key 'data.dev_fraction'", "too small"),
    ),
    Case(
        "dev file empty",
        train("config_dev_file_empty.toml"),
        2,
        ("dev_empty.csv", "key 'data.dev_path'", "no data rows"),
    ),
    Case(
        "mixed encodings", data("mixed_encoding.csv"), 0, (), note="mixed encodings: utf-8 failed"
    ),
    Case(
        "UTF-16 file",
        profile("utf16.csv"),
        0,
        (),
        note=("40 rows read: 40 used (36 train + 4 dev), 0 skipped", "train / dev   36 / 4"),
    ),
    Case(
        "a 10 MB single line",
        data("one_line_10mb.csv"),
        2,
        (
            "one_line_10mb.csv",
            "key 'data.label_column'",
            "column 'label' not found",
            "no header row",
        ),
        setup="write_one_line_10mb",
    ),
    Case(
        "JSONL with a broken line",
        data("broken_line.jsonl"),
        0,
        (),
        note="skipped 1 unusable rows of",
    ),
    Case(
        "Parquet that is not parquet",
        profile("not_parquet.parquet"),
        2,
        ("not_parquet.parquet", "key 'data.path'", "not a readable Parquet file"),
    ),
    Case(
        "TSV with quotes",
        profile("quotes.tsv"),
        0,
        (),
        note=("40 rows read: 40 used (36 train + 4 dev), 0 skipped", "train / dev   36 / 4"),
    ),
    Case("CSV with ragged rows", data("ragged.csv"), 0, (), note="skipped 2 unusable rows"),
    Case(
        "format does not match",
        profile("good.csv", "--set", "data.format=parquet"),
        2,
        ("good.csv", "not a readable Parquet file"),
    ),
    # --- user models ---------------------------------------------------------------------
    Case(
        "model module missing",
        data("good.csv", "--set", "model.name=no_such_pkg.mod:build", quick=False),
        2,
        ("--set: key 'model.name'", "module 'no_such_pkg' not found"),
    ),
    Case(
        "model import raises",
        train(
            "--set",
            "data.path=good.csv",
            "--set",
            "model.name=model_import_raises:build",
            "--set",
            "train.max_steps=2",
            quick=False,
        ),
        2,
        (
            "key 'model.name'",
            "importing 'model_import_raises' failed",
            "tuirecipe_no_such_dependency",
        ),
    ),
    Case(
        "model build raises",
        train(
            "--set",
            "data.path=good.csv",
            *FAULTS_ON_PATH,
            "--set",
            "model.name=fault_models:build_raises",
            "--set",
            "train.max_steps=2",
            quick=False,
        ),
        2,
        ("key 'model.name'", "build_raises(spec) raised RuntimeError", "fault_models.py"),
    ),
    Case(
        "model returns wrong shape",
        train(
            "--set",
            "data.path=good.csv",
            *FAULTS_ON_PATH,
            "--set",
            "model.name=fault_models:wrong_shape",
            "--set",
            "train.max_steps=2",
            quick=False,
        ),
        2,
        ("output has shape", "expected"),
    ),
    # --- other commands ------------------------------------------------------------------
    Case(
        "check --only unknown name",
        ("check", "--set", "data.path=good.csv", "--only", "no_such_check"),
        2,
        ("no_such_check",),
    ),
    Case(
        "attach escaping the runs dir",
        ("attach", "../../etc"),
        2,
        ("'../../etc' is not a valid run id",),
    ),
    Case(
        "data path is a named pipe",
        profile("pipe.csv"),
        2,
        ("pipe.csv", "data.path", "not a regular file"),
        setup="make_pipes",
    ),
    Case(
        "config is a named pipe",
        train("pipe.toml"),
        2,
        ("pipe.toml", "not a regular file"),
        setup="make_pipes",
    ),
    Case(
        "data command on binary",
        ("data", "--set", "data.path=binary.csv"),
        2,
        ("binary.csv", "binary file"),
    ),
    # --- the machine around a run (more in tests/functional/test_faults_io.py) -----------
    Case(
        "NUL after the first 64 KB",
        profile("nul_deep.csv"),
        2,
        ("nul_deep.csv", "key 'data.path'", "binary file", "the first NUL is on line 3,002"),
        setup="write_nul_deep",
    ),
    Case(
        "disk full mid-run",
        data(
            "good.csv",
            *("--set", "model.name=fasttext", "--set", "train.batch_size=8"),
            quick=False,
        ),
        2,
        ("events.jsonl", "cannot write: no space left on device (the disk is full)"),
        fault=("TUIRECIPE_TEST_DISK_FULL", "events.jsonl:8"),
        names_run_file=True,
    ),
    Case(
        "loss diverges (lr = 1e30)",
        data(
            "good.csv",
            *("--set", "model.name=fasttext", "--set", "train.lr=1e30"),
            quick=False,
        ),
        2,
        ("loss became nan at step", "lower learning rate"),
    ),
    Case(
        "a dead run's events.jsonl is a symbolic link",
        ("runs", "--runs-dir", "planted_runs", "--json"),
        0,
        (),
        note=("dead-run", "failed", "gone without finishing"),
        setup="plant_linked_events",
        untouched=("precious.txt",),
    ),
]


def write_one_line_10mb(folder: Path) -> None:
    """10 MB of text and no newline: no header, no label; must not hang or crash."""
    with open(folder / "one_line_10mb.csv", "w", encoding="utf-8") as handle:
        handle.write(("lorem ipsum dolor sit amet " * 400_000)[: 10 * 1024 * 1024])


def make_pipes(folder: Path) -> None:
    """Named pipes where a data file and a config are expected: reading one waits forever
    for a writer, so they must be refused before any read."""
    os.mkfifo(folder / "pipe.csv")
    os.mkfifo(folder / "pipe.toml")


def write_nul_deep(folder: Path) -> None:
    """A text file with one NUL far past the first 64 KB (the check once read only those)."""
    labels = ("neg", "pos")
    rows = ["text,label"] + [f"row number {i} is plain text,{labels[i % 2]}" for i in range(3000)]
    rows.append("a row with a \x00 in it,pos")
    rows += [f"more text {i},neg" for i in range(100)]
    (folder / "nul_deep.csv").write_bytes(("\n".join(rows) + "\n").encode("utf-8"))
    assert (folder / "nul_deep.csv").read_bytes().find(b"\x00") > 65536


def plant_linked_events(folder: Path) -> None:
    """A run whose worker is gone, with its events.jsonl a link to a file of the user's:
    listing it records the death without writing through the link."""
    (folder / "precious.txt").write_text("the user's own file\n", encoding="utf-8")
    run = folder / "planted_runs" / "dead-run"
    run.mkdir(parents=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    status = {"state": "running", "pid": gone.pid, "step": 3, "run": "dead-run"}
    (run / "status.json").write_text(json.dumps(status), encoding="utf-8")
    (run / "events.jsonl").symlink_to(folder / "precious.txt")


def strict_events(path: Path) -> None:
    """Every line of an events.jsonl is strict JSON (no bare NaN or Infinity)."""

    def refuse(constant: str) -> object:
        raise AssertionError(f"{path}: bare {constant} in an event line")

    if path.is_symlink():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        json.loads(line, parse_constant=refuse)


@dataclass
class Outcome:
    case: Case
    code: int
    stdout: str
    stderr: str
    runs: list[dict] = field(default_factory=list)


def run_case(case: Case, root: Path) -> Outcome:
    folder = root / case.id.replace(" ", "_").replace("'", "").replace("/", "_")
    shutil.copytree(CORPUS, folder, ignore=shutil.ignore_patterns("runs", "__pycache__"))
    if case.setup:
        globals()[case.setup](folder)
    untouched = {name: (folder / name).read_bytes() for name in case.untouched}
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    if case.fault is not None:
        env["PYTHONPATH"] = f"{SUPPORT / 'fault_injection'}{os.pathsep}{REPO}"
        env[case.fault[0]] = case.fault[1]
    result = subprocess.run(
        [sys.executable, "-m", "tuirecipe", *case.argv],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=150,
        env=env,
    )
    runs = []
    for status in sorted(folder.rglob("status.json")):
        # as every reader sees it: a worker recorded gone (gone.json) shows failed
        runs.append({"dir": str(status.parent), **RunDir(status.parent).read_status()})
        strict_events(status.parent / "events.jsonl")
    for name, before in untouched.items():
        assert (folder / name).read_bytes() == before, f"{case.id}: {name} was written to"
    for run_dir in folder.glob("runs/[!.]*"):  # a run directory without status is a bug
        assert (run_dir / "status.json").exists(), f"{case.id}: {run_dir} has no status.json"
    return Outcome(case, result.returncode, result.stdout, result.stderr, runs)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("bad_inputs")
    with ThreadPoolExecutor(max_workers=6) as pool:
        return {o.case.id: o for o in pool.map(lambda c: run_case(c, root), CASES)}


def test_the_corpus_has_at_least_thirty_inputs() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_clear_answer(case: Case, outcomes: dict[str, Outcome]) -> None:
    out = outcomes[case.id]
    detail = f"exit {out.code}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    assert "Traceback" not in out.stderr + out.stdout, detail
    assert out.code == case.exit, detail
    errors = [line for line in out.stderr.splitlines() if line.startswith("tuirecipe: error: ")]
    if case.exit == 0:
        assert not errors, detail
        notes = (case.note,) if isinstance(case.note, str) else case.note
        assert all(n in out.stderr + out.stdout for n in notes), detail
    else:
        assert len(errors) == 1, detail
        if not case.names_run_file:
            assert "/runs/" not in errors[0], "names the run's copy, not the user's file"
        for word in case.words:
            assert word in errors[0], f"{word!r} not in {errors[0]!r}"
    for run in out.runs:  # every run directory made ends in a terminal state
        assert run.get("state") in TERMINAL, (run, detail)
        if run["state"] == "failed":
            # the line shown; for a run only listed (exit 0), the listing shows the cause
            shown = errors[0] if errors else out.stdout
            assert run.get("message") and run["message"] in shown, (run, detail)
        else:
            assert case.exit == 0
