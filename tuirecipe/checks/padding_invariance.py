"""Check: padding does not change a row's output.

With dynamic padding a batch is as wide as its longest row, so the same example is padded
differently in every batch. Each picked example (the shortest ones first: they get the
most padding) is run in eval mode alone at its own length, alone padded to the longest
row's width, and padded beside that longest row; the three outputs must agree within float
tolerance. Mean pooling that divides by the padded length, or a model that ignores the
attention mask, changes the output with the padding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuirecipe.checks.base import Check, Outcome, register

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext

EXAMPLES = 8  # the shortest rows (most padding); three forwards each


@register
class PaddingInvariance(Check):
    name = "padding_invariance"
    title = "Padding does not change outputs"
    stage = "skeleton"
    kind = "auto"
    order = 72
    precision = "fp32"  # judges the model's code within fp32 tolerances
    description = (
        "Runs examples in eval mode alone at their own length, padded to the longest "
        "row's width, and padded beside that longest row: the outputs must be the same. "
        "Dynamic padding pads each example differently in every batch, so a model that "
        "lets padding in (mean pooling over the padded length, attention or an RNN "
        "without the mask) predicts differently depending on its batch-mates."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        import torch

        from tuirecipe.checks.diagnose import (
            differs,
            eval_forward,
            padded,
            row_entry,
            split_tensors,
            tolerances,
            unrepeatable,
        )

        tensors = split_tensors(ctx, "train")
        extent = tensors.extent.tolist()
        nonempty = [i for i, e in enumerate(extent) if e > 0]
        if len(nonempty) < 2:
            return Outcome(
                "warn",
                f"only {len(nonempty)} non-empty training example: nothing to compare",
                advice="add training examples; the check needs at least two",
            )
        longest = max(nonempty, key=lambda i: extent[i])
        width = extent[longest]
        by_length = sorted((i for i in nonempty if i != longest), key=lambda i: (extent[i], i))
        picked = [i for i in by_length if extent[i] < width][:EXAMPLES]
        if not picked:
            return Outcome(
                "warn",
                f"every training example has the same length ({width} tokens): "
                "padding never happens, nothing to compare",
                numbers={"width": width},
            )
        model = ctx.fresh_model()
        model.eval()
        rtol, atol0 = tolerances(ctx)
        random_eval = unrepeatable(
            model, *padded(tensors, [longest, *picked[:1]], width), rtol, atol0
        )
        if random_eval is not None:
            return random_eval
        alone, padded_alone, beside = [], [], []
        for n, i in enumerate(picked):
            ctx.progress(n / len(picked), f"example {n + 1}/{len(picked)}")
            try:
                alone.append(eval_forward(model, *padded(tensors, [i], extent[i])))
            except (RuntimeError, ValueError) as exc:  # batch norm in training mode refuses one row
                return Outcome(
                    "fail",
                    f"the model cannot predict one example on its own in eval mode: {exc}",
                    evidence={"rows": [row_entry(ctx, "train", i)]},
                    advice="a batch of one must work at inference: look for batch norm "
                    "left in training mode or statistics taken over the batch",
                )
            padded_alone.append(eval_forward(model, *padded(tensors, [i], width)))
            beside.append(eval_forward(model, *padded(tensors, [i, longest], width))[:1])
        a, p, b = torch.cat(alone), torch.cat(padded_alone), torch.cat(beside)
        scale = float(a[torch.isfinite(a)].abs().mean()) if bool(torch.isfinite(a).any()) else 1.0
        atol = atol0 * (1.0 + scale)
        pad_bad = differs(a, p, rtol, atol)
        mix_bad = differs(a, b, rtol, atol) & ~pad_bad
        gap_pad = float((a - p).abs().nan_to_num(float("inf")).amax()) if len(a) else 0.0
        gap_beside = float((a - b).abs().nan_to_num(float("inf")).amax()) if len(a) else 0.0
        numbers = {
            "examples": len(picked),
            "width": width,
            "changed_by_padding": int(pad_bad.sum()),
            "changed_beside_longer": int(mix_bad.sum()),
            "max_difference_padded": gap_pad,
            "max_difference_beside": gap_beside,
            "tolerance": atol,
        }
        table = [
            row_entry(
                ctx,
                "train",
                i,
                length=extent[i],
                padded_to=width,
                max_difference_padded=float((a[k] - p[k]).abs().max()),
                max_difference_beside=float((a[k] - b[k]).abs().max()),
            )
            for k, i in enumerate(picked)
        ]
        evidence: dict[str, Any] = {
            "examples": table,
            "longer_row": row_entry(ctx, "train", longest, length=width),
        }
        if bool(pad_bad.any()):
            bad = [table[k] for k in torch.nonzero(pad_bad).flatten().tolist()]
            named = ", ".join(str(r["row"]) for r in bad[:5])
            return Outcome(
                "fail",
                f"padding changes the output: {len(bad)}/{len(picked)} examples give a "
                f"different output alone than padded to {width} tokens (rows {named}; "
                f"largest difference {gap_pad:.3g})",
                numbers=numbers,
                evidence={**evidence, "rows": bad},
                advice="padding positions reach the output. Pool only over real tokens: "
                "divide a sum by attention_mask.sum(1), not by the padded length; give "
                "the mask to attention (src_key_padding_mask) and pack RNN inputs "
                "(pack_padded_sequence); mask padding to -inf before a max",
            )
        if bool(mix_bad.any()):
            bad = [table[k] for k in torch.nonzero(mix_bad).flatten().tolist()]
            named = ", ".join(str(r["row"]) for r in bad[:5])
            return Outcome(
                "fail",
                f"{len(bad)}/{len(picked)} examples change when batched beside a longer "
                f"row, though padding alone does not (rows {named}; largest difference "
                f"{gap_beside:.3g})",
                numbers=numbers,
                evidence={**evidence, "rows": bad},
                advice="the forward pass mixes rows of the batch: see the "
                "forward_independence check",
            )
        return Outcome(
            "pass",
            f"{len(picked)} examples give the same output alone, padded to {width} tokens "
            f"and beside a longer row (largest difference {max(gap_pad, gap_beside):.1g})",
            numbers=numbers,
            evidence=evidence,
        )
