"""Near-duplicate texts with MinHash over word bigrams and banded LSH, in numpy.

Texts are the distinct ``loose`` texts (lowercased, punctuation dropped), as sequences of
integer token ids, so exact and punctuation-only repeats are already folded together and
what is found here really differs in wording. Each text's shingles are its word bigrams
(a one-word text is its own shingle). 64 multiply-shift hashes give the signature; 16
bands of 4 rows propose candidate pairs (a pair with Jaccard 0.5 is proposed with
probability ~0.64, one with 0.7 with ~0.99), and a candidate is kept when the estimated
Jaccard similarity (share of equal signature rows) reaches ``THRESHOLD``.
"""

from __future__ import annotations

import numpy as np

NUM_PERM = 64
BANDS = 16
THRESHOLD = 0.5
SAMPLE_SIZE = 20_000
MAX_BUCKET = 10  # within one LSH bucket, each text is paired with this many neighbours
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _hash_params(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)
    return a, b


def _shingles(
    offsets: np.ndarray, ids: np.ndarray, texts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bigram shingles (uint64) of each selected text and, per text, where they start."""
    starts, ends = offsets[texts], offsets[texts + 1]
    lens = ends - starts
    total = int(lens.sum())
    firsts = np.cumsum(lens) - lens
    positions = np.arange(total, dtype=np.int64) - np.repeat(firsts - starts, lens)
    tokens = ids[positions].astype(np.uint64)
    owner_len = np.repeat(lens, lens)
    is_last = np.zeros(total, dtype=bool)
    is_last[np.cumsum(lens) - 1] = True
    nxt = np.roll(tokens, -1)
    bigram = (tokens * _MIX) ^ (nxt + np.uint64(1))
    keep = ~is_last | (owner_len == 1)
    values = np.where(is_last, tokens * _MIX, bigram)[keep]
    per_text = np.maximum(lens - 1, 1)
    return values, np.concatenate([[0], np.cumsum(per_text)])


def signatures(
    offsets: np.ndarray, ids: np.ndarray, texts: np.ndarray, seed: int = 0
) -> np.ndarray:
    """MinHash signatures (uint32, one row per text); texts must have at least one token."""
    a, b = _hash_params(seed)
    sig = np.empty((len(texts), NUM_PERM), dtype=np.uint32)
    if not len(texts):
        return sig
    values, bounds = _shingles(offsets, ids, texts)
    starts = bounds[:-1]
    hashed = np.empty(len(values), dtype=np.uint64)
    # One hash function at a time keeps the temporaries small and in cache.
    for j in range(NUM_PERM):
        np.multiply(values, a[j], out=hashed)
        np.add(hashed, b[j], out=hashed)
        np.right_shift(hashed, np.uint64(32), out=hashed)
        sig[:, j] = np.minimum.reduceat(hashed, starts)
    return sig


def candidate_pairs(sig: np.ndarray) -> np.ndarray:
    """Pairs (i < j) sharing at least one LSH band, as an (n, 2) int64 array."""
    rows = NUM_PERM // BANDS
    found = []
    for band in range(BANDS):
        part = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
        key = np.zeros(len(sig), dtype=np.uint64)
        for col in range(rows):
            key = (key ^ part[:, col]) * _MIX
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        for step in range(1, MAX_BUCKET + 1):
            same = sorted_key[step:] == sorted_key[:-step]
            if not same.any():
                break
            found.append(np.stack([order[:-step][same], order[step:][same]], axis=1))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs.sort(axis=1)
    return np.unique(pairs, axis=0)


def similar_pairs(sig: np.ndarray, threshold: float = THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs whose estimated Jaccard similarity is at least ``threshold``."""
    pairs = candidate_pairs(sig)
    if not len(pairs):
        return pairs, np.empty(0)
    sim = (sig[pairs[:, 0]] == sig[pairs[:, 1]]).mean(axis=1)
    keep = sim >= threshold
    order = np.argsort(-sim[keep], kind="stable")
    return pairs[keep][order], sim[keep][order]


def sample_texts(candidates: np.ndarray, limit: int, seed: int = 0) -> tuple[np.ndarray, bool]:
    """Up to ``limit`` of ``candidates`` (sorted), and whether that was a sample."""
    if len(candidates) <= limit:
        return candidates, False
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(candidates, size=limit, replace=False)), True
