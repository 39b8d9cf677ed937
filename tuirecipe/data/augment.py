"""Token-level text augmentation for the training split (the ``[augment]`` section).

Four label-preserving edits, each applied per token with its own probability, seeded:

- delete (``p_delete``): drop the token;
- swap (``p_swap``): swap the token with its right neighbour;
- insert (``p_insert``): insert a random in-vocabulary token after it;
- replace (``p_replace``): replace it with a random in-vocabulary token (synonym-free).

Texts are split with the same tokenizer as the vocabulary and joined back with spaces,
so an augmented text re-tokenizes to exactly the edited tokens. An edit never leaves a
text empty. :func:`augment_split` adds ``copies`` augmented copies of every training
example (same label, same source row); :func:`preview` shows originals next to their
augmented versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tuirecipe.config import AugmentConfig
from tuirecipe.data.tokenize import PAD, UNK, tokenize


def augment_tokens(
    tokens: list[str], rng: np.random.Generator, cfg: AugmentConfig, vocab_tokens: Sequence[str]
) -> list[str]:
    """One augmented version of ``tokens`` (the input list is not changed)."""
    out = list(tokens)
    n = len(out)
    if n == 0:
        return out
    draw = rng.random((4, n))
    if cfg.p_replace > 0 and len(vocab_tokens):
        for i in np.flatnonzero(draw[0] < cfg.p_replace):
            out[i] = vocab_tokens[int(rng.integers(len(vocab_tokens)))]
    if cfg.p_swap > 0:
        for i in np.flatnonzero(draw[1, : n - 1] < cfg.p_swap):
            out[i], out[i + 1] = out[i + 1], out[i]
    if cfg.p_delete > 0:
        keep = draw[2] >= cfg.p_delete
        if not keep.any():  # never leave a text empty
            keep[int(rng.integers(n))] = True
        out = [t for t, k in zip(out, keep) if k]
    if cfg.p_insert > 0 and len(vocab_tokens):
        inserted: list[str] = []
        for t, u in zip(out, draw[3]):
            inserted.append(t)
            if u < cfg.p_insert:
                inserted.append(vocab_tokens[int(rng.integers(len(vocab_tokens)))])
        out = inserted
    return out


def _vocab_tokens(itos: Sequence[str]) -> list[str]:
    return [t for t in itos if t not in (PAD, UNK)]


def augment_texts(
    texts: Sequence[str],
    cfg: AugmentConfig,
    seed: int,
    vocab_tokens: Sequence[str],
    lowercase: bool = True,
) -> list[str]:
    """``cfg.copies`` augmented versions of each text: all first copies, then the second…"""
    rng = np.random.default_rng([seed, 0xA06])  # its own stream: same seed, same copies
    tokenized = [tokenize(str(t), lowercase) for t in texts]
    return [
        " ".join(augment_tokens(toks, rng, cfg, vocab_tokens))
        for _ in range(cfg.copies)
        for toks in tokenized
    ]


def augment_split(split: Any, vocab: Any, cfg: AugmentConfig, seed: int, max_len: int) -> Any:
    """A training split with ``cfg.copies`` augmented copies of every example appended."""
    from tuirecipe.data.prepare import Split
    from tuirecipe.data.tokenize import encode_texts

    if not cfg.enabled or len(split) == 0:
        return split
    new_texts = augment_texts(split.texts, cfg, seed, _vocab_tokens(vocab.itos), vocab.lowercase)
    encoded = encode_texts(vocab, new_texts, max_len)
    width = max(split.ids.shape[1], encoded.ids.shape[1])

    pad_id = int(getattr(vocab, "pad_id", 0))  # a pretrained tokenizer's may not be 0

    def widen(ids: np.ndarray) -> np.ndarray:
        return np.pad(ids, ((0, 0), (0, width - ids.shape[1])), constant_values=pad_id)

    copies = cfg.copies
    return Split(
        ids=np.concatenate([widen(split.ids), widen(encoded.ids)]),
        lengths=np.concatenate([split.lengths, encoded.lengths]),
        targets=np.concatenate([split.targets, np.tile(split.targets, copies)]),
        texts=list(split.texts) + new_texts,
        rows=np.concatenate([split.rows, np.tile(split.rows, copies)]),
        truncated=split.truncated + encoded.truncated,
        unk_rate=split.unk_rate,
    )


def preview(
    texts: Sequence[str],
    n: int = 10,
    cfg: AugmentConfig | None = None,
    seed: int = 0,
    vocab_tokens: Sequence[str] | None = None,
    lowercase: bool = True,
) -> list[tuple[str, str]]:
    """``(original, augmented)`` for the first ``n`` texts (one copy each).

    Without ``vocab_tokens``, insertions and replacements draw from the tokens of
    ``texts`` themselves.
    """
    cfg = cfg or AugmentConfig(enabled=True)
    shown = [str(t) for t in list(texts)[:n]]
    if vocab_tokens is None:
        vocab_tokens = sorted({tok for t in texts for tok in tokenize(str(t), lowercase)})
    one = AugmentConfig(
        enabled=True,
        copies=1,
        p_delete=cfg.p_delete,
        p_swap=cfg.p_swap,
        p_insert=cfg.p_insert,
        p_replace=cfg.p_replace,
    )
    return list(zip(shown, augment_texts(shown, one, seed, vocab_tokens, lowercase)))
