"""Check 9, simple baseline: the number the network must beat.

TF-IDF of word 1–2 grams with logistic regression and a linear SVM (classification) or
ridge regression (regression), fit on the same training split and scored on the same dev
split as the network, next to the dumbest baseline (the majority class, or the training
mean). Always passes when it can run: it is a reference, not a verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuirecipe.checks.base import Check, Outcome, register

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.checks.context import CheckContext


def _vectorizer(n_train: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2 if n_train >= 2000 else 1,
        sublinear_tf=True,
        token_pattern=r"(?u)\b\w+\b",
        max_features=200_000,
    )


def classification_baseline(
    train_texts: list[str], train_y: Any, dev_texts: list[str], dev_y: Any
) -> dict[str, Any]:
    """Dev accuracy (Wilson 95 % CI) of TF-IDF + logistic regression / linear SVM and of
    the training split's majority class."""
    import warnings

    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    from tuirecipe.train.metrics import wilson_interval

    train_y, dev_y = np.asarray(train_y), np.asarray(dev_y)
    n = len(dev_y)
    classes, counts = np.unique(train_y, return_counts=True)
    majority = classes[int(np.argmax(counts))]
    maj_correct = int((dev_y == majority).sum())
    out: dict[str, Any] = {
        "n": n,
        "majority_class": int(majority),
        "majority_acc": maj_correct / n,
        "majority_ci": list(wilson_interval(maj_correct, n)),
        "models": {},
    }
    if len(classes) < 2:
        raise ValueError(f"the training split has a single class ({majority})")
    vec = _vectorizer(len(train_texts))
    xtr = vec.fit_transform(train_texts)
    xdev = vec.transform(dev_texts)
    out["features"] = int(xtr.shape[1])
    # saga: lbfgs takes seconds per fit on a few thousand TF-IDF rows, saga a fraction.
    models = {
        "logistic_regression": LogisticRegression(C=10.0, solver="saga", max_iter=300, tol=1e-3),
        "linear_svm": LinearSVC(C=1.0),
    }
    for name, clf in models.items():
        with warnings.catch_warnings():  # a ConvergenceWarning at tol 1e-3 changes nothing
            warnings.simplefilter("ignore")
            clf.fit(xtr, train_y)
        pred = clf.predict(xdev)
        correct = int((pred == dev_y).sum())
        out["models"][name] = {
            "acc": correct / n,
            "ci": list(wilson_interval(correct, n)),
            "correct": correct,
            "pred": pred,
        }
    return out


def regression_baseline(
    train_texts: list[str], train_y: Any, dev_texts: list[str], dev_y: Any
) -> dict[str, Any]:
    """Dev MAE (95 % CI of the mean absolute error) of TF-IDF + ridge and of the mean."""
    import numpy as np
    from sklearn.linear_model import Ridge

    from tuirecipe.train.metrics import mean_interval

    train_y = np.asarray(train_y, dtype=np.float64)
    dev_y = np.asarray(dev_y, dtype=np.float64)
    mean_err = np.abs(dev_y - train_y.mean())
    vec = _vectorizer(len(train_texts))
    xtr = vec.fit_transform(train_texts)
    model = Ridge(alpha=1.0).fit(xtr, train_y)
    pred = model.predict(vec.transform(dev_texts))
    err = np.abs(pred - dev_y)
    return {
        "n": len(dev_y),
        "features": int(xtr.shape[1]),
        "mae": float(err.mean()),
        "ci": list(mean_interval(err)),
        "mse": float((err**2).mean()),
        "mean_mae": float(mean_err.mean()),
        "mean_ci": list(mean_interval(mean_err)),
        "train_mean": float(train_y.mean()),
        "pred": pred,
    }


