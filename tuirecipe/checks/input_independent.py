"""Check: the model learns more from the real inputs than a model that cannot read them.

Two references, both with every input signal removed: a control, the same model trained
on a constant input (every row the same token ids, the same mask, the same length, so no
word, length or position tells one row from another), and the prior-entropy floor, the
closed-form loss of predicting the training label frequencies. The real model's dev loss
must be below the lower of the two by more than its 95 % interval (paired over the dev
rows) and by ``checks.input_independent_margin`` (relative) — or, for classification, its
dev accuracy above the better of the control's and the majority class's by more than its
interval and by the margin (absolute): a slow learner's accuracy can lead its loss.

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
            accuracy_gap,
            beats,
            constant_input_split,
            floor_losses,
            majority_correct,
            paired_gap,
            per_example_losses,
            sample_outputs,
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
        out, targets = sample_outputs(ctx, model, constant_input_split(data.dev, data.train))
        control = per_example_losses(out, targets, data.task)
        floor = floor_losses(data, data.dev)
        use_control = float(control.mean()) < float(floor.mean())
        reference = control if use_control else floor
        ref_name = "the constant-input control" if use_control else "the prior-entropy floor"
        gap = paired_gap(real["dev_losses"], reference)
        l_real, l_control, l_floor = gap["loss"], float(control.mean()), float(floor.mean())
        gain = (gap["reference"] - l_real) / gap["reference"] if gap["reference"] > 0 else 0.0
        acc_gap = None
        if classify:
            control_correct = (out.argmax(1) == targets).double().numpy()
            majority = majority_correct(data, data.dev)
            best = majority if majority.mean() >= control_correct.mean() else control_correct
            acc_gap = accuracy_gap(real["correct"], best)
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
        acc_text = ""
        if acc_gap is not None:
            numbers.update(accuracy=acc_gap["loss"], reference_accuracy=acc_gap["reference"])
            numbers["accuracy_gain"] = -acc_gap["diff"]
            numbers["accuracy_gain_ci"] = [-acc_gap["hi"], -acc_gap["lo"]]
            acc_text = (
                f"; dev accuracy {acc_gap['loss']:.3f} vs {acc_gap['reference']:.3f} "
                f"without the input ({-acc_gap['diff']:+.3f} [{-acc_gap['hi']:+.3f}, "
                f"{-acc_gap['lo']:+.3f}])"
            )
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
            f"floor: {gap_text(gap)} against {ref_name} ({abs(gain):.1%} "
            f"{'lower' if gain >= 0 else 'higher'}, n={gap['n']}) "
            f"after {steps} steps{acc_text}"
        )
        if beats(gap, acc_gap, margin):
            return Outcome("pass", summary, numbers, evidence)
        advice = (
            "the model does no better than one that cannot see the text: check that "
            "forward reads input_ids through the embedding, that the inputs are not all "
            "padding, and that the labels are aligned with the texts (a shuffled or "
            "shifted label column looks exactly like this)"
        )
        if gap["hi"] < 0 or (acc_gap is not None and acc_gap["hi"] < 0):
            return Outcome(
                "warn",
                summary + f" — below by less than the margin {margin:g}",
                numbers,
                evidence,
                advice + "; if it learns slowly, raise checks.steps or the learning rate",
            )
        return Outcome("fail", summary, numbers, evidence, advice)
