"""Unsupervised Disentanglement Ranking (Duan et al. 2020), as computed by disentanglement_lib.

UDR selects models without labels: models trained with different seeds that disentangle tend to
agree with each other up to permutation and sign, entangled ones do not. For every ordered pair of
models (i, j), a Lasso regression (alpha 0.1) of j's standardised codes on i's (or the absolute
Spearman correlation) gives a similarity matrix R; the pair scores
(mean over columns of max(R)^2 / sum(R) + the same over rows) / 2, counting only informative codes
(mean KL to the prior > ``kl_filter_threshold``). A model's UDR is the median over its pairs.

KL needs the posterior variance: an encoder that also has ``encode_distribution(frames) -> (means,
logvars)`` (``vision.Encoder`` gives logvars for every VAE-family method) gets the reference's KL
filter. For one that returns means only (or logvars None), a dimension counts as informative when
the variance of its mean over the data exceeds ``kl_filter_threshold`` (the "active units"
criterion of Burda et al. 2016), reported as ``kl_source = "variance_of_means"``.
"""

from __future__ import annotations

from typing import Sequence, cast

import numpy as np
import scipy.stats

from eval.metrics import utils
from eval.metrics.registry import register


def relative_strength_disentanglement(corr_matrix: np.ndarray) -> float:
    """(column-wise + row-wise mean of max^2 / sum) / 2; 0 if a side has no informative code."""
    if corr_matrix.size == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        # nan_to_num(x, 0) as in the reference: the 0 is ``copy``, so NaNs become 0 in place
        score_x = np.nanmean(np.nan_to_num(np.power(np.max(corr_matrix, axis=0), 2) / np.sum(corr_matrix, axis=0),
                                           copy=False))
        score_y = np.nanmean(np.nan_to_num(np.power(np.max(corr_matrix, axis=1), 2) / np.sum(corr_matrix, axis=1),
                                           copy=False))
    return float((score_x + score_y) / 2)


def spearman_correlation_conv(vec1: np.ndarray, vec2: np.ndarray) -> np.ndarray:
    """``|spearman(vec1[:, a], vec2[:, b])|`` for every pair; NaN where either column is constant.

    Pair by pair, as the reference does: ``scipy.stats.spearmanr`` on the stacked arrays returns a
    single NaN as soon as one of its first two columns is constant, which a zeroed (low-KL) code
    is. Each entry is the Pearson correlation of the two columns' average ranks, the same arithmetic
    as ``spearmanr(vec1[:, a], vec2[:, b])``; ranks are computed once per column for speed.
    """
    ranks1 = scipy.stats.rankdata(vec1, axis=0)
    ranks2 = scipy.stats.rankdata(vec2, axis=0)
    constant1 = np.all(vec1 == vec1[:1], axis=0)
    constant2 = np.all(vec2 == vec2[:1], axis=0)
    corr = np.full((vec1.shape[1], vec2.shape[1]), np.nan)
    for a in np.flatnonzero(~constant1):
        for b in np.flatnonzero(~constant2):
            corr[a, b] = np.corrcoef(np.column_stack((ranks1[:, a], ranks2[:, b])), rowvar=False)[1, 0]
    return np.abs(corr)


def lasso_correlation_matrix(vec1: np.ndarray, vec2: np.ndarray,
                             random_state: int | np.random.RandomState | None = None) -> np.ndarray:
    """``|coef|`` of a Lasso (alpha 0.1) regressing every code of ``vec2`` on all codes of ``vec1``."""
    from sklearn import linear_model
    model = linear_model.Lasso(random_state=random_state, alpha=0.1)
    model.fit(vec1, vec2)
    return np.transpose(np.absolute(np.atleast_2d(model.coef_)))


