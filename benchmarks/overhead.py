"""Training throughput of a tuirecipe worker run against a bare PyTorch loop.

Both train the same model (same seed, so the same initial weights) on the same batches
(same order, same dynamic padding) for the same number of steps with AdamW. The bare
loop gets its batches precomputed, so it is a strict baseline. The worker is the real
thing: ``tuirecipe.runs.jobs`` starts ``python -m tuirecipe.worker`` in its own session,
and its steps/s is read from the step events' timestamps.

The worker evaluates the dev split at each epoch's end (``train.eval_every = 0``), the
bare loop never: the demo's 169 steps per epoch put two evaluations (with their
checkpoint save and prediction samples) inside a 400-step stretch, about a tenth of its
time on a 2-core machine. That is evaluation, not step overhead, so the stretch between
the step before an evaluation and the step after it is left out of the worker's clock
(and that step from its count); how many and how long is printed.

On the CPU (``--device cpu``, the default) the bare loop reads its loss every step, as
the worker does there. On CUDA (``--device cuda``) there are three bare loops: fp32 with
the loss read every step (a loop as usually written), fp32 without any per-step sync,
and the no-sync loop in the precision the worker resolves (``train.precision``, default
auto: autocast, fused AdamW, TF32 as the worker sets them). The worker is compared with
the no-sync loops; its step events are read in blocks there, so its clock starts at the
first block boundary after the warm-up.

Each bare loop runs in a fresh Python process of its own, as the worker does (started
per round): a loop repeated inside this long-lived process gets its warm allocator and
caches and one memory layout, and between fresh processes alone steps/s differ by about
2 % on a quiet 2-core machine, the size of the gap to measure. ``--bare-in-process`` runs
it here instead, as earlier versions did.

Rounds alternate bare / worker to spread machine noise evenly; the best of each is
reported, with the machine's load. On Linux the CPU side also reports CPU milliseconds
per step from the end of the warm-up to the first epoch's end (the worker evaluates
there), the bare loop's from its process time and the worker's from ``/proc/PID/stat``:
on a shared machine other processes stretch wall time, but a step's own CPU work is what
the worker can add to, so that ratio shows the worker's cost even under load (to the
clock tick, 10 ms, over the whole stretch). Usage::

    python benchmarks/overhead.py [--steps 800] [--rounds 5] [--model textcnn]
    python benchmarks/overhead.py --device cuda --model textcnn --model transformer \\
        [--batch-size 64] [--set model.embed_dim=512 --set model.num_layers=6]

Targets (DESIGN.md §6, issue 16): CPU worker / bare ≥ 0.98; CUDA worker ≥ 0.95 of the
no-sync loop on textcnn and ≥ 0.98 on the transformer.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

# benchmarks/profile.py would shadow the stdlib `profile` module that torch imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

WARMUP = 20  # steps excluded from timing on both sides (allocator, first-call costs)
LAST_CPU_MS: dict[str, float] = {}  # CPU ms per step of the last bare loop / worker run
LAST_EVALS: dict[str, tuple[int, float]] = {}  # the last worker run's left-out evaluations


def make_config(
    model: str,
    steps: int,
    runs_dir: str,
    *,
    device: str = "auto",
    batch_size: int = 32,
    overrides: list[str] | None = None,
):
    from tuirecipe.config import apply_overrides, config_from_dict

    table = {
        "name": "bench",
        "seed": 0,
        "runs_dir": runs_dir,
        "model": {"name": model},
        "train": {
            "epochs": 1000,
            "max_steps": steps,
            "eval_every": 0,
            "batch_size": batch_size,
            "device": device,
        },
    }
    return config_from_dict(apply_overrides(table, list(overrides or [])))


def warmup_steps(config) -> int:
    """Steps before the clocks start: WARMUP, rounded up to the worker's step-log block
    on an accelerator (its events are stamped when a block is read)."""
    from tuirecipe.train.device import pick_device
    from tuirecipe.train.steplog import resolve_log_every

    block = resolve_log_every(config.train.log_every, pick_device(config.train.device).type)
    return WARMUP if block == 1 else -(-WARMUP // block) * block


def bare_loop(config, steps: int, *, sync_each_step: bool = True, precision: str = "fp32") -> float:
    """Steps per second of a plain loop: forward, loss, backward, AdamW step.

    ``sync_each_step``: read the loss every step (on CUDA that waits for the GPU);
    ``precision``: "fp32", or "worker" for the precision the worker resolves for this
    model and device (autocast, TF32, and the fused AdamW it uses on CUDA).
    """
    import torch
    import torch.nn.functional as F

    from tuirecipe.data.prepare import prepare_data
    from tuirecipe.models import build_model, spec_for
    from tuirecipe.train.device import configure_threads, pick_device
    from tuirecipe.train.optim import make_optimizer
    from tuirecipe.train.precision import apply_tf32, precision_for
    from tuirecipe.train.seed import seed_everything
    from tuirecipe.train.trainer import SplitTensors, iter_batches

    configure_threads(config.train.threads)  # the same thread count the worker uses
    device = pick_device(config.train.device)
    data = prepare_data(config)
    spec = spec_for(config, data)
    seed_everything(config.seed)
    model = build_model(config, spec).to(device)
    generator = seed_everything(config.seed)
    tensors = SplitTensors.from_split(data.train, data.task, device, int(data.vocab.pad_id))
    batches = []
    while len(batches) < steps:
        batches.extend(iter_batches(tensors, config.train.batch_size, generator=generator))
    per_epoch = -(-len(tensors) // config.train.batch_size)
    batches = batches[:steps]
    autocast, tf32_before = nullcontext, torch.backends.cuda.matmul.allow_tf32
    if precision == "worker":
        resolved = precision_for(config.train.precision, device, model)
        apply_tf32(resolved)
        autocast = resolved.autocast
        opt = make_optimizer(model, config.train)  # fused on CUDA, as the worker's
    else:
        torch.backends.cuda.matmul.allow_tf32 = False  # plain fp32, whatever ran before
        opt = torch.optim.AdamW(
            model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay
        )
    cuda = device.type == "cuda"
    warm = warmup_steps(config)
    model.train()
    start = 0.0
    cpu = []  # process time at the end of each step from `warm` on
    try:
        for i, (ids, mask, y) in enumerate(batches):
            if i == warm:
                if cuda:
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                cpu.append(time.process_time())
            with autocast():
                loss = F.cross_entropy(model(ids, mask), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sync_each_step:
                loss.item()  # a real loop looks at its loss; the worker records every one
            if i >= warm:
                cpu.append(time.process_time())
        if cuda:
            torch.cuda.synchronize(device)
        rate = (steps - warm) / (time.perf_counter() - start)
        # over the steps the worker's CPU figure covers: up to its first evaluation
        end = min(steps, per_epoch) - warm - 1
        LAST_CPU_MS["bare"] = (cpu[end] - cpu[0]) / end * 1e3
        return rate
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32_before


def bare_loop_fresh(args: argparse.Namespace, model: str, runs_dir: str, **options) -> float:
    """:func:`bare_loop` in a fresh Python process (see the module doc); its CPU ms per
    step goes to ``LAST_CPU_MS`` as the in-process loop's does."""
    import json
    import subprocess

    spec = {
        "model": model,
        "steps": args.steps,
        "runs_dir": runs_dir,
        "device": args.device,
        "batch_size": args.batch_size,
        "overrides": list(args.set),
        "options": options,
    }
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--bare-child", json.dumps(spec)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit(f"the bare loop's process failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result.get("cpu_ms") is not None:
        LAST_CPU_MS["bare"] = result["cpu_ms"]
    return float(result["rate"])


