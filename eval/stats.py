"""Statistics for RL results: interquartile mean, stratified bootstrap CIs, rank correlation.

Following rliable (Agarwal et al. 2021): the IQM discards the lowest and highest quarter of scores
and averages the rest (robust to outlier runs, less noisy than the median), and its uncertainty is a
percentile bootstrap that resamples *within* each stratum (each seed), so seeds are never mixed up.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """Interquartile mean: the mean of the middle 50% of values along ``axis`` (equal to scipy's
    ``trim_mean(values, 0.25)``: ``floor(n / 4)`` values cut from each end), vectorised so a
    bootstrap of thousands of resamples is one sort."""
    values = np.sort(np.asarray(values, dtype=np.float64), axis=axis)
    n = values.shape[axis]
    if n == 0:
        return float("nan")
    cut = int(0.25 * n)
    middle = np.take(values, np.arange(cut, n - cut), axis=axis).mean(axis=axis)
    return float(middle) if np.ndim(middle) == 0 else middle


def stratified_bootstrap_ci(strata: Sequence[np.ndarray], statistic: Callable[..., np.ndarray | float] = iqm,
                            confidence: float = 0.95, n_boot: int = 2000,
                            rng: np.random.Generator | None = None) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` over the pooled strata, resampling within each.

    ``statistic(samples, axis=-1)`` must reduce the last axis (as :func:`iqm` and ``np.mean`` do):
    all ``n_boot`` resamples are evaluated in one call."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    strata = [np.asarray(s, dtype=np.float64).ravel() for s in strata if len(s)]
    if not strata:
        return float("nan"), float("nan")
    rng = rng or np.random.default_rng(0)
    resamples = np.concatenate([s[rng.integers(len(s), size=(n_boot, len(s)))] for s in strata], axis=1)
    boots = np.asarray(statistic(resamples, axis=-1))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(boots, [tail, 100 - tail])
    return float(low), float(high)


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's rank correlation and its two-sided p-value (e.g. disentanglement vs transfer)."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape or xs.size < 3:
        raise ValueError(f"need two equally long sequences of at least 3 values, got {xs.size} and {ys.size}")
    result = stats.spearmanr(xs, ys)
    return float(result.statistic), float(result.pvalue)
