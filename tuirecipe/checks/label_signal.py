"""Check: the labels carry a signal the text predicts — and not a suspiciously perfect one.

The simple baseline (TF-IDF + linear models, :mod:`tuirecipe.checks.baseline`) is scored on
dev against two references on the same dev rows: the majority class (the training mean for
regression) and the same baseline fit on shuffled training labels. The gain is judged
paired, row by row, with a 95 % interval. When the baseline shows no gain, the network is
given a chance too (short runs with the real and with shuffled labels) before the verdict
"labels look unrelated to the text" (shuffled or shifted labels, a wrong label column).

A near-perfect baseline warns (a label leaked into the text), and so do dev texts that
also occur in training when they are half of dev or more, or visibly inflate the score
(the baseline's accuracy without them is lower by more than its interval's half-width).

"Near-perfect" is an error count with a binomial bound, not a dev accuracy: see
:func:`tuirecipe.checks.baseline.near_perfect`, which simple_baseline uses too.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tuirecipe.checks.base import Check, Outcome, register
from tuirecipe.checks.baseline import near_perfect

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext

Z = 1.96
# Share of dev rows found in train that always warns; below it, shared rows warn only when
# removing them lowers the baseline's dev accuracy by more than its interval's half-width
# (otherwise the count is given in the passing line). A random split of a file with exact
# duplicates always shares a few texts; what matters is whether they inflate the score.
OVERLAP_SHARE_WARN = 0.5


def paired_gain(better: Any, worse: Any) -> tuple[float, float]:
    """Mean of ``better - worse`` (per-row scores, higher is better) and the lower end of
    its 95 % interval."""
    import numpy as np

    d = np.asarray(better, dtype=np.float64) - np.asarray(worse, dtype=np.float64)
    n = len(d)
    if n == 0:
        return 0.0, -math.inf
    mean = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return mean, mean - Z * se


def balanced_weights(y: Any) -> Any:
    """Per-row weights whose weighted mean of correctness is the balanced accuracy (the
    mean recall over the classes present), so a gain on a rare class counts as much as on
    a common one and the majority class scores 1/C, however imbalanced the labels."""
    import numpy as np

    y = np.asarray(y)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    return len(y) / (len(classes) * counts[inverse].astype(np.float64))


def normalised(text: str) -> str:
    return " ".join(str(text).lower().split())


def shuffled(split: Any, seed: int) -> Any:
    """A copy of ``split`` with its targets permuted (seeded)."""
    import copy
    import dataclasses

    import numpy as np

    targets = np.asarray(split.targets)
    targets = targets[np.random.default_rng(seed).permutation(len(targets))]
    if dataclasses.is_dataclass(split) and not isinstance(split, type):
        return dataclasses.replace(split, targets=targets)
    out = copy.copy(split)
    out.targets = targets
    return out


@register
class LabelSignal(Check):
    name = "label_signal"
    title = "Labels carry signal (and no leak)"
    stage = "skeleton"
    kind = "auto"
    order = 92
    description = (
        "Compares the simple baseline on dev with the majority class and with the same "
        "baseline trained on shuffled labels (and, when the baseline sees nothing, the "
        "network trained both ways). No gain means the labels look unrelated to the "
        "text (shuffled or shifted rows, the wrong column). A near-perfect baseline or "
        "dev texts that also appear in training suggest a leak."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        import numpy as np

        from tuirecipe.checks.baseline import classification_baseline, regression_baseline

        data = ctx.data
        train, dev = data.train, data.dev
        if len(train.texts) < 2 or len(dev.texts) == 0:
            return Outcome(
                "error",
                f"cannot compare: {len(train.texts)} training and {len(dev.texts)} dev examples",
                advice="the check needs both a training and a dev split",
            )
        classify = data.task == "classification"
        seed = int(ctx.config.seed)
        fake = shuffled(train, seed)
        dev_y = np.asarray(dev.targets)
        ctx.progress(0.1, "baseline on the real labels")
        try:
            if classify:
                real = classification_baseline(
                    list(train.texts), train.targets, list(dev.texts), dev.targets
                )
                ctx.progress(0.4, "baseline on shuffled labels")
                ctrl = classification_baseline(
                    list(train.texts), fake.targets, list(dev.texts), dev.targets
                )
            else:
                real = regression_baseline(
                    list(train.texts), train.targets, list(dev.texts), dev.targets
                )
                ctx.progress(0.4, "baseline on shuffled labels")
                ctrl = regression_baseline(
                    list(train.texts), fake.targets, list(dev.texts), dev.targets
                )
        except ValueError as exc:
            return Outcome(
                "error",
                f"the baseline cannot run: {exc}",
                advice="check that the text column has words and the training split "
                "more than one class",
            )
        if classify:
            best = max(real["models"], key=lambda k: real["models"][k]["acc"])
            score = (real["models"][best]["pred"] == dev_y).astype(float)
            majority = (dev_y == real["majority_class"]).astype(float)
            shuf = max(
                ((m["pred"] == dev_y).astype(float) for m in ctrl["models"].values()),
                key=lambda s: s.mean(),
            )
            unit = "acc"
        else:
            best = "ridge"
            score = -np.abs(real["pred"] - dev_y)
            majority = -np.abs(dev_y - real["train_mean"])
            shuf = -np.abs(ctrl["pred"] - dev_y)
            unit = "MAE"
        # Judged on balanced accuracy (classification): on imbalanced labels a real
        # signal may not beat the majority class's plain accuracy.
        weight = balanced_weights(dev_y) if classify else np.ones(len(dev_y))
        gain_maj, low_maj = paired_gain(weight * score, weight * majority)
        gain_shuf, low_shuf = paired_gain(weight * score, weight * shuf)
        value = float(score.mean()) if classify else float(-score.mean())
        numbers: dict[str, Any] = {
            f"baseline_{unit.lower()}": value,
            f"majority_{unit.lower()}": float(majority.mean())
            if classify
            else float(-majority.mean()),
            f"shuffled_{unit.lower()}": float(shuf.mean()) if classify else float(-shuf.mean()),
            **(
                {
                    "baseline_balanced_acc": float(np.mean(weight * score)),
                    "shuffled_balanced_acc": float(np.mean(weight * shuf)),
                }
                if classify
                else {}
            ),
            "gain_over_majority": gain_maj,
            "gain_over_majority_low": low_maj,
            "gain_over_shuffled": gain_shuf,
            "gain_over_shuffled_low": low_shuf,
            "n_dev": len(dev_y),
            "baseline_model": best,
        }
        reference = "majority class" if classify else "the training mean"
        evidence: dict[str, Any] = {
            "note": f"gains are paired over the same {len(dev_y)} dev rows, with the lower "
            "end of their 95 % interval, in balanced accuracy (classification: the mean "
            "recall over classes) or absolute error; the shuffled control is the baseline "
            "fit on randomly permuted training labels",
        }
        signal = low_maj > 0 and low_shuf > 0
        net: dict[str, Any] = {}
        if not signal and not ctx.cancelled():
            net = self._network(ctx, fake, majority, weight)
            numbers.update({f"network_{k}": v for k, v in net.items() if k != "rows"})
        net_signal = bool(net) and net["gain_low"] > 0
        fmt = ".3f" if classify else ".4g"
        line = (
            f"baseline dev {unit} {value:{fmt}} vs {reference} "
            f"{numbers[f'majority_{unit.lower()}']:{fmt}} and shuffled labels "
            f"{numbers[f'shuffled_{unit.lower()}']:{fmt}}"
        )
        if not signal and not net_signal:
            net_line = (
                f"; network {net['real']:{fmt}} vs {net['shuffled']:{fmt}} on shuffled labels"
                if net
                else ""
            )
            return Outcome(
                "fail",
                f"labels look unrelated to the text: {line}{net_line}",
                numbers=numbers,
                evidence=evidence,
                advice="neither the baseline nor the network predicts the labels better "
                "than the majority class or than labels shuffled at random. Look at rows "
                "side by side with their labels: labels shifted by a row (a header or a "
                "dropped line), shuffled during a merge, or the wrong label column",
            )
        if not signal:
            line += (
                f"; the network learns ({net['real']:{fmt}} vs {net['shuffled']:{fmt}} "
                "on shuffled labels)"
            )
        warnings = self._leaks(ctx, classify, value, score, best)
        numbers.update(warnings.pop("numbers"))
        evidence.update(warnings.pop("evidence"))
        if warnings["lines"]:
            return Outcome(
                "warn",
                "; ".join(warnings["lines"]) + f" ({line})",
                numbers=numbers,
                evidence=evidence,
                advice=" ".join(warnings["advice"]),
            )
        return Outcome("pass", line + warnings["note"], numbers=numbers, evidence=evidence)

    @staticmethod
    def _leaks(ctx: Any, classify: bool, value: float, score: Any, model: str) -> dict[str, Any]:
        """Warnings about label leakage: a near-perfect baseline, dev texts in train."""
        from tuirecipe.checks.diagnose import row_entry
        from tuirecipe.train.metrics import wilson_interval

        data = ctx.data
        train_texts = {normalised(t) for t in data.train.texts}
        shared = [i for i, t in enumerate(data.dev.texts) if normalised(t) in train_texts]
        n = len(data.dev.texts)
        lines: list[str] = []
        advice: list[str] = []
        numbers: dict[str, Any] = {"dev_rows_in_train": len(shared)}
        evidence: dict[str, Any] = {}
        note = ""
        if shared:
            evidence["rows"] = [row_entry(ctx, "dev", i) for i in shared[:20]]
            rest = [i for i in range(n) if i not in set(shared)]
            inflated = False
            if rest:
                without = float(score[rest].mean())
                numbers["baseline_without_shared_rows"] = without if classify else -without
                if classify:
                    lo, hi = wilson_interval(int(round(value * n)), n)
                    inflated = value - without > (hi - lo) / 2
            share = len(shared) / n
            if share >= OVERLAP_SHARE_WARN or inflated or not rest:
                lines.append(
                    f"{len(shared)} of {n} dev texts ({share:.0%}) also appear in the "
                    "training split"
                )
                advice.append(
                    "dev rows that are also training rows make the dev score a memory test: "
                    "de-duplicate before splitting, or check that the dev file is not the "
                    "training file."
                )
            else:
                note = (
                    f"; {len(shared)} dev texts also in train, without them "
                    f"{numbers['baseline_without_shared_rows']:.3f}"
                )
        easy = None
        if classify:
            easy = near_perfect(ctx, int(round(float(score.sum()))), len(score), model)
            numbers.update(easy or {})
        if easy and easy["near_perfect"]:
            lines.append(
                f"suspiciously easy: the baseline errs on {numbers['out_of_fold_errors']} of "
                f"{numbers['out_of_fold_rows']} rows scored out of fold (error rate under "
                f"{numbers['out_of_fold_error_upper']:.2%} at 95 %; dev acc "
                f"{value:.3f})"
            )
            advice.append(
                "a linear model on word counts almost never makes a mistake: look for label "
                "leakage — the label or an ID that encodes it written into the text, a "
                "template per class, or the dev set copied from training."
            )
        return {
            "lines": lines,
            "advice": advice,
            "numbers": numbers,
            "evidence": evidence,
            "note": note,
        }

    @staticmethod
    def _network(ctx: Any, fake: Any, reference: Any, weight: Any) -> dict[str, Any]:
        """Dev scores of the network after a short run on the real and on shuffled labels;
        its gain must clear both the shuffled run and ``reference`` (the majority class or
        the training mean, per dev row): two runs from the same initialisation differ a
        little, and consistently, even when neither learns anything."""
        import numpy as np

        from tuirecipe.train.batches import SplitTensors, predict

        data = ctx.data
        dev = SplitTensors.from_split(data.dev, data.task, ctx.device, int(data.vocab.pad_id))
        y = dev.targets.cpu()
        scores = {}
        for part, (key, split) in enumerate((("real", None), ("shuffled", fake))):
            ctx.progress(0.5 + 0.25 * part, f"network on {key} labels")
            run = ctx.short_train(ctx.fresh_model(), train_split=split, evaluate_dev=False)
            out = predict(run.model, dev, batch_size=256)
            if data.task == "classification":
                scores[key] = (out.argmax(1) == y).double().numpy()
            else:
                scores[key] = -(out.reshape(-1) - y).abs().double().numpy()
        gain, low = paired_gain(weight * scores["real"], weight * scores["shuffled"])
        gain_ref, low_ref = paired_gain(weight * scores["real"], weight * reference)
        sign = 1.0 if data.task == "classification" else -1.0
        return {
            "real": sign * float(np.mean(scores["real"])),
            "shuffled": sign * float(np.mean(scores["shuffled"])),
            "gain": gain,
            "gain_over_reference": gain_ref,
            "gain_low": min(low, low_ref),
            "steps": int(ctx.config.checks.steps),
        }