def udr_from_codes(codes: Sequence[np.ndarray], kl: Sequence[np.ndarray], *, correlation_matrix: str = "lasso",
                   filter_low_kl: bool = True, kl_filter_threshold: float = 0.01,
                   include_raw_correlations: bool = False,
                   random_state: int | np.random.RandomState | None = None) -> dict:
    """UDR from each model's codes ``[n, D]`` of the same frames and its mean KL per dimension ``[D]``."""
    if correlation_matrix not in ("lasso", "spearman"):
        raise ValueError(f"correlation_matrix must be 'lasso' or 'spearman', got {correlation_matrix!r}")
    if len(codes) < 2 or len(codes) != len(kl):
        raise ValueError(f"UDR compares several models: pass codes and KL of at least 2 models "
                         f"(got {len(codes)} code arrays and {len(kl)} KL vectors)")
    reps = [utils.check_codes(c, f"codes of model {i}").astype(np.float64) for i, c in enumerate(codes)]
    shapes = {r.shape for r in reps}
    if len(shapes) != 1:
        raise ValueError(f"every model must encode the same frames into the same number of codes; got {sorted(shapes)}")
    kl = [np.asarray(k, dtype=np.float64) for k in kl]
    from sklearn import preprocessing
    masks = []
    for i in range(len(reps)):
        reps[i] = preprocessing.StandardScaler().fit_transform(reps[i])
        reps[i] = reps[i] * np.greater(kl[i], 0.01)  # the reference zeroes low-KL codes at 0.01 here
        masks.append(kl[i] > kl_filter_threshold)
    num_models, dim = len(reps), reps[0].shape[1]
    raw = np.zeros((num_models, num_models, dim, dim))
    pairwise = np.zeros((num_models, num_models))
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            if correlation_matrix == "lasso":
                corr = lasso_correlation_matrix(reps[i], reps[j], random_state)
            else:
                corr = spearman_correlation_conv(reps[i], reps[j])
            raw[i, j] = corr
            if filter_low_kl:
                corr = corr[masks[i], :][:, masks[j]]
            pairwise[i, j] = relative_strength_disentanglement(corr)
    scores = {"model_scores": [float(np.median(np.delete(pairwise[:, i], i))) for i in range(num_models)],
              "pairwise_disentanglement_scores": pairwise.tolist()}
    if include_raw_correlations:
        scores["raw_correlations"] = raw.tolist()
    return scores


def encode_with_kl(encoder: utils.EncoderLike, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(means[n, D], per-point KL[n, D] or None)`` for one chunk of frames."""
    dist = getattr(encoder, "encode_distribution", None)
    means, logvars = dist(frames) if callable(dist) else (utils.as_encode_fn(encoder)(frames), None)
    means = utils._check_encoded(means, len(frames)).astype(np.float64)
    if logvars is None:  # a deterministic code: the caller falls back to the variance of its means
        return means, None
    logvars = np.asarray(logvars, dtype=np.float64)
    return means, 0.5 * (np.square(means) + np.exp(logvars) - logvars - 1)


@register("udr", paper="Duan et al. 2020, Unsupervised Model Selection for Variational Disentangled "
                       "Representation Learning",
          description="unsupervised model selection: how consistently models trained with different seeds "
                      "encode the same frames, up to permutation and sign",
          core=udr_from_codes, multi_encoder=True)
def udr(space: utils.SpaceLike, encoders: Sequence[utils.EncoderLike], rng_or_seed: utils.RngOrSeed = 0, *,
        batch_size: int = 10, num_data_points: int = 1000,
        correlation_matrix: str = "lasso", filter_low_kl: bool = True, kl_filter_threshold: float = 0.01,
        include_raw_correlations: bool = False, domain: str | None = None,
        encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    if not isinstance(encoders, (list, tuple)) or len(encoders) < 2:
        raise TypeError("UDR compares several models trained with different seeds: pass a list of at least "
                        "2 encoders (in the CLI, several checkpoints)")
    if num_data_points % batch_size != 0:
        raise ValueError(f"num_data_points ({num_data_points}) must be a multiple of batch_size ({batch_size}), "
                         "as in the reference")
    space = utils.resolve_space(space)
    random_state = utils.as_random_state(rng_or_seed)
    domain = utils.check_domain(space, domain)
    # One draw of batch_size points per batch, as the reference's sample_observations does.
    factors = np.concatenate([utils.sample_factors(space, batch_size, random_state, domain)
                              for _ in range(num_data_points // batch_size)])
    chunk_size = max(batch_size, encode_batch_size // batch_size * batch_size)
    codes, kls, sources = [], [], []
    for encoder in encoders:
        parts, kl_parts = [], []
        for start in range(0, num_data_points, chunk_size):
            means, point_kl = encode_with_kl(encoder, space.render(factors[start:start + chunk_size]))
            parts.append(means)
            kl_parts.append(point_kl)
        model_codes = np.concatenate(parts)
        utils.check_finite(model_codes)
        if kl_parts[0] is None:
            sources.append("variance_of_means")
            kl = np.var(model_codes, axis=0)
        else:
            # The reference averages KL within each batch of batch_size, then over batches.
            sources.append("gaussian_kl")
            point_kl = np.concatenate(cast(list[np.ndarray], kl_parts))  # every chunk has KLs when the first has
            kl = point_kl.reshape(-1, batch_size, point_kl.shape[1]).mean(axis=1).mean(axis=0)
        codes.append(model_codes)
        kls.append(kl)
    scores = udr_from_codes(codes, kls, correlation_matrix=correlation_matrix, filter_low_kl=filter_low_kl,
                            kl_filter_threshold=kl_filter_threshold,
                            include_raw_correlations=include_raw_correlations, random_state=random_state)
    scores["kl_source"] = sources
    return scores
