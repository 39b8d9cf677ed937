"""Topic clusters: TF-IDF → truncated SVD → k-means, over a sample of rows.

Built from the token ids the normaliser already has, with numpy and ``scipy.sparse``.
scikit-learn's TfidfTransformer/TruncatedSVD/MiniBatchKMeans do the same job (the simple
baseline check uses its TfidfVectorizer), but not here: importing scikit-learn takes
1.5–4 s on a cold two-core machine, more than the whole profile is allowed, and since
scikit-learn 1.9 it also imports rich when rich is installed, which the core must not load
(tests/test_profile.py). The TF-IDF below is scikit-learn's formula (sublinear tf, smoothed
idf, l2 rows); the other two steps are the textbook algorithms (randomized SVD after Halko
et al., k-means++ seeding and Lloyd iterations).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

SAMPLE_SIZE = 10_000
MAX_FEATURES = 20_000
COMPONENTS = 50
MIN_TEXTS = 40
MIXED_MAJORITY = 0.6
TOP_TERMS = 8


def choose_k(n: int) -> int:
    """About sqrt(n / 20), kept within 8..20 and at most n / 5."""
    return int(max(2, min(max(8, min(20, round(math.sqrt(n / 20)))), n // 5)))


def _tfidf(offsets: np.ndarray, ids: np.ndarray, texts: np.ndarray):
    from scipy import sparse

    lens = offsets[texts + 1] - offsets[texts]
    firsts = np.cumsum(lens) - lens
    positions = np.arange(int(lens.sum())) - np.repeat(firsts - offsets[texts], lens)
    cols = ids[positions]
    indptr = np.concatenate([[0], np.cumsum(lens)])
    counts = sparse.csr_matrix(
        (np.ones(len(cols), dtype=np.float32), cols, indptr),
        shape=(len(texts), int(ids.max()) + 1 if len(ids) else 1),
    )
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    usable = np.flatnonzero((df >= 2) & (df <= 0.5 * len(texts)))
    if len(usable) > MAX_FEATURES:
        usable = usable[np.argsort(-df[usable], kind="stable")[:MAX_FEATURES]]
    x = counts[:, usable].tocsr()
    x.data = 1.0 + np.log(x.data)
    idf = np.log((1 + len(texts)) / (1 + df[usable])) + 1.0
    x = x.multiply(idf[None, :].astype(np.float32)).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    x = sparse.diags((1.0 / norms).astype(np.float32)) @ x
    return x.tocsr(), usable


def _randomized_svd(x, rank: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of ``x`` projected on its top ``rank`` right singular vectors."""
    width = rank + 10
    q, _ = np.linalg.qr(x @ rng.standard_normal((x.shape[1], width)).astype(np.float32))
    for _ in range(2):  # power iterations sharpen the spectrum of sparse text data
        q, _ = np.linalg.qr(x @ (x.T @ q))
    u, s, _ = np.linalg.svd(np.asarray((x.T @ q).T), full_matrices=False)
    return (q @ u[:, :rank]) * s[:rank]


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iters: int = 25) -> np.ndarray:
    """Cluster ids from k-means++ seeding and Lloyd iterations."""
    centers = [points[rng.integers(len(points))]]
    dist = ((points - centers[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        p = dist / dist.sum() if dist.sum() > 0 else None
        centers.append(points[rng.choice(len(points), p=p)])
        dist = np.minimum(dist, ((points - centers[-1]) ** 2).sum(axis=1))
    c = np.array(centers)
    assign = np.zeros(len(points), dtype=np.int64)
    for _ in range(iters):
        d = (points**2).sum(1)[:, None] - 2 * points @ c.T + (c**2).sum(1)[None, :]
        new = d.argmin(axis=1)
        if _ and np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = points[assign == j]
            if len(members):
                c[j] = members.mean(axis=0)
    return assign


def cluster_texts(
    offsets: np.ndarray,
    ids: np.ndarray,
    texts: np.ndarray,
    label_codes: np.ndarray | None,
    label_names: list[str],
    vocab_lookup: Callable[[int], str],
    seed: int = 0,
) -> dict:
    """Clusters of the given texts (one entry per sampled row); see the module docstring."""
    keep = offsets[texts + 1] > offsets[texts]
    texts = texts[keep]
    labels = label_codes[keep] if label_codes is not None else None
    if len(texts) < MIN_TEXTS:
        return {"ran": False, "reason": f"fewer than {MIN_TEXTS} texts with words"}
    with _one_blas_thread():
        return _cluster(offsets, ids, texts, labels, label_names, vocab_lookup, seed)


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run BLAS single-threaded: on a busy 2-core machine OpenBLAS's own threads make the
    small products here 10-20x slower (measured: a 7600x60 QR in 1.1 s instead of 0.06 s)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _cluster(
    offsets: np.ndarray,
    ids: np.ndarray,
    texts: np.ndarray,
    labels: np.ndarray | None,
    label_names: list[str],
    vocab_lookup: Callable[[int], str],
    seed: int,
) -> dict:
    rng = np.random.default_rng(seed)
    x, features = _tfidf(offsets, ids, texts)
    if x.shape[1] < 3:
        return {"ran": False, "reason": "too few shared words to cluster"}
    rank = max(2, min(COMPONENTS, x.shape[1] - 1, len(texts) - 1))
    emb = _randomized_svd(x, rank, rng)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    k = choose_k(len(texts))
    assign = _kmeans(emb.astype(np.float64), k, rng)
    onehot_sizes = np.bincount(assign, minlength=k)
    overall = np.asarray(x.mean(axis=0)).ravel()
    clusters = []
    for j in np.argsort(-onehot_sizes, kind="stable"):
        members = np.flatnonzero(assign == j)
        if not len(members):
            continue
        # Rank terms by how much more weight they carry here than overall, so words
        # common everywhere ("the", "to") do not name every cluster.
        weights = np.asarray(x[members].mean(axis=0)).ravel() - overall
        top = np.argsort(-weights)[:TOP_TERMS]
        entry = {
            "id": int(j),
            "size": int(len(members)),
            "share": float(len(members) / len(texts)),
            "top_terms": [vocab_lookup(int(features[t])) for t in top if weights[t] > 0],
        }
        if labels is not None and label_names:
            found = labels[members]
            found = found[found >= 0]
            values, counts = np.unique(found, return_counts=True)
            order = np.argsort(-counts, kind="stable")
            mix = {label_names[int(values[i])]: int(counts[i]) for i in order[:5]}
            majority = float(counts.max() / counts.sum()) if len(counts) else 0.0
            entry.update(labels=mix, majority=majority, mixed=majority < MIXED_MAJORITY)
        clusters.append(entry)
    return {
        "ran": True,
        "k": k,
        "method": "tf-idf (sublinear, df>=2, <=50%) -> randomized SVD "
        f"({rank} dims) -> k-means++ / Lloyd",
        "features": int(x.shape[1]),
        "clusters": clusters,
        "mixed": sum(1 for c in clusters if c.get("mixed")),
    }
