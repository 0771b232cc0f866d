"""Factor-aware training: methods that see ground-truth factors, and the samplers that build their batches.

A method that needs factors (DC-IGN, supervised Guided-VAE) inherits :class:`FactorBatches`. The
training loop then hands it the data set's factors (int [N, K], one column per factor, as
``FrameDataset.factors``): the method picks each minibatch's frame indices from them
(the :meth:`~vision.methods.base.Method.batch_indices` hook, a function of (seed, step) only, so resume stays exact), and
its ``training_step`` receives the batch's factors as ``factors``. Every other method is trained
exactly as before. Samplers are kept apart from methods so another method can reuse them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from vision.errors import ConfigError, FrameShapeError


def check_factors(factors: ArrayLike | None, num_frames: int) -> np.ndarray:
    """Factors as int64 [N, K] matching the frames; a clear error otherwise."""
    factors = np.asarray(factors)
    if factors.ndim != 2 or len(factors) != num_frames or factors.shape[1] == 0:
        raise FrameShapeError(f"factors must be an integer array [N, K] with one row per frame (N={num_frames}), "
                              f"got shape {factors.shape}; pass FrameDataset.factors of the same file")
    if not np.issubdtype(factors.dtype, np.integer):
        raise FrameShapeError(f"factors must be integer factor indices, got {factors.dtype}; "
                              "bin continuous factors first (FactorSpace does)")
    if factors.min() < 0:
        raise FrameShapeError("factors must be non-negative factor indices; got a negative value")
    return factors.astype(np.int64, copy=False)


def factor_sizes(factors: np.ndarray) -> list[int]:
    """Values per factor, as max index + 1 (classes for a classifier on each factor)."""
    return [int(v) + 1 for v in factors.max(0)]


def parse_ints(text: str, what: str) -> list[int]:
    """``"3,6,40"`` → [3, 6, 40] (config strings: lists cannot be set from a command line)."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what}={text!r} must be comma-separated integers, e.g. 3,6,40") from None


def parse_floats(text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what}={text!r} must be comma-separated numbers, e.g. 1,1,1,10") from None
    if any(not v >= 0 for v in values) or (values and not sum(values) > 0):
        raise ConfigError(f"{what}={text!r} must be non-negative with a positive sum")
    return values


class FactorBatches:
    """Mixin for methods trained on frames and their ground-truth factors.

    ``needs_factors(config)``: whether a run without factors is an error (Guided-VAE needs them only
    in its supervised mode). ``with_factors(config, factors)`` checks them and returns the final
    config (e.g. recording the classes per factor). ``batch_indices`` (a :class:`Method` hook) picks
    each minibatch's frames, from the factors where the method needs it (DC-IGN).
    """

    name: ClassVar[str]  # the method's, as registered

    @classmethod
    def needs_factors(cls, config: Any) -> bool:
        return True

    @classmethod
    def with_factors(cls, config: Any, factors: np.ndarray | None) -> Any:
        if factors is None and cls.needs_factors(config):
            raise ConfigError(f"{cls.name} needs the ground-truth factors of every frame, and none were given; "
                              "train it on a dataset with factors (`darla see` passes FrameDataset.factors, "
                              "Python: vision.fit(frames, ..., factors=FACTORS))")
        return config


class OneFactorSampler:
    """Batches in which exactly one ground-truth factor varies (DC-IGN's training batches).

    For factor k the frames are grouped by the values of all other factors; a group where factor k
    takes at least two values is a valid batch source. A batch picks its varying factor with
    probability ∝ ``weights`` (over factors that have valid groups), a group uniformly, and up to
    ``batch_size`` of its frames without replacement. Draws depend on (seed, step) only.
    """

    def __init__(self, factors: np.ndarray, weights: list[float] | None = None):
        factors = np.asarray(factors)
        k = factors.shape[1]
        if weights is not None and len(weights) != k:
            raise ConfigError(f"batch_weights has {len(weights)} entries but the data has {k} factors; "
                              f"give one weight per factor (e.g. {','.join(['1'] * k)}) or leave it empty")
        self.groups: list[list[np.ndarray]] = []
        for col in range(k):
            others = np.delete(factors, col, axis=1)
            _, inverse = np.unique(others, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            order = np.argsort(inverse, kind="stable")
            bounds = np.flatnonzero(np.diff(inverse[order])) + 1
            valid = [g for g in np.split(order, bounds) if len(np.unique(factors[g, col])) >= 2]
            self.groups.append(valid)
        w = np.array(weights if weights is not None else [1.0] * k, dtype=np.float64)
        w[[not g for g in self.groups]] = 0.0
        if not w.sum() > 0:
            raise ConfigError("no two frames differ in exactly one factor, so DC-IGN has no batches to train on; "
                              "use a dataset rendered as one-factor sweeps or a full factor grid (e.g. procedural "
                              "dSprites), or give weight to a factor that varies alone somewhere")
        self.probabilities = w / w.sum()

    def draw(self, seed: int, step: int, batch_size: int) -> tuple[int, np.ndarray]:
        """(varying factor, sorted frame indices) of batch ``step``."""
        rng = np.random.default_rng([seed, step, 0xDC16])
        col = int(rng.choice(len(self.probabilities), p=self.probabilities))
        group = self.groups[col][int(rng.integers(len(self.groups[col])))]
        idx = rng.choice(group, size=min(batch_size, len(group)), replace=False)
        return col, np.sort(idx)
