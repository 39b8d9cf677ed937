"""Comparing two of the profile's token indexes (built on different roads)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tuirecipe.data.profile import normalize


def pieces_of_each_word(pieces: normalize.Pieces) -> list[list[str]]:
    """Each word's pieces as sorted strings (their order differs between the roads)."""
    vocab = pieces.vocab.to_pylist()
    ends = pieces.offsets
    return [sorted(vocab[i] for i in pieces.ids[a:b]) for a, b in zip(ends[:-1], ends[1:])]


def assert_same_index(a: normalize.TextIndex, b: normalize.TextIndex) -> None:
    """Every field of two token indexes equal (the pieces by what each word holds)."""
    for name, value in vars(a).items():
        other = getattr(b, name)
        if value is None or other is None:  # the compiled road writes no case_space texts
            assert name == "space_uniques", name
        elif isinstance(value, pa.Array):
            assert value.to_pylist() == other.to_pylist(), name
        elif isinstance(value, normalize.Pieces):
            assert pieces_of_each_word(value) == pieces_of_each_word(other), name
        else:
            assert np.array_equal(value, other), name