@register
class SimpleBaseline(Check):
    name = "simple_baseline"
    title = "A simple baseline to beat"
    stage = "skeleton"
    kind = "auto"
    order = 90
    description = (
        "TF-IDF on word 1–2 grams with logistic regression / a linear SVM (ridge for "
        "regression), trained on the same split and scored on the same dev set, next to "
        "the majority class (or the mean). This is the number the network has to beat; a "
        "network below it is not yet worth tuning."
    )

    def run(self, ctx: CheckContext) -> Outcome:
        data = ctx.data
        train, dev = data.train, data.dev
        if len(train.texts) == 0 or len(dev.texts) == 0:
            return Outcome(
                "error",
                f"cannot fit a baseline: {len(train.texts)} training and "
                f"{len(dev.texts)} dev examples",
                advice="the baseline needs both a training and a dev split",
            )
        ctx.progress(0.1, "fitting TF-IDF baselines")
        try:
            if data.task == "classification":
                res = classification_baseline(
                    list(train.texts), train.targets, list(dev.texts), dev.targets
                )
            else:
                res = regression_baseline(
                    list(train.texts), train.targets, list(dev.texts), dev.targets
                )
        except ValueError as exc:  # empty vocabulary, a single class, …
            return Outcome(
                "error",
                f"the baseline cannot run: {exc}",
                advice="check that the text column has words and the training "
                "split more than one class",
            )
        if data.task == "classification":
            return self._classification(data, res)
        return self._regression(data, res)

    @staticmethod
    def _classification(data: Any, res: dict[str, Any]) -> Outcome:
        names = list(data.label_names)
        best_name = max(res["models"], key=lambda k: res["models"][k]["acc"])
        best = res["models"][best_name]
        pred, gold = best.pop("pred"), list(data.dev.targets)
        for model in res["models"].values():
            model.pop("pred", None)
        wrong = [
            {
                "row": int(data.dev.rows[i]),
                "text": data.dev.texts[i][:200],
                "label": _name(names, gold[i]),
                "pred": _name(names, pred[i]),
            }
            for i in range(len(gold))
            if int(pred[i]) != int(gold[i])
        ][:20]
        lo, hi = best["ci"]
        numbers = {
            "baseline_acc": best["acc"],
            "ci": best["ci"],
            "n": res["n"],
            "majority_acc": res["majority_acc"],
            "majority_ci": res["majority_ci"],
            "baseline_model": best_name,
            **{f"{k}_acc": v["acc"] for k, v in res["models"].items()},
        }
        evidence = {
            "models": res["models"],
            "majority_class": _name(names, res["majority_class"]),
            "features": res["features"],
            "dev_mistakes": wrong,
            "note": "the better of the two models on dev is the number to beat "
            "(picked on dev, so slightly optimistic)",
        }
        return Outcome(
            "pass",
            f"TF-IDF + {best_name.replace('_', ' ')}: dev acc "
            f"{best['acc']:.3f} [{lo:.3f}, {hi:.3f}] (n={res['n']}); "
            f"majority class {res['majority_acc']:.3f}",
            numbers=numbers,
            evidence=evidence,
        )

    @staticmethod
    def _regression(data: Any, res: dict[str, Any]) -> Outcome:
        lo, hi = res["ci"]
        pred = res.pop("pred")
        gold = [float(v) for v in data.dev.targets]
        order = sorted(range(len(gold)), key=lambda i: -abs(pred[i] - gold[i]))[:20]
        worst = [
            {
                "row": int(data.dev.rows[i]),
                "text": data.dev.texts[i][:200],
                "target": gold[i],
                "pred": float(pred[i]),
            }
            for i in order
        ]
        numbers = {
            "baseline_mae": res["mae"],
            "ci": res["ci"],
            "n": res["n"],
            "baseline_mse": res["mse"],
            "mean_mae": res["mean_mae"],
            "mean_ci": res["mean_ci"],
        }
        return Outcome(
            "pass",
            f"TF-IDF + ridge: dev MAE {res['mae']:.4g} [{lo:.4g}, {hi:.4g}]"
            f" (n={res['n']}); predicting the mean {res['mean_mae']:.4g}",
            numbers=numbers,
            evidence={
                "train_mean": res["train_mean"],
                "features": res["features"],
                "largest_errors": worst,
            },
        )


def _name(names: list[str], cls: Any) -> str:
    c = int(cls)
    return names[c] if 0 <= c < len(names) else str(c)
