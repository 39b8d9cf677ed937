"""Benchmark: the dataset profile on 1,000,000 rows versus plain pandas baselines.

Builds a seeded 1,000,000-row dataset from the real rows in ../shared/data/real (falling
back to the demo generator, then to a synthetic generator), with perturbations: random case
changes, whitespace changes, word drops, duplicated rows and a few relabels. Two parts:

1. In process, on that repeat-heavy set (skipped with ``--unique``): the full profile
   (duplicates at three levels, conflicts, lengths, labels, corrupted rows, vocabulary;
   near-duplicates and clusters on a sample, marked so) against pandas ``.str.lower()``,
   ``.str.replace(r"\\s+", " ")``, ``.str.split().str.len()`` and ``groupby`` for
   duplicates and conflicts.
2. End to end, on a CSV of distinct texts (every row's text unique: no repeats to fold
   away): the whole ``python -m tuirecipe data CONFIG`` command (start-up, loading,
   splitting, profiling, printing the tables to /dev/null) with a fresh profile cache,
   against a plain ``pandas.read_csv`` + exact duplicate count + conflict count (texts with
   more than one label). Both run as child processes; wall time and peak RSS are those of
   the child (``os.wait4``). Rounds alternate baseline / command; the best of each counts.
   Then, unless ``--no-stages``, one more child times the stages of the command in turn.

Each part prints both sides, the ratio, the machine load (``os.getloadavg``, CPU count) and
whether the budget (DESIGN.md §6) holds: whole command <= 5 s and peak memory <= 1.5 GB.

    python benchmarks/profile.py [--rows 1000000] [--unique] [--seed 0] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tuirecipe.data.profile import profile_frame  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "real"
BUDGET_S = 5.0
BUDGET_BYTES = 1.5e9  # peak resident memory of the whole command


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
        if out_t and not unique and rng.random() < 0.05:  # duplicated row
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


def _load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return (
        f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs"
    )


# Runs the measured command from a small process: Linux carries a parent's peak RSS over
# fork + exec into the child's ru_maxrss, so a child of this (large) process would report
# at least this process's size.
_MEASURE = textwrap.dedent(
    """
    import os, subprocess, sys, time
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    print(seconds, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status))
    """
)


def _child(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, int]:
    """Run ``argv``; its wall seconds, peak RSS in bytes and exit code (stdout discarded)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


# A plain read of the CSV and the two counts everyone computes first, with pandas.
_BASELINE = textwrap.dedent(
    """
    import sys
    import pandas as pd
    df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
    exact = int(df["text"].duplicated().sum())
    conflicts = int((df.groupby("text")["label"].nunique() > 1).sum())
    print(f"{len(df)} rows, {exact} exact duplicates, {conflicts} conflicting texts")
    """
)

# The command's stages one after the other in one process, for the breakdown.
_STAGES = textwrap.dedent(
    """
    import os, sys, time
    def peak():  # this process's own high-water mark (ru_maxrss includes the parent's)
        try:
            with open("/proc/self/status") as f:
                return next(int(x.split()[1]) for x in f if x.startswith("VmHWM")) / 1024
        except (OSError, StopIteration):
            import resource
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = t0 = time.perf_counter()
    def mark(name):
        global t
        now = time.perf_counter()
        print(f"  {name:<34} {now - t:6.2f} s   peak RSS so far {peak():6.0f} MB", flush=True)
        t = now
    from tuirecipe.cli_report import _print_profile_tables
    from tuirecipe.config import load_config
    from tuirecipe.data import profiling
    profiling.without_huge_pages()  # as the command does
    profiling.keep_freed_memory()
    mark("imports (CLI, config, profiling)")
    config = load_config(sys.argv[1])
    data = profiling.load_dataset(config, start_checks=True)  # as profile_config does
    mark("load the CSV and split off dev")
    profile = profiling.profile_dataset(config, data)
    mark("profile (and save to the cache)")
    prof = profile.to_dict()
    sys.stdout = open(os.devnull, "w")
    _print_profile_tables(data, prof)
    sys.stdout = sys.__stdout__
    mark("print the tables")
    print(f"  {'total':<34} {time.perf_counter() - t0:6.2f} s")
    stages = ", ".join(f"{k} {v:.2f}" for k, v in prof.get("timings", {}).items())
    print(f"  profile stages: {stages}")
    """
)