def _bare_child(spec_json: str) -> None:
    import json

    spec = json.loads(spec_json)
    config = make_config(
        spec["model"],
        spec["steps"],
        spec["runs_dir"],
        device=spec["device"],
        batch_size=spec["batch_size"],
        overrides=spec["overrides"],
    )
    rate = bare_loop(config, spec["steps"], **spec["options"])
    print(json.dumps({"rate": rate, "cpu_ms": LAST_CPU_MS.get("bare")}))


def worker_run(config, steps: int) -> tuple[float, float, dict]:
    """(steps/s while training, wall seconds including process start and data loading,
    the run's ``execution`` meta)."""
    from tuirecipe.runs.jobs import JobClient

    t0 = time.perf_counter()
    jobs = JobClient()
    job = jobs.start(config, "train")
    run = job.run
    warm = warmup_steps(config)
    cpu = worker_cpu_per_step(job, run.events_path, warm, steps)
    jobs.wait(job)
    wall = time.perf_counter() - t0
    state = run.read_status().get("state")
    if state != "finished":
        sys.exit(f"worker run ended {state}: {run.read_status().get('message')}")
    events = run.events()
    times = [e.t for e in events if e.kind == "step"]
    if len(times) != steps:
        sys.exit(f"worker recorded {len(times)} steps, expected {steps}")
    rate, evals, eval_seconds = training_rate(events, warm)
    LAST_EVALS["worker"] = (evals, eval_seconds)
    if cpu is not None:
        LAST_CPU_MS["worker"] = cpu
    return rate, wall, run.read_meta().get("execution") or {}


