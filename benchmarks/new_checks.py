"""The issue-11 checks on every built-in model × the demo and two real sets, at defaults.

    python benchmarks/new_checks.py [REAL_DATA_DIR]

Prints one line per (data, model, check): status, seconds (the forward diagnosis the runner
adds after a check that built a model included) and summary. Sound setups must show no ✗.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

CHECKS = ["padding_invariance", "forward_independence", "eval_determinism", "label_signal"]
MODELS = ["bow_mlp", "fasttext", "textcnn", "gru", "transformer"]


def main() -> int:
    import torch

    from tuirecipe.checks.base import get_check
    from tuirecipe.checks.context import CheckContext
    from tuirecipe.checks.runner import run_one
    from tuirecipe.config import config_from_dict
    from tuirecipe.data.prepare import prepare_data

    torch.set_num_threads(2)
    real = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "shared/data/real"
    )
    sets = {"demo": {}}
    for name in ("trec", "sms_spam"):
        path = real / name / f"{name}.csv"
        if path.is_file():
            sets[name] = {"path": str(path), "text_column": "text", "label_column": "label"}
    bad = 0
    for data_name, data_cfg in sets.items():
        data = None
        for model in MODELS:
            table = {"model": {"name": model}, "data": data_cfg, "train": {"device": "cpu"}}
            config = config_from_dict(table, source="bench.toml", base_dir=".")
            data = data or prepare_data(config)
            ctx = CheckContext(config, data=data)
            for name in CHECKS:
                start = time.perf_counter()
                result = run_one(get_check(name), ctx)
                seconds = time.perf_counter() - start
                bad += result.status in ("fail", "error")
                print(
                    f"{data_name:9} {model:12} {name:21} {result.status:5} {seconds:5.1f}s "
                    f"{result.summary}",
                    flush=True,
                )
    print(f"{bad} fail/error on sound setups")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
