"""Check: evaluating the same input twice gives the same output, and changes nothing.

After ``model.eval()`` dropout must be off and batch norm must use its running statistics.
Dropout left active (``F.dropout(x, training=True)``, an overridden ``eval()``) makes two
evaluations differ; batch norm left in training mode updates its running statistics while
evaluating. Both make every dev score noisy and predictions irreproducible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuirecipe.checks.base import Check, Outcome, register

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext

BATCH = 16
CUDA_RTOL = 1e-5  # non-CPU devices: some kernels are not bitwise deterministic


@register
class EvalDeterminism(Check):
    name = "eval_determinism"
    title = "Evaluation is deterministic"
    stage = "skeleton"
    kind = "auto"
    order = 73
    precision = "fp32"  # judges the model's code within fp32 tolerances
    description = (
        "Puts the model in eval mode and evaluates the same batch twice: the outputs "
        "must be identical, the model's state (batch norm running statistics) unchanged, "
        "and no dropout or batch norm layer may still be in training mode."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        import torch
        from torch import nn

        from tuirecipe.checks.batch_independence import real_batch
        from tuirecipe.checks.diagnose import differs, row_entry

        ids, mask, _targets, rows = real_batch(ctx, BATCH)
        model = ctx.fresh_model()
        model.eval()
        stochastic = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._NormBase)
        still = [
            f"{name or type(model).__name__} ({type(m).__name__})"
            for name, m in model.named_modules()
            if m.training
        ]
        still_stochastic = [
            name or type(model).__name__
            for name, m in model.named_modules()
            if m.training and isinstance(m, stochastic)
        ]
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            first = model(ids, mask).detach().float().cpu().reshape(len(rows), -1)
            second = model(ids, mask).detach().float().cpu().reshape(len(rows), -1)
        changed_state = [
            k
            for k, v in model.state_dict().items()
            if k in before and not torch.equal(before[k], v.detach())
        ]
        rtol = 0.0 if ctx.device.type == "cpu" else CUDA_RTOL
        moved = differs(first, second, rtol, 0.0) & torch.isfinite(first).all(1)
        gap = float((first - second).abs().nan_to_num(0.0).amax()) if len(rows) else 0.0
        numbers: dict[str, Any] = {
            "batch": len(rows),
            "rows_differing": int(moved.sum()),
            "max_difference": gap,
            "state_entries_changed": len(changed_state),
            "modules_in_training_mode": len(still),
            "device": str(ctx.device),
        }
        evidence: dict[str, Any] = {
            "modules_in_training_mode_after_eval": still[:30],
            "state_changed_by_evaluation": changed_state[:30],
        }
        hint = (
            f"; still in training mode after model.eval(): {', '.join(still_stochastic[:5])}"
            if still_stochastic
            else ""
        )
        if bool(moved.any()):
            bad = [
                row_entry(ctx, "train", rows[n]) for n in torch.nonzero(moved).flatten().tolist()
            ]
            return Outcome(
                "fail",
                f"two evaluations of the same batch differ on {len(bad)}/{len(rows)} rows "
                f"(largest difference {gap:.3g}){hint}",
                numbers=numbers,
                evidence={**evidence, "rows": bad},
                advice="something random is active in eval mode: dropout called as "
                "F.dropout(x, training=True) or with p but no self.training, an overridden "
                "eval()/train() that keeps layers training, or noise drawn in forward; use "
                "nn.Dropout modules, or pass training=self.training",
            )
        if changed_state:
            return Outcome(
                "fail",
                f"evaluating changed the model's state: {', '.join(changed_state[:4])}"
                f"{' …' if len(changed_state) > 4 else ''}{hint}",
                numbers=numbers,
                evidence=evidence,
                advice="a layer updates itself in eval mode, typically batch norm left in "
                "training mode (an overridden eval()/train(), or F.batch_norm(..., "
                "training=True)): evaluation then shifts its running statistics and "
                "predictions depend on the batch",
            )
        if still_stochastic:
            return Outcome(
                "warn",
                f"outputs repeat, but {', '.join(still_stochastic[:5])} stay in training "
                "mode after model.eval()",
                numbers=numbers,
                evidence=evidence,
                advice="an overridden eval() or train() keeps these layers training; they "
                "change outputs once active (dropout p > 0, batch norm)",
            )
        return Outcome(
            "pass",
            f"two evaluations of {len(rows)} rows are "
            f"{'identical' if gap == 0 else f'within {gap:.1g}'}; no state changed",
            numbers=numbers,
            evidence=evidence,
        )
