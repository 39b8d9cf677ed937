"""Hostile text: a dataset, config, runs, notes and a user model full of markup-like text.

Everything a user or a dataset supplies reaches the screen: rows, labels, paths, notes,
motivations, config values and exception messages. The strings below look like Rich /
Textual markup (``[/]``, ``[b]``, ``[@click=quit]``, ``[$error]``), like tokenizer
tokens (``[CLS]``), hold terminal escape sequences, emoji, right-to-left marks, or are
very long. Each must be shown exactly as written: never parsed as markup, never dropped,
and never sent raw to the terminal when it holds control characters (those are shown
escaped, as :func:`tuirecipe.printable.printable` writes them: ``ESC`` becomes the four
characters ``\\x1b``).

- ``write_hostile_project(root)``: a folder whose path holds ``[/]`` and ``[b]``, with a
  hostile CSV dataset, a user model module whose ``forward`` raises a hostile error, a
  config (``config.toml``) using both, and its runs folder; returns a ``HostileProject``.
- ``write_hostile_run(runs_dir, run_id, ...)``: a recorded train run (finished, or failed
  with the model's hostile error at ``file:line``) whose motivation, notes, config
  values, predictions, bad cases and log lines are hostile.
- ``write_hostile_check_run(runs_dir, config)``: a recorded check run with a failed
  check and an errored one, their summaries and evidence hostile.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from tuirecipe.checks.fingerprint import CurrentInputs
from tuirecipe.config import Config, dumps_toml, load_config
from tuirecipe.events import (
    CheckResult,
    CheckStarted,
    Error,
    EvalMetrics,
    Log,
    PredictionsSnapshot,
    RunStatus,
    StepMetrics,
)
from tuirecipe.printable import printable
from tuirecipe.runs.badcases import dumps_predictions
from tuirecipe.runs.rundir import RunDir, atomic_write_json, atomic_write_text

T0 = 1_700_000_000.0  # 2023-11-14: fixed, so what is shown never changes with the clock
ESC = "\x1b"

# -- the strings ------------------------------------------------------------------------
CLOSE_TAG = "great film [/] 7"  # crashed a DataTable (MarkupError) before
BOLD = "[b]not bold[/b] [i]nor italic"
TOKENS = "[CLS] tokens [SEP] [PAD]"
CLICK = "[@click=quit]do not quit[/]"
VARIABLE = "[$error]no theme colour[/] [link=https://example.com]no link[/link]"
UNCLOSED = "an [unclosed bracket and a \\[backslash]"
ANSI = f"{ESC}[31mnot red{ESC}[0m {ESC}]0;not a title{ESC}\\ bell\x07"
EMOJI = "🎬 film 👍🏽 家族 café"
RTL = "\u202eright-to-left override\u202c and \u200fשלום\u200e"
LONG = "[b]long[/b] " * 400  # 4,400 characters on one line

MARKUP_LIKE = (CLOSE_TAG, BOLD, TOKENS, CLICK, VARIABLE, UNCLOSED)
ALL = (*MARKUP_LIKE, ANSI, EMOJI, RTL, LONG)

LABELS = ["[b]pos[/b]", "neg [/]", f"[CLS] meh {ESC}[7m"]
MOTIVATION = f"try [b]this[/b] [/] because [CLS] {ESC}[31m [@click=quit]x[/]"
NOTES = (
    "# notes [/] [b]bold?[/b]\n"
    f"{TOKENS}\n{CLICK}\n{VARIABLE}\n{EMOJI}\n{RTL}\n{ANSI}\n"
    "a line\u2028separator and a \x1c file separator\nplain last line\n"
)
PROJECT_LOG = f"# project log [/]\n{BOLD}\n{TOKENS}\n{CLICK}\n{ANSI}\n"
MODEL_ERROR = f"bad [/] shape [b]3[/b] vs [CLS] {ESC}[31mred{ESC}[0m [@click=quit]q[/]"
LOG_LINE = f"warning [/] about [b]{TOKENS}[/b]"
OPTION = f"opt [/] [b]{ESC}[1m"  # a user model's own config key (reaches spec.options)
FOLDER_PARTS = ("films [", "] [b]bold[/b] [CLS]")  # together: "films [/] [b]bold[/b] …"

HOSTILE_MODEL = f'''"""A user model whose forward raises an error full of markup-like text."""

import torch
from torch import nn

MESSAGE = {MODEL_ERROR!r}


class Hostile(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.embedding = nn.Embedding(spec.vocab_size, 8, padding_idx=spec.pad_id)
        self.head = nn.Linear(8, spec.num_outputs)

    def forward(self, input_ids, attention_mask):
        raise ValueError(MESSAGE)


def build(spec):
    return Hostile(spec)
'''
# the ``raise`` above, as file:line names it
MODEL_ERROR_LINE = HOSTILE_MODEL.splitlines().index("        raise ValueError(MESSAGE)") + 1
# The one-line cause a failed hostile run records (at step 7).
FAILED_MESSAGE = (
    f"step 7: model forward failed: ValueError: {MODEL_ERROR} "
    f"(at hostile_model.py:{MODEL_ERROR_LINE})"
)


def shown(text: str) -> str:
    """``text`` as the console and the CLI show it (control characters escaped)."""
    return printable(text)


# -- the dataset --------------------------------------------------------------------------
SIGNAL = {0: "sunny bright", 1: "gloomy dark", 2: "grey flat"}


def hostile_rows() -> list[tuple[str, str]]:
    """(text, label) rows: each class has its own words, every row a hostile fragment;
    one exact duplicate, one conflict (the same text under two labels), one long line."""
    rows = []
    for i in range(66):
        c = i % 3
        rows.append((f"{SIGNAL[c]} {ALL[i % (len(ALL) - 1)]} #{i}", LABELS[c]))
    rows.append((CLOSE_TAG, LABELS[0]))
    rows.append((CLOSE_TAG, LABELS[0]))  # an exact duplicate
    rows.append((BOLD, LABELS[0]))
    rows.append((BOLD, LABELS[1]))  # a conflict
    rows.append((LONG, LABELS[2]))
    return rows


def write_hostile_csv(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(hostile_rows())
    return path


# -- the project ----------------------------------------------------------------------------
@dataclass(frozen=True)
class HostileProject:
    folder: Path  # its path holds "[/]" and "[b]"
    data: Path
    config_path: Path
    runs: Path

    def config(self, *overrides: str) -> Config:
        return load_config(self.config_path, list(overrides))


def write_hostile_project(root: Path, *, model: str = "hostile_model:build") -> HostileProject:
    """The folder, dataset, user model and config; ``model`` may name a built-in to train
    the hostile data for real (the hostile model fails at its first forward)."""
    folder = Path(root).joinpath(*FOLDER_PARTS)
    assert "[/]" in str(folder) and "[b]" in str(folder)
    data = write_hostile_csv(folder / "reviews [/] [b].csv")
    (folder / "hostile_model.py").write_text(HOSTILE_MODEL, encoding="utf-8")
    config_path = folder / "config.toml"
    config_path.write_text(
        "\n".join(
            [
                'name = "hostile"',
                'runs_dir = "runs"',
                "[data]",
                f'path = "{data.relative_to(folder)}"',
                "dev_fraction = 0.2",
                "max_len = 24",
                "[model]",
                f'name = "{model}"',
                "embed_dim = 8",
                "[train]",
                'device = "cpu"',
                "epochs = 1",
                "max_steps = 6",
                "batch_size = 16",
                "eval_every = 3",
                "threads = 1",
                "[checks]",
                "steps = 5",
                "overfit_steps = 5",
                "lr_steps = 5",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return HostileProject(folder, data, config_path, folder / "runs")


# -- recorded runs ----------------------------------------------------------------------------
def _prediction_rows(step: int) -> list[dict]:
    rows = []
    for i, (text, label) in enumerate(hostile_rows()[:9]):
        right = (i + step) % 3 != 0
        rows.append(
            {
                "index": 2 + i,
                "text": text,
                "label": label,
                "pred": label if right else LABELS[(i + 1) % 3],
                "prob": round(0.5 + 0.04 * i, 2),
                "correct": right,
            }
        )
    return rows


def write_hostile_run(
    runs_dir: Path,
    run_id: str,
    project: HostileProject,
    *,
    failed: bool = False,
    parent: str | None = None,
    lr: float = 0.001,
    steps: int = 40,
    started: float = T0,
) -> RunDir:
    """A recorded train run of ``project``'s config; with ``failed`` it ends at step 7 with
    the hostile model's error (message and traceback naming hostile_model.py:line)."""
    run = RunDir(Path(runs_dir) / run_id)
    run.path.mkdir(parents=True)
    config = project.config(f"train.lr={lr}", f"train.max_steps={steps}")
    table = config.to_dict()
    table["data"]["path"] = str(project.data)
    table["model"]["options"] = {"hostile": OPTION if parent else "plain"}
    atomic_write_text(run.config_path, dumps_toml(table))
    atomic_write_json(
        run.meta_path,
        {
            "id": run_id,
            "name": "hostile",
            "job": "train",
            "created": started,
            "seed": 0,
            "parent": parent,
            "changed": {"train.lr": [0.001, lr], "model.options.hostile": ["plain", OPTION]}
            if parent
            else {},
            "motivation": MOTIVATION,
            "data": {"path": str(project.data), "rows": len(hostile_rows())},
            "versions": {"python": "3.11", "tuirecipe": "0.1.0"},
        },
    )
    last = 7 if failed else steps
    events: list = [RunStatus(state="running", t=started + 1), Log(LOG_LINE, "warning")]
    for step in range(1, last + 1):
        t = started + 2 + step * 0.1
        loss = 1.1 - 0.5 * step / steps
        events.append(
            StepMetrics(
                step=step, epoch=step / 10, loss=loss, lr=lr, acc=0.4, elapsed=step * 0.1, t=t
            )
        )
        if step % 5 == 0:
            events.append(
                EvalMetrics(
                    step=step,
                    epoch=step / 10,
                    split="dev",
                    metrics={"loss": loss + 0.1, "acc": 0.5},
                    ci={"acc": [0.4, 0.6]},
                    n=15,
                    t=t,
                )
            )
            events.append(PredictionsSnapshot(step=step, rows=_prediction_rows(step), t=t))
    end = started + 3 + last * 0.1
    where = f'  File "{project.folder / "hostile_model.py"}", line {MODEL_ERROR_LINE}, in forward'
    message = FAILED_MESSAGE
    if failed:
        events.append(
            Error(
                message=message,
                traceback=f"Traceback (most recent call last):\n{where}\nValueError: {MODEL_ERROR}",
                step=last,
                user_error=True,
                t=end,
            )
        )
        events.append(RunStatus(state="failed", message=message, step=last, t=end))
    else:
        events.append(RunStatus(state="finished", step=last, t=end))
    run.events_path.write_text("".join(e.to_json() + "\n" for e in events), encoding="utf-8")
    atomic_write_json(
        run.status_path,
        {
            "state": "failed" if failed else "finished",
            "step": last,
            "total_steps": steps,
            "started": started + 1,
            "ended": end,
            "updated": end,
            "pid": None,
            "job": "train",
            **({"message": message} if failed else {}),
        },
    )
    run.write_notes(NOTES)
    dev = [
        {
            "row": 2 + i,
            "text": text,
            "gold": label,
            "pred": LABELS[(i + 1) % 3] if i % 2 == 0 else label,
            "prob": round(0.4 + (i % 5) / 10, 2),
            "loss": round(2.0 - i / 10, 3) if i % 2 == 0 else round(0.05 + i / 100, 3),
        }
        for i, (text, label) in enumerate(hostile_rows()[:12])
    ]
    (run.path / "dev_predictions.json").write_text(
        dumps_predictions(last, "classification", LABELS, dev), encoding="utf-8"
    )
    return run


