"""Modularity and explicitness (Ridgeway & Mozer 2018), as computed by disentanglement_lib.

Modularity: each code should carry information about at most one factor. From the mutual
information m[code, factor] of the histogram-discretised codes, a code scores
1 - sum_{f != best} m_f^2 / (m_best^2 (K - 1)). Explicitness: a logistic regression on all
standardised codes predicts each factor; its one-vs-rest ROC-AUC, averaged over classes and factors.

Differences from disentanglement_lib (it agrees wherever these cases do not arise):

* A code with zero information about every factor (e.g. a constant code) is left out of the
  modularity average: "at most one factor" does not say anything about it. The reference scores it 0
  (after a 0/0), so a representation with collapsed dimensions loses modularity for them. If no code
  carries information the score is 0. ``num_informative_codes`` reports how many were averaged.
* With a single factor, every informative code is modular (score 1); the reference divides by K-1 = 0.
* A constant code is centred but not divided by its zero std before the regression (the reference
  feeds NaNs to it); classes missing from a split are scored against the classifier's own classes
  instead of failing with a shape mismatch.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike

from eval.metrics import utils
from eval.metrics.registry import register


def modularity(mutual_information: np.ndarray) -> tuple[float, int]:
    """``(modularity, number of informative codes)`` from a ``[codes, factors]`` MI matrix."""
    squared = np.square(np.asarray(mutual_information, dtype=np.float64))
    best = squared.max(axis=1)
    informative = best > 0.
    if not informative.any():
        return 0.0, 0
    squared, best = squared[informative], best[informative]
    if squared.shape[1] == 1:
        return 1.0, int(informative.sum())
    delta = (squared.sum(axis=1) - best) / (best * (squared.shape[1] - 1.))
    return float(np.mean(1. - delta)), int(informative.sum())


def explicitness_per_factor(codes_train: np.ndarray, y_train: np.ndarray, codes_test: np.ndarray,
                            y_test: np.ndarray) -> tuple[float, float]:
    """Train / test macro ROC-AUC (one-vs-rest) of a default logistic regression on all codes."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression().fit(codes_train, y_train)

    def auc(x, y):
        onehot = (y[:, None] == clf.classes_[None, :]).astype(np.int64)
        scores = clf.predict_proba(x)
        # ROC-AUC is undefined for a class absent from (or filling) the split: score the others.
        keep = (onehot.sum(axis=0) > 0) & (onehot.sum(axis=0) < len(y))
        if not keep.any():
            raise ValueError("explicitness needs at least two factor values in each split; sample more points")
        return float(roc_auc_score(onehot[:, keep], scores[:, keep]))

    return auc(codes_train, y_train), auc(codes_test, y_test)


def modularity_explicitness_from_codes(codes_train: ArrayLike, factors_train: ArrayLike, codes_test: ArrayLike,
                                       factors_test: ArrayLike, *,
                                       num_bins: int = 20) -> dict:
    """Both scores for precomputed train/test ``(codes, factors)`` (dlib's inner computation, transposed)."""
    codes_train, factors_train, codes_test, factors_test = utils.check_train_test(
        codes_train, factors_train, codes_test, factors_test)
    mi = utils.discrete_mutual_info(utils.histogram_discretize(codes_train, num_bins), factors_train)
    score, informative = modularity(mi)
    train_norm, mean, std = utils.normalize_data(codes_train)
    test_norm, _, _ = utils.normalize_data(codes_test, mean, std)
    pairs = [explicitness_per_factor(train_norm, factors_train[:, j], test_norm, factors_test[:, j])
             for j in range(factors_train.shape[1])]
    return {"modularity_score": score,
            "explicitness_score_train": float(np.mean([p[0] for p in pairs])),
            "explicitness_score_test": float(np.mean([p[1] for p in pairs])),
            "num_informative_codes": informative}


@register("modularity", paper="Ridgeway & Mozer 2018, Learning Deep Disentangled Embeddings with the "
                              "F-Statistic Loss",
          description="modularity: each code informs about at most one factor; explicitness: ROC-AUC of a "
                      "linear classifier predicting each factor from all codes",
          core=modularity_explicitness_from_codes)
def modularity_explicitness(space: utils.SpaceLike, encoder: utils.EncoderLike, rng_or_seed: utils.RngOrSeed = 0, *,
                            num_train: int = 10000, num_test: int = 5000,
                            batch_size: int = 16, num_bins: int = 20, domain: str | None = None,
                            encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    train, test, _ = utils.train_test_codes(space, encoder, rng_or_seed, num_train, num_test, batch_size,
                                                       domain, encode_batch_size)
    return modularity_explicitness_from_codes(*train, *test, num_bins=num_bins)
