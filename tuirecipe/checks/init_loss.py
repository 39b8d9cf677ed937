"""Check: the loss at initialisation is what a near-constant predictor would get.

An untrained model's outputs are small but not zero: a random head adds a shared offset
(ReLU features are positive) that favours some class, and which class is a draw of the
initialisation and of the vocabulary (so of the split). Against a skewed prior that draw
alone moves the loss to either side of log C: on sms_spam (87 % one class) the default
TextCNN measured 0.81-1.59× log 2 over seeds 0-5, warning at three of them. So a
classification loss is judged too high only when it is high both as measured and on
average over the classes (the loss the same outputs get whichever class their offset
favours: the cross-entropy against uniform labels, log C plus about half the logits'
variance): the first says the labels pay for it, the second that it is more than the
direction of a small offset (1.03-1.17× log 2 on those six draws).
"""

from __future__ import annotations

import math
from typing import Any

from tuirecipe.checks.base import Check, Outcome, register

BIAS_MATCH = 0.05  # the output bias counts as "set from the prior" within this (logits)
# Centred-logit RMS at or above which the initial outputs count as overconfident. Below
# it, a loss well above log C (as measured and averaged over the classes, see above) comes
# from a shared offset too large for an untrained head: a warning, not a failure.
CONFIDENT_SCALE = 1.0
# Regression: initial outputs this large relative to the targets' RMS are not "near zero".
LARGE_OUTPUT = 0.5


def bias_state(model: Any, data: Any) -> str:
    """``"prior"`` / ``"mean"`` when the output bias already encodes the class prior / the
    target mean, else ``"uniform"`` / ``"zero"``, or ``"unknown"`` without an output layer."""
    from tuirecipe.models import output_layer

    if data.task == "classification":
        counts = [float(c) for c in data.class_counts]
        layer = output_layer(model, len(counts))
        if layer is None or not counts:
            return "unknown"
        total = sum(counts)
        log_prior = [math.log(max(c, 0.5) / total) for c in counts]
        if max(log_prior) - min(log_prior) < BIAS_MATCH:
            return "uniform"  # a uniform prior: both expectations are log C
        biases: list[float] = layer.bias.detach().float().cpu().tolist()
        mb, mp = sum(biases) / len(biases), sum(log_prior) / len(log_prior)
        # softmax ignores a shared offset, so compare the centred vectors
        off = max(abs((b - mb) - (p - mp)) for b, p in zip(biases, log_prior))
        return "prior" if off < BIAS_MATCH else "uniform"
    layer = output_layer(model, 1)
    if layer is None:
        return "unknown"
    bias = float(layer.bias.detach().float().cpu().reshape(-1)[0])
    scale = max(float(data.target_std), 1e-6)
    return "mean" if abs(bias - float(data.target_mean)) < BIAS_MATCH * scale else "zero"


@register
class InitLoss(Check):
    name = "init_loss"
    title = "Loss at initialisation"
    stage = "skeleton"
    kind = "auto"
    order = 20
    description = (
        "Measures the loss of the untrained model (eval mode) and compares it with "
        "the closed form for a model that knows nothing yet: log(C) with equal "
        "logits, the prior's entropy when the output bias is set from the class "
        "counts, the target variance for regression. A much higher loss means an "
        "overconfident initialisation that wastes the first steps."
    )

    def run(self, ctx: Any) -> Outcome:
        import torch

        from tuirecipe.checks.torchutil import (
            expected_init_losses,
            loss_of,
            output_scale,
            sample_outputs,
        )

        data, tol = ctx.data, float(ctx.config.checks.init_loss_tolerance)
        model = ctx.fresh_model()
        out, targets = sample_outputs(ctx, model)
        measured = loss_of(out, targets, data.task)
        expected = expected_init_losses(data)
        state = bias_state(model, data)
        classify = data.task == "classification"
        if classify:
            which = "prior" if state == "prior" else "uniform"
            label = {
                "uniform": f"log({len(data.class_counts)}) (equal logits)",
                "prior": "prior entropy (bias = log prior)",
            }[which]
            both = f"uniform {expected['uniform']:.4f}, with prior bias {expected['prior']:.4f}"
        else:
            which = "mean" if state == "mean" else "zero"
            label = {"zero": "mean(y²) (output 0)", "mean": "var(y) (output at the mean)"}[which]
            both = f"output 0: {expected['zero']:.4g}, output at mean: {expected['mean']:.4g}"
        target = expected[which]
        ratio = measured / target if target > 0 else math.inf
        judged, averaged = measured, None
        if classify and which == "uniform":
            # the same outputs scored whichever class their shared offset favours
            averaged = float(-torch.log_softmax(out.float(), 1).mean())
            if math.isfinite(averaged):
                judged = min(measured, averaged)
        judged_ratio = judged / target if target > 0 else math.inf
        numbers: dict[str, Any] = {
            "init_loss": measured,
            "expected": target,
            "expected_kind": which,
            "ratio": ratio,
            "judged_ratio": judged_ratio,
            "tolerance": tol,
            "output_bias": state,
            "output_scale": output_scale(out, data.task),
            "examples": int(len(targets)),
        }
        numbers.update({f"expected_{k}": v for k, v in expected.items()})
        if averaged is not None:
            numbers["init_loss_class_averaged"] = averaged
        evidence = {
            "expectations": expected,
            "used": which,
            "used_means": label,
            "examples_measured": int(len(targets)),
            "mode": "eval (no dropout)",
            "first_outputs": [
                [round(float(v), 4) for v in row] for row in out[:5].reshape(min(5, len(out)), -1)
            ],
        }
        summary = f"init loss {measured:.4f} vs expected {target:.4f} [{label}]; {both}"
        if averaged is not None and ratio > 1 + tol >= judged_ratio:
            summary += (
                f"; {averaged:.4f} averaged over the classes: the excess is which class "
                "a small random offset favours, not the outputs' size"
            )
        floor = min(expected.values())  # no constant predictor does better than this
        if not math.isfinite(measured) or judged_ratio > 1 + tol:
            summary += f" — {ratio:.2f}× too high" if math.isfinite(ratio) else ""
            if classify:
                large = numbers["output_scale"] >= CONFIDENT_SCALE
            else:
                rms = float(out.float().pow(2).mean().sqrt())
                large = rms >= LARGE_OUTPUT * math.sqrt(max(expected["zero"], 1e-12))
            if large or judged_ratio > 2 * (1 + tol) or not math.isfinite(measured):
                return Outcome(
                    "fail",
                    summary,
                    numbers,
                    evidence,
                    advice="the untrained model is confidently wrong: scale down the output "
                    "layer's initial weights (or the activations feeding it) so the "
                    "initial outputs are near zero",
                )
            return Outcome(
                "warn",
                summary + " (outputs small: a shared offset, not overconfidence)",
                numbers,
                evidence,
                advice="the initial outputs are small but share an offset (ReLU features "
                "are positive) that the targets punish; set the output bias to the "
                "log prior / target mean (see the initialisation check)",
            )
        if measured < floor * (1 - tol):
            return Outcome(
                "warn",
                summary + f" — below every constant predictor ({floor:.4f})",
                numbers,
                evidence,
                advice="an untrained model should not beat a constant predictor: look for "
                "the label leaking into the inputs",
            )
        return Outcome("pass", summary, numbers, evidence)
