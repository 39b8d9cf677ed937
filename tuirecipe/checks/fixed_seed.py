"""Check: a fixed seed makes training reproducible, and another seed changes it."""

from __future__ import annotations

from typing import Any

from tuirecipe.checks.base import Check, Outcome, register

MAX_STEPS = 20  # a short run is enough to expose an unseeded source of randomness


def _first_difference(a: list[float], b: list[float], tolerance: float) -> int | None:
    """1-based step where the two runs first differ (relatively more than ``tolerance``)."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and abs(x - y) > tolerance * max(abs(x), abs(y), 1e-12):
            return i + 1
    if len(a) != len(b):
        return min(len(a), len(b)) + 1
    return None


@register
class FixedSeed(Check):
    name = "fixed_seed"
    title = "Fixed random seed"
    stage = "skeleton"
    kind = "auto"
    order = 10
    description = (
        "Trains twice from the same seed and once from another. The same seed "
        "must give the same losses step for step, or results cannot be compared "
        "between runs; a different seed must change them, or the seed is not used."
    )

    def run(self, ctx: Any) -> Outcome:
        cfg = ctx.config.checks
        steps = max(1, min(cfg.steps, MAX_STEPS))
        seed = int(ctx.config.seed)
        cuda = ctx.device.type != "cpu"
        tolerance = cfg.seed_cuda_tolerance if cuda else 0.0

        def losses(run_seed: int, part: int) -> list[float]:
            ctx.progress(part / 3, f"run {part + 1}/3 (seed {run_seed})")
            model = ctx.fresh_model(run_seed)
            return ctx.short_train(model, steps=steps, seed=run_seed, evaluate_dev=False).losses

        runs: list[list[float]] = []
        for part, run_seed in enumerate((seed, seed, seed + 1)):
            runs.append(losses(run_seed, part))
            if ctx.cancelled():  # a cut-short run compares nothing: no verdict
                return Outcome(
                    "stopped",
                    f"stopped during run {part + 1}/3 after {len(runs[-1])} steps",
                    numbers={"steps": steps, "completed_runs": part},
                )
        first, second, other = runs
        same_at = _first_difference(first, second, tolerance)
        other_at = _first_difference(first, other, 0.0)
        max_rel = max(
            (abs(x - y) / max(abs(x), abs(y), 1e-12) for x, y in zip(first, second)), default=0.0
        )
        numbers = {
            "steps": len(first),
            "seed": seed,
            "other_seed": seed + 1,
            "max_relative_difference": max_rel,
            "tolerance": tolerance,
            "device": str(ctx.device),
        }
        evidence: dict[str, Any] = {
            "losses_seed": first,
            "losses_same_seed_again": second,
            "losses_other_seed": other,
            "first_differing_step": same_at,
            "other_seed_first_differing_step": other_at,
            "comparison": "bitwise (CPU)"
            if not cuda
            else f"relative difference ≤ {tolerance:g} ({ctx.device.type})",
        }
        if cuda:
            evidence["note"] = (
                "on CUDA some kernels (scatter/index_add, cuDNN autotuning, "
                "atomics) are not deterministic; small differences are allowed"
            )
        if same_at is not None:
            return Outcome(
                "fail",
                f"same seed {seed}, different losses from step {same_at} "
                f"({first[same_at - 1]:.6g} vs {second[same_at - 1]:.6g})"
                if same_at <= min(len(first), len(second))
                else f"same seed {seed}, runs of different length ({len(first)} vs {len(second)})",
                numbers={**numbers, "first_differing_step": same_at},
                evidence=evidence,
                advice="something random is not seeded: look for random numbers in the "
                "model or data code drawn from an unseeded generator (numpy's "
                "default_rng(), a torch.Generator of your own, time-based seeds) "
                "or non-deterministic GPU kernels",
            )
        if other_at is None:
            return Outcome(
                "warn",
                f"seeds {seed} and {seed + 1} give identical losses over {len(first)} "
                "steps: the seed seems to have no effect",
                numbers=numbers,
                evidence=evidence,
                advice="the initialisation and data order should depend on the seed; check "
                "that the model draws its initial weights from torch's generator",
            )
        same = "identical" if max_rel == 0 else f"within {max_rel:.1e}"
        return Outcome(
            "pass",
            f"seed {seed} twice: {same} losses over {len(first)} steps; "
            f"seed {seed + 1} differs from step {other_at}",
            numbers={**numbers, "other_seed_first_differing_step": other_at},
            evidence=evidence,
        )
