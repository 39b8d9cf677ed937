"""Tokenizer, vocabulary and padded encoding."""

from __future__ import annotations

import numpy as np
import pytest

from tuirecipe.data import PAD, PAD_ID, UNK, UNK_ID, Vocab, encode_texts, tokenize


def test_tokenize_splits_words_and_punctuation():
    assert tokenize("Don't STOP, now!!", lowercase=True) == [
        "don",
        "'",
        "t",
        "stop",
        ",",
        "now",
        "!",
        "!",
    ]
    assert tokenize("Café au lait", lowercase=False) == ["Café", "au", "lait"]
    assert tokenize("  \t\n", lowercase=True) == []


def test_vocab_order_min_freq_and_max_size():
    texts = ["b a a", "c b a", "d"]
    vocab = Vocab.build(texts, lowercase=True, min_freq=1, max_size=100)
    assert vocab.itos == [PAD, UNK, "a", "b", "c", "d"]  # freq desc, then token
    assert vocab.stoi["a"] == 2 and len(vocab) == 6
    assert Vocab.build(texts, lowercase=True, min_freq=2, max_size=100).itos == [PAD, UNK, "a", "b"]
    assert Vocab.build(texts, lowercase=True, min_freq=1, max_size=3).itos == [PAD, UNK, "a"]


def test_encode_decode_and_json_round_trip(tmp_path):
    vocab = Vocab.build(["Hello world"], lowercase=True, min_freq=1, max_size=10)
    ids = vocab.encode("HELLO there world")
    assert ids == [vocab.stoi["hello"], UNK_ID, vocab.stoi["world"]]
    assert vocab.decode(ids + [PAD_ID, 999]) == ["hello", UNK, "world", UNK]
    again = Vocab.from_json(vocab.to_json())
    assert again == vocab and again.stoi == vocab.stoi
    vocab.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json").itos == vocab.itos
    with pytest.raises(ValueError):
        Vocab(["a", "b"], lowercase=True)


def test_encode_texts_pads_truncates_and_counts():
    vocab = Vocab.build(["a b c d e"], lowercase=True, min_freq=1, max_size=10)
    encoded = encode_texts(vocab, ["a b", "a b c d e zz", ""], max_len=4)
    assert encoded.ids.dtype == np.int64 and encoded.ids.shape == (3, 4)
    assert encoded.lengths.tolist() == [2, 4, 0]
    assert encoded.full_lengths.tolist() == [2, 6, 0]
    assert encoded.truncated == 1
    assert encoded.ids[0, 2:].tolist() == [PAD_ID, PAD_ID]
    assert encoded.unk_rate == pytest.approx(1 / 8)
    short = encode_texts(vocab, ["a", "b"], max_len=50)
    assert short.ids.shape == (2, 1)  # width is the longest row, not max_len
    assert encode_texts(vocab, ["", "  "], max_len=5).ids.shape == (2, 1)
