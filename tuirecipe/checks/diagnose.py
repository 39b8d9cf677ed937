"""Diagnoses that come before any check's own verdict (issue 11, point 5).

A model whose output has the wrong shape, or whose forward pass gives NaN/inf on some
rows, makes every later verdict misleading ("confidently wrong", a raw torch message
about mismatched sizes). The runner asks :func:`forward_problem` after each check that
built a model and did not pass, and when there is one it becomes that check's result,
with the check's own summary kept as evidence. The forward pass over the data is made
once per job (it is cached on the context) on a freshly built model in eval mode.

Imported inside a worker only (torch).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tuirecipe.checks.base import Outcome
from tuirecipe.errors import ModelError

SCAN_ROWS = 4096  # rows of each split scanned for non-finite outputs (edge cases first)
NAMED_ROWS = 20  # rows listed in the evidence
SUMMARY_ROWS = 5  # rows named in the one-line summary
BATCH = 256


def shape_outcome(message: str, raw: str = "") -> Outcome:
    """The one shape message every check gives (``message`` from ``check_output_shape``)."""
    evidence: dict[str, Any] = {}
    if raw and raw != message:
        evidence["check_said"] = raw
    return Outcome(
        "error",
        message,
        evidence=evidence,
        advice="forward(input_ids, attention_mask) must return one row of logits per "
        "example ([batch, classes]; [batch, 1] or [batch] for regression)",
    )


def scan_rows(extent: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """Up to ``budget`` row indices to scan, sorted by length: the shortest rows first (the
    edge cases: one token, empty), then the longest, then a seeded random sample."""
    n = len(extent)
    if n <= budget:
        return np.argsort(extent, kind="stable")
    by_length = np.argsort(extent, kind="stable")
    edges = np.concatenate([by_length[: budget // 4], by_length[-budget // 16 :]])
    rest = np.setdiff1d(np.arange(n), edges)
    rng = np.random.default_rng(seed)
    sample = rng.choice(rest, size=budget - len(edges), replace=False)
    picked = np.concatenate([edges, sample])
    return picked[np.argsort(extent[picked], kind="stable")]


def scan_outputs(ctx: Any, model: torch.nn.Module) -> dict[str, Any]:
    """Eval-mode forward over rows of the training and dev splits (all of them up to
    ``SCAN_ROWS`` each; beyond, the shortest, the longest and a sample): the first wrong
    output shape (``{"shape": message}``) or the rows whose outputs are not finite
    (``{"rows": [{"row", "text", "split", "value"}], "bad": n, "scanned": m}``)."""
    from tuirecipe.checks.torchutil import short_text
    from tuirecipe.train.batches import SplitTensors, check_output_shape

    data = ctx.data
    num_classes = len(data.class_counts) if data.task == "classification" else 1
    bad: list[dict[str, Any]] = []
    count = scanned = 0
    was_training = model.training
    model.eval()
    try:
        for name in ("train", "dev"):
            split = getattr(data, name)
            if len(split.targets) == 0:
                continue
            tensors = SplitTensors.from_split(split, data.task, ctx.device, int(data.vocab.pad_id))
            order = scan_rows(tensors.extent.numpy(), SCAN_ROWS, int(ctx.config.seed))
            for start in range(0, len(order), BATCH):
                chunk = order[start : start + BATCH]
                index = torch.from_numpy(chunk).to(torch.int64)
                width = max(1, int(tensors.extent[index].max()))
                ids, mask, _ = tensors.batch(index.to(tensors.ids.device), width)
                with torch.no_grad():
                    out = model(ids, mask)
                try:
                    check_output_shape(out, len(ids), data.task, num_classes)
                except ModelError as exc:
                    return {"shape": str(exc)}
                finite = torch.isfinite(out.detach().float().reshape(len(ids), -1)).all(1).cpu()
                for i in torch.nonzero(~finite).flatten().tolist():
                    count += 1
                    if len(bad) < NAMED_ROWS:
                        k = int(chunk[i])
                        row = out[i].detach().float().reshape(-1).cpu()
                        value = "nan" if bool(torch.isnan(row).any()) else "inf"
                        rows = getattr(split, "rows", None)
                        bad.append(
                            {
                                "row": int(rows[k]) if rows is not None else k,
                                "split": name,
                                "text": short_text(split.texts[k], 120),
                                "value": value,
                            }
                        )
                scanned += len(ids)
    finally:
        model.train(was_training)
    if bad:  # name rows in file order
        bad.sort(key=lambda r: (r["split"] != "train", r["row"]))
    return {"rows": bad, "bad": count, "scanned": scanned}


def nonfinite_outcome(scan: dict[str, Any], raw: str = "") -> Outcome:
    """``fail`` naming the rows (and their texts) whose outputs are NaN/inf."""
    rows = scan["rows"]
    kinds = sorted({r["value"] for r in rows})
    what = "NaN" if kinds == ["nan"] else "inf" if kinds == ["inf"] else "NaN/inf"
    named = ", ".join(str(r["row"]) for r in rows[:SUMMARY_ROWS])
    more = " …" if scan["bad"] > SUMMARY_ROWS else ""
    texts = "; ".join(repr(r["text"][:40]) for r in rows[:3])
    evidence: dict[str, Any] = {"rows": rows}
    if raw:
        evidence["check_said"] = raw
    return Outcome(
        "fail",
        f"model outputs {what} on rows {named}{more} ({scan['bad']} of {scan['scanned']} "
        f"rows; texts {texts})",
        numbers={"nonfinite_rows": scan["bad"], "scanned_rows": scan["scanned"]},
        evidence=evidence,
        advice="fix the forward pass for these inputs before reading any other verdict: "
        "look for a division by a length or count that can be zero (a one-token or empty "
        "row), log or sqrt of zero, a softmax over a row whose positions are all masked",
    )


def forward_problem(ctx: Any, raw: str = "", *, passed: bool = False) -> Outcome | None:
    """The shape or non-finite diagnosis of the context's model, or None when its
    forward pass is sound (or raises: the check's own message then stands).

    The output shape is always checked (one small batch); the scan for NaN/inf rows only
    when the check did not pass (``passed`` false). Both are made once per context.
    """
    shape = getattr(ctx, "_forward_shape", None)
    if shape is None:
        try:
            shape = shape_error(ctx, ctx.fresh_model())
        except Exception:  # noqa: BLE001 - a forward that raises is the check's to report
            shape = ""
        ctx._forward_shape = shape
    if shape:
        return shape_outcome(shape, raw)
    if passed:
        return None
    cached = getattr(ctx, "_forward_scan", None)
    if cached is None:
        try:
            cached = scan_outputs(ctx, ctx.fresh_model())
        except Exception:  # noqa: BLE001 - as above
            cached = {}
        ctx._forward_scan = cached
    if "shape" in cached:
        return shape_outcome(cached["shape"], raw)
    if cached.get("bad"):
        return nonfinite_outcome(cached, raw)
    return None


def shape_error(ctx: Any, model: torch.nn.Module) -> str:
    """``check_output_shape``'s message for a small eval batch of training rows, or ''."""
    from tuirecipe.train.batches import check_output_shape

    data = ctx.data
    tensors = split_tensors(ctx, "train")
    index = list(range(min(8, len(tensors))))
    if not index:
        return ""
    width = max(1, int(tensors.extent[index].max()))
    num_classes = len(data.class_counts) if data.task == "classification" else 1
    model.eval()
    with torch.no_grad():
        out = model(*padded(tensors, index, width))
    try:
        check_output_shape(out, len(index), data.task, num_classes)
    except ModelError as exc:
        return str(exc)
    return ""


# -- helpers the forward-pass checks share ----------------------------------------------


def split_tensors(ctx: Any, split: str = "train") -> Any:
    """``SplitTensors`` of one split of the context's data, on its device."""
    from tuirecipe.train.batches import SplitTensors

    data = ctx.data
    return SplitTensors.from_split(
        getattr(data, split), data.task, ctx.device, int(data.vocab.pad_id)
    )


def padded(tensors: Any, index: list[int], width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows ``index`` as ``(input_ids, attention_mask)`` exactly ``width`` columns wide
    (cut or padded with the pad id)."""
    ids = tensors.ids[torch.tensor(index, dtype=torch.int64, device=tensors.ids.device)]
    if ids.shape[1] >= width:
        ids = ids[:, :width]
    else:
        extra = torch.full(
            (len(index), width - ids.shape[1]), tensors.pad_id, dtype=ids.dtype, device=ids.device
        )
        ids = torch.cat([ids, extra], 1)
    return ids, ids != tensors.pad_id


def eval_forward(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The model's eval-mode outputs, float32 on the CPU, one row per example."""
    with torch.no_grad():
        out = model(ids, mask)
    return out.detach().float().cpu().reshape(len(ids), -1)


def differs(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> torch.Tensor:
    """Per row: whether ``a`` and ``b`` differ beyond ``atol + rtol·|a|`` (NaN differs)."""
    close = (a - b).abs() <= atol + rtol * a.abs()
    return ~close.all(1)


def row_entry(ctx: Any, split: str, i: int, **extra: Any) -> dict[str, Any]:
    """``{"row": line in the file, "text": …}`` for example ``i`` of ``split``."""
    from tuirecipe.checks.torchutil import short_text

    part = getattr(ctx.data, split)
    rows = getattr(part, "rows", None)
    row = int(rows[i]) if rows is not None else i
    return {"row": row, "text": short_text(part.texts[i], 120), **extra}


def unrepeatable(
    model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, rtol: float, atol: float
) -> Outcome | None:
    """A ``warn`` when two eval-mode forwards of the same batch differ beyond the tolerance
    (``atol`` times 1 + the outputs' typical size): the forward-pass comparisons cannot then
    tell padding or batch-mates apart from randomness."""
    first, second = eval_forward(model, ids, mask), eval_forward(model, ids, mask)
    finite = first[torch.isfinite(first)]
    scale = float(finite.abs().mean()) if finite.numel() else 1.0
    moved = differs(first, second, rtol, atol * (1.0 + scale)) & torch.isfinite(first).all(1)
    if not bool(moved.any()):
        return None
    return Outcome(
        "warn",
        "cannot judge: two evaluations of the same batch differ (randomness active in eval "
        "mode, see eval_determinism)",
        advice="make evaluation deterministic first (the eval_determinism check says how), "
        "then run this check again",
    )


def tolerances(ctx: Any) -> tuple[float, float]:
    """``(rtol, atol)`` for comparing outputs of one model on different batches: tight on
    the CPU; looser on an accelerator, where cuDNN may use TF32 convolutions and pick other
    kernels for other shapes (~1e-3 relative). The bugs the forward checks look for move
    outputs by several per cent or more. ``atol`` is scaled by 1 + the outputs' size."""
    if ctx.device.type == "cpu":
        return 1e-4, 1e-5
    return 1e-2, 1e-3