# -- a recorded check run ------------------------------------------------------------------
CHECK_FAIL_SUMMARY = f"loss 1.61 > 0.05 on {BOLD} [/] rows"
CHECK_ERROR_SUMMARY = f"ValueError: {MODEL_ERROR}"


def _check_results() -> list[CheckResult]:
    return [
        CheckResult(
            name="fixed_seed",
            status="pass",
            seconds=1.0,
            summary=f"seed 0 twice: identical losses {TOKENS}",
            numbers={"steps": 5, "seed": 0},
        ),
        CheckResult(
            name="input_view",
            status="warn",
            seconds=0.1,
            summary=f"rows truncated {CLOSE_TAG}",
            evidence={
                "rows": [
                    {
                        "view": f"{TOKENS} <unk> {CLOSE_TAG}",
                        "row": 3,
                        "label_name": LABELS[1],
                        "length": 8,
                        "full_length": 8,
                        "truncated": False,
                        "unk": 1,
                        "text": f"{CLOSE_TAG} {ANSI}",
                    }
                ],
                "advice": f"raise data.max_len {CLICK}",
            },
        ),
        CheckResult(
            name="overfit_batch",
            status="fail",
            seconds=1.3,
            summary=CHECK_FAIL_SUMMARY,
            numbers={"examples": 16, "steps": 5, "final_loss": 1.61},
            evidence={
                "losses": [2.0, 1.9, 1.8, 1.7, 1.61],
                "advice": f"look for a bug [/] in {VARIABLE}",
            },
        ),
        CheckResult(
            name="gradient_flow",
            status="error",
            seconds=0.2,
            summary=CHECK_ERROR_SUMMARY,
            evidence={
                "traceback": [
                    "Traceback (most recent call last):",
                    f'  File "hostile_model.py", line {MODEL_ERROR_LINE}, in forward',
                    f"ValueError: {MODEL_ERROR}",
                ]
            },
        ),
    ]


def write_hostile_check_run(
    runs_dir: Path, config: Config, run_id: str = "20231114-201320-hostile"
) -> RunDir:
    """A finished ``check`` run of ``config`` whose results quote hostile text."""
    import dataclasses

    run = RunDir(Path(runs_dir) / run_id)
    run.path.mkdir(parents=True)
    atomic_write_json(
        run.meta_path,
        {"id": run_id, "name": "hostile", "job": "check", "created": T0, "seed": 0, "args": {}},
    )
    atomic_write_json(run.job_path, {"job": "check", "args": {}})
    lines = [RunStatus(state="running", t=T0).to_json()]
    inputs = CurrentInputs(config)
    for n, result in enumerate(_check_results()):
        result = dataclasses.replace(result, t=T0 + 10 * n + 5, **inputs.stamp(result.name))
        lines.append(CheckStarted(name=result.name, t=T0 + 10 * n).to_json())
        lines.append(result.to_json())
    lines.append(RunStatus(state="finished", t=T0 + 100).to_json())
    run.events_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run.write_status(state="finished", pid=None, job="check", started=T0, ended=T0 + 100)
    return run
