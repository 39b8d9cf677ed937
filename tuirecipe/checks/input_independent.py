"""Check: the model learns more from the real inputs than a model that cannot read them.

Two references, both with every input signal removed: a control, the same model trained
on a constant input (every row the same token ids, the same mask, the same length, so no
word, length or position tells one row from another), and the prior-entropy floor, the
closed-form loss of predicting the training label frequencies. The real model's dev loss
must be below the lower of the two by more than its 95 % interval (paired over the dev
rows) and by ``checks.input_independent_margin`` (relative).

The real run is ``loss_decreases``'s (rounds of ``checks.steps`` until the verdict is
certain; measured once per job); the control trains for the same rounds on the same
batch order.
"""

from __future__ import annotations

from typing import Any

from tuirecipe.checks.base import Check, Outcome, register


@register
class InputIndependent(Check):
    name = "input_independent"
    title = "Input-independent baseline"
    stage = "skeleton"
    kind = "auto"
    order = 40
    description = (
        "Trains the model on the real inputs, and a control on a constant input (the same "
        "token ids, mask and length for every row: it can learn the label frequencies and "
        "nothing else). The real model's dev loss must beat the control and the "
        "prior-entropy floor by more than noise explains, or it is not using its input "
        "(or the labels do not depend on the text)."
    )

    def run(self, ctx: Any) -> Outcome:
        from tuirecipe.checks.loss_decreases import gap_text, run_against_floor
        from tuirecipe.checks.torchutil import (
            constant_input_split,
            floor_losses,
            paired_gap,
            split_losses,
            train_in_rounds,
        )

        cfg, data = ctx.config.checks, ctx.data
        classify = data.task == "classification"
        margin = float(cfg.input_independent_margin)
        if len(data.dev.targets) < 2 or len(data.train.targets) == 0:
            return Outcome(
                "error",
                "no dev examples to compare on",
                advice="set data.dev_fraction or data.dev_path",
            )
        ctx.progress(0.0, "real inputs")
        real = run_against_floor(ctx)
        if ctx.cancelled():
            return Outcome("error", "cancelled")
        ctx.progress(0.5, "constant input")
        model = ctx.fresh_model()
        control_losses, _ = train_in_rounds(
            ctx,
            model,
            real["rounds"],
            train_split=constant_input_split(data.train, data.train),
        )
        control = split_losses(ctx, model, constant_input_split(data.dev, data.train))
        floor = floor_losses(data, data.dev)
        use_control = float(control.mean()) < float(floor.mean())
        reference = control if use_control else floor
        ref_name = "the constant-input control" if use_control else "the prior-entropy floor"
        gap = paired_gap(real["dev_losses"], reference)
        l_real, l_control, l_floor = gap["loss"], float(control.mean()), float(floor.mean())
        gain = (gap["reference"] - l_real) / gap["reference"] if gap["reference"] > 0 else 0.0
        steps = len(real["losses"])
        what = "dev loss" if classify else "dev MSE"
        numbers = {
            "metric": "loss" if classify else "mse",
            "real": l_real,
            "control": l_control,
            "floor": l_floor,
            "reference": ref_name,
            "gain": gain,
            "gap": gap["diff"],
            "gap_ci": [gap["lo"], gap["hi"]],
            "margin": margin,
            "steps": steps,
            "dev_n": gap["n"],
        }
        evidence = {
            "real": {"losses": real["losses"]},
            "control": {"losses": control_losses},
            "how": "control: every row's input replaced by the first training row's ids "
            "(same ids, mask and length); floor: the training label frequencies "
            "(regression: the training mean)",
            "gain_means": "relative dev-loss reduction against the lower of the control "
            "and the floor",
        }
        summary = (
            f"{what} {l_real:.4g} vs {l_control:.4g} constant input and {l_floor:.4g} "
            f"floor: {gap_text(gap)} against {ref_name} ({gain:.1%} lower, n={gap['n']}) "
            f"after {steps} steps"
        )
        if gap["hi"] < 0 and gain >= margin:
            return Outcome("pass", summary, numbers, evidence)
        advice = (
            "the model does no better than one that cannot see the text: check that "
            "forward reads input_ids through the embedding, that the inputs are not all "
            "padding, and that the labels are aligned with the texts (a shuffled or "
            "shifted label column looks exactly like this)"
        )
        if gap["hi"] < 0:
            return Outcome(
                "warn",
                summary + f" — below by less than the margin {margin:g}",
                numbers,
                evidence,
                advice + "; if it learns slowly, raise checks.steps or the learning rate",
            )
        return Outcome("fail", summary, numbers, evidence, advice)
