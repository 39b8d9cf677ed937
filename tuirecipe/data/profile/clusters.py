"""Topic clusters of a sample of texts, and how the labels (or targets) spread over them.

:func:`cluster_texts` runs ``features(texts)`` → truncated SVD (for a sparse matrix) →
L2 rows → k-means with a fixed seed, all scikit-learn. The default features are TF-IDF
(English stop words, words in at least 2 and at most half of the texts, sublinear tf,
tokens of two or more characters that start with a letter); ``features`` may be any
callable from texts to a dense or sparse matrix, so a pretrained sentence encoder can take
its place. The terms that name a cluster always come from TF-IDF: those whose mean weight
in the cluster exceeds their mean weight in the other clusters the most.

How labels and targets are judged against the clusters is in
:mod:`tuirecipe.data.profile.cluster_stats`.

Section keys: ``ran`` (and ``reason`` when not), ``method``, ``features``, ``n_features``,
``k``, ``k_rule``, ``clustered_rows``, ``unclustered`` {count, rows, reason},
``clusters`` [{id, size, share, top_terms, examples [{row, text}], + label or target
statistics}], then for classification ``label_association``, ``label_signal``,
``alpha``, ``test``, ``message``, and for regression ``target_association``,
``target_signal``, ``alpha``, ``test``, ``message``. ``profile_frame`` adds ``sampled``
and ``sample_size``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from tuirecipe.data.profile.cluster_stats import label_mixing, target_spread

SAMPLE_SIZE = 10_000
MIN_TEXTS = 40
MAX_FEATURES = 20_000
COMPONENTS = 50
MAX_K = 12
ROWS_PER_K = 50
TOP_TERMS = 8
EXAMPLES = 2
EXAMPLE_CHARS = 160
# Tokens the default pattern leaves behind that carry no topic: the stems of contractions
# ("doesn't" -> "doesn"), PTB bracket tokens (SST's "-LRB-") and HTML entity names
# ("&quot;" in scraped news). Added to scikit-learn's English list.
EXTRA_STOP_WORDS = frozenset(
    "don doesn didn isn wasn aren weren hasn haven hadn couldn wouldn shouldn won ll ve re "
    "lrb rrb lsb rsb quot amp nbsp lt gt apos".split()
)
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W_]+\b"

Features = Callable[[list[str]], Any]  # texts -> np.ndarray or a scipy.sparse matrix


def choose_k(n: int) -> int:
    """``round(sqrt(n / 50))`` kept within 2..12.

    Silhouette does not pick k for text: on AG News (4 topics, LSA vectors) it rose steadily
    from 0.04 at k=2 to 0.12 at k=20. So k is a reading budget instead: enough clusters to
    split a corpus into sub-topics, few enough to read in one table, and about 50 rows or
    more per cluster so the per-cluster label test has the power to see a lift.
    """
    return int(min(MAX_K, max(2, round(math.sqrt(n / ROWS_PER_K)))))


def prepare() -> None:
    """Import what clustering needs (about 1.1 s of CPU, once per process, holding the
    GIL). A caller can run this in its helper thread early, while the main thread is in
    pyarrow code that releases the GIL, instead of paying it during GIL-bound work."""
    _import_sklearn()


def _import_sklearn() -> None:
    """Import the scikit-learn parts used here (about 1.1 s of CPU once per process).

    scikit-learn itself may load rich for an optional progress bar; that is its business:
    the core's own code never imports rich, and works when rich cannot be imported at all
    (tests/unit/test_profile.py runs a profile with rich, textual and torch blocked).
    """
    import scipy.stats  # noqa: F401
    import sklearn.cluster  # noqa: F401
    import sklearn.decomposition  # noqa: F401
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.preprocessing  # noqa: F401


@contextmanager
def _one_thread() -> Iterator[None]:
    """BLAS and OpenMP on one thread, for libraries already loaded (so import first):
    on a busy two-core machine their own threads made these small products 10-20x
    slower, and threads spinning in a library loaded inside the block went unlimited."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-means' "fewer distinct points" and the like
        yield