def end_to_end(args: argparse.Namespace, base: pd.DataFrame) -> bool:
    """Part 2: the whole ``tuirecipe data`` command on distinct texts vs a pandas read."""
    print(f"\n== end to end: `tuirecipe data` on {args.rows:,} distinct texts ==")
    print(f"at start: {_load_line()}")
    with tempfile.TemporaryDirectory(prefix="tuirecipe-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        df = perturbed(base, args.rows, args.seed, unique=True)
        csv = folder / "distinct.csv"
        df[["text", "label"]].to_csv(csv, index=False)
        distinct = df["text"].nunique()
        del df
        print(
            f"dataset: {csv.stat().st_size / 1e6:.0f} MB CSV, {args.rows:,} rows, "
            f"{distinct:,} distinct texts (built in {time.perf_counter() - t0:.1f} s)"
        )
        config = folder / "bench.toml"
        config.write_text(f'[data]\npath = "{csv.name}"\n', encoding="utf-8")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "tuirecipe", "data", str(config)]
        baseline = [sys.executable, "-c", _BASELINE, str(csv)]
        runs: dict[str, list[tuple[float, int]]] = {"baseline": [], "command": []}
        for round_ in range(args.rounds):
            sides = ["command"] if args.skip_baseline else ["baseline", "command"]
            for side in sides:
                env["TUIRECIPE_CACHE"] = str(folder / f"cache-{round_}")  # fresh: no cache hit
                argv = command if side == "command" else baseline
                seconds, peak, code = _child(argv, folder, env)
                if code != 0:
                    print(f"{side} exited with {code}; no figures")
                    return False
                runs[side].append((seconds, peak))
                print(
                    f"  round {round_ + 1} {side:<8} {seconds:6.2f} s, "
                    f"peak RSS {peak / 1e6:5.0f} MB"
                )
        wall, peak = min(s for s, _ in runs["command"]), min(p for _, p in runs["command"])
        print(f"whole command (best of {args.rounds}): {wall:.2f} s, peak RSS {peak / 1e6:.0f} MB")
        if runs["baseline"]:
            b_wall = min(s for s, _ in runs["baseline"])
            b_peak = min(p for _, p in runs["baseline"])
            print(
                f"pandas read + exact duplicates + conflicts (best of {args.rounds}): "
                f"{b_wall:.2f} s, peak RSS {b_peak / 1e6:.0f} MB"
            )
            print(
                f"ratio: command / baseline = {wall / b_wall:.2f}x time, "
                f"{peak / b_peak:.2f}x memory"
                + (" (no slower than the baseline)" if wall <= b_wall else "")
            )
        if not args.no_stages:
            env["TUIRECIPE_CACHE"] = str(folder / "cache-stages")
            print("stages of the command, one child process (wall, cumulative peak RSS):")
            sys.stdout.flush()
            subprocess.run([sys.executable, "-c", _STAGES, str(config)], cwd=folder, env=env)
    print(f"at end: {_load_line()}")
    met = wall <= BUDGET_S and peak <= BUDGET_BYTES
    scope = (
        ""
        if args.rows == 1_000_000
        else f" (the budget is set for 1,000,000 rows, not {args.rows:,})"
    )
    print(
        f"budget (whole command <= {BUDGET_S:.0f} s and peak <= {BUDGET_BYTES / 1e9:.1f} GB): "
        f"{'met' if met else 'NOT met'} ({wall:.2f} s, {peak / 1e9:.2f} GB){scope}"
    )
    return met


def in_process(args: argparse.Namespace, base: pd.DataFrame, origin: str) -> None:
    """Part 1: the profile alone, in this process, against pandas string methods."""
    print(f"== in process: the profile on {args.rows:,} rows with repeats ==")
    print(f"at start: {_load_line()}")
    t0 = time.perf_counter()
    df = perturbed(base, args.rows, args.seed, unique=False)
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
    # the sections also hold a "unit" line beside the levels
    dup = {k: v for k, v in profile.duplicates.items() if isinstance(v, dict)}
    conf = {k: v for k, v in profile.conflicts.items() if isinstance(v, dict)}
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
    print(f"at end: {_load_line()}")
    met = seconds <= BUDGET_S
    print(f"profile alone <= {BUDGET_S:.0f} s: {'met' if met else 'NOT met'} ({seconds:.2f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--unique",
        action="store_true",
        help="only the end-to-end part, on distinct texts (skip the repeat-heavy set)",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=2, help="end-to-end rounds; the best counts (default 2)"
    )
    parser.add_argument(
        "--no-stages", action="store_true", help="skip the per-stage breakdown of the command"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    base, origin = base_rows()
    if not args.unique:
        in_process(args, base, origin)
    end_to_end(args, base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
