"""A recorded ``check`` run for console tests and snapshots (Checks pane).

``write_check_run`` writes a finished ``check`` run directory with fixed timestamps and
check_result events (passes, a warning, a failure with advice and a loss curve, an
error with its traceback), so what the console shows never changes with the clock or the
machine. Given configs, it stamps the results with what they ran on (as a check job
does).
"""

from __future__ import annotations

from pathlib import Path

from tuirecipe.checks.fingerprint import CurrentInputs
from tuirecipe.config import Config
from tuirecipe.events import CheckResult, CheckStarted, RunStatus
from tuirecipe.runs.rundir import RunDir, atomic_write_json

T0 = 1_700_000_000.0
RUN_ID = "20231114-221320-demo"


def _results() -> list[CheckResult]:
    losses = [2.0 - 0.01 * i + 0.02 * ((i * 7) % 3) for i in range(40)]
    return [
        CheckResult(
            name="fixed_seed",
            status="pass",
            seconds=4.2,
            summary="seed 0 twice: identical losses over 15 steps",
            numbers={"steps": 15, "seed": 0},
        ),
        CheckResult(
            name="init_loss",
            status="pass",
            seconds=0.9,
            summary="init loss 1.9501 vs expected 1.9459 [log(7) (equal logits)]",
            numbers={"init_loss": 1.9501, "expected": 1.9459},
        ),
        CheckResult(
            name="input_view",
            status="warn",
            seconds=0.1,
            summary="batch 32×64 int64: 12.5% of rows truncated at max_len 64 > 10%",
            numbers={"batch_rows": 32, "max_len": 64},
            evidence={
                "rows": [
                    {
                        "view": "where is my <unk> order ✂[5 cut]",
                        "row": 3,
                        "label_name": "shipping",
                        "length": 64,
                        "full_length": 69,
                        "truncated": True,
                        "unk": 1,
                        "text": "where is my parcel order …",
                    }
                ],
                "advice": "raise data.max_len for truncation",
            },
        ),
        CheckResult(
            name="overfit_batch",
            status="fail",
            seconds=1.3,
            summary="loss 1.61 > 0.05 on 16 examples after 40 steps",
            numbers={"examples": 16, "steps": 40, "final_loss": 1.61},
            evidence={
                "losses": losses,
                "lr": 0.0003,
                "advice": "the model cannot memorise a few examples: look for "
                "a bug in forward, the loss or the labels",
            },
        ),
        CheckResult(
            name="gradient_flow",
            status="error",
            seconds=0.2,
            summary="RuntimeError: shapes do not match",
            evidence={
                "traceback": [
                    "Traceback (most recent call last):",
                    '  File "model.py", line 12, in forward',
                    "RuntimeError: shapes do not match",
                ]
            },
        ),
    ]


def write_check_run(
    runs_dir: Path,
    run_id: str = RUN_ID,
    config: Config | None = None,
    ran_on: dict[str, Config] | None = None,
) -> RunDir:
    """A finished ``check`` run with recorded results, timestamps from ``T0``.

    With ``config``, each result records that it ran on it (``ran_on`` names the checks
    that ran on another config instead); without, they predate fingerprints."""
    run = RunDir(Path(runs_dir) / run_id)
    run.path.mkdir(parents=True)
    atomic_write_json(
        run.meta_path,
        {"id": run_id, "name": "demo", "job": "check", "created": T0, "seed": 0, "args": {}},
    )
    atomic_write_json(run.job_path, {"job": "check", "args": {}})
    lines = [RunStatus(state="running", t=T0).to_json()]
    for n, result in enumerate(_results()):
        made_for = (ran_on or {}).get(result.name, config)
        if made_for is not None:
            result = _stamped(result, CurrentInputs(made_for).stamp(result.name))
        lines.append(CheckStarted(name=result.name, t=T0 + 10 * n).to_json())
        lines.append(_at(result, T0 + 10 * n + 5).to_json())
    lines.append(RunStatus(state="finished", t=T0 + 100).to_json())
    run.events_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run.write_status(state="finished", pid=None, job="check", started=T0, ended=T0 + 100)
    return run


def _at(result: CheckResult, t: float) -> CheckResult:
    import dataclasses

    return dataclasses.replace(result, t=t)


def _stamped(result: CheckResult, stamp: dict) -> CheckResult:
    import dataclasses

    return dataclasses.replace(result, **stamp)