def tfidf_vectorizer() -> Any:
    """The TF-IDF the clusters use for features (by default) and for naming clusters.

    Unigrams only: adding bigrams made the vectorizer 2.5x slower (1.4 s against 0.55 s on
    20,000 AG News texts), more than the whole stage is allowed.
    """
    _import_sklearn()
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    return TfidfVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | EXTRA_STOP_WORDS),
        token_pattern=TOKEN_PATTERN,
        min_df=2,
        max_df=0.5,
        max_features=MAX_FEATURES,
        sublinear_tf=True,
        dtype=np.float32,
    )


def cluster_texts(
    texts: list[str],
    *,
    label_codes: np.ndarray | None = None,
    label_names: list[str] | None = None,
    targets: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    features: Features | None = None,
    seed: int = 0,
    k: int | None = None,
) -> dict[str, Any]:
    """Cluster ``texts`` and judge labels (``label_codes`` into ``label_names``, -1 for
    none) or regression ``targets`` (NaN for none) against the clusters.

    ``rows`` names each text in the file (default: its position). ``features`` replaces
    the TF-IDF vectors used for clustering; its output must have one row per text. ``k``
    fixes the number of clusters (default :func:`choose_k`).
    """
    rows = np.arange(len(texts)) if rows is None else np.asarray(rows)
    if len(rows) != len(texts):
        raise ValueError(f"rows has {len(rows)} entries for {len(texts)} texts")
    if len(texts) < MIN_TEXTS:
        return {"ran": False, "reason": f"fewer than {MIN_TEXTS} texts"}
    _import_sklearn()
    return _cluster(texts, label_codes, label_names or [], targets, rows, features, seed, k)


def _cluster(
    texts: list[str],
    label_codes: np.ndarray | None,
    label_names: list[str],
    targets: np.ndarray | None,
    rows: np.ndarray,
    features: Features | None,
    seed: int,
    k: int | None,
) -> dict[str, Any]:
    from scipy import sparse
    from sklearn.cluster import KMeans

    vectorizer = tfidf_vectorizer()
    try:
        tfidf = vectorizer.fit_transform(texts).tocsr()
        names = vectorizer.get_feature_names_out()
    except ValueError:  # sklearn: "empty vocabulary" or "no terms remain" after pruning
        if features is None:
            return {
                "ran": False,
                "reason": "no word left once stop words, words in fewer than 2 texts and "
                "words in more than half of them are dropped",
            }
        # Another encoder can still cluster; the clusters just have no terms to name them.
        tfidf, names = sparse.csr_matrix((len(texts), 0), dtype=np.float32), np.array([])
    if features is None:
        # A text left with no TF-IDF term (only stop words, or words no other text has)
        # has no direction to cluster by: set it aside and say so.
        keep = np.flatnonzero(tfidf.getnnz(axis=1) > 0)
        vectors: Any = tfidf[keep]
        method = "tf-idf"
    else:
        keep = np.arange(len(texts))
        vectors = features(list(texts))
        if vectors.shape[0] != len(texts):
            raise ValueError(f"features returned {vectors.shape[0]} rows for {len(texts)} texts")
        method = getattr(features, "__name__", type(features).__name__)
    unclustered = np.setdiff1d(np.arange(len(texts)), keep)
    if len(keep) < MIN_TEXTS:
        return {"ran": False, "reason": f"fewer than {MIN_TEXTS} texts with words to cluster"}
    given = k is not None
    k = choose_k(len(keep)) if k is None else int(k)
    if not 2 <= k <= len(keep):
        raise ValueError(f"k must be between 2 and {len(keep)}, got {k}")

    with _one_thread():
        points, reduced = _points(vectors, seed)
        model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(points)
    raw = model.labels_
    # Number clusters by size, largest first, dropping any that k-means left empty.
    sizes = np.bincount(raw, minlength=k)
    order = [int(j) for j in np.argsort(-sizes, kind="stable") if sizes[j]]
    renumber = np.full(k, -1)
    renumber[order] = np.arange(len(order))
    assign = renumber[raw]
    centers = model.cluster_centers_[order]

    terms = _top_terms(tfidf[keep], assign, len(order), names)
    clusters = []
    for j in range(len(order)):
        members = np.flatnonzero(assign == j)
        clusters.append(
            {
                "id": j,
                "size": int(len(members)),
                "share": float(len(members) / len(keep)),
                "top_terms": terms[j],
                "examples": _examples(points, members, centers[j], keep, rows, texts),
            }
        )
    section: dict[str, Any] = {
        "ran": True,
        "method": f"{method} -> "
        + (f"truncated SVD ({points.shape[1]} dims) -> " if reduced else "")
        + f"L2 rows -> k-means (seed {seed})",
        "features": method,
        "n_features": int(vectors.shape[1]),
        "k": len(order),
        "k_rule": "given" if given else _K_RULE,
        "clustered_rows": int(len(keep)),
        "unclustered": {
            "count": int(len(unclustered)),
            "rows": [int(r) for r in rows[unclustered][:20]],
            "reason": "no TF-IDF term left: only stop words, or words no other text has",
        },
        "clusters": clusters,
    }
    if label_codes is not None and label_names:
        per_cluster, overall = label_mixing(assign, np.asarray(label_codes)[keep], label_names)
    elif targets is not None:
        per_cluster, overall = target_spread(assign, np.asarray(targets, dtype=float)[keep])
    else:
        return section
    for entry, extra in zip(clusters, per_cluster, strict=True):
        entry.update(extra)
    section.update(overall)
    return section


