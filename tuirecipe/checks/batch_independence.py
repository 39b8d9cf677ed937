"""Check 7, batch independence: no example's output may depend on another example's input.

Backprop charts the dependencies: with the loss set to (a random weighting of) example
*i*'s outputs only, the gradient at the embedding output must be exactly zero for every
other example *j* in the batch. Also home of two small helpers the embedding-level checks
share (a real batch, and capturing the embedding output with its gradient); they import
torch when called, never at module import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tuirecipe.checks.base import Check, Outcome, register

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext

# Relative leak above which example j is considered to influence example i's output. An
# independent model gives exactly 0 (autograd never routes gradient across rows); a model
# that mixes the batch gives leaks of order 1/B.
LEAK_TOLERANCE = 1e-12
BATCH = 8


def real_batch(
    ctx: CheckContext, size: int, *, split: str = "train", start: int = 0
) -> tuple[Any, Any, Any, list[int]]:
    """``(input_ids, attention_mask, targets, rows)``: up to ``size`` non-empty examples of
    ``split`` from ``start`` on, trimmed to their longest row, on the context's device."""
    import numpy as np
    import torch

    from tuirecipe.train.batches import SplitTensors

    data = ctx.data
    part = getattr(data, split)
    tensors = SplitTensors.from_split(part, data.task, ctx.device, int(data.vocab.pad_id))
    nonempty = [int(i) for i in np.flatnonzero(tensors.extent.numpy() > 0) if i >= start]
    rows = nonempty[:size] or list(range(start, min(len(tensors), start + size)))
    if not rows:
        from tuirecipe.errors import UserError

        raise UserError(f"the {split} split has no examples to run the check on")
    index = torch.tensor(rows, dtype=torch.int64)
    width = max(1, int(tensors.extent[index].max()))
    ids, mask, targets = tensors.batch(index.to(tensors.ids.device), width)
    return ids, mask, targets, rows


@contextmanager
def capture_embedding(module: Any) -> Iterator[dict[str, Any]]:
    """While active, ``box["out"]`` is the last output of ``module`` with its ``.grad``
    kept after a backward pass (a frozen embedding's output is made a leaf that
    requires grad, so the gradient still reaches it)."""
    box: dict[str, Any] = {}

    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        if output.requires_grad:
            output.retain_grad()
            box["out"] = output
            return None
        leaf = output.detach().requires_grad_(True)
        box["out"] = leaf
        return leaf

    handle = module.register_forward_hook(hook)
    try:
        yield box
    finally:
        handle.remove()


def token_strings(vocab: Any, ids: list[int]) -> list[str]:
    """Each id as its token string (``vocab.itos`` when there is one)."""
    itos = getattr(vocab, "itos", None)
    if itos is not None:
        return [itos[i] if 0 <= i < len(itos) else f"<{i}>" for i in ids]
    return [vocab.decode([i]) for i in ids]


@register
class BatchIndependence(Check):
    name = "batch_independence"
    title = "Examples in a batch are independent"
    stage = "skeleton"
    kind = "auto"
    order = 70
    precision = "fp32"  # judges the model's code within fp32 tolerances
    description = (
        "Backpropagates from one example's outputs only and checks that the gradient "
        "at the embedding output is exactly zero for every other example in the batch. "
        "A model that mixes the batch (batch norm in training mode, a reshape across the "
        "batch dimension) learns from its neighbours and behaves differently at test time."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        import torch

        model = ctx.fresh_model()
        model.train()  # batch norm mixes examples in training mode
        ids, mask, _targets, rows = real_batch(ctx, BATCH)
        b = len(rows)
        if b < 2:
            return Outcome(
                "warn",
                f"only {b} example in the training split: nothing to compare",
                numbers={"batch": b},
                advice="add training examples; the check needs at least two",
            )
        emb = ctx.embedding_module(model)
        with capture_embedding(emb) as box:
            out = model(ids, mask)
        if "out" not in box:
            return Outcome(
                "error",
                "the embedding module was not called in forward",
                advice="set model.embedding_module to the module the model uses",
            )
        x = box["out"]
        if x.shape[0] != b:
            return Outcome(
                "fail",
                f"the embedding output has {x.shape[0]} rows for a batch of {b}",
                numbers={"batch": b, "embedding_rows": int(x.shape[0])},
                advice="the embedding output's first dimension must be the batch; a "
                "transpose or reshape before the embedding mixes the batch dimension",
            )
        out = out.reshape(b, -1)
        gen = torch.Generator().manual_seed(0)
        weights = torch.randn(out.shape, generator=gen).to(out.device, out.dtype)
        norms: list[list[float]] = []
        for i in range(b):
            ctx.progress(i / b, f"example {i + 1}/{b}")
            (grad,) = torch.autograd.grad(
                (out[i] * weights[i]).sum(), x, retain_graph=True, allow_unused=True
            )
            if grad is None:
                norms.append([0.0] * b)
                continue
            norms.append([float(v) for v in grad.detach().reshape(b, -1).double().norm(dim=1)])
        own = [norms[i][i] for i in range(b)]
        leaks = []
        worst = 0.0
        for i in range(b):
            scale = own[i] if own[i] > 0 else 1.0
            for j in range(b):
                if j == i:
                    continue
                rel = norms[i][j] / scale
                worst = max(worst, rel)
                if rel > LEAK_TOLERANCE:
                    leaks.append({"i": i, "j": j, "relative": rel})
        pairs = b * (b - 1)
        numbers = {
            "batch": b,
            "leaking_pairs": len(leaks),
            "pairs": pairs,
            "max_relative_leak": worst,
        }
        evidence = {
            "rows": [int(r) for r in rows],
            "grad_norms": {
                "note": "row i: gradient norm at each example's embedding output "
                "when the loss is example i's output only",
                "matrix": norms,
            },
            "leaks": leaks[:50],
        }
        if leaks:
            mixed = sorted({leak["i"] for leak in leaks})
            return Outcome(
                "fail",
                f"{len(leaks)}/{pairs} example pairs leak gradient "
                f"(worst {worst:.2g} of the example's own) in a batch of {b}",
                numbers=numbers,
                evidence={**evidence, "examples_that_see_others": mixed},
                advice="the model mixes information across the batch. Usual causes: batch "
                "norm (BatchNorm1d) in training mode (use LayerNorm, or none); a "
                "view/reshape or transpose that moves the batch dimension (e.g. "
                "x.view(-1, …) on a [L, B, D] tensor); attention or pooling over dim 0 "
                "instead of the sequence; statistics (mean, max) taken over the batch",
            )
        if max(own) == 0.0:
            return Outcome(
                "warn",
                f"no example's output depends on its own embedding (batch of {b})",
                numbers=numbers,
                evidence=evidence,
                advice="the outputs ignore the input; see the input-independent check",
            )
        return Outcome(
            "pass",
            f"no gradient crosses examples: {pairs} pairs exactly 0 in a batch of {b}",
            numbers=numbers,
            evidence=evidence,
        )
