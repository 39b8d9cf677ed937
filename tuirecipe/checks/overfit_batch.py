"""Check: the model can drive the loss to ~0 on a handful of training examples."""

from __future__ import annotations

from typing import Any

from tuirecipe.checks.base import Check, Outcome, register

MAX_ROWS_SHOWN = 32


@register
class OverfitBatch(Check):
    name = "overfit_batch"
    title = "Overfit one small batch"
    stage = "skeleton"
    kind = "auto"
    order = 50
    description = (
        "Trains on a few class-balanced training examples in one batch until the "
        "loss is near zero. A model that cannot memorise a handful of examples "
        "has a bug, too little capacity or a learning rate that is far off."
    )

    def run(self, ctx: Any) -> Outcome:
        from tuirecipe.checks.torchutil import (
            label_name,
            sample_outputs,
            short_text,
            tiny_split,
        )

        cfg, data = ctx.config.checks, ctx.data
        classify = data.task == "classification"
        split = tiny_split(data, cfg.overfit_examples, seed=ctx.config.seed)
        n = len(split.targets)
        lr = float(ctx.config.train.lr)
        model = ctx.fresh_model()
        losses = ctx.short_train(
            model,
            train_split=split,
            steps=cfg.overfit_steps,
            lr=lr,
            batch_size=n,
            stop_below=cfg.overfit_loss,
            evaluate_dev=False,
        ).losses
        reached = bool(losses) and losses[-1] < cfg.overfit_loss
        out, targets = sample_outputs(ctx, model, split)
        rows = []
        correct = 0
        for i in range(n):
            row: dict[str, Any] = {"text": short_text(split.texts[i])}
            if classify:
                probs = out[i].float().softmax(0)
                pred, label = int(probs.argmax()), int(targets[i])
                correct += pred == label
                row.update(
                    label=label_name(data, label),
                    pred=label_name(data, pred),
                    prob=round(float(probs[pred]), 4),
                    correct=pred == label,
                )
            else:
                row.update(label=float(targets[i]), pred=round(float(out[i].reshape(-1)[0]), 4))
            rows.append(row)
        final = losses[-1] if losses else float("nan")
        numbers: dict[str, Any] = {
            "examples": n,
            "steps": len(losses),
            "max_steps": cfg.overfit_steps,
            "final_loss": final,
            "target_loss": cfg.overfit_loss,
            "lr": lr,
            "reached": reached,
            "min_loss": min(losses) if losses else float("nan"),
        }
        if classify:
            numbers["train_acc"] = correct / n if n else 0.0
        evidence = {
            "losses": losses,
            "lr": lr,
            "batch_size": n,
            "lr_means": "train.lr from the config (weight decay as configured)",
            "examples": rows[:MAX_ROWS_SHOWN],
            "sample": "class-balanced" if classify else "random",
        }
        acc = f", {correct}/{n} right" if classify else ""
        if reached:
            return Outcome(
                "pass",
                f"loss {final:.4f} < {cfg.overfit_loss:g} on {n} examples "
                f"after {len(losses)} steps (lr {lr:g}{acc})",
                numbers,
                evidence,
            )
        return Outcome(
            "fail",
            f"loss still {final:.4f} (min {numbers['min_loss']:.4f}) after "
            f"{len(losses)} steps on {n} examples, target {cfg.overfit_loss:g} "
            f"(lr {lr:g}{acc})",
            numbers,
            evidence,
            advice="the model cannot memorise a few examples: look for a bug in forward "
            "(outputs not depending on the input, a detached tensor, a wrong loss), "
            "too little capacity, or a learning rate far too low/high (try ~1e-3)",
        )
