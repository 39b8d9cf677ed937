"""Training throughput of a tuirecipe worker run against a bare PyTorch loop.

Both train the same model (same seed, so the same initial weights) on the same batches
(same order, same dynamic padding) for the same number of steps with AdamW; neither
evaluates. The bare loop gets its batches precomputed, so it is a strict baseline. The
worker is the real thing: ``tuirecipe.runs.jobs`` starts ``python -m tuirecipe.worker``
in its own session, and its steps/s is read from the step events' timestamps.

Rounds alternate bare / worker to spread machine noise evenly; the best of each is
reported. Usage::

    python benchmarks/overhead.py [--steps 400] [--rounds 3] [--model textcnn]

Target (DESIGN.md §6): ratio worker / bare ≥ 0.98.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

# benchmarks/profile.py would shadow the stdlib `profile` module that torch imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

WARMUP = 20  # steps excluded from timing on both sides (allocator, first-call costs)


def make_config(model: str, steps: int, runs_dir: str):
    from tuirecipe.config import config_from_dict

    return config_from_dict(
        {
            "name": "bench",
            "seed": 0,
            "runs_dir": runs_dir,
            "model": {"name": model},
            "train": {"epochs": 1000, "max_steps": steps, "eval_every": 0, "batch_size": 32},
        }
    )


def bare_loop(config, steps: int) -> float:
    """Steps per second of a plain loop: forward, loss, backward, AdamW step."""
    import torch
    import torch.nn.functional as F

    from tuirecipe.data.prepare import prepare_data
    from tuirecipe.models import build_model, spec_for
    from tuirecipe.train.device import configure_threads
    from tuirecipe.train.seed import seed_everything
    from tuirecipe.train.trainer import SplitTensors, iter_batches

    configure_threads(config.train.threads)  # the same thread count the worker uses
    data = prepare_data(config)
    spec = spec_for(config, data)
    seed_everything(config.seed)
    model = build_model(config, spec)
    generator = seed_everything(config.seed)
    tensors = SplitTensors.from_split(
        data.train, data.task, torch.device("cpu"), int(data.vocab.pad_id)
    )
    batches = []
    while len(batches) < steps:
        batches.extend(iter_batches(tensors, config.train.batch_size, generator=generator))
    batches = batches[:steps]
    opt = torch.optim.AdamW(
        model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay
    )
    model.train()
    start = 0.0
    for i, (ids, mask, y) in enumerate(batches):
        if i == WARMUP:
            start = time.perf_counter()
        loss = F.cross_entropy(model(ids, mask), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()  # a real loop looks at its loss; the worker records every one
    return (steps - WARMUP) / (time.perf_counter() - start)


def worker_run(config, steps: int) -> tuple[float, float]:
    """(steps/s while training, wall seconds including process start and data loading)."""
    from tuirecipe.runs.jobs import JobClient

    t0 = time.perf_counter()
    jobs = JobClient()
    job = jobs.start(config, "train")
    run = job.run
    jobs.wait(job)
    wall = time.perf_counter() - t0
    state = run.read_status().get("state")
    if state != "finished":
        sys.exit(f"worker run ended {state}: {run.read_status().get('message')}")
    times = [e.t for e in run.events() if e.kind == "step"]
    if len(times) != steps:
        sys.exit(f"worker recorded {len(times)} steps, expected {steps}")
    # t of step WARMUP is the end of that step; the bare loop starts its clock there too.
    return (steps - WARMUP) / (times[-1] - times[WARMUP - 1]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="textcnn")
    args = parser.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(args.model, args.steps, str(Path(tmp) / "runs"))
        bare, worker, walls = [], [], []
        for r in range(args.rounds):
            bare.append(bare_loop(config, args.steps))
            rate, wall = worker_run(config, args.steps)
            worker.append(rate)
            walls.append(wall)
            print(
                f"round {r + 1}: bare {bare[-1]:.1f} steps/s, worker {rate:.1f} steps/s "
                f"(worker wall {wall:.1f} s incl. start-up)"
            )
    best_bare, best_worker = max(bare), max(worker)
    ratio = best_worker / best_bare
    import os

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"{torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, model {args.model}, batch 32, {args.steps} steps"
    )
    print(f"bare PyTorch loop : {best_bare:8.1f} steps/s (best of {args.rounds})")
    print(f"tuirecipe worker  : {best_worker:8.1f} steps/s (best of {args.rounds})")
    print(
        f"ratio worker/bare : {ratio:8.3f}   target >= 0.98: "
        f"{'met' if ratio >= 0.98 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
