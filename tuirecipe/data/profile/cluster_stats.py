"""How labels and regression targets spread over topic clusters, judged against the data.

Classification, per cluster and label: the label's share in the cluster against its share
in the whole clustered sample (the prior), the lift (share / prior), the odds ratio of the
cluster against the other clusters, and a one-sided hypergeometric test of
over-representation (the exact test of "these rows were drawn without regard to the
label"), Bonferroni-corrected over every cluster × label pair. A cluster is
``concentrated`` when some label is significantly over-represented with an odds ratio of
at least 2, ``slight`` when it is significant but weaker, ``like_prior`` otherwise. Odds
rather than lift decide, because lift is bounded by 1 / prior: a label that holds 87 % of
the rows can never reach a lift of 1.5, yet a cluster where it holds 100 % says something.
Overall: the chi-square test of the cluster × label table and Cramér's V.

Regression, per cluster: count, mean, std, median, min, max of the target, the shift of
the mean from the overall mean in target standard deviations, and Welch's t-test of the
cluster against the rest (Bonferroni over clusters). Overall: eta² (the share of the
target's variance the clusters explain) and the one-way ANOVA F test.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ALPHA = 0.01
MIN_ODDS_RATIO = 2.0
MIN_SHIFT = 0.5
MIX_LABELS = 5
MOSTLY = 0.5  # share of the labelled sample in concentrated clusters: "labels follow topics"

LABEL_TEST = (
    "per cluster and label: one-sided hypergeometric test of over-representation against "
    "the label's share in the sample, Bonferroni over clusters x labels; concentrated = "
    f"significant at {ALPHA} and odds ratio >= {MIN_ODDS_RATIO:g}"
)
TARGET_TEST = (
    "per cluster: Welch's t-test of the cluster's targets against the rest, Bonferroni over "
    f"clusters; higher/lower = significant at {ALPHA} and a shift of at least "
    f"{MIN_SHIFT:g} std"
)


def _finite(value: float) -> float | None:
    """A float for strict JSON: NaN and infinities become None."""
    value = float(value)
    return value if math.isfinite(value) else None


def _p_text(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "< 1e-300" if p == 0 else f"{p:.2g}"


def label_mixing(
    assign: np.ndarray, codes: np.ndarray, names: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-cluster label statistics (in cluster id order) and the section-level ones.

    ``assign`` holds cluster ids 0..k-1, ``codes`` label codes into ``names`` (-1: none).
    """
    from scipy import stats

    k = int(assign.max()) + 1 if len(assign) else 0
    labelled = codes >= 0
    table = np.zeros((k, len(names)), dtype=np.int64)
    np.add.at(table, (assign[labelled], codes[labelled]), 1)
    totals = table.sum(axis=0)
    sizes = table.sum(axis=1)
    n = int(totals.sum())
    present = totals > 0
    prior = totals / max(n, 1)
    # P(X >= a) for X ~ hypergeometric(n rows, totals[l] with the label, sizes[j] drawn)
    p = stats.hypergeom.sf(table - 1, n, totals[None, :], sizes[:, None])
    tests = k * int(present.sum())
    p_adj = np.minimum(1.0, p * tests)
    other_in = sizes[:, None] - table
    label_out = totals[None, :] - table
    other_out = n - totals[None, :] - other_in
    # Haldane's +0.5 keeps the odds finite when a cell is empty (a pure cluster).
    odds = ((table + 0.5) * (other_out + 0.5)) / ((other_in + 0.5) * (label_out + 0.5))

    per_cluster: list[dict[str, Any]] = []
    signals = {"concentrated": 0, "slight": 0, "like_prior": 0}
    for j in range(k):
        if sizes[j] == 0 or not present.any():
            per_cluster.append({"labelled": int(sizes[j]), "label_signal": None})
            continue
        share = table[j] / sizes[j]
        lift = np.divide(share, prior, out=np.zeros_like(share), where=prior > 0)
        by_count = [int(c) for c in np.argsort(-table[j], kind="stable") if table[j, c]]
        major = by_count[0]
        candidates = np.flatnonzero(present)
        # The label most clearly over-represented: smallest p, then largest odds ratio.
        best = int(candidates[np.lexsort((-odds[j, candidates], p[j, candidates]))[0]])
        significant = p_adj[j, best] < ALPHA
        if significant and odds[j, best] >= MIN_ODDS_RATIO:
            signal = "concentrated"
        elif significant:
            signal = "slight"
        else:
            signal = "like_prior"
        signals[signal] += 1
        shown = by_count[:MIX_LABELS]
        # A rare label can be the one over-represented without being among the largest.
        mixed_in = shown if best in shown else [*shown, best]
        per_cluster.append(
            {
                "labelled": int(sizes[j]),
                "labels": {names[c]: int(table[j, c]) for c in shown},
                "label_mix": [
                    {
                        "label": names[c],
                        "count": int(table[j, c]),
                        "share": float(share[c]),
                        "prior": float(prior[c]),
                        "lift": float(lift[c]),
                    }
                    for c in mixed_in
                ],
                "majority_label": names[major],
                "majority": float(share[major]),
                "majority_prior": float(prior[major]),
                "majority_lift": float(lift[major]),
                "signal_label": names[best],
                "signal_share": float(share[best]),
                "signal_prior": float(prior[best]),
                "lift": float(lift[best]),
                "odds_ratio": float(odds[j, best]),
                "p_value": float(p[j, best]),
                "p_adjusted": float(p_adj[j, best]),
                "label_signal": signal,
            }
        )
    association = _association(table[sizes > 0][:, present], n)
    in_concentrated = sum(c["labelled"] for c in per_cluster if c["label_signal"] == "concentrated")
    overall = {
        "label_association": association,
        # Purity: the share of labelled rows whose label is their cluster's majority label;
        # against the prior's (every row called the majority class), which any clustering
        # reaches without looking at the texts.
        "purity": float(table.max(axis=1).sum() / n) if n else None,
        "purity_prior": float(prior.max()) if n else None,
        "label_signal": signals,
        "concentrated_share": in_concentrated / max(n, 1),
        "alpha": ALPHA,
        "test": LABEL_TEST,
        "message": _label_message(signals, in_concentrated / max(n, 1), association, k),
    }
    return per_cluster, overall