_K_RULE = "round(sqrt(rows / 50)) within 2..12"


def _points(vectors: Any, seed: int) -> tuple[np.ndarray, bool]:
    """Dense L2-normalised rows; a sparse matrix (TF-IDF) is first reduced by truncated
    SVD (latent semantic analysis), which also merges words that occur together."""
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    reduced = sparse.issparse(vectors)
    if reduced:
        rank = max(1, min(COMPONENTS, vectors.shape[1] - 1, vectors.shape[0] - 1))
        points = TruncatedSVD(rank, random_state=seed).fit_transform(vectors)
    else:
        points = np.asarray(vectors, dtype=np.float64)
    if points.ndim != 2 or not np.isfinite(points).all():
        raise ValueError("features must give a finite 2-D matrix, one row per text")
    return normalize(points), reduced


def _top_terms(tfidf: Any, assign: np.ndarray, k: int, names: np.ndarray) -> list[list[str]]:
    """Per cluster, the terms whose mean TF-IDF weight in it exceeds their mean weight
    in the other clusters the most (only terms with a positive difference)."""
    from scipy import sparse

    n = len(assign)
    sizes = np.bincount(assign, minlength=k).astype(np.float64)
    indicator = sparse.csr_matrix((np.ones(n), (assign, np.arange(n))), shape=(k, n))
    sums = np.asarray((indicator @ tfidf).todense(), dtype=np.float64)
    total = sums.sum(axis=0)
    out = []
    for j in range(k):
        inside = sums[j] / sizes[j]
        rest = (total - sums[j]) / max(n - sizes[j], 1.0)
        score = inside - rest
        top = np.argsort(-score, kind="stable")[:TOP_TERMS]
        out.append([str(names[t]) for t in top if score[t] > 0])
    return out


def _examples(
    points: np.ndarray,
    members: np.ndarray,
    center: np.ndarray,
    keep: np.ndarray,
    rows: np.ndarray,
    texts: list[str],
) -> list[dict[str, Any]]:
    """The cluster's distinct texts nearest its centre (cosine), with their rows."""
    closeness = points[members] @ center
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for m in members[np.argsort(-closeness, kind="stable")]:
        text = texts[int(keep[m])]
        if text in seen:
            continue
        seen.add(text)
        cut = text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"
        out.append({"row": int(rows[keep[m]]), "text": cut})
        if len(out) == EXAMPLES:
            break
    return out
