"""Check: weights start at sensible scales, and the output bias starts at the prior."""

from __future__ import annotations

import math
from typing import Any

from tuirecipe.checks.base import Check, Outcome, register

FAR_OFF = 3.0  # a layer's weight std more than this factor from both references is flagged
HUGE_OUTPUT = 5.0  # logit RMS (or output std / target std) at init that counts as huge
MAX_LAYERS_SHOWN = 40


def layer_scales(model: Any, output: Any = None) -> list[dict[str, Any]]:
    """Each weight matrix / kernel: its std against LeCun and Glorot normal expectations.

    Embeddings are shown but not judged (N(0, 1) is their usual start); an all-zero
    ``output`` layer is a common, sound choice and not flagged either.
    """
    from torch import nn

    # Weights a model loaded from a checkpoint (the pretrained rung's encoder) are not an
    # initialisation: shown, never judged.
    loaded = tuple(getattr(model, "pretrained_parameters", ()))
    rows = []
    for name, module in model.named_modules():
        for pname, param in module.named_parameters(recurse=False):
            if param.dim() < 2:
                continue
            shape = list(param.shape)
            receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
            fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
            is_embedding = isinstance(module, nn.Embedding) or (isinstance(module, nn.EmbeddingBag))
            if is_embedding:  # a lookup table: one row per token, fan-in is the row width
                fan_in, fan_out = shape[1], shape[1]
            std = float(param.detach().float().std()) if param.numel() > 1 else 0.0
            lecun, glorot = math.sqrt(1.0 / fan_in), math.sqrt(2.0 / (fan_in + fan_out))
            off = min(_factor(std, lecun), _factor(std, glorot))
            zero_output = module is output and std == 0.0
            full = f"{name}.{pname}" if name else pname
            pretrained = bool(loaded) and full.startswith(loaded)
            rows.append(
                {
                    "layer": f"{name}.{pname}" if name else pname,
                    "type": type(module).__name__,
                    "shape": shape,
                    "std": std,
                    "lecun_std": lecun,
                    "glorot_std": glorot,
                    "ratio_lecun": std / lecun,
                    "ratio_glorot": std / glorot,
                    "off_by": off if math.isfinite(off) else None,
                    "embedding": is_embedding,
                    "output": module is output,
                    "pretrained": pretrained,
                    "far_off": off > FAR_OFF and not (is_embedding or zero_output or pretrained),
                }
            )
    return rows


def _factor(a: float, b: float) -> float:
    """How many times ``a`` and ``b`` differ (≥ 1; inf when one is 0)."""
    if a <= 0 or b <= 0:
        return math.inf
    return max(a / b, b / a)


@register
class Initialisation(Check):
    name = "initialisation"
    title = "Initialise well"
    stage = "skeleton"
    kind = "auto"
    order = 30
    description = (
        "Sets the output bias to the log class prior (or the target mean) and "
        "shows the initial loss before and after, then compares every layer's "
        "initial weight scale with the LeCun and Glorot expectations. A good start "
        "avoids a 'hockey stick' loss curve spent learning the bias."
    )

    def run(self, ctx: Any) -> Outcome:
        from tuirecipe.checks.torchutil import (
            expected_init_losses,
            loss_of,
            output_scale,
            sample_outputs,
        )
        from tuirecipe.models import init_output_bias, output_layer

        data = ctx.data
        classify = data.task == "classification"
        model = ctx.fresh_model()
        out, targets = sample_outputs(ctx, model)
        before = loss_of(out, targets, data.task)
        scale = output_scale(out, data.task)
        if not classify:
            scale = scale / max(float(data.target_std), 1e-6)
        found = init_output_bias(model, data)
        after = loss_of(sample_outputs(ctx, model)[0], targets, data.task) if found else before
        expected = expected_init_losses(data)
        layers = layer_scales(model, output_layer(model, int(ctx.spec.num_outputs)))
        far = [row for row in layers if row["far_off"]]
        numbers: dict[str, Any] = {
            "init_loss": before,
            "init_loss_with_bias": after,
            "bias_found": found,
            "output_scale": scale,
            "layers": len(layers),
            "layers_far_off": len(far),
            **{f"expected_{k}": v for k, v in expected.items()},
        }
        evidence: dict[str, Any] = {
            "bias": ("log class prior" if classify else "target mean") if found else "not set",
            "init_loss_before": before,
            "init_loss_after": after,
            "expectations": expected,
            "output_scale": scale,
            "output_scale_means": (
                "RMS of centred logits" if classify else "output std / target std"
            ),
            "layers": [
                {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
                for row in layers[:MAX_LAYERS_SHOWN]
            ],
            "references": "LeCun normal std = sqrt(1/fan_in); Glorot normal std = "
            "sqrt(2/(fan_in+fan_out)); embeddings are shown, not judged "
            "(N(0,1) is their usual start)",
        }
        offer = (
            f"set the bias: init loss {before:.4f} → {after:.4f}"
            if found
            else "no output layer found to set the bias on"
        )
        if not math.isfinite(before) or scale > HUGE_OUTPUT:
            what = "logits" if classify else "outputs"
            return Outcome(
                "fail",
                f"huge initial {what} (scale {scale:.3g} > {HUGE_OUTPUT:g}); {offer}",
                numbers,
                evidence,
                advice="the output layer starts far too large: initialise its weights "
                "smaller (e.g. zeros or std 0.01) so the model starts near-uniform",
            )
        if far or not found:
            names = ", ".join(
                f"{r['layer']} (std {r['std']:.3g}, ×{r['ratio_lecun']:.2g} LeCun)" for r in far[:3]
            )
            more = f" and {len(far) - 3} more" if len(far) > 3 else ""
            problem = (
                f"{len(far)} layer(s) far from LeCun/Glorot scale: {names}{more}"
                if far
                else "no output layer with a bias"
            )
            return Outcome(
                "warn",
                f"{problem}; {offer}",
                numbers,
                evidence,
                advice="weights much larger or smaller than ~1/sqrt(fan_in) make activations "
                "explode or vanish with depth; use the default or Glorot/LeCun init"
                if far
                else "give the model a final nn.Linear with a bias and "
                "num_outputs outputs so its bias can start at the prior",
            )
        return Outcome(
            "pass",
            f"{offer}; {len(layers)} weight tensors within {FAR_OFF:g}× of LeCun/Glorot scale",
            numbers,
            evidence,
        )
