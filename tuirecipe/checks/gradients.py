"""Check 8, gradients: every trainable parameter gets a useful gradient; per-token saliency.

``gradient_flow`` does one backward pass on a real training batch and lists parameters
whose gradient is missing (defined but not used in forward, or detached), all zero or not
finite, and parameters frozen with ``requires_grad=False``. ``saliency`` trains the model
briefly and shows, for one dev example, gradient × input per token for the predicted
output: which words the prediction leans on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tuirecipe.checks.base import Check, Outcome, register

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext

GRAD_BATCH = 64


@register
class GradientFlow(Check):
    name = "gradient_flow"
    title = "Every parameter gets a gradient"
    stage = "skeleton"
    kind = "auto"
    order = 80
    description = (
        "One backward pass on a real batch: every trainable parameter must receive a "
        "finite, non-zero gradient. A parameter without one is defined but disconnected "
        "(never used in forward, or cut off by a detach) and silently never trains; frozen "
        "parameters are listed so a freeze is never an accident."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        import torch

        from tuirecipe.checks.batch_independence import real_batch
        from tuirecipe.train.batches import check_output_shape, compute_loss

        model = ctx.fresh_model()
        model.train()
        data = ctx.data
        size = min(GRAD_BATCH, max(ctx.config.train.batch_size, 2))
        ids, mask, targets, rows = real_batch(ctx, size)
        named = list(model.named_parameters())
        if not named:
            return Outcome(
                "fail",
                "the model has no parameters",
                numbers={"params": 0},
                advice="build the layers in __init__ as nn.Module attributes",
            )
        trainable = [(n, p) for n, p in named if p.requires_grad]
        frozen = [n for n, p in named if not p.requires_grad]
        out = model(ids, mask)
        check_output_shape(
            out,
            len(rows),
            data.task,
            data.num_outputs if hasattr(data, "num_outputs") else len(data.label_names),
        )
        loss = compute_loss(out, targets, data.task)
        if not trainable or not loss.requires_grad:
            return Outcome(
                "fail",
                f"no parameter can be trained ({len(frozen)} of {len(named)} frozen)",
                numbers={"params": len(named), "frozen": len(frozen), "trainable": 0},
                evidence={"frozen": frozen},
                advice="every parameter has requires_grad=False, or the output is detached "
                "from them: nothing will learn",
            )
        model.zero_grad(set_to_none=True)
        loss.backward()
        table, missing, zero, nonfinite = [], [], [], []
        for n, p in named:
            row: dict[str, Any] = {
                "name": n,
                "shape": list(p.shape),
                "trainable": p.requires_grad,
                "param_norm": float(p.detach().double().norm()),
            }
            if not p.requires_grad:
                row["grad"] = "frozen"
            elif p.grad is None:
                row["grad"] = "none"
                missing.append(n)
            else:
                g = p.grad.detach()
                if not bool(torch.isfinite(g).all()):
                    row["grad"] = "non-finite"
                    nonfinite.append(n)
                else:
                    norm = float(g.double().norm())
                    row["grad_norm"] = norm
                    row["update_ratio"] = (
                        norm / row["param_norm"] if row["param_norm"] > 0 else math.inf
                    )
                    row["grad"] = "ok" if norm > 0 else "zero"
                    if norm == 0:
                        zero.append(n)
            table.append(row)
        numbers = {
            "params": len(named),
            "trainable": len(trainable),
            "frozen": len(frozen),
            "no_grad": len(missing),
            "zero_grad": len(zero),
            "non_finite": len(nonfinite),
            "loss": float(loss.detach()),
        }
        evidence = {
            "parameters": table,
            "frozen": frozen,
            "no_grad": missing,
            "zero_grad": zero,
            "non_finite": nonfinite,
            "batch": len(rows),
        }
        bad = missing + zero + nonfinite
        if bad:
            parts = [
                f"{len(x)} {what}"
                for x, what in (
                    (missing, "without a gradient"),
                    (zero, "with an all-zero gradient"),
                    (nonfinite, "with NaN/Inf gradients"),
                )
                if x
            ]
            listed = ", ".join(bad[:4]) + (", …" if len(bad) > 4 else "")
            return Outcome(
                "fail",
                f"{len(bad)} of {len(trainable)} trainable parameters do not train: "
                f"{', '.join(parts)} ({listed})",
                numbers=numbers,
                evidence=evidence,
                advice="no gradient: the parameter is defined but not used in forward, or "
                "its output is detached (.detach(), .item(), a numpy round trip, "
                "torch.no_grad). Zero gradient: it is used only where nothing flows "
                "back (multiplied by 0, a dead ReLU, a bias before a normalisation). "
                "NaN/Inf: look for log(0), division by zero or an overflow",
            )
        # A model may name the parameters its config froze on purpose (the pretrained
        # rung's encoder under model.freeze_encoder): frozen as asked is no warning.
        chosen = tuple(getattr(model, "frozen_by_config", ()))
        unasked = [n for n in frozen if not n.startswith(chosen)] if chosen else frozen
        if frozen and not unasked:
            return Outcome(
                "pass",
                f"all {len(trainable)} trainable parameters get finite, non-zero gradients "
                f"(loss {numbers['loss']:.3g}, batch {len(rows)}); {len(frozen)} frozen "
                "as the config asks",
                numbers=numbers,
                evidence=evidence,
            )
        if frozen:
            return Outcome(
                "warn",
                f"all {len(trainable)} trainable parameters get gradients; "
                f"{len(frozen)} frozen: {', '.join(frozen[:4])}"
                f"{', …' if len(frozen) > 4 else ''}",
                numbers=numbers,
                evidence=evidence,
                advice="frozen parameters (requires_grad=False) never train: make sure "
                "that is intended (a pretrained embedding you chose to freeze)",
            )
        return Outcome(
            "pass",
            f"all {len(trainable)} parameters get finite, non-zero "
            f"gradients (loss {numbers['loss']:.3g}, batch {len(rows)})",
            numbers=numbers,
            evidence=evidence,
        )


@register
class Saliency(Check):
    name = "saliency"
    title = "Which tokens the prediction uses"
    stage = "skeleton"
    kind = "auto"
    order = 85
    description = (
        "After a short training run, gradient × input at the embedding output for one dev "
        "example (checks.saliency_example), summed over the embedding dimension: how much "
        "each token pushes the predicted class. Read it: a prediction resting on "
        "punctuation, padding or an ID-like token points at a shortcut or a data bug."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        import torch

        from tuirecipe.checks.batch_independence import capture_embedding, token_strings
        from tuirecipe.train.batches import SplitTensors

        data = ctx.data
        if len(data.dev.texts) == 0:
            return Outcome("error", "the dev split is empty", advice="add dev examples")
        index = min(int(ctx.config.checks.saliency_example), len(data.dev.texts) - 1)
        model = ctx.fresh_model()
        trainable = any(p.requires_grad for p in model.parameters())
        steps = int(ctx.config.checks.steps)
        if trainable:
            ctx.short_train(model, steps=steps, evaluate_dev=False)
        model.eval()
        tensors = SplitTensors.from_split(data.dev, data.task, ctx.device, int(data.vocab.pad_id))
        width = max(1, int(tensors.extent[index]))
        ids, mask, target = tensors.batch(torch.tensor([index], device=tensors.ids.device), width)
        with capture_embedding(ctx.embedding_module(model)) as box:
            out = model(ids, mask)
        out = out.reshape(1, -1)
        predicted = int(out[0].argmax()) if data.task == "classification" else 0
        if "out" not in box:
            return Outcome(
                "error",
                "the embedding module was not called in forward",
                advice="set model.embedding_module to the module the model uses",
            )
        x = box["out"]
        out[0, predicted].backward()
        grad = x.grad
        if grad is None:
            grad = torch.zeros_like(x)
        sal = (x.detach() * grad).sum(-1).reshape(-1)[:width].double().cpu()
        token_ids = [int(t) for t in ids[0].tolist()]
        length = int(mask[0].sum())
        tokens = token_strings(data.vocab, token_ids)[:length]
        values = [float(v) for v in sal[:length]]
        finite = all(math.isfinite(v) for v in values)
        if data.task == "classification":
            names = data.label_names or [str(c) for c in range(out.shape[1])]
            pred_name = names[predicted] if predicted < len(names) else str(predicted)
            gold = int(target[0])
            gold_name = names[gold] if gold < len(names) else str(gold)
            prob = float(torch.softmax(out.detach()[0].double(), 0)[predicted])
        else:
            pred_name, gold_name = f"{float(out.detach()[0, 0]):.4g}", f"{float(target[0]):.4g}"
            prob = None
        ranked = sorted(range(len(values)), key=lambda k: -abs(values[k]))
        top = [{"token": tokens[k], "position": k, "saliency": values[k]} for k in ranked[:10]]
        numbers = {
            "example": index,
            "tokens": len(values),
            "steps_trained": steps if trainable else 0,
            "max_abs_saliency": max((abs(v) for v in values), default=0.0),
        }
        evidence = {
            "example": index,
            "row": int(data.dev.rows[index]),
            "text": data.dev.texts[index],
            "predicted": pred_name,
            "gold": gold_name,
            "probability": prob,
            "tokens": [{"token": t, "saliency": v} for t, v in zip(tokens, values)],
            "top": top,
        }
        words = ", ".join(f"{t['token']} {t['saliency']:+.2g}" for t in top[:3])
        if not finite:
            return Outcome(
                "fail",
                f"dev example {index}: saliency is not finite",
                numbers=numbers,
                evidence=evidence,
                advice="NaN/Inf gradients at the embedding: look for log(0) or "
                "division by zero in forward",
            )
        if not values or numbers["max_abs_saliency"] == 0.0:
            return Outcome(
                "warn",
                f"dev example {index}: the prediction does not depend on any token",
                numbers=numbers,
                evidence=evidence,
                advice="the output ignores the input tokens (or this example "
                "is empty); see the input-independent check",
            )
        return Outcome(
            "pass",
            f"dev example {index} → {pred_name} (gold {gold_name}); strongest tokens: {words}",
            numbers=numbers,
            evidence=evidence,
        )
