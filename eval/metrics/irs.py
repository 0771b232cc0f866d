"""Interventional Robustness Score (Suter et al. 2019), as computed by disentanglement_lib.

For each factor value (factors histogram-discretised into ``num_bins`` bins, as the reference does),
the ``diff_quantile`` quantile of how far codes move from their mean while only the other factors
vary; normalised by each code's largest deviation from its overall mean. A code's score is
1 - its smallest normalised deviation over factors; IRS is the mean over non-constant codes weighted
by their largest deviation.

Differences from disentanglement_lib: ``num_active_dims`` is the number of non-constant codes (the
reference reports the *sum of their values*, a bug). A code counts as constant when its range is
below 1e-6 of its largest absolute value (``utils.varying_codes``), not only when its variance is
exactly 0: a constant code with float rounding noise is left out. Its weight in the mean (its
largest deviation) was negligible, so the score is the same up to that; only the count changes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from eval.metrics import utils
from eval.metrics.registry import register


def scalable_disentanglement_score(gen_factors: np.ndarray, latents: np.ndarray, diff_quantile: float = 0.99) -> dict:
    """IRS of ``latents[n, D]`` against discrete ``gen_factors[n, K]`` (the authors' computation)."""
    num_gen, num_lat = gen_factors.shape[1], latents.shape[1]
    max_deviations = np.max(np.abs(latents - latents.mean(axis=0)), axis=0)
    cum_deviations = np.zeros([num_lat, num_gen])
    for i in range(num_gen):
        values = np.unique(gen_factors[:, i])
        for value in values:
            match = gen_factors[:, i] == value
            e_loc = np.mean(latents[match, :], axis=0)
            diffs = np.abs(latents[match, :] - e_loc)
            cum_deviations[:, i] += np.quantile(diffs, q=diff_quantile, axis=0)
        cum_deviations[:, i] /= len(values)
    irs_matrix = 1.0 - cum_deviations / max_deviations[:, np.newaxis]
    per_code = irs_matrix.max(axis=1)
    if np.sum(max_deviations) > 0.0:
        avg = np.average(per_code, weights=max_deviations)
    else:
        avg = np.mean(per_code)
    return {"disentanglement_scores": per_code, "avg_score": float(avg), "parents": irs_matrix.argmax(axis=1),
            "IRS_matrix": irs_matrix, "max_deviations": max_deviations}


def irs_from_codes(codes: ArrayLike, factors: ArrayLike, *, diff_quantile: float = 0.99, num_bins: int = 20) -> dict:
    """IRS of precomputed ``codes[n, D]``, ``factors[n, K]`` (dlib's ``compute_irs`` after sampling)."""
    if not 0.0 < diff_quantile <= 1.0:
        raise ValueError(f"diff_quantile must be in (0, 1], got {diff_quantile}")
    codes, factors = utils.check_pair(codes, factors)
    factors_discrete = utils.histogram_discretize(factors, num_bins)
    active = codes[:, utils.varying_codes(codes)]
    if active.shape[1] == 0:
        return {"IRS": 0.0, "num_active_dims": 0}
    score = scalable_disentanglement_score(factors_discrete, active, diff_quantile)["avg_score"]
    return {"IRS": score, "num_active_dims": int(active.shape[1])}


@register("irs", paper="Suter et al. 2019, Robustly Disentangled Causal Mechanisms: Validating Deep "
                       "Representations for Interventional Robustness",
          description="how little each code moves when factors other than its own are changed",
          core=irs_from_codes)
def irs(space: utils.SpaceLike, encoder: utils.EncoderLike, rng_or_seed: utils.RngOrSeed = 0, *,
        num_train: int = 10000, batch_size: int = 16,
        diff_quantile: float = 0.99, num_bins: int = 20, domain: str | None = None,
        encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    codes, factors = utils.sample_codes(space, encoder, rng_or_seed, num_train, batch_size, domain, encode_batch_size)
    return irs_from_codes(codes, factors, diff_quantile=diff_quantile, num_bins=num_bins)
