"""Mutual Information Gap (Chen et al. 2018), as computed by disentanglement_lib.

Per factor, the gap between the two codes with the highest mutual information with it, divided by
the factor's entropy; averaged over factors. Codes are discretised into equal-width histogram bins
over the scored sample, and the mutual information is the plug-in estimate on those bins.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from eval.metrics import utils
from eval.metrics.registry import register


def mig_from_codes(codes: ArrayLike, factors: ArrayLike, *, num_bins: int = 20) -> dict:
    """MIG of precomputed ``codes[n, D]`` and ``factors[n, K]`` (dlib's ``_compute_mig``, transposed).

    With a single code the runner-up information is taken as 0, so MIG is that code's normalised
    information (dlib indexes out of range there).
    """
    codes, factors = utils.check_pair(codes, factors)
    mi = utils.discrete_mutual_info(utils.histogram_discretize(codes, num_bins), factors)
    entropy = utils.discrete_entropy(factors)
    top = np.sort(mi, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros(top.shape[1])
    return {"discrete_mig": float(np.mean((top[0] - second) / entropy))}


@register("mig", paper="Chen et al. 2018, Isolating Sources of Disentanglement in VAEs",
          description="per factor, gap in mutual information between its two most informative codes, "
                      "over the factor entropy", core=mig_from_codes)
def mig(space: utils.SpaceLike, encoder: utils.EncoderLike, rng_or_seed: utils.RngOrSeed = 0, *,
        num_train: int = 10000, batch_size: int = 16, num_bins: int = 20,
        domain: str | None = None, encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    codes, factors = utils.sample_codes(space, encoder, rng_or_seed, num_train, batch_size, domain, encode_batch_size)
    return mig_from_codes(codes, factors, num_bins=num_bins)
