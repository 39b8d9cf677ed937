"""Check: decode the exact batch the model receives, for a person to look at."""

from __future__ import annotations

from typing import Any

from tuirecipe.checks.base import Check, Outcome, register

ROWS_SHOWN = 8


def _token_names(vocab: Any) -> Any:
    """id → token string, via ``vocab.itos`` or (for vocab-like objects) ``decode``."""
    itos = getattr(vocab, "itos", None)
    if itos is not None:
        n = len(itos)
        return lambda i: itos[i] if 0 <= i < n else "<unk>"

    def name(i: int) -> str:
        out = vocab.decode([i])
        return out if isinstance(out, str) else " ".join(out)

    return name


@register
class InputView(Check):
    name = "input_view"
    title = "Visualise the input just before the net"
    stage = "skeleton"
    kind = "auto"
    order = 60
    description = (
        "Captures the first training batch at the model's forward call, exactly "
        "as the trainer builds it, and decodes it back to tokens with padding, "
        "<unk> and truncation marked, beside each label. Bugs in tokenisation, "
        "padding or label alignment are easy to see here and hard to see anywhere "
        "else."
    )

    def run(self, ctx: Any) -> Outcome:
        import numpy as np
        import torch

        from tuirecipe.checks.torchutil import label_name, short_text
        from tuirecipe.data.tokenize import tokenize
        from tuirecipe.train.batches import SplitTensors, iter_batches
        from tuirecipe.train.seed import seed_everything

        cfg, data = ctx.config.checks, ctx.data
        split, vocab = data.train, data.vocab
        pad_id, unk_id = int(vocab.pad_id), int(getattr(vocab, "unk_id", 1))
        captured: list[tuple[Any, ...]] = []

        def grab(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if not captured:
                values = list(args) + list(kwargs.values())
                captured.append(
                    tuple(
                        v.detach().cpu().clone() if isinstance(v, torch.Tensor) else v
                        for v in values
                    )
                )

        model = ctx.fresh_model()
        handle = model.register_forward_pre_hook(grab, with_kwargs=True)
        try:
            ctx.short_train(model, train_split=split, steps=1, evaluate_dev=False)
        finally:
            handle.remove()
        if not captured or len(captured[0]) < 2:
            return Outcome(
                "error", "the model's forward was not called with (input_ids, attention_mask)"
            )
        ids, mask = captured[0][0], captured[0][1]

        # Which training rows that batch holds: the same shuffle the trainer used.
        tensors = SplitTensors.from_split(split, data.task, "cpu", pad_id)
        index = SplitTensors(tensors.ids, torch.arange(len(tensors)), tensors.extent, pad_id)
        generator = seed_everything(ctx.config.seed)
        _, _, batch_rows = next(
            iter_batches(index, ctx.config.train.batch_size, generator=generator)
        )
        rows: list[int] = batch_rows.tolist()
        width = ids.shape[1]
        matched = len(rows) == ids.shape[0] and torch.equal(
            tensors.ids[rows, :width], ids.to(torch.int64)
        )

        name_of = _token_names(vocab)
        lowercase = bool(getattr(vocab, "lowercase", True))
        count_tokens = getattr(vocab, "token_count", None)
        decoded = []
        pad_rows = unk_tokens = real_tokens = cut_rows = 0
        for r in range(ids.shape[0]):
            row_ids, row_mask = ids[r].tolist(), [bool(m) for m in mask[r].tolist()]
            real = [i for i, m in zip(row_ids, row_mask) if m]
            pad_rows += not real
            unk = sum(1 for i in real if i == unk_id)
            unk_tokens += unk
            real_tokens += len(real)
            text = split.texts[rows[r]] if matched else ""
            if not matched:
                full = len(real)
            elif count_tokens is not None:  # a pretrained encoder's own tokenizer
                full = int(count_tokens(text))
            else:
                full = len(tokenize(text, lowercase))
            cut = full > data.max_len
            cut_rows += cut
            tokens = [
                ("<unk>" if i == unk_id else name_of(i)) if m else "·"
                for i, m in zip(row_ids, row_mask)
            ]
            shown = " ".join(t for t in tokens if t != "·")
            if cut:
                shown += f" ✂[{full - data.max_len} cut]"
            pads = row_mask.count(False)
            if pads:
                shown += f" ·×{pads}"
            entry: dict[str, Any] = {
                "tokens": tokens,
                "view": shown if real else "(all padding)",
                "mask": "".join("1" if m else "0" for m in row_mask),
                "length": len(real),
                "full_length": full,
                "truncated": cut,
                "unk": unk,
            }
            if matched:
                target = split.targets[rows[r]]
                entry["row"] = (
                    int(split.rows[rows[r]])
                    if getattr(split, "rows", None) is not None
                    else rows[r]
                )
                entry["text"] = short_text(text, 120)
                if data.task == "classification":
                    entry["label"] = int(target)
                    entry["label_name"] = label_name(data, int(target))
                else:
                    entry["label"] = float(target)
            decoded.append(entry)

        n_split = len(split.targets)
        lengths = np.asarray(split.lengths)
        split_pad_rows = int((lengths == 0).sum())
        unk_rate = float(getattr(split, "unk_rate", 0.0))
        trunc_rate = float(getattr(split, "truncated", 0)) / n_split if n_split else 0.0
        numbers: dict[str, Any] = {
            "batch_rows": int(ids.shape[0]),
            "batch_width": int(width),
            "batch_padding_rows": pad_rows,
            "batch_unk_rate": unk_tokens / max(real_tokens, 1),
            "batch_truncated": cut_rows,
            "train_unk_rate": unk_rate,
            "train_truncation_rate": trunc_rate,
            "train_padding_rows": split_pad_rows,
            "max_len": int(data.max_len),
            "rows_matched": bool(matched),
        }
        evidence: dict[str, Any] = {
            "rows": decoded[:ROWS_SHOWN],
            "shapes": {"input_ids": list(ids.shape), "attention_mask": list(mask.shape)},
            "dtypes": {"input_ids": str(ids.dtype), "attention_mask": str(mask.dtype)},
            "legend": "· padding, <unk> unknown token, ✂ tokens cut at max_len",
            "tokenizer": str(getattr(vocab, "description", "word tokenizer (data.lowercase)")),
            "batch_rows": rows if matched else [],
            "look": "read a few rows: do the tokens say what the text says, and does the "
            "label fit?",
        }
        problems = []
        if pad_rows or split_pad_rows:
            problems.append(f"{max(pad_rows, split_pad_rows)} all-padding row(s)")
        if unk_rate > cfg.unk_rate_warn:
            problems.append(f"<unk> rate {unk_rate:.1%} > {cfg.unk_rate_warn:.0%}")
        if trunc_rate > cfg.truncation_warn:
            problems.append(
                f"{trunc_rate:.1%} of rows truncated at max_len {data.max_len} "
                f"> {cfg.truncation_warn:.0%}"
            )
        if not matched:
            problems.append("the batch could not be matched to training rows (labels not shown)")
        shape = f"batch {ids.shape[0]}×{width} {str(ids.dtype).replace('torch.', '')}"
        if problems:
            return Outcome(
                "warn",
                f"{shape}: " + "; ".join(problems),
                numbers,
                evidence,
                advice="raise data.max_len for truncation, lower data.min_freq or "
                "raise data.max_vocab for <unk>, drop or fix empty texts",
            )
        return Outcome(
            "pass",
            f"look at it: {shape}, <unk> {unk_rate:.1%}, truncated {trunc_rate:.1%}, no empty rows",
            numbers,
            evidence,
        )
