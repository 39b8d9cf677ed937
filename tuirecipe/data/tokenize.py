"""Word-level tokenization, the vocabulary, and padding texts into id matrices.

Tokens are runs of word characters and single punctuation marks (``"don't!"`` →
``don ' t !``). The vocabulary is built on the training split only, in a deterministic
order (frequency descending, then token), with ``<pad>`` = 0 and ``<unk>`` = 1.
No torch here: the result is numpy, which the worker turns into tensors.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str, lowercase: bool) -> list[str]:
    """Split ``text`` into words and punctuation marks (each mark its own token)."""
    if lowercase:
        text = text.lower()
    return _TOKEN_RE.findall(text)


@dataclass
class Vocab:
    """Token ↔ id mapping. ``itos[0]`` is ``<pad>``, ``itos[1]`` is ``<unk>``."""

    itos: list[str]
    lowercase: bool
    pad_id: int = field(default=PAD_ID, init=False)
    unk_id: int = field(default=UNK_ID, init=False)

    def __post_init__(self) -> None:
        if self.itos[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary must start with {PAD!r}, {UNK!r}")

    @cached_property
    def stoi(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(
        cls, texts: Iterable[str], *, lowercase: bool, min_freq: int = 1, max_size: int = 30000
    ) -> Vocab:
        """Count tokens in ``texts``; keep those seen ``min_freq`` times or more.

        ``max_size`` counts the two special tokens. Ties in frequency are broken by the
        token itself, so the same texts always give the same ids.
        """
        counts: Counter[str] = Counter()
        chunk: list[str] = []
        for text in texts:  # one regex pass per ~10k texts: much faster than per text
            chunk.append(text)
            if len(chunk) == 10000:
                counts.update(tokenize("\n".join(chunk), lowercase))
                chunk.clear()
        counts.update(tokenize("\n".join(chunk), lowercase))
        kept = sorted(
            (item for item in counts.items() if item[1] >= min_freq),
            key=lambda item: (-item[1], item[0]),
        )
        room = max(0, max_size - 2)
        return cls([PAD, UNK] + [token for token, _ in kept[:room]], lowercase)

    def encode(self, text: str) -> list[int]:
        stoi = self.stoi
        return [stoi.get(token, UNK_ID) for token in tokenize(text, self.lowercase)]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ``ids``; padding is dropped, ids out of range read as ``<unk>``."""
        n = len(self.itos)
        return [self.itos[i] if 0 <= i < n else UNK for i in map(int, ids) if i != PAD_ID]

    # -- saving --------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"lowercase": self.lowercase, "itos": self.itos}, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str | dict[str, Any]) -> Any:
        """The saved vocabulary; a pretrained encoder's tokenizer when the run used one
        (its record names the encoder folder instead of listing tokens)."""
        table = json.loads(data) if isinstance(data, str) else data
        if "encoder" in table:
            from tuirecipe.data.encoder_vocab import EncoderVocab

            return EncoderVocab.from_json(table)
        return cls(list(table["itos"]), bool(table["lowercase"]))

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Any:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


@dataclass
class Encoded:
    """Texts as a padded id matrix.

    ``ids`` is int64 ``[N, L]`` padded with 0, where ``L`` is the longest row after
    truncation to ``max_len`` (at least 1, so an all-empty batch still has a column).
    ``lengths`` are after truncation, ``full_lengths`` before; ``truncated`` counts rows
    that were cut; ``unk_rate`` is the share of all tokens (before truncation) that are
    ``<unk>``.
    """

    ids: np.ndarray
    lengths: np.ndarray
    full_lengths: np.ndarray
    truncated: int
    unk_rate: float


def encode_texts(vocab: Any, texts: Sequence[str], max_len: int) -> Encoded:
    """``texts`` as ids of ``vocab``; a vocabulary with its own ``encode_texts`` (a
    pretrained encoder's tokenizer) encodes them itself."""
    if not isinstance(vocab, Vocab):
        return vocab.encode_texts(texts, max_len)
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    find, get, lower = _TOKEN_RE.findall, vocab.stoi.get, vocab.lowercase
    rows = [list(map(get, find(text.lower() if lower else text), repeat(UNK_ID))) for text in texts]
    n = len(rows)
    full = np.fromiter(map(len, rows), dtype=np.int64, count=n)
    lengths = np.minimum(full, max_len)
    kept = int(lengths.sum())
    flat = np.fromiter(
        chain.from_iterable(row[:max_len] for row in rows), dtype=np.int64, count=kept
    )
    ids = np.zeros((n, max(1, int(lengths.max()) if n else 1)), dtype=np.int64)
    # Scatter the kept tokens into their (row, position) cells in one numpy step.
    starts = np.cumsum(lengths) - lengths
    row_of = np.repeat(np.arange(n), lengths)
    ids[row_of, np.arange(kept) - np.repeat(starts, lengths)] = flat
    unknown = sum(row.count(UNK_ID) for row in rows)
    total = int(full.sum())
    return Encoded(
        ids=ids,
        lengths=lengths,
        full_lengths=full,
        truncated=int((full > max_len).sum()),
        unk_rate=unknown / total if total else 0.0,
    )
