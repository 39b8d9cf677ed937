"""Check 10, learning-rate range test: sweep the learning rate up, watch the loss.

A fresh model trains with the learning rate growing exponentially from ``checks.lr_min``
to ``checks.lr_max`` over ``checks.lr_steps`` steps: the real trainer (its optimizer, its
loss with class weights, focal loss or adversarial training as configured, its batches)
with the LR range callback, which sets each step's rate and stops on divergence. The
loss, smoothed like the established finders (EMA β 0.98, bias-corrected, over about 100
steps; shorter sweeps smooth over the same share of the range; a divergence stops the
sweep only after a short warm-up), falls, bottoms out and explodes; a good learning rate
sits on the steep part of the descent, up to a tenth of the rate at the minimum: the
suggested band.

The verdict on ``train.lr``: more than 10× above the band warns, more than 100× above it
fails; at or past the sweep's minimum, or past where it exploded, warns. Below, the measure
is from the band's foot or, when lower, the onset of the descent (one step per rate shows
little progress at small rates, so the steep part sits above rates that train fine over a
whole run): more than 100× below warns (slow), more than 1000× fails (a low rate is slow,
not broken; loss_decreases judges whether a slow run learns).

The curve is one batch per rate, so its landmarks are read against its own noise. The first
tenth of the sweep (rates far too small to train) is its starting level: the bias-corrected
EMA's first points average only a few batches, and a lucky first batch once put the
"minimum" at the first rate and the "onset" at the second; the median raw loss there is
the level. The onset is where the smoothed loss falls, for good, below that level by a
tenth of the descent and by more than twice its noise (the batch-to-batch spread of the raw
losses, through the EMA's weights). A rate below
the band is judged only when a tenth of the descent is at least that noise (``RESOLVED``
noise units): a short sweep of a model that barely learns in it (a 40-step TextCNN on
sms_spam fell by 4 noise units) places its band by chance — it moved from under 0.001 to
0.017 between seeds — and says nothing about a rate being too low.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any

from tuirecipe.checks.base import Check, Outcome, register

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext

EXPLODE = 4.0  # stop once the smoothed loss exceeds this multiple of the best
BETA = 0.98  # EMA weight of the established finders (bias-corrected), for …
BETA_STEPS = 100  # … a sweep of this many steps; other lengths smooth over the same share


def beta_for(steps: int) -> float:
    """The EMA weight for a sweep of ``steps``: ``BETA`` at ``BETA_STEPS`` steps, and the
    same decay per share of the rate range otherwise (a 40-step sweep at 0.98 would be
    little more than a running mean and hide the descent)."""
    return BETA ** (BETA_STEPS / max(1, steps))


WARMUP = 10  # steps before a divergence can stop the sweep; per BETA_STEPS, the start level
Z_NOISE = 2.0  # a fall counts once it is this many standard deviations of the smoothed loss
ONSET_SHARE = 0.1  # the onset: the loss has come this share of the way down (and Z_NOISE)
# The descent, in noise units, below which "too low" is not judged: a tenth of it must be
# at least one standard deviation, or the Z_NOISE margin puts the "onset" past a fifth of
# the way down, where the noise rather than the curve decides where it is.
RESOLVED = 1 / ONSET_SHARE
WARN_FACTOR = 10.0  # train.lr above the suggested band by this factor: warn
# … below it (from the onset): the onset of one setup moved by up to 44× between seeds even
# on resolved 100-step sweeps (TextCNN on trec), and the 3e-4 default sits 8-19× below it
# for bow_mlp and 29-51× for fastText on the demo, which train fine at it: a 10× margin
# judged the seed. Two decades below where any descent starts is slow whatever the draw.
WARN_BELOW_FACTOR = 100.0
FAIL_FACTOR = 100.0  # … above it by this factor: fail
# Below the band only a far larger factor fails: a low rate is slow, not broken, and Adam-
# style finders suggest high rates (fastText's band on the demo is ~200× the 3e-4 default,
# which trains fine); loss_decreases judges whether a slow run learns.
FAIL_BELOW_FACTOR = 1000.0


def lr_schedule(lr_min: float, lr_max: float, steps: int) -> list[float]:
    if steps <= 1:
        return [lr_min]
    ratio = lr_max / lr_min
    return [lr_min * ratio ** (k / (steps - 1)) for k in range(steps)]


def smooth(values: list[float], beta: float = BETA) -> list[float]:
    """Bias-corrected exponential moving average (:func:`tuirecipe.stats.ema`)."""
    from tuirecipe.stats import ema

    return [float(v) for v in ema(values, beta)]


def ema_noise(steps: int, beta: float) -> list[float]:
    """The standard deviation of each point of the bias-corrected EMA (:func:`smooth`) of
    independent values of unit spread: ``sqrt(Σ w²) / Σ w`` with weights ``beta^(k-i)``."""
    if beta <= 0:
        return [1.0] * steps
    out = []
    for k in range(1, steps + 1):
        s1 = (1 - beta**k) / (1 - beta)
        s2 = (1 - beta ** (2 * k)) / (1 - beta * beta)
        out.append(math.sqrt(s2) / s1)
    return out


def batch_noise(losses: list[float]) -> float:
    """The batch-to-batch spread of the raw losses: the robust (MAD) spread of successive
    differences over √2, which a falling trend barely moves."""
    import numpy as np

    d = np.diff(np.asarray(losses, dtype=np.float64))
    if len(d) < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2))


def suggest(
    lrs: list[float],
    smoothed: list[float],
    losses: list[float] | None = None,
    beta: float = BETA,
) -> dict[str, Any]:
    """The rate at the minimum, at the steepest descent before it, a range, where the
    descent begins, and the descent in units of the smoothed loss's noise (from the raw
    ``losses``; without them the noise counts as 0)."""
    n = len(smoothed)
    first = min(round(n * WARMUP / BETA_STEPS), n - 1)  # the starting level's last point
    best = min(range(first, n), key=smoothed.__getitem__)
    # the start level: the median raw loss of the first tenth (one odd batch does not move
    # it), or the smoothed loss there without the raw losses
    start = float(statistics.median(losses[: first + 1])) if losses else smoothed[first]
    low_loss = smoothed[best]
    sigma = batch_noise(losses[: best + 1]) if losses else 0.0
    noise = [sigma * f for f in ema_noise(n, beta)]
    steepest = best
    slope_min = 0.0
    # Batch noise makes the curve wiggle at rates too small to matter, so the steepest
    # descent is looked for only on the descent itself (the part of the curve between 10 %
    # and 90 % of the way from the start to the minimum), over a window of a few steps.
    window = max(1, n // 20)
    tenth = 0.1 * (start - low_loss)
    for k in range(first + 1, best + 1):
        if not low_loss + tenth <= smoothed[k] <= start - tenth:
            continue
        a, b = max(first, k - window), min(best, k + window)
        if b == a:
            continue
        slope = (smoothed[b] - smoothed[a]) / (math.log(lrs[b]) - math.log(lrs[a]))
        if slope < slope_min:
            slope_min, steepest = slope, k
    # up to a tenth of the rate at the minimum: the smoothed curve lags, so its steepest
    # point can sit above that (the rates there already bounce)
    high = lrs[best] / 10
    low = min(lrs[steepest], high)
    # Where the descent begins: from this rate to the minimum the loss stays below the start
    # by a tenth of the descent and by more than its noise. A one-step-per-rate sweep sees
    # little progress at small rates, so the steep part sits well above rates that train
    # fine over a whole run; "too low" is judged from here.
    onset = best
    for k in range(best, first - 1, -1):
        if smoothed[k] > start - max(ONSET_SHARE * (start - low_loss), Z_NOISE * noise[k]):
            break
        onset = k
    return {
        "lr_at_min": lrs[best],
        "lr_steepest": lrs[steepest],
        "lr_onset": lrs[onset],
        "suggested_low": low,
        "suggested_high": high,
        "min_index": best,
        "start_loss": start,
        "min_loss": low_loss,
        "batch_noise": sigma,
        "descent_in_noise": (start - low_loss) / noise[best] if noise[best] > 0 else math.inf,
    }


def _exploded(losses: list[float], beta: float = BETA) -> bool:
    """The smoothed loss has risen past ``EXPLODE`` times its lowest (after ``WARMUP``
    steps: the first steps' noise is no divergence)."""
    if len(losses) < WARMUP:
        return False
    smoothed = smooth(losses, beta)
    return smoothed[-1] > EXPLODE * min(smoothed)


def fell_by(losses: list[float], window: int = 5) -> float:
    """How far the loss fell, relative to the start: the lowest mean of ``window``
    consecutive raw losses against the first ``window``'s. Unlike the EMA it does not lag,
    so a short sweep's brief valley before the divergence still counts."""
    k = max(1, min(window, len(losses)))
    means = [sum(losses[i : i + k]) / k for i in range(len(losses) - k + 1)]
    start = means[0]
    return (start - min(means)) / abs(start) if start else 0.0


def band_factor(lr: float, low: float, high: float, onset: float | None = None) -> float:
    """How far ``lr`` lies outside ``[low, high]``, as a factor (1 inside the band). Below
    the band it is measured from ``onset`` (where the swept loss starts to fall) when that
    is lower: a rate between the two trains, only more slowly than the suggestion."""
    if lr > high:
        return lr / high
    floor = min(low, onset) if onset is not None else low
    if lr < floor:
        return floor / lr
    return 1.0


def _loss_without_gradient(ctx: CheckContext, model: Any) -> float | None:
    """The loss of a first batch when it does not depend on any trainable parameter (an
    output computed without autograd): then no step can be taken. None otherwise.

    Measured in eval mode (no dropout draw, no batch-norm update) before the short run
    seeds the generators, so the sweep itself is the same with or without this look.
    """
    from tuirecipe.checks.torchutil import loss_of
    from tuirecipe.train.batches import SplitTensors, iter_batches

    data = ctx.data
    tensors = SplitTensors.from_split(data.train, data.task, ctx.device, int(data.vocab.pad_id))
    ids, mask, y = next(iter_batches(tensors, ctx.config.train.batch_size))
    was_training = model.training
    model.eval()
    try:
        out = model(ids, mask)
    finally:
        model.train(was_training)
    return None if out.requires_grad else loss_of(out.detach(), y, data.task)


@register
class LrRange(Check):
    name = "lr_range"
    title = "Learning-rate range test"
    stage = "skeleton"
    kind = "auto"
    order = 100
    description = (
        "Trains a fresh model while raising the learning rate exponentially from "
        "checks.lr_min to checks.lr_max, and plots the smoothed loss against it. The "
        "useful rates are on the steep part of the descent, below the minimum; a loss that "
        "never falls means the model cannot learn, or the range is too low. train.lr more "
        "than 10× above the suggested band (100× below) warns; more than 100× above it "
        "(1000× below) fails."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        cfg = ctx.config
        advice_stuck = (
            "the loss did not fall at any rate: the model may not be able to "
            "learn (frozen or disconnected parameters, an output that ignores "
            "the input, labels that do not match the inputs), or the range is "
            "too low (raise checks.lr_max)"
        )
        sweep = lr_sweep(ctx)
        if sweep["trainable"] == 0:
            return Outcome(
                "warn",
                "no trainable parameters: the loss cannot fall",
                numbers={"trainable": 0},
                advice=advice_stuck,
            )
        losses, used, stop_reason = sweep["losses"], sweep["used"], sweep["stopped"]
        if not losses:  # the first step's loss was already NaN or infinite
            return Outcome(
                "error",
                stop_reason or "no step ran",
                advice="lower checks.lr_min or check the model for NaN at init",
            )
        smoothed, found = sweep["smoothed"], sweep["found"]
        start, low = found["start_loss"], found["min_loss"]
        drop = fell_by(losses)
        lr = float(cfg.train.lr)
        factor = band_factor(lr, found["suggested_low"], found["suggested_high"], found["lr_onset"])
        numbers = {
            **{k: v for k, v in found.items() if k != "min_index"},
            "steps": len(losses),
            "relative_drop": drop,
            "config_lr": lr,
            "outside_band_factor": factor,
            "diverged_at": used[-1] if stop_reason.startswith("loss") else None,
        }
        evidence = {
            "lr": used,
            "loss": losses,
            "smoothed": smoothed,
            "smoothing": f"EMA β={sweep['beta']:.3g}, bias-corrected",
            "stopped": stop_reason or "reached lr_max",
            "suggested": [found["suggested_low"], found["suggested_high"]],
            "noise": f"batch-to-batch spread {found['batch_noise']:.3g}; the descent is "
            f"{found['descent_in_noise']:.1f}× the smoothed loss's noise at the minimum",
            "config_lr": lr,
        }
        if (
            stop_reason == "the loss does not depend on any trainable parameter"
            or drop < cfg.checks.loss_decrease_min
        ):
            return Outcome(
                "warn",
                f"the loss never fell by {cfg.checks.loss_decrease_min:.0%} "
                f"between lr {used[0]:.2g} and {used[-1]:.2g} "
                f"(best {low:.3g} from {start:.3g})",
                numbers=numbers,
                evidence=evidence,
                advice=advice_stuck,
            )
        band = f"{found['suggested_low']:.2g}–{found['suggested_high']:.2g}"
        if found["suggested_low"] == found["suggested_high"]:  # steepest at or past a tenth
            band = f"{found['suggested_high']:.2g}"
        summary = (
            f"suggested lr {band} "
            f"(steepest {found['lr_steepest']:.2g}, minimum at {found['lr_at_min']:.2g},"
            f" loss {start:.3g}→{low:.3g}); train.lr is {lr:.2g}"
        )
        side = "above" if lr > found["suggested_high"] else "below"
        where = (
            f", {factor:.0f}× above the band"
            if side == "above"
            else f", {factor:.0f}× below the band and where the loss starts to fall "
            f"({min(found['suggested_low'], found['lr_onset']):.2g})"
        )
        resolved = found["descent_in_noise"] >= RESOLVED
        if side == "below" and factor > WARN_BELOW_FACTOR and not resolved:
            return Outcome(
                "pass",
                summary + where + f"; but the swept loss fell by only "
                f"{found['descent_in_noise']:.1f}× its noise ({RESOLVED:g}× places a band): "
                "too noisy to call train.lr too low",
                numbers=numbers,
                evidence=evidence,
            )
        if factor > (FAIL_FACTOR if side == "above" else FAIL_BELOW_FACTOR):
            return Outcome(
                "fail",
                summary + where,
                numbers=numbers,
                evidence=evidence,
                advice=(
                    "train.lr is so high the loss will blow up or bounce: lower it into "
                    "the suggested range"
                    if side == "above"
                    else "train.lr is so low the model will barely move: raise it "
                    "towards the suggested range"
                ),
            )
        diverged = numbers["diverged_at"]
        if diverged is not None and lr >= diverged:
            return Outcome(
                "warn",
                summary + f", past where the loss exploded ({diverged:.2g})",
                numbers=numbers,
                evidence=evidence,
                advice="lower train.lr into the suggested range",
            )
        if lr >= found["lr_at_min"]:
            return Outcome(
                "warn",
                summary + ", at or past the rate where the swept loss bottoms out and rises",
                numbers=numbers,
                evidence=evidence,
                advice="lower train.lr into the suggested range",
            )
        if factor > (WARN_FACTOR if side == "above" else WARN_BELOW_FACTOR):
            return Outcome(
                "warn",
                summary + where,
                numbers=numbers,
                evidence=evidence,
                advice=(
                    "lower train.lr into the suggested range"
                    if side == "above"
                    else "train.lr is well below the range: training will be slow "
                    "(fine for a long run; raise it to learn faster)"
                ),
            )
        return Outcome("pass", summary, numbers=numbers, evidence=evidence)


def lr_sweep(ctx: CheckContext) -> dict[str, Any]:
    """The range test on a fresh model of the config, once per check job (``overfit_batch``
    uses its suggestion too): ``used`` rates, ``losses``, ``smoothed``, ``found``
    (:func:`suggest`), ``stopped`` (why it ended; "" at lr_max) and ``trainable``."""
    from tuirecipe.checks.torchutil import cached

    return cached(ctx, "lr_sweep", lambda: _sweep(ctx))


def _sweep(ctx: CheckContext) -> dict[str, Any]:
    from tuirecipe.train.callbacks import LrRange as LrRangeCallback
    from tuirecipe.train.steplog import NumericsError

    cfg = ctx.config
    lrs = lr_schedule(cfg.checks.lr_min, cfg.checks.lr_max, int(cfg.checks.lr_steps))
    beta = beta_for(len(lrs))
    model = ctx.fresh_model()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if not trainable:
        return {"trainable": 0, "losses": [], "used": [], "stopped": "no trainable parameter"}
    stop_reason = ""
    frozen_loss = _loss_without_gradient(ctx, model)
    if frozen_loss is not None:  # the trainer could not take a step: nothing to sweep
        stop_reason = "the loss does not depend on any trainable parameter"
        losses, used = [frozen_loss], [lrs[0]]
    else:

        def progress(k: int, lr: float, loss: float) -> None:
            if k % 10 == 0:
                ctx.progress(k / len(lrs), f"lr {lr:.2g}: loss {loss:.3g}")

        sweep = LrRangeCallback(lrs, lambda seen: _exploded(seen, beta), progress)
        try:
            ctx.short_train(model, steps=len(lrs), lr=lrs[0], evaluate_dev=False, callbacks=[sweep])
        except NumericsError as exc:  # the step after the last recorded one
            stop_reason = f"loss became {exc.loss} at lr {lrs[len(sweep.losses)]:.3g}"
        losses, used = sweep.losses, sweep.used
        if sweep.stopped_on_divergence:
            stop_reason = f"loss exploded (> {EXPLODE:g}× the best) at lr {used[-1]:.3g}"
        elif not stop_reason and ctx.cancelled() and len(losses) < len(lrs):
            stop_reason = "cancelled"
    out: dict[str, Any] = {
        "beta": beta,
        "trainable": trainable,
        "losses": losses,
        "used": used,
        "stopped": stop_reason,
    }
    if losses:
        out["smoothed"] = smooth(losses, beta)
        out["found"] = suggest(used, out["smoothed"], losses, beta)
    return out


def rate_for_training(
    config: Any, data: Any, device: Any, emit: Any = None, should_stop: Any = None
) -> dict[str, Any]:
    """``train.lr_from = "range_test"``: the range test on a fresh model of ``config`` and
    ``data`` (the check's own sweep, ``checks.lr_min`` to ``checks.lr_max``), and the rate
    a run then trains at: the top of the suggested band, a tenth of the rate at the
    smoothed loss's minimum (fastai's ``lr_find`` followed by ``fit_one_cycle`` uses the
    same point as the peak). ``{"lr", "band", "lr_at_min", "stopped"}``; a sweep that
    finds no rate is a one-line ``ConfigError`` naming ``train.lr_from``."""
    from tuirecipe.checks.context import CheckContext
    from tuirecipe.errors import ConfigError

    ctx = CheckContext(config, emit=emit, should_stop=should_stop, data=data, device=device)
    ctx.current_check = "lr_range"
    swept = _sweep(ctx)
    found = swept.get("found")
    if not found or len(swept.get("losses", [])) < 3:
        why = swept.get("stopped") or "too few steps"
        raise ConfigError(
            f"the LR range test found no learning rate ({why}); set train.lr instead",
            source=config.source,
            key="train.lr_from",
        )
    return {
        "lr": float(found["suggested_high"]),
        "band": [float(found["suggested_low"]), float(found["suggested_high"])],
        "lr_at_min": float(found["lr_at_min"]),
        "stopped": swept.get("stopped", ""),
        "steps": len(swept["losses"]),
    }