def training_rate(events: list, warm: int) -> tuple[float, int, float]:
    """Steps/s of the steps after step ``warm`` (its event's time is when the clock
    starts, as the bare loop's), leaving out each step whose interval holds a dev
    evaluation: ``(rate, evaluations left out, their intervals' seconds)``."""
    steps: list[tuple[float, int]] = []  # (t, evaluations seen before this step)
    evals = 0
    for event in events:
        if event.kind == "eval":
            evals += 1
        elif event.kind == "step":
            steps.append((event.t, evals))
    seconds, counted, left_out, left_seconds = 0.0, 0, 0, 0.0
    for (t0, e0), (t1, e1) in zip(steps[warm - 1 :], steps[warm:]):
        if e1 != e0:  # an evaluation ran between these two steps
            left_out += e1 - e0
            left_seconds += t1 - t0
            continue
        seconds += t1 - t0
        counted += 1
    return counted / seconds, left_out, left_seconds


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_cpu_per_step(job, events_path: Path, warm: int, steps: int) -> float | None:
    """The worker's CPU ms per step from step ``warm`` to the last step seen before its
    first evaluation (or step ``steps - 1``; the process exits soon after the last),
    reading its ``/proc`` entry as the events come. Polls every 50 ms (more often, the
    polling itself takes a share of the machine the bare loop's run does not pay; each
    figure is a difference over 100+ steps, so a sample's lag of a step hardly counts),
    counting step lines in the bytes appended since the last poll."""
    seen, offset = 0, 0
    # (CPU seconds, steps) at the first poll that saw each new step count: CPU spent
    # while the count stands still (an evaluation running) is never in a sample's figure
    samples: list[tuple[float, int]] = []
    while job.proc.poll() is None:
        try:
            with open(events_path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:
            chunk = b""
        complete = chunk[: chunk.rfind(b"\n") + 1]
        offset += len(complete)
        if samples and b'"type":"eval"' in complete:
            # an evaluation: its CPU may be in the last sample (it starts right after a
            # step's event), so the stretch of plain steps ends at the one before
            samples.pop()
            break
        new = complete.count(b'"type":"step"')
        seen += new
        if new and seen >= warm:
            cpu = _cpu_seconds(job.pid)
            if cpu is None:
                return None
            samples.append((cpu, seen))
            if seen >= steps - 1:
                break
        time.sleep(0.05)
    if len(samples) < 2 or samples[-1][1] - samples[0][1] < 20:
        return None
    (c0, s0), (c1, s1) = samples[0], samples[-1]
    return (c1 - c0) / (s1 - s0) * 1e3


def cuda_missing() -> str:
    """Why ``--device cuda`` cannot run here ("" when it can)."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return f"no CUDA device (torch {torch.__version__}); nothing measured"
    return ""


def measure(args: argparse.Namespace, model: str, tmp: str) -> None:
    """One model: rounds of the bare loop(s) and the worker, then the best of each."""
    config = make_config(
        model,
        args.steps,
        str(Path(tmp) / f"runs-{model}"),
        device=args.device,
        batch_size=args.batch_size,
        overrides=args.set,
    )
    cuda = args.device.startswith("cuda")
    loops = (
        {"bare, loss read each step (fp32)": {"sync_each_step": True, "precision": "fp32"}}
        if not cuda
        else {
            "bare, loss read each step (fp32)": {"sync_each_step": True, "precision": "fp32"},
            "bare, no sync (fp32)": {"sync_each_step": False, "precision": "fp32"},
            "bare, no sync, worker's precision": {"sync_each_step": False, "precision": "worker"},
        }
    )
    results: dict[str, list[float]] = {name: [] for name in loops}
    cpu_ms: dict[str, list[float]] = {"bare": [], "worker": []}
    worker: list[float] = []
    execution: dict = {}
    for r in range(args.rounds):
        LAST_CPU_MS.clear()
        for name, options in loops.items():
            if args.bare_in_process:
                results[name].append(bare_loop(config, args.steps, **options))
            else:
                runs_dir = str(Path(tmp) / f"runs-{model}")
                results[name].append(bare_loop_fresh(args, model, runs_dir, **options))
            if not cuda:
                cpu_ms["bare"].append(LAST_CPU_MS["bare"])
        rate, wall, execution = worker_run(config, args.steps)
        worker.append(rate)
        if not cuda and "worker" in LAST_CPU_MS:
            cpu_ms["worker"].append(LAST_CPU_MS["worker"])
        shown = ", ".join(f"{name} {v[-1]:.1f}" for name, v in results.items())
        cpu = (
            f"; CPU ms/step bare {cpu_ms['bare'][-1]:.2f}, worker {cpu_ms['worker'][-1]:.2f}"
            if not cuda and len(cpu_ms["worker"]) == r + 1
            else ""
        )
        evals, eval_seconds = LAST_EVALS.get("worker", (0, 0.0))
        left = f", {evals} evaluations ({eval_seconds:.2f} s) left out" if evals else ""
        print(
            f"round {r + 1}: {shown}, worker {rate:.1f} steps/s (wall {wall:.1f} s{left}){cpu}, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    import torch

    where = "this process" if args.bare_in_process else "a fresh process each round"
    print(f"bare loops ran in {where}")
    card = torch.cuda.get_device_name() if cuda else platform.machine()
    print(
        f"\n{card}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"{execution.get('threads', torch.get_num_threads())} torch threads, "
        f"torch {torch.__version__}, model {model}, "
        f"batch {args.batch_size}, {args.steps} steps, {time.strftime('%Y-%m-%d')}"
    )
    if execution:
        keys = ("precision", "tf32", "fused_optimizer", "compiled", "log_every")
        print("worker execution: " + ", ".join(f"{k} {execution.get(k)}" for k in keys))
    best_worker = max(worker)
    for name, rates in results.items():
        print(f"{name:36s}: {max(rates):8.1f} steps/s (best of {args.rounds})")
    print(f"{'tuirecipe worker':36s}: {best_worker:8.1f} steps/s (best of {args.rounds})")
    if not cuda:
        ratio = best_worker / max(results["bare, loss read each step (fp32)"])
        verdict = "met" if ratio >= 0.98 else "NOT met"
        print(f"ratio worker/bare : {ratio:8.3f}   target >= 0.98: {verdict}")
        if cpu_ms["worker"]:
            cpu_ratio = min(cpu_ms["bare"]) / min(cpu_ms["worker"])
            print(
                f"CPU ms/step       : bare {min(cpu_ms['bare']):.2f}, worker "
                f"{min(cpu_ms['worker']):.2f} (least of each); ratio bare/worker {cpu_ratio:.3f}"
            )
        return
    target = 0.95 if model == "textcnn" else 0.98
    for name in ("bare, no sync (fp32)", "bare, no sync, worker's precision"):
        ratio = best_worker / max(results[name])
        verdict = "met" if ratio >= target else "NOT met"
        print(f"worker / {name:30s}: {ratio:6.3f}   target >= {target}: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--model",
        action="append",
        help="repeatable; default textcnn (CPU), textcnn and transformer (CUDA)",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda / cuda:N")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides"
    )
    parser.add_argument(
        "--bare-in-process",
        action="store_true",
        help="run the bare loops in this process rather than each in a fresh one",
    )
    parser.add_argument("--bare-child", help=argparse.SUPPRESS)  # internal: one bare loop
    args = parser.parse_args()
    if args.bare_child:
        _bare_child(args.bare_child)
        return
    if args.device.startswith("cuda"):
        why = cuda_missing()
        if why:
            print(f"overhead --device {args.device}: skipped: {why}")
            return
    models = args.model or (
        ["textcnn", "transformer"] if args.device.startswith("cuda") else ["textcnn"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            measure(args, model, tmp)


if __name__ == "__main__":
    main()