def _association(table: np.ndarray, n: int) -> dict[str, Any]:
    """Chi-square test of independence of the cluster × label table, and Cramér's V."""
    from scipy import stats

    if table.shape[0] < 2 or table.shape[1] < 2:
        return {"ran": False, "reason": "fewer than two clusters or labels", "labelled_rows": n}
    result = stats.chi2_contingency(table, correction=False)
    cramers_v = stats.contingency.association(table, method="cramer", correction=False)
    return {
        "ran": True,
        "chi2": _finite(result.statistic),
        "dof": int(result.dof),
        "p_value": _finite(result.pvalue),
        "cramers_v": _finite(cramers_v),
        "labelled_rows": n,
    }


def _label_message(
    signals: dict[str, int], concentrated_share: float, association: dict[str, Any], k: int
) -> str:
    if not association.get("ran"):
        return f"Labels not compared with the clusters: {association['reason']}."
    v, p = association["cramers_v"], association["p_value"]
    stats_text = f"Cramér's V {v:.2f}, chi-square p {_p_text(p)}"
    if signals["concentrated"]:
        which = (
            f"{signals['concentrated']} of {k} clusters ({concentrated_share:.0%} of the "
            f"labelled sample) hold a label well above its share in the sample ({stats_text})"
        )
        if concentrated_share >= MOSTLY:
            return f"Labels follow topics: {which}. Topic words alone say much about the label."
        return f"Some topics carry a label: {which}."
    if p is not None and p < ALPHA:
        return (
            f"Labels lean only slightly with topics ({stats_text}): no cluster holds a label "
            "well above its share in the sample."
        )
    return (
        f"Labels are spread over the topic clusters as over the whole sample ({stats_text}): "
        "these clusters do not separate the labels."
    )


