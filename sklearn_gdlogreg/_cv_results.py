"""Scores, failures and ``cv_results_`` of the search, as GridSearchCV's.

What :func:`._cv_search.search` records is turned here into what
``GridSearchCV(GDLogisticRegression(...), error_score=...)`` gives for the
same candidates and splits: a fit or a scorer that raises scores
``error_score`` (with scikit-learn's ``FitFailedWarning`` or ``UserWarning``,
same messages), a diverged model is scored on the iterate
``GDLogisticRegression`` returns (its lowest cost), all fits failing is a
``ValueError``, and ``cv_results_`` has the same keys, values and ranks.
"""

import inspect
import numbers
import time
import warnings
from collections import Counter
from contextlib import suppress
from traceback import format_exc

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

from ._fit_state import caller_stacklevel


def accepts_sample_weight(scorer):
    """Whether ``scorer`` takes a ``sample_weight`` keyword."""
    accept = getattr(scorer, "_accept_sample_weight", None)
    if accept is not None:
        return accept()
    return "sample_weight" in inspect.signature(scorer).parameters


def score(out, i, k, est, scorer, X_test, y_test, w_test, error_score):
    """Score ``est`` on split ``k``'s test rows into ``out[..][i, k]``.

    As scikit-learn's ``_score``: a scorer that raises re-raises when
    ``error_score="raise"``, else scores ``error_score`` with a UserWarning
    carrying the traceback.
    """
    start = time.perf_counter()
    kwargs = {} if w_test is None else {"sample_weight": w_test}
    try:
        value = scorer(est, X_test, y_test, **kwargs)
    except Exception:
        if error_score == "raise":
            raise
        value = error_score
        warnings.warn(
            "Scoring failed. The score on this train-test partition for these "
            f"parameters will be set to {error_score}. Details: \n{format_exc()}",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    if hasattr(value, "item"):  # NumPy scalars and 0-d arrays
        with suppress(ValueError):
            value = value.item()
    if not isinstance(value, numbers.Number):
        raise ValueError(
            f"scoring must return a number, got {value} ({type(value)}) "
            f"instead. (scorer={scorer})"
        )
    out["scores"][i, k] = value
    out["score_time"][i, k] = time.perf_counter() - start


def report_fit_failures(result, error_score):
    """GridSearchCV's report of failed fits (``_warn_or_raise_about_fit_failures``).

    A ``ValueError`` when every fit failed (whatever ``error_score``), a
    ``FitFailedWarning`` when some did: same messages, each distinct
    traceback once with its count.
    """
    errors = [e for row in result["fit_errors"] for e in row if e is not None]
    if not errors:
        return
    n_fits = result["scores"].size
    delimiter = "-" * 80 + "\n"
    summary = "\n".join(
        f"{delimiter}{n} fits failed with the following error:\n{error}"
        for error, n in Counter(errors).items()
    )
    if len(errors) == n_fits:
        raise ValueError(
            f"\nAll the {n_fits} fits failed.\n"
            "It is very likely that your model is misconfigured.\n"
            "You can try to debug the error by setting error_score='raise'.\n\n"
            f"Below are more details about the failures:\n{summary}"
        )
    warnings.warn(
        f"\n{len(errors)} fits failed out of a total of {n_fits}.\n"
        "The score on these train-test partitions for these parameters"
        f" will be set to {error_score}.\n"
        "If these failures are not expected, you can try to debug them "
        "by setting error_score='raise'.\n\n"
        f"Below are more details about the failures:\n{summary}",
        FitFailedWarning,
        stacklevel=caller_stacklevel(),
    )


def warn_summary(caught, result, candidates):
    """One warning per kind, instead of one per (setting, split) model."""
    for w in caught:  # anything but the fold models' convergence reports
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    diverged = result["diverged"]
    if diverged.any():
        bad = [candidates[i] for i in np.flatnonzero(diverged.any(axis=1))]
        warnings.warn(
            f"Gradient descent diverged on some folds for {bad}; there these "
            "settings are scored on the iterate with the lowest cost, which "
            "GDLogisticRegression returns after a divergence (as GridSearchCV "
            "scores it). Use smaller learning rates.",
            ConvergenceWarning,
            stacklevel=caller_stacklevel(),
        )
    n_unconverged = result["n_unconverged"] + sum(
        "did not converge" in str(w.message) for w in caught
    )
    if n_unconverged:
        warnings.warn(
            f"{n_unconverged} of {diverged.size} fold fits did not converge in "
            "max_iter iterations. Increase max_iter or the learning rates.",
            ConvergenceWarning,
            stacklevel=caller_stacklevel(),
        )


def format_results(candidates, result):
    """cv_results_ in GridSearchCV's format (its ``_format_results``)."""
    results = {}
    for key in ("fit_time", "score_time"):
        results[f"mean_{key}"] = result[key].mean(axis=1)
        results[f"std_{key}"] = result[key].std(axis=1)
    for name in candidates[0]:
        values = np.array([p[name] for p in candidates])
        results[f"param_{name}"] = np.ma.MaskedArray(values, mask=False)
    results["params"] = candidates
    scores = result["scores"]
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    means = scores.mean(axis=1)
    results["mean_test_score"] = means
    if not np.isfinite(means).all():
        warnings.warn(
            f"One or more of the test scores are non-finite: {means}",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    results["std_test_score"] = np.sqrt(np.mean((scores - means[:, None]) ** 2, axis=1))
    # NaN (failed) settings rank with the worst, as in GridSearchCV.
    if np.all(np.isnan(means)):
        rank = np.ones_like(means, dtype=np.int32)
    else:
        filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
        rank = rankdata(-filled, method="min").astype(np.int32)
    results["rank_test_score"] = rank
    return results
