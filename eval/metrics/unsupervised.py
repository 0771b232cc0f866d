"""Unsupervised scores of a representation (as in disentanglement_lib's ``unsupervised_metrics``).

They need no factor labels, only codes of frames drawn from the factor space:

* Gaussian total correlation: KL between a Gaussian fit to the codes and the product of its
  marginals, 0.5 (sum log diag(C) - log det C).
* Gaussian Wasserstein correlation: 2 tr(C) - 2 tr(sqrt(C diag(C))), the squared 2-Wasserstein
  distance between that Gaussian and its diagonal counterpart; ``_norm`` divides by tr(C).
* Mutual information score: mean pairwise mutual information of the histogram-discretised codes.

Difference from disentanglement_lib: constant codes (variance 0) are left out of the total
correlation, where they would give log 0 - log 0 = NaN; a constant code is independent of everything
and adds nothing to it. Everything else is the reference's computation. With a single code the
pairwise mutual information is 0 (the reference divides by 0).
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike
import scipy.linalg

from eval.metrics import utils
from eval.metrics.registry import register


def gaussian_total_correlation(cov: np.ndarray) -> float:
    """Total correlation of a Gaussian with covariance ``cov`` (constant dimensions dropped)."""
    keep = np.diag(cov) > 0
    cov = cov[np.ix_(keep, keep)]
    if len(cov) == 0:
        return 0.0
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:  # numerically singular (a code that is a linear copy of others): infinite TC
        return float("inf")
    return float(0.5 * (np.sum(np.log(np.diag(cov))) - logdet))


def gaussian_wasserstein_correlation(cov: np.ndarray) -> float:
    """Squared W2 distance between N(0, cov) and N(0, diag(cov))."""
    with warnings.catch_warnings():  # singular for constant codes; the square root is still exact there
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        sqrtm = scipy.linalg.sqrtm(cov * np.expand_dims(np.diag(cov), axis=1))
    return float(np.real(2 * np.trace(cov) - 2 * np.trace(sqrtm)))


def unsupervised_from_codes(codes: ArrayLike, *, num_bins: int = 20) -> dict:
    """All three scores of precomputed ``codes[n, D]``."""
    codes = utils.check_codes(codes)
    num_codes = codes.shape[1]
    cov = np.atleast_2d(np.cov(codes, rowvar=False))
    scores = {"gaussian_total_correlation": gaussian_total_correlation(cov),
              "gaussian_wasserstein_correlation": gaussian_wasserstein_correlation(cov)}
    trace = np.sum(np.diag(cov))
    scores["gaussian_wasserstein_correlation_norm"] = (float(scores["gaussian_wasserstein_correlation"] / trace)
                                                       if trace > 0 else 0.0)
    discrete = utils.histogram_discretize(codes, num_bins)
    mi = utils.discrete_mutual_info(discrete, discrete)
    np.fill_diagonal(mi, 0)
    scores["mutual_info_score"] = float(np.sum(mi) / (num_codes ** 2 - num_codes)) if num_codes > 1 else 0.0
    return scores


@register("unsupervised", paper="Locatello et al. 2019, Challenging Common Assumptions in the Unsupervised "
                                "Learning of Disentangled Representations",
          description="dependence between codes without labels: Gaussian total correlation, Gaussian "
                      "Wasserstein correlation, mean pairwise mutual information",
          core=unsupervised_from_codes)
def unsupervised(space: utils.SpaceLike, encoder: utils.EncoderLike, rng_or_seed: utils.RngOrSeed = 0, *,
                 num_train: int = 10000, batch_size: int = 16,
                 num_bins: int = 20, domain: str | None = None,
                 encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    codes, _ = utils.sample_codes(space, encoder, rng_or_seed, num_train, batch_size, domain, encode_batch_size)
    return unsupervised_from_codes(codes, num_bins=num_bins)
