"""Per-trial overhead of a sweep's small trials, without and with the prepared-data cache.

Runs the same sweep twice through the real worker pool (``-j 1``, so the trials do not
share the cores): once with ``TUIRECIPE_DATA_CACHE=0`` (every trial loads, splits, builds
the vocabulary and encodes) and once with the cache (the first trial writes the entry,
the others read it). For each trial it reports the wall time of the run (worker start to
end), the preparation (the ``loading data`` log line to the model's line: loading,
splitting, vocabulary, encoding or the cache read, and the model build) and the training
share of the run.

    python benchmarks/trial_cache.py                 # a synthetic 100,000-row CSV
    python benchmarks/trial_cache.py --rows 300000 --trials 4
    python benchmarks/trial_cache.py --data ../shared/data/real/trec/trec.csv

The model is deliberately small (fasttext, 20 steps): the case where preparation is most
of a trial.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

WORDS = (
    "the a of to and in is it you that was for on are with as be at one have this from "
    "good bad great awful fine poor movie plot actor scene music story time fun dull slow "
    "fast long short best worst love hate boring brilliant weak strong funny sad"
).split()


def synthetic_csv(path: Path, rows: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    lengths = rng.integers(8, 40, size=rows)
    picks = rng.integers(0, len(WORDS), size=int(lengths.sum()))
    labels = rng.choice(["pos", "neg", "mixed"], size=rows, p=[0.5, 0.4, 0.1])
    out, at = ["text,label"], 0
    for n, label in zip(lengths, labels):
        out.append(" ".join(WORDS[i] for i in picks[at : at + n]) + f" w{at % 5000},{label}")
        at += n
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def trial_times(run) -> tuple[float, float]:
    """(run wall seconds, preparation seconds) from a finished trial's records."""
    status = run.read_status()
    wall = float(status["ended"]) - float(status["started"])
    logs = [e for e in run.events() if e.kind == "log"]
    start = next(e.t for e in logs if e.message.startswith("loading data"))
    model = next(e.t for e in logs if " parameters on " in e.message)
    return wall, model - start


def sweep(data: Path, runs: Path, trials: int, cached: bool) -> list[tuple[float, float, bool]]:
    from tuirecipe.config import config_from_dict
    from tuirecipe.runs import RunDir
    from tuirecipe.tune.sweep import run_sweep

    os.environ["TUIRECIPE_DATA_CACHE"] = "1" if cached else "0"
    config = config_from_dict(
        {
            "name": "bench-cache",
            "runs_dir": str(runs),
            "data": {"path": str(data)},
            "model": {"name": "fasttext"},
            "train": {"max_steps": 20, "eval_every": 0, "batch_size": 64, "device": "cpu"},
        }
    )
    lrs = [0.001 * (i + 1) for i in range(trials)]
    summary = run_sweep(config, "train.lr", lrs, parallel=1)
    out = []
    for result in summary["results"]:
        run = RunDir(runs / result["run"])
        wall, prep = trial_times(run)
        hit = bool(run.read_meta().get("data_cache", {}).get("hit"))
        out.append((wall, prep, hit))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data.resolve() if args.data else Path(tmp) / "synthetic.csv"
        if args.data is None:
            synthetic_csv(data, args.rows)
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        plain = sweep(data, Path(tmp) / "runs-plain", args.trials, cached=False)
        cached = sweep(data, Path(tmp) / "runs-cached", args.trials, cached=True)
        total = time.perf_counter() - t0
        load_after = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after ({total:.0f} s); data {data.name}"
        + (f" ({args.rows:,} rows)" if args.data is None else "")
        + f"; fasttext, 20 steps a trial, {args.trials} trials, -j 1"
    )
    for name, rows in (("no cache", plain), ("cache", cached)):
        for i, (wall, prep, hit) in enumerate(rows):
            print(
                f"  {name:8} trial {i}: run {wall:6.1f} s, preparation {prep:6.2f} s "
                f"({prep / wall:4.0%} of the run){'  [cache hit]' if hit else ''}"
            )
    later_plain = [p for _, p, _ in plain[1:]] or [plain[0][1]]
    later_cached = [p for _, p, h in cached if h] or [float("nan")]
    print(
        f"preparation per trial after the first: {statistics.median(later_plain):.2f} s "
        f"without the cache, {statistics.median(later_cached):.2f} s with it (medians)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
