"""Benchmark: ``load_table`` on a 1,000,000-row CSV of distinct texts, beside plain readers.

Writes a seeded CSV (``text,label``; every text distinct, quoted where it holds a comma or
quote; texts drawn from ../shared/data/real when present, else generated) and then, each
in a fresh process so that peak memory is that reader's own, times

- ``pandas.read_csv`` (C engine, every cell a string),
- ``pyarrow.csv.read_csv`` (every cell a string),
- tuirecipe's ``load_table`` (which also numbers records and lines, skips bad rows with a
  reason, cleans labels and hashes the file),

printing wall seconds, CPU seconds and peak RSS for each (imports excluded from the times,
included in the peak), and the ratio to pandas.
``--multiline`` puts a line break inside 1 % of the texts, so lines and rows differ and the
exact line count runs.

    python benchmarks/loading.py [--rows 1000000] [--multiline] [--csv PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
LOADER_BUDGET_S = 1.5

MEASURE = r"""
import json, resource, sys, time
import pandas as pd, pyarrow as pa, pyarrow.csv as pacsv
from tuirecipe.config import DataConfig
from tuirecipe.data.loading import load_table

path, which = sys.argv[1], sys.argv[2]
start = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
if which == "pandas":
    rows = len(pd.read_csv(path, dtype=str, keep_default_na=False))
elif which == "pyarrow":
    types = {"text": pa.string(), "label": pa.string()}
    parse = pacsv.ParseOptions(newlines_in_values=True)
    convert = pacsv.ConvertOptions(column_types=types)
    rows = pacsv.read_csv(path, parse_options=parse, convert_options=convert).num_rows
else:
    rows = len(load_table(path, DataConfig()).frame)
wall = time.perf_counter() - t0
end = resource.getrusage(resource.RUSAGE_SELF)
cpu = end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime
print(json.dumps({"rows": rows, "wall": wall, "cpu": cpu, "peak_mb": end.ru_maxrss / 1024}))
"""


def seed_texts() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for csv in sorted(REAL.glob("*/*.csv")) if REAL.is_dir() else []:
        if csv.stem == csv.parent.name:
            df = pd.read_csv(csv, keep_default_na=False, dtype=str)
            rows += [(t, f"{csv.stem}:{lab}") for t, lab in zip(df["text"], df["label"])]
    if rows:
        return rows
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    return [(" ".join(rng.choices(words, k=rng.randint(3, 40))), str(i % 5)) for i in range(20000)]


def write_csv(path: Path, n: int, multiline: bool, seed: int = 0) -> None:
    rng = random.Random(seed)
    base = seed_texts()
    texts, labels = [], []
    for i in range(n):
        text, label = base[rng.randrange(len(base))]
        if multiline and rng.random() < 0.01:
            text = text.replace(" ", "\n", 1)
        texts.append(f"{text} #{i}")  # every text distinct
        labels.append(label)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)


def measure(path: Path, which: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), which],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--multiline", action="store_true")
    parser.add_argument("--csv", type=Path, help="time this file (written first if absent)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write_csv(args.write, args.rows, args.multiline)
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        path = args.csv or Path(tmp) / "unique.csv"
        if not path.exists():  # in a child: Linux keeps a process's peak RSS across exec
            options = ["--rows", str(args.rows)] + (["--multiline"] if args.multiline else [])
            subprocess.run([sys.executable, __file__, "--write", str(path), *options], check=True)
        size = path.stat().st_size / 2**20
        print(f"{path.name}: {size:.0f} MB; load average {os.getloadavg()[0]:.2f} (2 cores)")
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):
            for which in ("pandas", "pyarrow", "load_table"):
                got = measure(path, which)
                if which not in best or got["wall"] < best[which]["wall"]:
                    best[which] = got
        for which, got in best.items():
            ratio = got["wall"] / best["pandas"]["wall"]
            print(
                f"  {which:10s} {int(got['rows']):>9,} rows  {got['wall']:5.2f} s wall  "
                f"{got['cpu']:5.2f} s cpu  {got['peak_mb']:6.0f} MB peak  "
                f"({ratio:.2f}x pandas)"
            )
    seconds = best["load_table"]["wall"]
    met = seconds <= LOADER_BUDGET_S
    print(f"load_table <= {LOADER_BUDGET_S} s: {'met' if met else 'NOT met'} ({seconds:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
