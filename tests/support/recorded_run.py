"""A fixed, recorded run directory for UI tests and snapshots: deterministic throughout.

``write_recorded_run`` writes config.toml, meta.json, events.jsonl (steps, evaluations,
predictions snapshots), status.json (finished), notes.md and dev_predictions.json, with
timestamps counted from a fixed ``T0`` so a snapshot never changes with the clock.
``task="regression"`` writes a regression run instead (no accuracy; dev mse and mae;
numeric golds and predictions), as the worker writes one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from tuirecipe.config import config_from_dict
from tuirecipe.events import EvalMetrics, PredictionsSnapshot, RunStatus, StepMetrics
from tuirecipe.runs.badcases import dumps_predictions
from tuirecipe.runs.rundir import RunDir, atomic_write_json, atomic_write_text

T0 = 1_700_000_000.0  # 2023-11-14
LABELS = ["neg", "pos", "neutral"]
TEXTS = [
    "a dull, lifeless film",
    "wonderful acting and a clever plot",
    "it was fine, nothing more",
    "not bad at all, rather good",
    "boring beyond words",
    "I would watch it again",
    "the plot made no sense",
    "an ok way to pass time",
]


def write_recorded_run(
    runs_dir: Path,
    run_id: str = "20231114-221320-demo",
    *,
    lr: float = 0.001,
    steps: int = 200,
    eval_every: int = 50,
    parent: str | None = None,
    changed: dict | None = None,
    notes: str = "# baseline fasttext\nloss falls steadily; dev acc plateaus near 0.8.\n",
    task: str = "classification",
) -> RunDir:
    regression = task == "regression"
    run = RunDir(Path(runs_dir) / run_id)
    run.path.mkdir(parents=True)
    config = config_from_dict(
        {
            "name": "demo",
            "runs_dir": str(runs_dir),
            "seed": 0,
            "model": {"name": "fasttext"},
            "train": {"lr": lr, "max_steps": steps, "eval_every": eval_every},
            **({"data": {"path": "demo:regression", "task": "regression"}} if regression else {}),
        }
    )
    atomic_write_text(run.config_path, config.to_toml())
    atomic_write_json(
        run.meta_path,
        {
            "id": run_id,
            "name": "demo",
            "job": "train",
            "created": T0,
            "seed": 0,
            "parent": parent,
            "changed": changed or {},
            "motivation": "baseline to beat",
            "versions": {"python": "3.11", "tuirecipe": "0.1.0"},
        },
    )
    scale = lr / 0.001
    events = [RunStatus(state="running", t=T0 + 1)]
    for step in range(1, steps + 1):
        wiggle = 0.08 * math.sin(step * 0.7) + 0.05 * math.cos(step * 1.9)
        loss = 1.1 * math.exp(-step * 0.012 * scale) + 0.25 + wiggle
        acc = min(1.0, 0.35 + 0.5 * (1 - math.exp(-step * 0.015 * scale)) + wiggle / 2)
        events.append(
            StepMetrics(
                step=step,
                epoch=step / 40,
                loss=loss,
                lr=lr,
                acc=None if regression else acc,
                examples=step * 32,
                elapsed=step * 0.05,
                t=T0 + 2 + step * 0.05,
            )
        )
        if step % eval_every == 0:
            dev_loss = 0.9 * math.exp(-step * 0.01 * scale) + 0.38
            dev_acc = 0.4 + 0.42 * (1 - math.exp(-step * 0.012 * scale))
            t = T0 + 2 + step * 0.05
            events.append(
                EvalMetrics(
                    step=step,
                    epoch=step / 40,
                    split="dev",
                    metrics=(
                        {"loss": dev_loss, "mse": dev_loss, "mae": dev_loss**0.5 * 0.8}
                        if regression
                        else {"loss": dev_loss, "acc": dev_acc}
                    ),
                    ci=(
                        {"mse": [dev_loss - 0.05, dev_loss + 0.05]}
                        if regression
                        else {"acc": [dev_acc - 0.05, dev_acc + 0.05]}
                    ),
                    n=400,
                    t=t,
                )
            )
            rows = []
            for i, text in enumerate(TEXTS):
                if regression:
                    target = 1.0 + i * 0.5
                    rows.append(
                        {
                            "index": 10 + i * 7,
                            "text": text,
                            "label": target,
                            "pred": round(target + 0.3 * math.sin(i + step), 3),
                            "prob": None,
                        }
                    )
                    continue
                gold = LABELS[i % 3]
                right = (i + step // eval_every) % 3 != 0
                pred = gold if right else LABELS[(i + 1) % 3]
                rows.append(
                    {
                        "index": 10 + i * 7,
                        "text": text,
                        "label": gold,
                        "pred": pred,
                        "prob": round(0.5 + 0.05 * i, 2),
                        "correct": right,
                    }
                )
            events.append(PredictionsSnapshot(step=step, rows=rows, t=t))
    events.append(RunStatus(state="finished", step=steps, t=T0 + 3 + steps * 0.05))
    run.events_path.write_text("".join(e.to_json() + "\n" for e in events), encoding="utf-8")
    atomic_write_json(
        run.status_path,
        {
            "state": "finished",
            "step": steps,
            "total_steps": steps,
            "started": T0 + 1,
            "ended": T0 + 3 + steps * 0.05,
            "updated": T0 + 3 + steps * 0.05,
            "pid": None,
            "job": "train",
        },
    )
    run.write_notes(notes)
    dev_rows = []
    for i in range(30 if regression else 0):
        target = 1.0 + (i % 7) * 0.5
        pred = round(target + 0.4 * math.sin(i * 1.3), 3)
        dev_rows.append(
            {
                "row": 100 + i,
                "text": f"dev example {i}: {TEXTS[i % 8]}",
                "gold": target,
                "pred": pred,
                "prob": None,
                "loss": round((pred - target) ** 2, 5),
            }
        )
    for i in range(0 if regression else 30):
        gold = LABELS[i % 3]
        pred = LABELS[(i + 1 + i // 8) % 3] if i % 4 == 0 else gold
        loss = round(0.1 + (i * 37 % 23) / 10, 3) if pred != gold else round(0.05 + i / 100, 3)
        dev_rows.append(
            {
                "row": 100 + i,
                "text": f"dev example {i}: {TEXTS[i % 8]}",
                "gold": gold,
                "pred": pred,
                "prob": round(0.4 + (i % 5) / 10, 2),
                "loss": loss,
            }
        )
    (run.path / "dev_predictions.json").write_text(
        dumps_predictions(steps, task, [] if regression else LABELS, dev_rows), encoding="utf-8"
    )
    return run


def dev_rows_json(run: RunDir) -> dict:
    return json.loads((run.path / "dev_predictions.json").read_text())
