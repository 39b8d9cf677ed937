"""All automatic sanity checks on the built-in demo, as `tuirecipe check` runs them.

Starts the real check job in a worker process (default config: TextCNN, the demo data)
and reports each check's time and the total wall time, start-up included, next to the
time of one plain training run of the same config for the same number of steps as the
checks' short runs (``checks.steps``) — the unit the checks are built from.

    python benchmarks/checks.py

Target (issue 4): all automatic checks in <= 60 s on the 2-core development machine.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

# benchmarks/profile.py would shadow the stdlib `profile` module that torch imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

TARGET_S = 60.0


def timed_job(config, job: str, **kwargs) -> tuple[float, object]:
    from tuirecipe.runs.jobs import JobClient

    start = time.perf_counter()
    jobs = JobClient()
    started = jobs.start(config, job, **kwargs)
    jobs.wait(started)
    return time.perf_counter() - start, started.run


def main() -> int:
    from tuirecipe.config import config_from_dict

    with tempfile.TemporaryDirectory() as tmp:
        config = config_from_dict({"name": "bench-checks", "runs_dir": str(Path(tmp) / "runs")})
        train_cfg = config_from_dict(
            {
                "name": "bench-train",
                "runs_dir": str(Path(tmp) / "runs"),
                "train": {"max_steps": config.checks.steps, "eval_every": 0},
            }
        )
        train_s, _ = timed_job(train_cfg, "train")
        total_s, run = timed_job(config, "check")
        results = [e for e in run.events() if e.kind == "check_result"]
        state = run.read_status().get("state")
    print(
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; demo data, "
        f"model {config.model.name}, checks.steps {config.checks.steps}"
    )
    for r in results:
        print(f"  {r.status:5} {r.seconds:6.1f} s  {r.name}")
    print(f"one training run of {config.checks.steps} steps (start-up included): {train_s:6.1f} s")
    print(
        f"all {len(results)} automatic checks (start-up included):     {total_s:6.1f} s "
        f"= {total_s / train_s:.1f}× one short run; job {state}"
    )
    met = total_s <= TARGET_S and state == "finished"
    print(f"target <= {TARGET_S:.0f} s: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
