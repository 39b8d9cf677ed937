"""Benchmark: leak-free splitting of 1,000,000 rows (``data.split_groups``).

Builds the same seeded dataset as ``benchmarks/profile.py`` (``--unique``: every text
distinct) and times, in one process:

- the group codes at each level (:func:`tuirecipe.data.splits.split_group_codes`);
- the dev split and 5 folds with ``case_space`` groups, and without groups (``none``);
- :func:`tuirecipe.data.splits.split_overlap` of the dev split.

It prints the times, the dev size, the largest gap between a class's share in dev and in
the file, the fold sizes, and the overlap (0 expected with groups).

    python benchmarks/splits.py [--rows 1000000] [--unique] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tuirecipe.data.splits import (  # noqa: E402
    split_group_codes,
    split_overlap,
    stratified_kfold,
    stratified_split,
)


def _dataset_builder():  # benchmarks/ is no package; profile.py's builder, loaded by path
    spec = importlib.util.spec_from_file_location(
        "bench_profile", ROOT / "benchmarks" / "profile.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unique", action="store_true", help="make every text unique")
    args = parser.parse_args()

    print(f"load average at start (other sessions share the cores): {os.getloadavg()[0]:.2f}")
    builder = _dataset_builder()
    base, origin = builder.base_rows()
    df = builder.perturbed(base, args.rows, args.seed, args.unique)
    y, texts = df["label"].to_numpy(), df["text"]
    print(f"dataset: {len(df):,} rows from {origin}, {texts.nunique():,} distinct texts")
    import sklearn.model_selection  # noqa: F401  (its import, ~1 s, is not the split's cost)

    shares = pd.Series(y).value_counts(normalize=True)
    for level in ("none", "exact", "case_space"):
        print(f"split_groups = {level}")
        t0 = time.perf_counter()
        groups = split_group_codes(texts, level)
        t1 = time.perf_counter()
        train, dev = stratified_split(y, 0.1, args.seed, "classification", groups)
        t2 = time.perf_counter()
        folds = stratified_kfold(y, 5, args.seed, groups=groups)
        t3 = time.perf_counter()
        overlap = split_overlap(texts.iloc[train], texts.iloc[dev])
        t4 = time.perf_counter()
        print(
            f"  group codes {t1 - t0:.2f} s, dev split {t2 - t1:.2f} s, 5 folds {t3 - t2:.2f} s,"
            f" overlap {t4 - t3:.2f} s"
        )
        gap = (pd.Series(y[dev]).value_counts(normalize=True) - shares).abs().max()
        print(
            f"  dev {len(dev):,} rows ({len(dev) / len(df):.2%}), largest class-share gap "
            f"{gap:.4f}; fold sizes {[len(h) for _, h in folds]}; dev rows with a copy in "
            f"train: {overlap}"
        )
        assert np.array_equal(np.sort(np.concatenate([train, dev])), np.arange(len(df)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
