"""Check: the model learns more from the real inputs than from zeroed ones."""

from __future__ import annotations

from typing import Any

from tuirecipe.checks.base import Check, Outcome, register


def _metric(dev: dict[str, Any], classify: bool) -> float:
    return float(dev["acc"] if classify else dev["mse"])


@register
class InputIndependent(Check):
    name = "input_independent"
    title = "Input-independent baseline"
    stage = "skeleton"
    kind = "auto"
    order = 40
    description = (
        "Trains the same model twice for a short while: once on the real inputs "
        "and once with the embedding output set to zero, so it can only learn the "
        "label distribution. The real inputs must do clearly better, or the model "
        "is not using its input."
    )

    def run(self, ctx: Any) -> Outcome:
        from tuirecipe.checks.torchutil import zeroed_output

        cfg, data = ctx.config.checks, ctx.data
        classify = data.task == "classification"
        margin = float(cfg.input_independent_margin)
        steps = int(cfg.steps)

        ctx.progress(0.0, "real inputs")
        real = ctx.short_train(ctx.fresh_model(), steps=steps)
        if ctx.cancelled():
            return Outcome("error", "cancelled")
        ctx.progress(0.5, "zeroed inputs")
        model = ctx.fresh_model()
        with zeroed_output(ctx.embedding_module(model)):
            zeroed = ctx.short_train(model, steps=steps)
        if not real.dev or not zeroed.dev or real.dev.get("n", 0) == 0:
            return Outcome(
                "error",
                "no dev examples to compare on",
                advice="set data.dev_fraction or data.dev_path",
            )
        m_real, m_zero = _metric(real.dev, classify), _metric(zeroed.dev, classify)
        l_real, l_zero = float(real.dev["loss"]), float(zeroed.dev["loss"])
        loss_gain = (l_zero - l_real) / l_zero if l_zero > 0 else 0.0
        if classify:
            # accuracy barely moves on a skewed label set in a short run; the dev loss does
            acc_gain = m_real - m_zero
            gain = max(acc_gain, loss_gain)
            what = (
                f"dev accuracy {m_real:.3f} vs {m_zero:.3f} zeroed ({acc_gain:+.3f}), "
                f"dev loss {l_real:.4f} vs {l_zero:.4f} ({loss_gain:.1%} lower)"
            )
        else:
            acc_gain = None
            gain = loss_gain
            what = f"dev MSE {m_real:.4g} vs {m_zero:.4g} zeroed ({loss_gain:.1%} lower)"
        numbers = {
            "metric": "acc" if classify else "mse",
            "real": m_real,
            "zeroed": m_zero,
            "gain": gain,
            "accuracy_gain": acc_gain,
            "loss_reduction": loss_gain,
            "margin": margin,
            "steps": steps,
            "real_dev_loss": l_real,
            "zeroed_dev_loss": l_zero,
        }
        evidence = {
            "real": {"losses": real.losses, "dev": real.dev},
            "zeroed": {"losses": zeroed.losses, "dev": zeroed.dev},
            "how": "forward hook on the embedding module returning zeros",
            "gain_means": (
                "the larger of the accuracy difference and the relative dev-loss reduction"
                if classify
                else "relative dev-MSE reduction"
            ),
        }
        summary = f"{what} after {steps} steps (margin {margin:g})"
        if gain >= margin:
            return Outcome("pass", summary, numbers, evidence)
        advice = (
            "the model does not seem to use its input: check that forward reads "
            "input_ids through the embedding, that the inputs are not all padding, "
            "and that the labels are aligned with the texts; if it learns slowly, "
            "raise checks.steps or the learning rate"
        )
        if gain >= margin / 2:
            return Outcome("warn", summary + " — only just", numbers, evidence, advice)
        return Outcome("fail", summary, numbers, evidence, advice)
