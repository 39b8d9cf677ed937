"""The checks' confusion matrix: every automatic check on the bug zoo and on sound setups.

Two tables, each with every check's glyph (✗ fail, ! warn, ✓ pass, E error, · did not run)
and the seconds each row took:

- the bug zoo (tests/support/bug_zoo.py) on its slice of the demo: each bug must be caught
  by the checks its entry names (marked where it is not);
- sound setups at the project's defaults: the five built-in models on the demo and on the
  real sets trec and sms_spam (``<repo parent>/shared/data/real``; skipped when absent), the
  sample user model (sample_configs/user_model.toml unchanged), the shipped sample configs
  (text_classification.toml pointed at trec and sms_spam, demo.toml, regression.toml). A
  sound setup must get no ✗.

Everything runs in this process (``run_checks``) on one torch thread, as a worker on a
2-core machine does. The full sweep takes several minutes: run it niced.

    python benchmarks/checks_matrix.py            # both tables
    python benchmarks/checks_matrix.py --zoo      # the zoo only
    python benchmarks/checks_matrix.py --sound    # the sound setups only
    python benchmarks/checks_matrix.py --zoo --readme README.md   # rewrite the README's table

Exit status 1 when a bug is missed or a sound setup gets a ✗.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
REAL = ROOT.parent / "shared" / "data" / "real"
# benchmarks/profile.py would shadow the stdlib `profile` module that torch imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(TESTS))

README_BEGIN = "<!-- checks matrix: begin (python benchmarks/checks_matrix.py --zoo --readme) -->"
README_END = "<!-- checks matrix: end -->"
BUILTINS = ("bow_mlp", "fasttext", "textcnn", "gru", "transformer")


def check_names() -> list[str]:
    from tuirecipe.checks.runner import selected_checks

    return [c.name for c in selected_checks(None)]


def sound_setups() -> list[tuple[str, object]]:
    """(label, config) of every sound setup whose data is present, at default settings."""
    from tuirecipe.config import config_from_dict, load_config

    out: list[tuple[str, object]] = []
    sets = {"demo": "demo"}
    for name in ("trec", "sms_spam"):
        path = REAL / name / f"{name}.csv"
        if path.is_file():
            sets[name] = str(path)
        else:
            print(f"skipped {name}: {path} not found", file=sys.stderr)
    for data_name, path in sets.items():
        for model in BUILTINS:
            table = {"data": {"path": path}, "model": {"name": model}}
            out.append((f"{model} on {data_name}", config_from_dict(table, source="<matrix>")))
    samples = ROOT / "sample_configs"
    out.append(("user_model.toml (demo)", load_config(samples / "user_model.toml")))
    out.append(("demo.toml", load_config(samples / "demo.toml")))
    out.append(("regression.toml", load_config(samples / "regression.toml")))
    for data_name in ("trec", "sms_spam"):
        if data_name in sets:
            config = load_config(
                samples / "text_classification.toml", [f"data.path={sets[data_name]}"]
            )
            out.append((f"text_classification.toml on {data_name}", config))
    return out


def _row(label: str, results: dict, names: list[str], seconds: float, note: str = "") -> str:
    from support.bug_zoo import glyph

    cells = " ".join(glyph(results.get(n)) for n in names)
    return f"{label:<38} {cells}  {seconds:6.1f} s  {note}".rstrip()


def _header(names: list[str]) -> str:
    # one column per check, numbered; the key follows the table
    return f"{'':<38} " + " ".join(f"{i % 10}" for i in range(1, len(names) + 1))


def _key(names: list[str]) -> str:
    return "  ".join(f"{i}={n}" for i, n in enumerate(names, 1))


def run_zoo(names: list[str]) -> tuple[list[tuple[object, dict, float]], bool]:
    from support import bug_zoo

    frame = bug_zoo.zoo_frame()
    rows, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        entries = [None, *bug_zoo.ZOO]
        for i, bug in enumerate(entries):
            start = time.perf_counter()
            results = bug_zoo.run_entry(bug, Path(tmp) / f"e{i}", frame)
            seconds = time.perf_counter() - start
            rows.append((bug, results, seconds))
            if bug is None:
                bad = [n for n, r in results.items() if r.status == "fail"]
                note = f"FALSE ✗: {', '.join(bad)}" if bad else ""
                ok = ok and not bad
            else:
                problems = bug_zoo.missed(bug, results)
                note = "MISSED: " + " | ".join(problems) if problems else ""
                ok = ok and not problems
            label = "(sound: fasttext)" if bug is None else bug.name
            print(_row(label, results, names, seconds, note), flush=True)
    return rows, ok


def run_sound(names: list[str]) -> bool:
    from tuirecipe.checks.runner import run_checks

    ok = True
    for label, config in sound_setups():
        start = time.perf_counter()
        results = {r.name: r for r in run_checks(config)}
        seconds = time.perf_counter() - start
        bad = [f"{n}: {r.summary}" for n, r in results.items() if r.status == "fail"]
        ok = ok and not bad
        note = "FALSE ✗ " + " | ".join(bad) if bad else ""
        print(_row(label, results, names, seconds, note), flush=True)
        for n, r in results.items():
            if r.status in ("warn", "error"):
                print(f"{'':<40}{r.status} {n}: {r.summary}", flush=True)
    return ok


def markdown(rows: list[tuple[object, dict, float]], names: list[str]) -> str:
    """The README's table: one row per zoo entry (bold where its entry expects a verdict)."""
    from support.bug_zoo import glyph

    lines = [
        "| bug | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for bug, results, _seconds in rows:
        if bug is None:
            label = "none (fasttext, sound)"
            expected: set[str] = set()
        else:
            label = bug.what
            expected = {e.check for e in bug.expect}
        cells = [
            f"**{glyph(results.get(n))}**" if n in expected else glyph(results.get(n))
            for n in names
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_readme(path: Path, table: str) -> None:
    text = path.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        raise SystemExit(f"{path}: the markers {README_BEGIN!r} … {README_END!r} are missing")
    head, rest = text.split(README_BEGIN, 1)
    _old, tail = rest.split(README_END, 1)
    path.write_text(f"{head}{README_BEGIN}\n{table}\n{README_END}{tail}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", action="store_true", help="the bug zoo only")
    parser.add_argument("--sound", action="store_true", help="the sound setups only")
    parser.add_argument("--readme", type=Path, help="rewrite this README's zoo table")
    args = parser.parse_args()
    both = not args.zoo and not args.sound

    import torch

    torch.set_num_threads(1)
    names = check_names()
    ok = True
    start = time.perf_counter()
    print(_header(names))
    if args.zoo or both:
        rows, zoo_ok = run_zoo(names)
        ok = ok and zoo_ok
        print(f"bug zoo: {time.perf_counter() - start:.1f} s")
        if args.readme:
            write_readme(args.readme, markdown(rows, names))
            print(f"wrote the matrix into {args.readme}")
    if args.sound or both:
        sound_start = time.perf_counter()
        ok = run_sound(names) and ok
        print(f"sound setups: {time.perf_counter() - sound_start:.1f} s")
    print(_key(names))
    print(f"total {time.perf_counter() - start:.1f} s; {'all as expected' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
