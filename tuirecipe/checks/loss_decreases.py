"""Check 11, the loss decreases: a short run of the real training config learns something.

``checks.steps`` steps with the configured model, optimizer, learning rate and batches:
the mean training loss over the last 20 % of the steps must be at least
``checks.loss_decrease_min`` (relative) below the mean over the first 20 %. The dev metric
after the run is reported with its 95 % interval and the dev size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tuirecipe.checks.base import Check, Outcome, register

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext

WINDOW = 0.2  # share of the steps averaged at each end


def relative_drop(losses: list[float], window: float = WINDOW) -> tuple[float, float, float]:
    """``(first, last, drop)``: mean loss of the first and last ``window`` of the steps and
    ``(first - last) / first``."""
    k = max(1, round(len(losses) * window))
    first = sum(losses[:k]) / k
    last = sum(losses[-k:]) / k
    drop = (first - last) / abs(first) if first else 0.0
    return first, last, drop


@register
class LossDecreases(Check):
    name = "loss_decreases"
    title = "Training loss goes down"
    stage = "skeleton"
    kind = "auto"
    order = 110
    description = (
        "A short run of the real training config (checks.steps steps): the training loss "
        "over the last fifth must be clearly below the first fifth "
        "(checks.loss_decrease_min). The dev metric is shown with a 95 % interval and the "
        "dev size, so a difference between runs can be told from noise."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        cfg = ctx.config
        need = cfg.checks.loss_decrease_min
        steps = int(cfg.checks.steps)
        model = ctx.fresh_model()
        if not any(p.requires_grad for p in model.parameters()):
            return Outcome(
                "fail",
                "no trainable parameters: the loss cannot decrease",
                numbers={"trainable": 0},
                advice="every parameter has requires_grad=False; unfreeze them",
            )
        run = ctx.short_train(model, steps=steps)
        losses = run.losses
        if len(losses) < 2:
            return Outcome(
                "error",
                f"the short run made {len(losses)} step(s)",
                numbers={"steps": len(losses)},
                advice="the training split is empty or the run was stopped",
            )
        first, last, drop = relative_drop(losses)
        dev = run.dev
        metric = "acc" if ctx.data.task == "classification" else "mae"
        value = dev.get(metric)
        ci = dev.get("ci", {}).get(metric)
        dev_text = (
            f"dev {metric} {value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] (n={dev.get('n')})"
            if value is not None and ci
            else "no dev split"
        )
        numbers = {
            "steps": len(losses),
            "first_loss": first,
            "last_loss": last,
            "relative_drop": drop,
            "required_drop": need,
            "lr": cfg.train.lr,
            "dev_metric": metric,
            "dev_value": value,
            "dev_ci": ci,
            "dev_n": dev.get("n", 0),
            "dev_loss": dev.get("loss"),
        }
        evidence = {"losses": losses, "window": max(1, round(len(losses) * WINDOW)), "dev": dev}
        summary = (
            f"train loss {first:.3g} → {last:.3g} ({-drop:+.0%}) over {len(losses)} "
            f"steps at lr {cfg.train.lr:.2g}; {dev_text}"
        )
        if not math.isfinite(last) or not math.isfinite(first):
            return Outcome(
                "fail",
                summary,
                numbers=numbers,
                evidence=evidence,
                advice="the loss is not finite: look for log(0), division by "
                "zero, or a learning rate far too high",
            )
        if drop < need:
            return Outcome(
                "fail",
                summary + f"; needs at least −{need:.0%}",
                numbers=numbers,
                evidence=evidence,
                advice="the loss does not fall: a learning rate far too low (or too high: "
                "see lr_range), frozen or disconnected parameters (gradient_flow), "
                "labels shuffled against the inputs, or checks.steps too few to see it",
            )
        return Outcome("pass", summary, numbers=numbers, evidence=evidence)
