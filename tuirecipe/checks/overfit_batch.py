"""Check: the model can drive the loss to ~0 on a handful of training examples."""

from __future__ import annotations

from typing import Any

from tuirecipe.checks.base import Check, Outcome, register

MAX_ROWS_SHOWN = 32
RETRY_FACTOR = 3  # the retry at a faster rate gets this many times checks.overfit_steps


@register
class OverfitBatch(Check):
    name = "overfit_batch"
    title = "Overfit one small batch"
    stage = "skeleton"
    kind = "auto"
    order = 50
    description = (
        "Trains on a few class-balanced training examples in one batch until every one "
        "is predicted right and the loss is below checks.overfit_loss. When train.lr does "
        "not get there (too slow, or so fast it bounces), it tries again at the top of the "
        "LR range test's band with a larger step budget (stopping as soon as it gets "
        "there). A model that cannot memorise a handful of examples has a bug, too little "
        "capacity or a learning rate that is far off."
    )

    def run(self, ctx: Any) -> Outcome:
        from tuirecipe.checks.torchutil import tiny_split

        cfg, data = ctx.config.checks, ctx.data
        classify = data.task == "classification"
        split = tiny_split(data, cfg.overfit_examples, seed=ctx.config.seed)
        config_lr = float(ctx.config.train.lr)
        target = float(cfg.overfit_loss)
        if not classify:  # squared error: relative to the batch's own spread
            import numpy as np

            target *= max(1.0, float(np.var(np.asarray(split.targets, dtype=np.float64))))
        tries = [self._attempt(ctx, split, config_lr, int(cfg.overfit_steps), target)]
        if not tries[-1]["passed"] and not ctx.cancelled():
            lr = self._faster_lr(ctx, config_lr)
            if lr is not None:
                ctx.progress(0.5, f"again at lr {lr:.2g}")
                tries.append(
                    self._attempt(ctx, split, lr, RETRY_FACTOR * int(cfg.overfit_steps), target)
                )
        best = next((t for t in tries if t["passed"]), tries[-1])
        return self._verdict(data, split, tries, best, target)

    @staticmethod
    def _faster_lr(ctx: Any, config_lr: float) -> float | None:
        """The retry's rate: the top of the LR range test's band (shared with lr_range),
        also when train.lr is above the band, or 10× train.lr when the sweep gives none."""
        from tuirecipe.checks.lr_range import lr_sweep

        sweep = lr_sweep(ctx)
        found = sweep.get("found")
        if found and sweep.get("trainable"):
            # below the band: faster; above it, 10× faster still would only diverge
            return float(found["suggested_high"])
        return config_lr * 10

    @staticmethod
    def _attempt(ctx: Any, split: Any, lr: float, steps: int, target: float) -> dict[str, Any]:
        """Train a fresh model on the batch at ``lr`` until its loss is below ``target``
        (at most ``steps``); then its eval-mode outputs on the batch."""
        from tuirecipe.checks.torchutil import loss_of, sample_outputs

        classify = ctx.data.task == "classification"
        model = ctx.fresh_model()
        losses = ctx.short_train(
            model,
            train_split=split,
            steps=steps,
            lr=lr,
            batch_size=len(split.targets),
            stop_below=target,
            evaluate_dev=False,
        ).losses
        out, targets = sample_outputs(ctx, model, split)
        eval_loss = loss_of(out, targets, ctx.data.task) if len(targets) else float("nan")
        final = losses[-1] if losses else float("nan")
        correct = int((out.argmax(1) == targets).sum()) if classify else len(targets)
        low = min(final, eval_loss) < target
        return {
            "lr": lr,
            "max_steps": steps,
            "losses": losses,
            "final": final,
            "eval_loss": eval_loss,
            "correct": correct,
            "out": out,
            "targets": targets,
            "low": low,
            "passed": low and correct == len(targets),
        }

    @staticmethod
    def _verdict(
        data: Any, split: Any, tries: list[dict[str, Any]], best: dict[str, Any], target: float
    ) -> Outcome:
        from tuirecipe.checks.torchutil import label_name, short_text

        classify = data.task == "classification"
        n = len(split.targets)
        out, targets, losses = best["out"], best["targets"], best["losses"]
        rows = []
        for i in range(n):
            row: dict[str, Any] = {"text": short_text(split.texts[i])}
            if classify:
                probs = out[i].float().softmax(0)
                pred, label = int(probs.argmax()), int(targets[i])
                row.update(
                    label=label_name(data, label),
                    pred=label_name(data, pred),
                    prob=round(float(probs[pred]), 4),
                    correct=pred == label,
                )
            else:
                row.update(label=float(targets[i]), pred=round(float(out[i].reshape(-1)[0]), 4))
            if getattr(split, "rows", None) is not None:
                row = {"row": int(split.rows[i]), **row}
            rows.append(row)
        final = best["final"]
        all_losses = [v for t in tries for v in t["losses"]]
        numbers: dict[str, Any] = {
            "examples": n,
            "steps": len(losses),
            "max_steps": best["max_steps"],
            "final_loss": final,
            "eval_loss": best["eval_loss"],
            "target_loss": target,
            "lr": best["lr"],
            "config_lr": tries[0]["lr"],
            "tries": len(tries),
            "reached": best["low"],
            "min_loss": min(all_losses) if all_losses else float("nan"),
        }
        if classify:
            numbers["train_acc"] = best["correct"] / n if n else 0.0
        evidence = {
            "losses": losses,
            "lr": best["lr"],
            "batch_size": n,
            "lr_means": "train.lr from the config"
            if len(tries) == 1
            else f"train.lr ({tries[0]['lr']:g}) did not get there in "
            f"{tries[0]['max_steps']} steps; retried from scratch at the top of the LR "
            "range test's band (or 10× train.lr)",
            "tries": [
                {"lr": t["lr"], "steps": len(t["losses"]), "final_loss": t["final"]} for t in tries
            ],
            "examples": rows[:MAX_ROWS_SHOWN],
            "sample": "class-balanced" if classify else "random",
        }
        acc = f", {best['correct']}/{n} right" if classify else ""
        retry = (
            f" (at train.lr {tries[0]['lr']:g} it was still {tries[0]['final']:.4f} after "
            f"{len(tries[0]['losses'])} steps)"
            if len(tries) > 1
            else ""
        )
        if best["passed"]:
            return Outcome(
                "pass",
                f"loss {min(final, best['eval_loss']):.4f} < {target:g} on {n} examples "
                f"after {len(losses)} steps (lr {best['lr']:.2g}{acc}){retry}",
                numbers,
                evidence,
            )
        summary = (
            f"loss still {final:.4f} (min {numbers['min_loss']:.4f}) after "
            f"{len(losses)} steps on {n} examples, target {target:g} "
            f"(lr {best['lr']:.2g}{acc}){retry}"
        )
        if best["low"] and classify:
            # the training-mode loss got there, the eval-mode predictions did not
            summary = (
                f"only {best['correct']}/{n} examples right in eval mode (loss "
                f"{best['eval_loss']:.4f}) though the training loss reached {final:.4f} < "
                f"{target:g} after {len(losses)} steps (lr {best['lr']:.2g}){retry}"
            )
        elif classify and best["correct"] == n:
            # every argmax right is easy on a few examples; memorised means a low loss too
            summary += ": every example right, but the loss is not near zero"
        return Outcome(
            "fail",
            summary,
            numbers,
            evidence,
            advice="the model cannot memorise a few examples: look for a bug in forward "
            "(outputs not depending on the input, a detached tensor, a wrong loss), "
            "too little capacity, a learning rate far off (see lr_range), or "
            "regularisation so heavy (dropout, weight decay, label smoothing) that the "
            "loss cannot approach zero",
        )
