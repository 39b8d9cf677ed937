"""Benchmark: the dataset profile on 1,000,000 rows versus a plain pandas baseline.

Builds a seeded 1,000,000-row dataset from the real rows in ../shared/data/real (falling
back to the demo generator, then to a synthetic generator), with perturbations: random case
changes, whitespace changes, word drops, duplicated rows and a few relabels. Then, in the
same process, it times

- the baseline: pandas ``.str.lower()``, ``.str.replace(r"\\s+", " ")``,
  ``.str.split().str.len()`` and ``groupby`` for duplicates and conflicts;
- the full profile (duplicates at three levels, conflicts, lengths, labels, corrupted rows,
  vocabulary; near-duplicates and clusters on a sample, marked so),

and prints both times, the ratio and whether the ≤ 5 s budget (DESIGN.md §6) is met.
``--unique`` makes every row's text unique (a harder case: no repeats to fold away).

    python benchmarks/profile.py [--rows 1000000] [--unique] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tuirecipe.data.profile import profile_frame  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "real"
BUDGET_S = 5.0


def base_rows() -> tuple[pd.DataFrame, str]:
    """Seed rows: the real datasets, else the demo data, else a synthetic generator."""
    frames = []
    for csv in sorted(REAL.glob("*/*.csv")) if REAL.is_dir() else []:
        if csv.stem != csv.parent.name:
            continue
        df = pd.read_csv(csv, keep_default_na=False, dtype=str)[["text", "label"]]
        df["label"] = csv.stem + ":" + df["label"]
        frames.append(df)
    if frames:
        return pd.concat(frames, ignore_index=True), f"real rows from {REAL}"
    try:
        from tuirecipe.data.demo import demo_frame

        df = demo_frame("classification")
        return df[df["text"].notna() & df["label"].notna()].reset_index(drop=True), "demo rows"
    except ImportError:
        rng = random.Random(0)
        words = [f"w{i}" for i in range(5000)]
        texts = [" ".join(rng.choices(words, k=rng.randint(3, 40))) for _ in range(20000)]
        return pd.DataFrame(
            {"text": texts, "label": [str(len(t) % 5) for t in texts]}
        ), "synthetic rows"


def perturbed(base: pd.DataFrame, n: int, seed: int, unique: bool) -> pd.DataFrame:
    """``n`` rows drawn from ``base`` with seeded perturbations."""
    rng = random.Random(seed)
    texts, labels = base["text"].tolist(), base["label"].tolist()
    label_pool = sorted(set(labels))
    out_t, out_l = [], []
    for i in range(n):
        if out_t and rng.random() < 0.05:  # duplicated row
            j = rng.randrange(len(out_t))
            out_t.append(out_t[j])
            out_l.append(out_l[j])
            continue
        k = rng.randrange(len(texts))
        text, label = texts[k], labels[k]
        words = text.split(" ")
        if len(words) > 3 and rng.random() < 0.5:  # word drops
            for _ in range(1 + (rng.random() < 0.3)):
                del words[rng.randrange(len(words))]
        text = " ".join(words)
        r = rng.random()
        if r < 0.1:
            text = text.upper()
        elif r < 0.2:
            text = text.lower()
        elif r < 0.25:
            text = text.title()
        if rng.random() < 0.1:  # whitespace
            text = "  " + text.replace(" ", "  ", 1) + " \t"
        if unique:
            text = f"{text} #{i}"
        if rng.random() < 0.005:  # relabel
            label = rng.choice(label_pool)
        out_t.append(text)
        out_l.append(label)
    return pd.DataFrame(
        {
            "text": pd.array(out_t, dtype="str"),
            "label": pd.array(out_l, dtype="str"),
            "row": np.arange(1, n + 1),
        }
    )


def pandas_baseline(df: pd.DataFrame) -> dict[str, float]:
    """Normalise + duplicates + conflicts + lengths with plain pandas string methods."""
    t0 = time.perf_counter()
    norm = df["text"].str.lower().str.replace(r"\s+", " ", regex=True).str.strip()
    lengths = norm.str.split().str.len()
    # Blank texts are left out, as in the profile (it reports them as corrupted rows).
    kept = df.assign(norm=norm)[norm != ""]
    exact_surplus = int(kept["text"].duplicated().sum())
    exact_conflicts = int((kept.groupby("text")["label"].nunique() > 1).sum())
    space_surplus = int(kept["norm"].duplicated().sum())
    space_conflicts = int((kept.groupby("norm")["label"].nunique() > 1).sum())
    return {
        "seconds": time.perf_counter() - t0,
        "exact_surplus": exact_surplus,
        "exact_conflicts": exact_conflicts,
        "space_surplus": space_surplus,
        "space_conflicts": space_conflicts,
        "p95": float(lengths.quantile(0.95)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unique", action="store_true", help="make every text unique")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    print(f"load average at start (2 cores; other sessions share them): {os.getloadavg()[0]:.2f}")
    base, origin = base_rows()
    t0 = time.perf_counter()
    df = perturbed(base, args.rows, args.seed, args.unique)
    print(
        f"dataset: {len(df):,} rows from {len(base):,} {origin} "
        f"(built in {time.perf_counter() - t0:.1f} s; {df['text'].nunique():,} distinct texts)"
    )

    baseline = None
    if not args.skip_baseline:
        baseline = pandas_baseline(df)
        print(
            f"pandas baseline (normalise, duplicates, conflicts, lengths): "
            f"{baseline['seconds']:.2f} s"
        )

    t0 = time.perf_counter()
    profile = profile_frame(df)
    seconds = time.perf_counter() - t0
    print(f"full profile: {seconds:.2f} s")
    print("  stages: " + ", ".join(f"{k} {v:.2f}" for k, v in profile.timings.items()))
    dup, conf = profile.duplicates, profile.conflicts
    print(
        "  duplicates (surplus rows): "
        + ", ".join(f"{level} {dup[level]['surplus_rows']:,}" for level in dup)
        + "; conflicting texts: "
        + ", ".join(f"{lv} {conf[lv]['conflicting_texts']:,}" for lv in conf)
    )
    nd, cl = profile.near_duplicates, profile.clusters
    print(
        f"  near-duplicates: {nd['pairs']:,} pairs in a sample of {nd['sample_size']:,} "
        f"(sampled={nd['sampled']}); clusters: k={cl.get('k')} on {cl.get('sample_size'):,} "
        f"rows (sampled={cl.get('sampled')}); vocab {profile.size['vocab_size']:,}"
    )
    if baseline is not None:
        same = (
            baseline["exact_surplus"] == dup["exact"]["surplus_rows"]
            and baseline["space_surplus"] == dup["case_space"]["surplus_rows"]
            and baseline["exact_conflicts"] == conf["exact"]["conflicting_texts"]
            and baseline["space_conflicts"] == conf["case_space"]["conflicting_texts"]
        )
        print(f"  agrees with the baseline on duplicates and conflicts: {same}")
        print(f"ratio: baseline / profile = {baseline['seconds'] / seconds:.1f}x")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    met = seconds <= BUDGET_S
    print(f"budget <= {BUDGET_S:.0f} s: {'met' if met else 'NOT met'} ({seconds:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
