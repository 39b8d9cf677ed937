"""The built-in demo datasets, generated from word lists (no downloads), byte-identical.

``classification``: ~6,000 support tickets in 7 classes with a long tail (billing has 40×
the rows of security). Each ticket mixes class words with shared filler and a little
vocabulary from other classes, so a TextCNN learns it well above the majority baseline
without reaching 100 %. Like real data it is dirty: ~2 % exact duplicates, 20 texts with
contradictory labels, and a handful of corrupted rows (empty and whitespace-only text,
missing labels, mojibake, control characters, HTML entities, one very long row).

``regression``: ~4,000 product reviews with a float ``label`` (a 1–5 rating) that rises
with positive words and falls with negative ones, plus noise; a few rows are corrupted.

Only :mod:`random` (stable across Python versions for a seed) drives the generator.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import tempfile
from functools import lru_cache
from pathlib import Path

import pandas as pd

from tuirecipe.fileio import atomic_write_bytes

TASKS = ("classification", "regression")

_CLASS_SIZES = {
    "billing": 2000,
    "shipping": 1400,
    "technical": 1000,
    "account": 700,
    "returns": 450,
    "feedback": 250,
    "security": 50,
}
_CLASS_WORDS = {
    "billing": "invoice charged charge twice payment card bill billing overcharged fee "
    "subscription receipt vat tax refund-pending debit prorated pricing plan "
    "renewal statement",
    "shipping": "delivery shipped shipping package parcel courier tracking arrived late "
    "delayed address warehouse dispatch box postage carrier eta transit "
    "doorstep",
    "technical": "error crash crashes app bug loading screen freezes update install "
    "browser timeout server sync broken blank glitch version reboot api",
    "account": "login password username email profile reset verify verification "
    "locked sign signup settings account-name nickname deactivate two-factor "
    "recovery",
    "returns": "return returning exchange wrong size damaged defective label "
    "return-label swap replacement unopened restocking faulty torn",
    "feedback": "love great suggestion feature idea awesome improve wish recommend "
    "compliments design thanks-team delighted",
    "security": "hacked phishing suspicious fraud scam unauthorized breach stolen "
    "compromised malware",
}
_FILLER = (
    "i my the a an was is and it to for on in of with this that we you me "
    "please hi hello thanks help need can could would still again today "
    "yesterday order account support team just not no yes really very some "
    "week since when how why what there have has had get got".split()
)
_POSITIVE = (
    "great excellent love perfect amazing happy good sturdy reliable fast "
    "comfortable beautiful recommend works flawless"
).split()
_NEGATIVE = (
    "broken terrible awful poor disappointed cheap slow useless flimsy worst "
    "leaking returned noisy faulty waste"
).split()
_NEUTRAL = (
    "the it this product item bought arrived box color size use used using for "
    "with my a and was is after days weeks price battery cable"
).split()
_PUNCT = [".", ",", "!", "?"]


def _length(rng: random.Random, median: float, low: int, high: int) -> int:
    return max(low, min(high, int(rng.lognormvariate(math.log(median), 0.75))))


def _sentence(tokens: list[str], rng: random.Random) -> str:
    out: list[str] = []
    for i, token in enumerate(tokens):
        out.append(token)
        if i < len(tokens) - 1 and rng.random() < 0.08:
            out[-1] += rng.choice(_PUNCT[:2])
    text = " ".join(out) + rng.choice(["", ".", "!", "?", " ..."])
    return text[0].upper() + text[1:] if rng.random() < 0.6 else text


def _ticket(label: str, rng: random.Random, vocab: dict[str, list[str]]) -> str:
    others = [c for c in vocab if c != label]
    tokens = []
    for _ in range(_length(rng, 14, 3, 200)):
        r = rng.random()
        if r < 0.28:
            tokens.append(rng.choice(vocab[label]))
        elif r < 0.33:  # vocabulary of another class: keeps the task from being trivial
            tokens.append(rng.choice(vocab[rng.choice(others)]))
        else:
            tokens.append(rng.choice(_FILLER))
    return _sentence(tokens, rng)


def _classification_rows(rng: random.Random) -> list[tuple[str, str | None]]:
    vocab = {c: words.split() for c, words in _CLASS_WORDS.items()}
    seen: set[str] = set()
    rows: list[tuple[str, str | None]] = []
    for label, size in _CLASS_SIZES.items():
        made = 0
        while made < size:  # unique texts, so duplicates and conflicts are exactly planted
            text = _ticket(label, rng, vocab)
            if text.lower() not in seen:
                seen.add(text.lower())
                rows.append((text, label))
                made += 1
    base = list(rows)
    rows += [rng.choice(base) for _ in range(120)]  # exact duplicates (~2 %)
    for text, planted in rng.sample(base, 20):  # the same text under a different label
        rows.append((text, rng.choice([c for c in _CLASS_SIZES if c != planted])))
    corrupted: list[tuple[str, str | None]] = [
        ("", "billing"),
        ("   ", "shipping"),
        ("my package never arrived and nobody answers", None),
        ("password reset email never comes", ""),
        ("the rÃ©sumÃ© upload page shows an error cafÃ© wifi", "technical"),
        ("I was charged twice â€” please refund", "billing"),
        ("app crashes on start \x1b[31mERROR\x1b[0m\x07 again", "technical"),
        ("tab\tand\x08backspace in my address field", "shipping"),
        ("return label &amp; exchange form don&#39;t work &lt;3", "returns"),
        (" ".join(rng.choice(_FILLER + vocab["feedback"]) for _ in range(5000)), "feedback"),
    ]
    rows += corrupted
    rng.shuffle(rows)
    return rows


def _regression_rows(rng: random.Random) -> list[tuple[str, str | None]]:
    rows: list[tuple[str, str | None]] = []
    for _ in range(4000):
        mood = rng.uniform(-1.0, 1.0)
        tokens, score = [], 0
        for _ in range(_length(rng, 12, 3, 120)):
            r = rng.random()
            if r < 0.12 * (1 + mood):
                tokens.append(rng.choice(_POSITIVE))
                score += 1
            elif r < 0.24:
                tokens.append(rng.choice(_NEGATIVE))
                score -= 1
            else:
                tokens.append(rng.choice(_NEUTRAL + _FILLER))
        rating = 3 + 2 * math.tanh(score / 3) + rng.gauss(0.0, 0.3)
        rows.append((_sentence(tokens, rng), f"{min(5.0, max(1.0, rating)):.2f}"))
    rows += [rng.choice(rows) for _ in range(40)]
    rows += [
        ("", "3.00"),
        ("battery died after two days", "n/a"),
        ("great cable, works fine", None),
        ("ok product\x07 &amp; fast", "3.50"),
    ]
    rng.shuffle(rows)
    return rows


def demo_frame(task: str = "classification", seed: int = 1234) -> pd.DataFrame:
    """The demo rows as written to the CSV: ``text`` and ``label`` strings (None = missing)."""
    if task not in TASKS:
        raise ValueError(f"unknown demo task {task!r}; use one of {', '.join(TASKS)}")
    rng = random.Random(seed)
    rows = _classification_rows(rng) if task == "classification" else _regression_rows(rng)
    return pd.DataFrame(
        {"text": [t for t, _ in rows], "label": [lab or None for _, lab in rows]}, dtype=object
    )


@lru_cache(maxsize=4)
def demo_csv_bytes(task: str = "classification", seed: int = 1234) -> bytes:
    """The demo CSV file's bytes (header ``text,label``; UTF-8; LF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    frame = demo_frame(task, seed)
    for text, label in zip(frame["text"], frame["label"]):
        writer.writerow([text, "" if label is None else label])
    return buffer.getvalue().encode("utf-8")


def default_cache_dir() -> Path:
    """``$TUIRECIPE_CACHE/demo`` when set, else ``~/.cache/tuirecipe/demo``."""
    root = os.environ.get("TUIRECIPE_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "tuirecipe"
    return base / "demo"


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def ensure_demo_file(task: str, directory: Path | None = None) -> Path:
    """Write ``demo_<task>.csv`` into ``directory`` (default: the cache) and return its path.

    The bytes are always the same; an existing file is rewritten only when it differs.
    Without ``directory`` and with an unwritable cache, the system temp folder is used.
    """
    data = demo_csv_bytes(task)
    name = f"demo_{task}.csv"
    if directory is not None:
        path = Path(directory) / name
        _write_if_changed(path, data)
        return path
    path = default_cache_dir() / name
    try:
        _write_if_changed(path, data)
    except OSError:
        path = Path(tempfile.gettempdir()) / f"tuirecipe-{os.getuid()}" / "demo" / name
        _write_if_changed(path, data)
    return path