def target_spread(
    assign: np.ndarray, targets: np.ndarray
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-cluster target statistics (in cluster id order) and the section-level ones.

    ``targets`` holds one float per clustered row, NaN where the row has none.
    """
    from scipy import stats

    k = int(assign.max()) + 1 if len(assign) else 0
    usable = np.isfinite(targets)
    y, groups = targets[usable], assign[usable]
    mean = float(y.mean()) if len(y) else math.nan
    std = float(y.std(ddof=1)) if len(y) > 1 else math.nan
    signals = {"higher": 0, "lower": 0, "slight": 0, "like_overall": 0}
    per_cluster: list[dict[str, Any]] = []
    members = [y[groups == j] for j in range(k)]
    for j, values in enumerate(members):
        rest = y[groups != j]
        if not len(values):
            per_cluster.append({"target": {"count": 0}, "target_signal": None})
            continue
        shift = (values.mean() - mean) / std if std > 0 else 0.0
        p = math.nan
        if len(values) > 1 and len(rest) > 1 and std > 0:
            p = float(stats.ttest_ind(values, rest, equal_var=False).pvalue)
        p_adj = min(1.0, p * k) if math.isfinite(p) else math.nan
        if p_adj < ALPHA and abs(shift) >= MIN_SHIFT:
            signal = "higher" if shift > 0 else "lower"
        elif p_adj < ALPHA:
            signal = "slight"
        else:
            signal = "like_overall"
        signals[signal] += 1
        per_cluster.append(
            {
                "target": {
                    "count": int(len(values)),
                    "mean": float(values.mean()),
                    "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                    "median": float(np.median(values)),
                    "min": float(values.min()),
                    "max": float(values.max()),
                },
                "shift": _finite(shift),
                "p_value": _finite(p),
                "p_adjusted": _finite(p_adj),
                "target_signal": signal,
            }
        )
    association = _target_association(members, y, mean)
    return per_cluster, {
        "target_association": association,
        "target_signal": signals,
        "alpha": ALPHA,
        "test": TARGET_TEST,
        "message": _target_message(signals, association),
    }


def _target_association(members: list[np.ndarray], y: np.ndarray, mean: float) -> dict:
    """eta² (between-cluster share of the target's variance) and the ANOVA F test."""
    from scipy import stats

    groups = [g for g in members if len(g)]
    total = float(((y - mean) ** 2).sum()) if len(y) else 0.0
    if len(groups) < 2 or total == 0 or len(y) <= len(groups):
        return {"ran": False, "reason": "fewer than two clusters or no spread in the target"}
    between = sum(len(g) * (float(g.mean()) - mean) ** 2 for g in groups)
    anova = stats.f_oneway(*groups)
    return {
        "ran": True,
        "eta_squared": between / total,
        "f": _finite(anova.statistic),
        "p_value": _finite(anova.pvalue),
        "target_rows": int(len(y)),
        "mean": mean,
        "std": float(y.std(ddof=1)),
    }


def _target_message(signals: dict[str, int], association: dict[str, Any]) -> str:
    if not association.get("ran"):
        return f"Targets not compared with the clusters: {association['reason']}."
    eta, p = association["eta_squared"], association["p_value"]
    shifted = signals["higher"] + signals["lower"]
    head = f"Clusters explain {eta:.0%} of the target's variance (ANOVA p {_p_text(p)})"
    if shifted:
        return (
            f"{head}: {shifted} cluster(s) sit {MIN_SHIFT:g} std or more away from the mean "
            f"({signals['higher']} higher, {signals['lower']} lower)."
        )
    return f"{head}: no cluster's mean sits {MIN_SHIFT:g} std or more away from the mean."
