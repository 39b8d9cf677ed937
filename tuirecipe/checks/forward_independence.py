"""Check: in eval mode a row's output does not depend on the other rows of its batch.

The forward-pass companion of ``batch_independence`` (which follows gradients in training
mode): a statistic over the batch computed under ``no_grad`` or ``detach`` carries no
gradient between rows, yet still changes what a row predicts depending on its batch-mates.
Some rows are kept while the others are replaced, the batch is reversed, and each kept row
is also run alone at the same width; its output must not move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuirecipe.checks.base import Check, Outcome, register

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext

BATCH = 8


@register
class ForwardIndependence(Check):
    name = "forward_independence"
    title = "Outputs do not depend on batch-mates"
    stage = "skeleton"
    kind = "auto"
    order = 71
    precision = "fp32"  # judges the model's code within fp32 tolerances
    description = (
        "In eval mode, keeps some rows of a batch and replaces the others, reverses the "
        "batch, and runs each kept row alone at the same width: a row's output must not "
        "change. Statistics over the batch (centring or normalising over dim 0, even under "
        "no_grad), batch norm forced into training mode, or a reshape across the batch "
        "make a prediction depend on what it was batched with."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        import numpy as np
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
        extent = tensors.extent.numpy()
        nonempty = np.flatnonzero(extent > 0)
        if len(nonempty) < 4:
            return Outcome(
                "warn",
                f"only {len(nonempty)} non-empty training examples: nothing to compare",
                advice="add training examples; the check needs at least four",
            )
        rng = np.random.default_rng(ctx.config.seed)
        pool = [int(i) for i in rng.permutation(nonempty)[: BATCH + BATCH // 2]]
        batch = pool[:BATCH]
        half = len(batch) // 2
        kept, others = batch[:half], pool[len(batch) :] or batch[half:][::-1]
        swapped = kept + (others + batch[half:])[: len(batch) - half]
        width = int(max(extent[pool]))
        model = ctx.fresh_model()
        model.eval()
        rtol, atol0 = tolerances(ctx)
        random_eval = unrepeatable(model, *padded(tensors, batch, width), rtol, atol0)
        if random_eval is not None:
            return random_eval
        ctx.progress(0.2, "whole batch")
        base = eval_forward(model, *padded(tensors, batch, width))
        ctx.progress(0.4, "other rows replaced")
        replaced = eval_forward(model, *padded(tensors, swapped, width))[:half]
        ctx.progress(0.6, "batch reversed")
        reversed_out = eval_forward(model, *padded(tensors, batch[::-1], width)).flip(0)
        ctx.progress(0.8, "rows alone")
        try:
            alone = torch.cat([eval_forward(model, *padded(tensors, [i], width)) for i in kept])
        except (RuntimeError, ValueError) as exc:  # batch norm in training mode refuses one row
            alone, single = base[:half].clone(), f"{type(exc).__name__}: {exc}"
        else:
            single = ""
        finite = base[torch.isfinite(base)]
        scale = float(finite.abs().mean()) if finite.numel() else 1.0
        atol = atol0 * (1.0 + scale)
        k = base[:half]
        changed = {
            "others_replaced": differs(k, replaced, rtol, atol),
            "batch_reversed": differs(base, reversed_out, rtol, atol)[:half],
            "alone": differs(k, alone, rtol, atol),
        }
        gaps = {
            "others_replaced": float((k - replaced).abs().nan_to_num(float("inf")).amax()),
            "batch_reversed": float((base - reversed_out).abs().nan_to_num(float("inf")).amax()),
            "alone": float((k - alone).abs().nan_to_num(float("inf")).amax()),
        }
        moved = torch.stack(list(changed.values())).any(0)
        numbers: dict[str, Any] = {
            "batch": len(batch),
            "rows_compared": half,
            "rows_changed": int(moved.sum()),
            "width": width,
            "tolerance": atol,
            **{f"max_difference_{key}": gap for key, gap in gaps.items()},
        }
        table = [
            row_entry(
                ctx,
                "train",
                i,
                **{f"changed_{key}": bool(flags[n]) for key, flags in changed.items()},
            )
            for n, i in enumerate(kept)
        ]
        evidence: dict[str, Any] = {"kept_rows": table}
        if single:
            evidence["batch_of_one_raised"] = single
        if bool(moved.any()):
            bad = [table[n] for n in torch.nonzero(moved).flatten().tolist()]
            named = ", ".join(str(r["row"]) for r in bad[:5])
            how = ", ".join(
                f"{key.replace('_', ' ')} ({gaps[key]:.3g})"
                for key, flags in changed.items()
                if bool(flags.any())
            )
            return Outcome(
                "fail",
                f"in eval mode, {len(bad)}/{half} rows change when other rows of the batch "
                f"change (rows {named}; {how})",
                numbers=numbers,
                evidence={**evidence, "rows": bad},
                advice="the forward pass mixes examples, so a prediction depends on what it "
                "was batched with. Look for statistics over the batch dimension (a mean, std "
                "or normalisation over dim 0, even under torch.no_grad() or .detach()), batch "
                "norm forced into training mode, or a view/reshape/transpose that moves the "
                "batch dimension",
            )
        return Outcome(
            "pass",
            f"{half} rows give the same eval output with other batch-mates, in reverse "
            f"order and alone (largest difference {max(gaps.values()):.1g})",
            numbers=numbers,
            evidence=evidence,
        )
