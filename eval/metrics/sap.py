"""Separated Attribute Predictability (Kumar et al. 2018), as computed by disentanglement_lib.

For every (code, factor) pair, how well that single code predicts the factor: balanced linear SVM
accuracy on held-out points for discrete factors (the reference setting), or the squared
correlation for continuous ones. SAP is the mean over factors of the gap between the best and the
second-best code.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike

from eval.metrics import utils
from eval.metrics.registry import register


def compute_score_matrix(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray, factors_test: np.ndarray,
                         continuous_factors: bool,
                         seed: int = 0) -> np.ndarray:
    """``[codes, factors]`` predictability matrix (dlib's ``compute_score_matrix``, transposed inputs)."""
    from sklearn import svm
    from sklearn.exceptions import ConvergenceWarning

    num_codes, num_factors = codes.shape[1], factors.shape[1]
    matrix = np.zeros((num_codes, num_factors))
    for i in range(num_codes):
        for j in range(num_factors):
            mu_i, y_j = codes[:, i], factors[:, j]
            if continuous_factors:
                cov = np.cov(mu_i, y_j, ddof=1)
                var_mu, var_y = cov[0, 0], cov[1, 1]
                matrix[i, j] = cov[0, 1] ** 2 / (var_mu * var_y) if var_mu > 1e-12 else 0.
            else:
                classifier = svm.LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    classifier.fit(mu_i[:, np.newaxis], y_j)
                pred = classifier.predict(codes_test[:, i][:, np.newaxis])
                matrix[i, j] = np.mean(pred == factors_test[:, j])
    return matrix


def avg_diff_top_two(matrix: np.ndarray) -> float:
    """Mean over factors (columns) of best minus second-best code; with one code the second is 0."""
    ordered = np.sort(matrix, axis=0)
    second = ordered[-2] if len(ordered) > 1 else np.zeros(ordered.shape[1])
    return float(np.mean(ordered[-1] - second))


def sap_from_codes(codes: ArrayLike, factors: ArrayLike, codes_test: ArrayLike, factors_test: ArrayLike, *,
                   continuous_factors: bool = False,
                   seed: int = 0) -> dict:
    """SAP of precomputed train/test ``(codes, factors)`` (dlib's ``_compute_sap``, transposed)."""
    codes, factors, codes_test, factors_test = utils.check_train_test(codes, factors, codes_test, factors_test)
    matrix = compute_score_matrix(codes, factors, codes_test, factors_test, continuous_factors, seed)
    return {"SAP_score": avg_diff_top_two(matrix)}


@register("sap", paper="Kumar et al. 2018, Variational Inference of Disentangled Latent Concepts from "
                       "Unlabeled Observations (DIP-VAE)",
          description="per factor, gap in single-code prediction accuracy between the best and second-best code",
          core=sap_from_codes)
def sap(space: utils.SpaceLike, encoder: utils.EncoderLike, rng_or_seed: utils.RngOrSeed = 0, *,
        num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
        continuous_factors: bool = False, domain: str | None = None,
        encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    train, test, random_state = utils.train_test_codes(space, encoder, rng_or_seed, num_train, num_test, batch_size,
                                                       domain, encode_batch_size)
    return sap_from_codes(*train, *test, continuous_factors=continuous_factors,
                          seed=utils.derived_seed(random_state))
