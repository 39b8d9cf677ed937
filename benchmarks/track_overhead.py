"""Cost of ``run.log`` in a user's loop, and how late a logged step reaches the run.

    python benchmarks/track_overhead.py

1. Per call: a tight loop of ``run.log(step, train_loss=…, lr=…, train_acc=…)`` (every
   tenth call adds dev figures), wall time divided by the calls. The daemon thread that
   turns the queue into events and appends them runs meanwhile and is counted (it shares
   the interpreter's lock), as is the final flush in ``finish``. Beside it: the same loop
   calling an empty function with the same arguments (the floor of any Python call).
2. Latency: a step logged, then ``events.jsonl`` read the way the console's follower reads
   it until the step is there (what the console sees, without its own redraw timer).

Target (issue 18): under 20 µs per call. The machine's load is printed beside the figures:
timings on a busy machine are indicative only.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

TARGET_US = 20.0
CALLS = 200_000
REPEATS = 5
LATENCY_SAMPLES = 30


def _noop(step: int, **metrics: float) -> None:
    return None


def per_call(runs: Path) -> tuple[float, float, float]:
    """Median µs per ``run.log`` call (flushes included): wall time and the process's CPU
    time (both threads; on a busy machine the wall time also counts waiting for a CPU),
    and µs per empty call."""
    import tuirecipe.track

    logged, cpu, empty = [], [], []
    for r in range(REPEATS):
        run = tuirecipe.track.start(name=f"bench{r}", runs_dir=runs)
        start, start_cpu = time.perf_counter(), time.process_time()
        for step in range(1, CALLS + 1):
            run.log(step, train_loss=0.5, lr=0.001, train_acc=0.75)
            if step % 10 == 0:
                run.log(step, dev_loss=0.6, dev_acc=0.7)
        run.finish()
        logged.append((time.perf_counter() - start) / (CALLS * 1.1) * 1e6)
        cpu.append((time.process_time() - start_cpu) / (CALLS * 1.1) * 1e6)
        start = time.perf_counter()
        for step in range(1, CALLS + 1):
            _noop(step, train_loss=0.5, lr=0.001, train_acc=0.75)
            if step % 10 == 0:
                _noop(step, dev_loss=0.6, dev_acc=0.7)
        empty.append((time.perf_counter() - start) / (CALLS * 1.1) * 1e6)
    return statistics.median(logged), statistics.median(cpu), statistics.median(empty)


def latency(runs: Path) -> list[float]:
    """Seconds from ``run.log`` to the step being readable in events.jsonl."""
    import tuirecipe.track
    from tuirecipe.runs.follower import Follower

    run = tuirecipe.track.start(name="latency", runs_dir=runs)
    follower = Follower(run.dir)
    follower.poll()
    out = []
    for step in range(1, LATENCY_SAMPLES + 1):
        start = time.perf_counter()
        run.log(step, train_loss=0.5)
        while not any(getattr(e, "step", None) == step for e in follower.poll()):
            time.sleep(0.002)  # the reader's poll interval, not synchronisation
        out.append(time.perf_counter() - start)
    run.finish()
    return out


def main() -> int:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        logged, cpu, empty = per_call(Path(tmp) / "runs")
        delays = latency(Path(tmp) / "runs")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"run.log: {logged:.2f} µs wall, {cpu:.2f} µs CPU per call (median of {REPEATS} × "
        f"{int(CALLS * 1.1):,} calls, flushes included); an empty call with the same "
        f"arguments: {empty:.2f} µs"
    )
    print(
        f"log → readable in events.jsonl: median {statistics.median(delays) * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms over {len(delays)} steps"
    )
    ok = logged < TARGET_US
    print(f"target < {TARGET_US:g} µs per call: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
