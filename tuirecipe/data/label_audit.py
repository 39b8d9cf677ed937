"""The label audit: relabel a sample of rows yourself, and estimate from your agreement with
the given labels how noisy the file is (core: no UI).

The sample is a seeded simple random sample of every usable row of the data file (both
splits), without the labels. Why not stratified, and not from the flagged rows: the share
of a simple random sample on which the person disagrees estimates the whole file's noise
rate directly (a stratified sample would need each class re-weighted by its share, and a
sample of the flagged rows measures how often the flags are right, not how noisy the file
is). Rows with a blank text are never drawn.

:func:`score_audit` gives the agreement with a 95 % Wilson interval over the rows answered
(skips do not count), the implied noise rate (one minus it, the interval mirrored), and the
rows where the person disagreed (to be marked label-wrong). :func:`save_audit` appends
the result to ``<runs_dir>/label_audits.json`` under the data file's sha256, atomically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuirecipe.fileio import atomic_write_bytes
from tuirecipe.stats import wilson_interval

AUDIT_FILE = "label_audits.json"
AUDIT_SOURCE = "label-audit"  # the mark source of the rows the person disagreed on
SAMPLING = (
    "seeded simple random sample of every usable row of the file (both splits); labels "
    "hidden while relabelling"
)


def audit_sample(frame: pd.DataFrame, n: int, seed: int) -> list[tuple[int, str]]:
    """``n`` rows of ``frame`` as ``(position, text)`` in a seeded random order (rows
    with a blank text are never drawn)."""
    texts = frame["text"].astype(str)
    candidates = np.flatnonzero(texts.str.strip().str.len().to_numpy() > 0)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(candidates, size=min(max(int(n), 0), len(candidates)), replace=False)
    return [(int(p), str(texts.iat[int(p)])) for p in chosen]


def score_audit(
    answers: Mapping[int, str | None], frame: pd.DataFrame, *, scope: str = ""
) -> dict[str, Any]:
    """How often the person's labels (``{position: label or None}``) agree with the file's,
    with intervals; positions are ``frame``'s, the rows reported are source row numbers."""
    rows = frame["row"].to_numpy()
    answered = {int(p): str(a) for p, a in answers.items() if a is not None and a != ""}
    disagreements = []
    for position, answer in answered.items():
        given = str(frame["label"].iat[position])
        if answer != given:
            disagreements.append(
                {
                    "row": int(rows[position]),
                    "given": given,
                    "yours": answer,
                    "text": str(frame["text"].iat[position])[:200],
                }
            )
    agreed = len(answered) - len(disagreements)
    agreement = agreed / len(answered) if answered else None
    lo, hi = wilson_interval(agreed, len(answered))
    return {
        "sampling": SAMPLING,
        "scope": scope,
        "unit": "rows relabelled (skips left out)",
        "sampled": len(answers),
        "answered": len(answered),
        "skipped": len(answers) - len(answered),
        "agreed": agreed,
        "agreement": agreement,
        "agreement_interval": [lo, hi],
        "noise_rate": None if agreement is None else 1.0 - agreement,
        "noise_interval": [1.0 - hi, 1.0 - lo],
        "interval_method": "95 % Wilson interval over the rows answered",
        "disagreements": disagreements,
    }


def audit_summary(result: Mapping[str, Any]) -> str:
    """One line: agreement and the implied noise rate, with intervals."""
    if not result.get("answered"):
        return "No row answered: nothing to estimate."
    lo, hi = result["agreement_interval"]
    n_lo, n_hi = result["noise_interval"]
    return (
        f"You agreed with {result['agreed']} of {result['answered']} given labels "
        f"({result['agreement']:.0%}, 95 % {lo:.0%}–{hi:.0%}): estimated label noise "
        f"{result['noise_rate']:.0%} (95 % {n_lo:.0%}–{n_hi:.0%})"
    )


def save_audit(runs_dir: Path, sha256: str, data_path: str, result: Mapping[str, Any]) -> Path:
    """Append ``result`` (stamped with the time) to the file's audits; returns the path.
    An unreadable audits file is started afresh rather than blocking the save."""
    path = Path(runs_dir) / AUDIT_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = {}
    if not isinstance(document, dict) or not isinstance(document.get("files"), dict):
        document = {"version": 1, "files": {}}
    entry = document["files"].setdefault(sha256, {"path": data_path, "audits": []})
    if not isinstance(entry, dict) or not isinstance(entry.get("audits"), list):
        entry = document["files"][sha256] = {"path": data_path, "audits": []}
    entry["audits"].append({"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **result})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(document, indent=1) + "\n").encode("utf-8"))
    return path
