"""Check 12, the human baseline: label a sample of dev examples yourself (no torch).

The console shows ``sample_for_human`` examples without their labels, the person answers
(or skips), ``score_human`` scores the answers against the gold labels with a Wilson
interval, and :class:`~tuirecipe.checks.store.ChecklistStore` keeps the result. How well
a person does bounds what to expect of the model and exposes noisy or ambiguous labels.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from tuirecipe.checks.base import Check, register
from tuirecipe.stats import wilson_interval as _wilson


def _as_list(values: Any) -> list[Any]:
    if hasattr(values, "tolist"):  # pandas Series / numpy array
        return list(values.tolist())
    return list(values)


def sample_for_human(
    texts: Any, labels: Any = None, n: int = 20, seed: int = 0
) -> list[tuple[int, str]]:
    """``n`` examples as ``(index, text)``, gold labels withheld, in a seeded random order.

    ``texts`` is a sequence (list, Series, array) or a DataFrame with a ``text`` column;
    rows with empty text, or a missing label when ``labels`` is given, are never drawn.
    """
    if hasattr(texts, "columns"):  # a DataFrame
        texts = texts["text"]
    texts = _as_list(texts)
    gold = _as_list(labels) if labels is not None else None
    if gold is not None and len(gold) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(gold)} labels")
    candidates = [
        i
        for i, t in enumerate(texts)
        if isinstance(t, str) and t.strip() and (gold is None or not _missing(gold[i]))
    ]
    rng = random.Random(seed)
    chosen = rng.sample(candidates, min(max(int(n), 0), len(candidates)))
    return [(i, texts[i]) for i in chosen]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def score_human(
    answers: Mapping[int, Any], gold: Mapping[int, Any] | Sequence[Any]
) -> dict[str, Any]:
    """Accuracy of ``answers`` (``{index: label, or None when skipped}``) against ``gold``
    (indexable by the same indices), with a Wilson 95 % interval over the answered ones.

    Labels are compared as strings, so ``1`` and ``"1"`` agree. Returns ``accuracy``
    (None when nothing was answered), ``ci``, ``n`` (answered), ``correct``, ``skipped``
    and ``mistakes`` (``[{"index", "answer", "gold"}]``).
    """
    correct = answered = skipped = 0
    mistakes = []
    for index, answer in answers.items():
        if _missing(answer) or answer == "":
            skipped += 1
            continue
        truth = gold[index]
        answered += 1
        if str(answer) == str(truth):
            correct += 1
        else:
            mistakes.append({"index": int(index), "answer": str(answer), "gold": str(truth)})
    lo, hi = _wilson(correct, answered)
    return {
        "accuracy": correct / answered if answered else None,
        "ci": [lo, hi],
        "n": answered,
        "correct": correct,
        "skipped": skipped,
        "mistakes": mistakes,
    }


@register
class HumanBaseline(Check):
    name = "human_baseline"
    title = "Human baseline"
    stage = "skeleton"
    kind = "interactive"
    order = 95
    description = (
        "Label a random sample of dev examples yourself, without seeing the gold labels. "
        "Your accuracy (with its interval) is a rough ceiling for the model and a test of "
        "the labels: where you disagree with the gold label, read why — ambiguous classes "
        "and label noise show up here first."
    )
