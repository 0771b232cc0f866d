"""Does a score of a vision model predict its agent's transfer? Rank correlations with bootstrap CIs.

The unit is a vision model (with the return of the agent that read it), so the bootstrap resamples
models with replacement: the CI says how much the correlation depends on which models happened to
be trained. Spearman's ρ and Kendall's τ-b are both given: with the few models a sweep affords, τ
is the less optimistic of the two and its CI the more honest. A resample in which either variable
is constant has no correlation and is dropped (the count kept is reported).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share their mean rank), for many resamples at once."""
    return stats.rankdata(values, axis=-1)


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(-1) / np.where(denominator > 0, denominator, 1), np.nan)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each row pair of ``x`` and ``y`` (shape ``(B, n)``); NaN where a row is constant."""
    return _pearson_rows(_ranks(x), _ranks(y))


def kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b of each row pair (scipy's definition, ties handled); NaN where a row is constant."""
    dx = np.sign(x[..., :, None] - x[..., None, :])
    dy = np.sign(y[..., :, None] - y[..., None, :])
    upper = np.triu(np.ones(x.shape[-1], dtype=bool), 1)
    concordance = (dx * dy)[..., upper].sum(-1)
    untied_x = (dx[..., upper] != 0).sum(-1)
    untied_y = (dy[..., upper] != 0).sum(-1)
    denominator = np.sqrt(untied_x.astype(float) * untied_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, concordance / np.where(denominator > 0, denominator, 1), np.nan)


def rank_correlations(x: Sequence[float], y: Sequence[float], n_boot: int = 2000, confidence: float = 0.95,
                      seed: int = 0) -> dict:
    """Spearman and Kendall correlations of ``x`` with ``y`` with percentile bootstrap CIs over pairs.

    Pairs with a non-finite value are left out (``n`` counts those kept); fewer than 3 pairs give NaN."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError(f"need two equally long 1-d sequences, got shapes {xs.shape} and {ys.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    out: dict[str, float] = {"n": int(xs.size)}
    if xs.size < 3:
        return {**out, **{k: float("nan") for k in ("spearman", "spearman_low", "spearman_high", "spearman_p",
                                                      "kendall", "kendall_low", "kendall_high", "kendall_p")},
                "boot_kept": 0}
    idx = np.random.default_rng(seed).integers(xs.size, size=(n_boot, xs.size))
    tail = (1 - confidence) / 2 * 100
    for name, rows, test in (("spearman", spearman_rows, stats.spearmanr), ("kendall", kendall_rows, stats.kendalltau)):
        point = float(rows(xs[None], ys[None])[0])
        boots = rows(xs[idx], ys[idx])
        boots = boots[np.isfinite(boots)]
        low, high = np.percentile(boots, [tail, 100 - tail]) if boots.size else (np.nan, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = float(test(xs, ys).pvalue) if np.isfinite(point) else float("nan")
        out.update({name: point, f"{name}_low": float(low), f"{name}_high": float(high), f"{name}_p": p})
        out["boot_kept"] = int(boots.size)
    return out


def correlation_table(rows: Sequence[dict], scores: Sequence[str], targets: Sequence[str], n_boot: int = 2000,
                      seed: int = 0) -> list[dict]:
    """One row per (score, target): the rank correlations over the ``rows`` (one per vision model)."""
    table = []
    for target in targets:
        for score in scores:
            x = [r.get(score, np.nan) for r in rows]
            y = [r.get(target, np.nan) for r in rows]
            table.append({"score": score, "target": target,
                          **rank_correlations(_floats(x), _floats(y), n_boot=n_boot, seed=seed)})
    return table


def _floats(values) -> list[float]:
    return [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan") for v in values]


def best_predictor(table: Sequence[dict], scores: Sequence[str], target: str) -> dict | None:
    """The score among ``scores`` whose Spearman ρ with ``target`` is highest (a selection rule keeps
    the model with the highest score, so only a positive correlation helps), or None if none has one."""
    candidates = [row for row in table if row["score"] in scores and row["target"] == target
                  and np.isfinite(row["spearman"])]
    return max(candidates, key=lambda row: row["spearman"], default=None)
