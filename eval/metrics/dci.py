"""DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018).

One classifier per factor predicts it from all codes; its feature importances fill a
``[codes, factors]`` matrix R. Disentanglement is 1 - entropy of each code's row (base = number of
factors), weighted by the code's share of total importance; completeness is the same per factor
column (base = number of codes); informativeness is the classifier's accuracy.

Two importance estimators:

* ``"gbt"`` (reference): sklearn's ``GradientBoostingClassifier()`` with default settings, as
  disentanglement_lib uses, seeded here. It builds 100 stages × one tree per class, so dSprites'
  40-way orientation makes it slow (minutes on 10,000 points).
* ``"forest"`` (fast): a ``RandomForestClassifier`` of ``forest_trees`` bagged trees that see every
  code at each split (``max_features=None``, so importance concentrates on the informative code as
  boosting's does), with leaves of at least ``forest_min_samples_leaf`` points: fully grown trees
  also split on noise codes and spread importance over them (D and C fell from 0.24 to 0.06 on the
  benchmark representation), while 30-point leaves matched the reference there. One tree handles
  all classes at once, hence the 60-130x speed-up. It is a proxy, not the reference: over six
  representations (benchmarks/bench_dci.py, docs/metrics.md "DCI importance estimators") its D and C were
  up to 0.23 / 0.18 higher and its test accuracy up to 0.04 off, and no leaf size fits them all.

The reference's GBT is unseeded; with tied features (duplicated codes, codes that split the points
identically) the split order, hence the importance, depends on the seed, so only seeded runs repeat.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
import scipy.stats

from eval.metrics import utils
from eval.metrics.registry import register

IMPORTANCE_ESTIMATORS = ("gbt", "forest")


def check_importance(importance: str) -> str:
    """The estimator name, or ValueError listing the known ones (called before any sampling or fitting)."""
    if importance not in IMPORTANCE_ESTIMATORS:
        raise ValueError(f"unknown DCI importance estimator {importance!r}; choose one of {IMPORTANCE_ESTIMATORS}")
    return importance


def _make_estimator(importance: str, seed: int, forest_trees: int, forest_min_samples_leaf: int):
    from sklearn import ensemble
    if check_importance(importance) == "gbt":
        return ensemble.GradientBoostingClassifier(random_state=seed)
    return ensemble.RandomForestClassifier(n_estimators=forest_trees, max_features=None,
                                           min_samples_leaf=forest_min_samples_leaf, random_state=seed, n_jobs=1)


def compute_importance(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                       factors_test: np.ndarray, *, importance: str = "gbt",
                       seed: int = 0, forest_trees: int = 10,
                       forest_min_samples_leaf: int = 30) -> tuple[np.ndarray, float, float]:
    """``(importance[D, K], train accuracy, test accuracy)``: one classifier per factor."""
    num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
    matrix = np.zeros((num_codes, num_factors), dtype=np.float64)
    train_acc, test_acc = [], []
    for j in range(num_factors):
        model = _make_estimator(importance, seed, forest_trees, forest_min_samples_leaf)
        model.fit(codes_train, factors_train[:, j])
        matrix[:, j] = np.abs(model.feature_importances_)
        train_acc.append(np.mean(model.predict(codes_train) == factors_train[:, j]))
        test_acc.append(np.mean(model.predict(codes_test) == factors_test[:, j]))
    return matrix, float(np.mean(train_acc)), float(np.mean(test_acc))


def disentanglement_per_code(importance_matrix: np.ndarray) -> np.ndarray:
    """1 - entropy of each code's importance over factors (base K). One factor: every code scores 1."""
    if importance_matrix.shape[1] == 1:
        return np.ones(importance_matrix.shape[0])
    return 1. - scipy.stats.entropy(importance_matrix.T + 1e-11, base=importance_matrix.shape[1])


def disentanglement(importance_matrix: np.ndarray) -> float:
    """Importance-weighted mean of the per-code disentanglement (uniform weights if R is all zero)."""
    per_code = disentanglement_per_code(importance_matrix)
    if importance_matrix.sum() == 0.:
        importance_matrix = np.ones_like(importance_matrix)
    code_importance = importance_matrix.sum(axis=1) / importance_matrix.sum()
    return float(np.sum(per_code * code_importance))


def completeness_per_factor(importance_matrix: np.ndarray) -> np.ndarray:
    """1 - entropy of each factor's importance over codes (base D): disentanglement with the roles of
    codes and factors swapped."""
    return disentanglement_per_code(importance_matrix.T)


def completeness(importance_matrix: np.ndarray) -> float:
    """Importance-weighted mean of the per-factor completeness (the transpose's disentanglement)."""
    return disentanglement(importance_matrix.T)


def dci_from_importance(importance_matrix: ArrayLike) -> dict:
    """Disentanglement and completeness of a given ``[codes, factors]`` importance matrix."""
    matrix = np.abs(np.asarray(importance_matrix, dtype=np.float64))
    if matrix.ndim != 2:
        raise ValueError(f"the importance matrix must be 2-D [n_codes, n_factors], got shape {matrix.shape}")
    return {"disentanglement": disentanglement(matrix), "completeness": completeness(matrix)}


def dci_from_codes(codes_train: ArrayLike, factors_train: ArrayLike, codes_test: ArrayLike, factors_test: ArrayLike,
                   *, importance: str = "gbt",
                   seed: int = 0, forest_trees: int = 10, forest_min_samples_leaf: int = 30) -> dict:
    """DCI of precomputed train/test ``(codes, factors)`` (dlib's ``_compute_dci``, transposed)."""
    check_importance(importance)
    codes_train, factors_train, codes_test, factors_test = utils.check_train_test(
        codes_train, factors_train, codes_test, factors_test)
    matrix, train_acc, test_acc = compute_importance(codes_train, factors_train, codes_test, factors_test,
                                                     importance=importance, seed=seed, forest_trees=forest_trees,
                                                     forest_min_samples_leaf=forest_min_samples_leaf)
    return {"informativeness_train": train_acc, "informativeness_test": test_acc,
            **dci_from_importance(matrix)}


@register("dci", paper="Eastwood & Williams 2018, A Framework for the Quantitative Evaluation of "
                       "Disentangled Representations",
          description="per-factor classifiers' feature importances: does each code explain one factor "
                      "(disentanglement), each factor one code (completeness); accuracy (informativeness)",
          core=dci_from_codes)
def dci(space: utils.SpaceLike, encoder: utils.EncoderLike, rng_or_seed: utils.RngOrSeed = 0, *,
        num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
        importance: str = "gbt", forest_trees: int = 10, forest_min_samples_leaf: int = 30,
        domain: str | None = None,
        encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    check_importance(importance)  # before the costly sampling
    train, test, random_state = utils.train_test_codes(space, encoder, rng_or_seed, num_train, num_test, batch_size,
                                                       domain, encode_batch_size)
    return dci_from_codes(*train, *test, importance=importance, seed=utils.derived_seed(random_state),
                          forest_trees=forest_trees, forest_min_samples_leaf=forest_min_samples_leaf)
