"""The console's budgets (DESIGN.md §6), each measured side by side in one invocation.

(a) Curve redraw at 1,000 vs 1,000,000 points, through the Train pane's data path
    (``CurveData``: incremental smoothing and level-of-detail caches, ``envelope`` to the
    plot width, then plotext's ``build``). Steady state, as in a live run: each redraw
    follows 25 new steps. Target: ratio ≤ 1.5.
(b) The UI event loop's timer lag: a 20 ms ``set_interval`` in the real console (headless,
    ``run_test``), idle vs while a run trains flat out in a worker that the Train pane
    follows and plots. Target: p99 within 5 ms of idle.
(c) Training throughput of that same worker run (console attached and plotting) vs a bare
    PyTorch loop on the same model, data and batches (``benchmarks/overhead.py``; like the
    worker, the bare loop runs in a fresh process each round).
    Rounds alternate bare loop / console session, so slow spells of a shared machine fall
    on both sides; the best of each side is compared. The worker's epoch-end evaluations
    are left out of its clock (the bare loop does not evaluate). Target: ≥ 0.98.

Usage: ``python benchmarks/ui.py [--steps 1500] [--model textcnn] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # profile.py shadows
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402


def _load_overhead():
    import importlib.util

    spec = importlib.util.spec_from_file_location("overhead_bench", HERE / "overhead.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- (a) -----------------------------------------------------------------------------------
def redraw_times(
    points: int, width: int = 100, height: int = 14, repeats: int = 40
) -> tuple[float, float]:
    """(first draw, median steady redraw) in ms for a loss curve of ``points`` steps."""
    from textual_plotext.plot import Plot

    from tuirecipe.runs.curves import RunHistory
    from tuirecipe.ui.widgets.curves import CurveData

    rng = np.random.default_rng(0)
    history = RunHistory()
    steps = np.arange(1, points + 1, dtype=np.float64)
    values = 1 / np.sqrt(steps) + rng.random(points) * 0.1
    for s, v in zip(steps.tolist(), values.tolist()):
        history.loss.append(s, v)
    data = CurveData("loss")
    data.sources = [("", history)]
    plot = Plot()

    def redraw() -> float:
        t = time.perf_counter()
        data.draw(plot, width, height)
        plot.plotsize(width, height)
        plot.build()
        return (time.perf_counter() - t) * 1000

    first = redraw()
    times = []
    n = points
    for _ in range(repeats):
        for _ in range(25):
            n += 1
            history.loss.append(n, 0.5 + rng.random() * 0.1)
        times.append(redraw())
    return first, statistics.median(times)


# -- (b) and (c) ---------------------------------------------------------------------------
def _lags(stamps: list[float], interval: float) -> np.ndarray:
    gaps = np.diff(np.asarray(stamps))
    return np.maximum(0.0, gaps - interval) * 1000


async def _console_session(config, idle_seconds: float, train_timeout: float) -> dict:
    import tuirecipe.ui.app as app_module
    from tuirecipe.ui.app import make_app
    from tuirecipe.ui.bus import Command

    app_module.DATA_PANE_MODULE = "tuirecipe.ui.panes._left_out"  # no profiling threads
    app = make_app(config, theme="dark", settings_dir=Path(config.runs_path) / "settings")
    interval = 0.02
    stamps: list[float] = []
    out: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await pilot.pause(1.0)
        app.set_interval(interval, lambda: stamps.append(time.perf_counter()))
        await asyncio.sleep(idle_seconds)
        out["idle"] = _lags(stamps, interval)
        stamps.clear()
        app.bus.publish("command", Command("start", config=config, motivation="benchmark"))
        train = app.query_one("#train")
        deadline = time.monotonic() + train_timeout
        while train.run is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # Measure only while steps are flowing (not during the worker's torch import).
        while len(train.history.loss) < 30 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stamps.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while train.state not in ("finished", "failed", "stopped") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        out["ui_cpu"] = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        out["training"] = _lags(stamps, interval)
        out["run"] = train.run
        out["plotted"] = len(train.history.loss)
        out["redraws"] = app.query_one("#plot-loss").redraws
    return out


def _worker_rate(run, steps: int, warmup: int) -> float:
    times = [e.t for e in run.events() if e.kind == "step"]
    if len(times) != steps:
        sys.exit(
            f"worker recorded {len(times)} steps, expected {steps}: "
            f"{run.read_status().get('message')}"
        )
    # the worker's epoch-end evaluations are left out, as overhead.py does (the bare loop
    # never evaluates)
    return _load_overhead().training_rate(run.events(), warmup)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--model", default="textcnn")
    parser.add_argument("--idle", type=float, default=6.0, help="seconds of idle timing")
    parser.add_argument(
        "--rounds", type=int, default=2, help="bare loop / console session pairs, alternated"
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(HERE.parent))
    load = os.getloadavg()
    print(
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs\n"
    )

    print("(a) curve redraw (envelope + plotext build, 100x14 plot)")
    small_first, small = redraw_times(1_000)
    big_first, big = redraw_times(1_000_000)
    print(f"    1,000 points     : {small:7.2f} ms per redraw (first draw {small_first:.1f} ms)")
    print(
        f"    1,000,000 points : {big:7.2f} ms per redraw (first draw {big_first:.1f} ms,"
        " building the caches once)"
    )
    ratio_a = big / small
    print(
        f"    ratio            : {ratio_a:7.2f}   target <= 1.5: "
        f"{'met' if ratio_a <= 1.5 else 'NOT met'}\n"
    )

    overhead = _load_overhead()
    bare, attached, idle_lags, busy_lags = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            config = overhead.make_config(args.model, args.steps, str(Path(tmp) / f"runs{r}"))
            # in a fresh process, as the worker is (benchmarks/overhead.py's module doc)
            spec = argparse.Namespace(steps=args.steps, device="auto", batch_size=32, set=[])
            runs_dir = str(Path(tmp) / f"runs{r}")
            bare.append(overhead.bare_loop_fresh(spec, args.model, runs_dir))
            session = asyncio.run(_console_session(config, args.idle, train_timeout=600))
            attached.append(_worker_rate(session["run"], args.steps, overhead.WARMUP))
            idle_lags.append(session["idle"])
            busy_lags.append(session["training"])
            print(
                f"round {r + 1}: bare {bare[-1]:.1f} steps/s, console-attached worker "
                f"{attached[-1]:.1f} steps/s; lag p99 idle "
                f"{np.percentile(session['idle'], 99):.2f} ms, training "
                f"{np.percentile(session['training'], 99):.2f} ms; "
                f"UI CPU {100 * session['ui_cpu']:.0f} % of a core, "
                f"{session['redraws']} loss-plot redraws for {session['plotted']} steps"
            )
    print()

    idle, busy = np.concatenate(idle_lags), np.concatenate(busy_lags)
    p99_idle, p99_busy = np.percentile(idle, 99), np.percentile(busy, 99)
    print(
        "(b) UI timer lag, 20 ms set_interval in the console (run_test, 120x40, Train pane),"
        f" all {args.rounds} rounds"
    )
    print(
        f"    idle             : p50 {np.percentile(idle, 50):6.2f} ms  p99 {p99_idle:6.2f} ms"
        f"  max {idle.max():6.2f} ms  ({len(idle)} ticks)"
    )
    print(
        f"    training+plotting: p50 {np.percentile(busy, 50):6.2f} ms  p99 {p99_busy:6.2f} ms"
        f"  max {busy.max():6.2f} ms  ({len(busy)} ticks)"
    )
    print(
        f"    p99 difference   : {p99_busy - p99_idle:6.2f} ms   target within 5 ms: "
        f"{'met' if p99_busy - p99_idle <= 5 else 'NOT met'}\n"
    )

    import torch

    best_bare, best_attached = max(bare), max(attached)
    ratio_c = best_attached / best_bare
    print(
        f"(c) throughput, model {args.model}, batch 32, {args.steps} steps, "
        f"{torch.get_num_threads()} torch threads, best of {args.rounds} rounds each"
    )
    print(
        f"    bare PyTorch loop         : {best_bare:8.1f} steps/s "
        f"({', '.join(f'{b:.1f}' for b in bare)})"
    )
    print(
        f"    worker, console attached  : {best_attached:8.1f} steps/s "
        f"({', '.join(f'{a:.1f}' for a in attached)})"
    )
    print(
        f"    ratio                     : {ratio_c:8.3f}   target >= 0.98: "
        f"{'met' if ratio_c >= 0.98 else 'NOT met'}"
    )
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
