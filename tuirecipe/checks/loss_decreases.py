"""Check 11, the loss decreases: the real training config learns more than the label prior.

The reference is the prior-entropy floor: the dev loss of the best model that ignores its
input (the training split's class prior; for regression the training mean, whose loss is
the target variance). Learning the prior alone takes a network from log C down to this
floor in a few steps, so "the loss went down" proves nothing until it goes *below* it.

A fresh model trains ``checks.steps`` steps with the configured model, optimizer, learning
rate and batches; its per-example dev loss is compared with the floor's on the same rows
(the mean difference and its 95 % interval). While the interval still reaches the floor,
training goes on, a round of ``checks.steps`` at a time: at least ``ROUNDS`` rounds, then
up to ``MAX_ROUNDS`` while the dev loss still falls by more than noise explains. A slow
but sound model gets the time it needs; a verdict already certain, or a plateau, stops it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tuirecipe.checks.base import Check, Outcome, register

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext

WINDOW = 0.2  # share of the steps averaged at each end (the training-loss drop, reported)
ROUNDS = 4  # rounds of checks.steps training steps before a plateau ends the run
MAX_ROUNDS = 10  # … and at most, while the dev loss still falls


def relative_drop(losses: list[float], window: float = WINDOW) -> tuple[float, float, float]:
    """``(first, last, drop)``: mean loss of the first and last ``window`` of the steps and
    ``(first - last) / first``."""
    k = max(1, round(len(losses) * window))
    first = sum(losses[:k]) / k
    last = sum(losses[-k:]) / k
    drop = (first - last) / abs(first) if first else 0.0
    return first, last, drop


def run_against_floor(ctx: CheckContext) -> dict[str, Any]:
    """Train a fresh model of the config (rounds of ``checks.steps``) until its dev loss is
    below the prior-entropy floor by more than noise explains, or it stops improving.

    Shared by ``loss_decreases`` and ``input_independent`` (measured once per job):
    ``losses`` (training), ``rounds``, ``dev_losses`` (per dev row), ``floor`` (per dev
    row) and ``gap`` (:func:`~tuirecipe.checks.torchutil.paired_gap` of the two).
    """
    from tuirecipe.checks.torchutil import (
        accuracy_gap,
        beats,
        cached,
        floor_losses,
        majority_correct,
        paired_gap,
        per_example_losses,
        sample_outputs,
        train_in_rounds,
    )

    def measure() -> dict[str, Any]:
        data = ctx.data
        model = ctx.fresh_model()
        floor = floor_losses(data, data.dev)
        margin = float(ctx.config.checks.input_independent_margin)
        state: dict[str, Any] = {}

        majority = majority_correct(data, data.dev) if data.task == "classification" else None

        def judge() -> bool:
            out, targets = sample_outputs(ctx, model, data.dev)
            before = state.get("dev_losses")
            state["dev_losses"] = per_example_losses(out, targets, data.task)
            state["judged"] = state.get("judged", 0) + 1
            gap = state["gap"] = paired_gap(state["dev_losses"], floor)
            if majority is not None:
                correct = (out.argmax(1) == targets).double().numpy() if len(out) else majority
                state["correct"] = correct
                state["dev_correct"] = int(correct.sum())
                state["acc_gap"] = accuracy_gap(correct, majority)
            # certain, and by enough for input_independent's margin too
            if beats(gap, state.get("acc_gap"), margin):
                return True
            if state["judged"] < ROUNDS or before is None:
                return False
            # past ROUNDS, go on only while the dev loss still falls by more than noise
            return not paired_gap(state["dev_losses"], before)["hi"] < 0

        losses, rounds = train_in_rounds(ctx, model, MAX_ROUNDS, judge=judge)
        if "gap" not in state or not all(map(math.isfinite, losses)):
            judge()  # stopped on a non-finite loss: judge the model as it is now
        return {"losses": losses, "rounds": rounds, "floor": floor, **state}

    return cached(ctx, "run_against_floor", measure)


def gap_text(gap: dict[str, float]) -> str:
    return f"{gap['diff']:+.3g} [{gap['lo']:+.3g}, {gap['hi']:+.3g}]"


@register
class LossDecreases(Check):
    name = "loss_decreases"
    title = "Training loss goes down"
    stage = "skeleton"
    kind = "auto"
    order = 110
    description = (
        "Trains the real config and compares the dev loss with the prior-entropy floor: "
        "the loss of predicting the training label frequencies (regression: the mean), "
        "which a model reaches without reading its input. The dev loss must be below the "
        "floor by more than its 95 % interval; training goes on in rounds of checks.steps "
        f"({ROUNDS} or more, up to {MAX_ROUNDS} while the dev loss still falls) until "
        "that is certain. The dev metric is shown with its "
        "interval and the dev size."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        cfg = ctx.config
        data = ctx.data
        model = ctx.fresh_model()
        if not any(p.requires_grad for p in model.parameters()):
            return Outcome(
                "fail",
                "no trainable parameters: the loss cannot decrease",
                numbers={"trainable": 0},
                advice="every parameter has requires_grad=False; unfreeze them",
            )
        if len(data.dev.targets) < 2:
            return Outcome(
                "error",
                f"{len(data.dev.targets)} dev example(s): the dev loss cannot be compared",
                advice="set data.dev_fraction or data.dev_path",
            )
        res = run_against_floor(ctx)
        losses = res["losses"]
        if len(losses) < 2:
            return Outcome(
                "error",
                f"the short run made {len(losses)} step(s)",
                numbers={"steps": len(losses)},
                advice="the training split is empty or the run was stopped",
            )
        first, last, drop = relative_drop(losses)
        gap = res["gap"]
        classify = data.task == "classification"
        floor_name = "prior-entropy floor" if classify else "target variance (the mean)"
        numbers = {
            "steps": len(losses),
            "rounds": res["rounds"],
            "max_steps": MAX_ROUNDS * int(cfg.checks.steps),
            "first_loss": first,
            "last_loss": last,
            "relative_drop": drop,
            "lr": cfg.train.lr,
            "dev_loss": gap["loss"],
            "floor": gap["reference"],
            "gap": gap["diff"],
            "gap_ci": [gap["lo"], gap["hi"]],
            "dev_n": gap["n"],
        }
        dev_text = ""
        if classify:
            from tuirecipe.stats import wilson_interval

            correct, n = res["dev_correct"], gap["n"]
            lo, hi = wilson_interval(correct, n)
            numbers.update(dev_metric="acc", dev_value=correct / n, dev_ci=[lo, hi])
            acc_gap = res["acc_gap"]
            numbers.update(majority_acc=acc_gap["reference"], acc_gap=-acc_gap["diff"])
            numbers["acc_gap_ci"] = [-acc_gap["hi"], -acc_gap["lo"]]
            dev_text = (
                f"; dev acc {correct / n:.3f} [{lo:.3f}, {hi:.3f}] vs majority class "
                f"{acc_gap['reference']:.3f}"
            )
        evidence = {
            "losses": losses,
            "window": max(1, round(len(losses) * WINDOW)),
            "floor_means": floor_name,
            "comparison": "mean over dev rows of (model loss − floor loss), 95 % interval; "
            "passes too when dev accuracy beats the majority class by more than its "
            "paired 95 % interval",
        }
        summary = (
            f"dev loss {gap['loss']:.4g} vs {floor_name} {gap['reference']:.4g}: "
            f"{gap_text(gap)} (n={gap['n']}) after {len(losses)} steps at lr "
            f"{cfg.train.lr:.2g}; train loss {first:.3g} → {last:.3g}{dev_text}"
        )
        if not all(map(math.isfinite, losses)) or not math.isfinite(gap["loss"]):
            return Outcome(
                "fail",
                summary,
                numbers=numbers,
                evidence=evidence,
                advice="the loss is not finite: look for log(0), division by "
                "zero, or a learning rate far too high",
            )
        acc_gap = res.get("acc_gap")
        if gap["hi"] < 0 or (acc_gap is not None and acc_gap["hi"] < 0):
            # below the floor, or more accurate than the majority class (a slow learner's
            # loss can lag its accuracy), by more than noise explains
            if gap["hi"] >= 0:
                summary += " — more accurate than the majority class, the loss still lagging"
            return Outcome("pass", summary, numbers=numbers, evidence=evidence)
        advice = (
            "the model does no better than predicting the label frequencies without "
            "reading the text: labels shuffled or misaligned against the texts, an output "
            "that ignores the input, frozen or disconnected parameters (gradient_flow), "
            "or a learning rate far too low or too high (see lr_range)"
        )
        return Outcome(
            "fail",
            summary + " — not below the floor (or no more accurate than the majority class) by "
            "more than noise explains",
            numbers=numbers,
            evidence=evidence,
            advice=advice + "; if it only learns slowly, raise checks.steps",
        )
