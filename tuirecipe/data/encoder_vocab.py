"""A pretrained encoder's own tokenizer in the place of the word vocabulary.

:class:`EncoderVocab` answers what the rest of the code asks of a
:class:`~tuirecipe.data.tokenize.Vocab` (``pad_id``, ``unk_id``, ``itos``, ``len``,
``encode``, ``decode``, ``to_json``) and encodes whole splits (:meth:`encode_texts`), so a
pretrained model sees exactly the ids its tokenizer gives, special tokens included, and the
input-view check decodes those ids back to the tokenizer's word pieces.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from tuirecipe.data.encoders import EncoderFolder, inspect_folder, load_tokenizer
from tuirecipe.data.tokenize import Encoded
from tuirecipe.errors import ConfigError


class EncoderVocab:
    """The tokenizer of the encoder in ``folder``; ids are the tokenizer's ids."""

    def __init__(
        self, folder: EncoderFolder, *, key: str = "model.encoder", source: str | None = None
    ) -> None:
        self.folder = folder
        self.tokenizer = load_tokenizer(folder, key=key, source=source)
        pad = self.tokenizer.pad_token_id
        if pad is None:
            raise ConfigError(
                f"encoder folder '{folder.path}': its tokenizer has no padding token",
                source=source,
                key=key,
            )
        self.pad_id = int(pad)
        unk = self.tokenizer.unk_token_id
        self.unk_id = int(unk) if unk is not None else -1
        self.lowercase = bool(getattr(self.tokenizer, "do_lower_case", False))
        limits = [folder.max_positions] if folder.max_positions else []
        model_max = getattr(self.tokenizer, "model_max_length", 0)
        if isinstance(model_max, int) and 0 < model_max < 1_000_000:
            limits.append(model_max)
        self.max_tokens = min(limits) if limits else 0  # 0: no known limit

    def __len__(self) -> int:
        return len(self.tokenizer)

    @property
    def description(self) -> str:
        """Which tokenizer this is, in words (the input-view check shows it)."""
        return f"{type(self.tokenizer).__name__} of encoder folder {self.folder.path}"

    @cached_property
    def itos(self) -> list[str]:
        """Every id's token string (word pieces as the tokenizer writes them)."""
        return [str(t) for t in self.tokenizer.convert_ids_to_tokens(list(range(len(self))))]

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    def token_count(self, text: str) -> int:
        """Tokens of ``text`` before truncation, special tokens included."""
        return len(self.encode(text))

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ``ids``; padding is dropped."""
        itos, n = self.itos, len(self.itos)
        return [itos[i] if 0 <= i < n else "<unk>" for i in map(int, ids) if i != self.pad_id]

    def encode_texts(self, texts: Sequence[str], max_len: int) -> Encoded:
        """Texts as an id matrix padded with ``pad_id``, cut to ``max_len`` tokens the way
        the tokenizer truncates (its closing special token kept)."""
        if max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {max_len}")
        texts = list(texts)
        full_rows = self.tokenizer(texts, add_special_tokens=True)["input_ids"] if texts else []
        full = np.fromiter(map(len, full_rows), dtype=np.int64, count=len(texts))
        rows: list[list[int]] = list(full_rows)
        long = np.flatnonzero(full > max_len)
        if len(long):
            cut = self.tokenizer([texts[i] for i in long], truncation=True, max_length=max_len)[
                "input_ids"
            ]
            for i, kept in zip(long, cut):
                rows[int(i)] = list(kept)
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        width = max(1, int(lengths.max()) if len(rows) else 1)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = row
        total = int(full.sum())
        unknown = sum(row.count(self.unk_id) for row in full_rows) if self.unk_id >= 0 else 0
        return Encoded(
            ids=ids,
            lengths=lengths,
            full_lengths=full,
            truncated=int(len(long)),
            unk_rate=unknown / total if total else 0.0,
        )

    # -- saving: a run records which tokenizer it used, not a copy of it ------------------
    def to_json(self) -> str:
        return json.dumps(
            {"encoder": str(self.folder.path), "fingerprint": self.folder.fingerprint},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, table: dict[str, Any]) -> EncoderVocab:
        folder = inspect_folder(table["encoder"], key="model.encoder")
        if folder.fingerprint != table.get("fingerprint", folder.fingerprint):
            raise ConfigError(
                f"encoder folder '{folder.path}' has changed since the run used it",
                key="model.encoder",
            )
        return cls(folder)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")


def check_max_len(vocab: EncoderVocab, max_len: int, source: str | None = None) -> None:
    """One line when ``data.max_len`` asks for more tokens than the encoder can read."""
    if vocab.max_tokens and max_len > vocab.max_tokens:
        raise ConfigError(
            f"is {max_len}, but the encoder '{vocab.folder.name}' reads at most "
            f"{vocab.max_tokens} tokens",
            source=source,
            key="data.max_len",
        )
