"""FactorVAE score (Kim & Mnih 2018), as computed by disentanglement_lib.

Codes are scaled by their global standard deviation (from ``num_variance_estimate`` points); codes
whose std is below ``prune_threshold`` (0.05) are pruned. A vote: fix one random factor across a
batch of ``batch_size`` points and find the (active) code with the smallest variance relative to
its global variance. A majority-vote classifier maps codes to factors; the score is its accuracy on
``num_eval`` fresh votes. With no active code the score is 0.

Differences from disentanglement_lib: ``num_active_dims`` is the number of active codes (the
reference reports the total number of codes), and a code whose range over the variance sample is
below 1e-6 of its magnitude (``utils.varying_codes``) is pruned too: a constant code of large scale
(1e8 in float32) has rounding noise of std above 0.05 and would otherwise vote. Within a ``domain``, the batch's other factors are
redrawn until each point is inside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from eval.metrics import utils
from eval.metrics.registry import register

if TYPE_CHECKING:
    from envs.factors import FactorSpace

_BLOCK = 256  # votes whose frames are encoded together


def prune_dims(variances: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Mask of codes whose standard deviation is at least ``threshold``."""
    return np.sqrt(variances) >= threshold


def votes_from_batches(batch_codes: np.ndarray, labels: np.ndarray, global_variances: np.ndarray,
                       active_dims: np.ndarray, num_factors: int) -> np.ndarray:
    """``votes[factor, code]`` from codes of fixed-factor batches ``[num_votes, batch_size, D]``."""
    local = np.var(batch_codes, axis=1, ddof=1)[:, active_dims]
    argmin = np.argmin(local / global_variances[active_dims], axis=1)
    codes = np.flatnonzero(active_dims)[argmin]
    votes = np.zeros((num_factors, len(global_variances)), dtype=np.int64)
    np.add.at(votes, (labels, codes), 1)
    return votes


def factor_vae_from_votes(train_votes: ArrayLike, eval_votes: ArrayLike) -> dict:
    """Majority-vote classifier's train / eval accuracy from ``votes[factor, code]`` matrices."""
    train_votes, eval_votes = np.asarray(train_votes), np.asarray(eval_votes)
    if train_votes.shape != eval_votes.shape or train_votes.ndim != 2:
        raise ValueError(f"vote matrices must both be [n_factors, n_codes]; got {train_votes.shape} "
                         f"and {eval_votes.shape}")
    classifier = np.argmax(train_votes, axis=0)
    other = np.arange(train_votes.shape[1])
    return {"train_accuracy": float(np.sum(train_votes[classifier, other]) / np.sum(train_votes)),
            "eval_accuracy": float(np.sum(eval_votes[classifier, other]) / np.sum(eval_votes))}


def _votes(space: FactorSpace, encode, batch_size, num_points, random_state: np.random.RandomState, domain,
           global_variances, active_dims,
           encode_batch_size) -> np.ndarray:
    columns = utils.scored_factors(space, domain)
    votes = np.zeros((len(columns), len(global_variances)), dtype=np.int64)
    for start in range(0, num_points, _BLOCK):
        count = min(_BLOCK, num_points - start)
        labels, draws = np.zeros(count, dtype=np.int64), []
        for p in range(count):
            index = random_state.randint(len(columns))
            column = columns[index]
            factors = _fix(space, utils.sample_factors(space, batch_size, random_state, domain),
                           random_state, domain, column)
            labels[p] = index
            draws.append(factors)
        codes = utils.encode_factors(space, encode, np.concatenate(draws), encode_batch_size)
        votes += votes_from_batches(codes.reshape(count, batch_size, -1), labels, global_variances,
                                    active_dims, len(columns))
    return votes


def _fix(space: FactorSpace, factors: np.ndarray, random_state: np.random.RandomState, domain: str,
         column: int) -> np.ndarray:
    """Set ``column`` to its first row's value (the reference's step), then redraw rows outside ``domain``."""
    factors[:, column] = factors[0, column]
    if domain == "all":
        return factors
    member = space.domain(domain)
    bad = ~np.asarray(member.contains(factors))
    if bad.any():
        factors[bad] = utils.sample_with_fixed(space, int(bad.sum()), random_state, domain, column,
                                               factors[0, column])
    return factors


@register("factor_vae", paper="Kim & Mnih 2018, Disentangling by Factorising",
          description="accuracy of a majority vote naming the fixed factor from the code of least "
                      "normalised variance in fixed-factor batches",
          core=factor_vae_from_votes)
def factor_vae(space: utils.SpaceLike, encoder: utils.EncoderLike, rng_or_seed: utils.RngOrSeed = 0, *,
               batch_size: int = 64, num_train: int = 10000,
               num_eval: int = 5000, num_variance_estimate: int = 10000, prune_threshold: float = 0.05,
               domain: str | None = None, encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    if batch_size < 2 or num_variance_estimate < 2:
        raise ValueError("batch_size and num_variance_estimate must be at least 2 (variances need two points)")
    space = utils.resolve_space(space)
    random_state = utils.as_random_state(rng_or_seed)
    domain = utils.check_domain(space, domain)
    encode = utils.as_encode_fn(encoder)
    # One draw of num_variance_estimate points, as the reference's sample_observations does.
    factors = utils.sample_factors(space, num_variance_estimate, random_state, domain)
    global_codes = utils.encode_factors(space, encode, factors, encode_batch_size)
    global_variances = np.var(global_codes, axis=0, ddof=1)
    active_dims = prune_dims(global_variances, prune_threshold) & utils.varying_codes(global_codes)
    if not active_dims.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    args = (space, encode, batch_size)
    train_votes = _votes(*args, num_train, random_state, domain, global_variances, active_dims, encode_batch_size)
    eval_votes = _votes(*args, num_eval, random_state, domain, global_variances, active_dims, encode_batch_size)
    return {**factor_vae_from_votes(train_votes, eval_votes), "num_active_dims": int(active_dims.sum())}
