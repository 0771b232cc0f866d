"""Synthetic ground truth and representations with known scores, for sanity checks and tests.

:class:`FactorGrid` renders each factor index into one pixel, and :class:`LinearFactorEncoder` reads
them back and maps the normalised factors through a chosen matrix (plus independent noise codes).
An identity-like matrix is a perfectly disentangled representation, a dense rotation an entangled
one, a matrix with two columns per factor a redundant one: each should score as the metric
definitions predict, which is what tests/test_metrics*.py check.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from envs.factors import Domain, Factor, FactorSpace


class FactorGrid(FactorSpace):
    """A factor space whose frame is the factor vector itself: ``uint8[n, 1, K, 1]``."""

    def __init__(self, sizes: Sequence[int] = (3, 6, 10, 8), domains: Sequence[Domain] = ()):
        if max(sizes) > 256:
            raise ValueError("FactorGrid stores factor indices in uint8 pixels: sizes must be at most 256")
        super().__init__([Factor(f"f{k}", int(s)) for k, s in enumerate(sizes)], (1, len(sizes), 1), domains)

    def render(self, factors: np.ndarray) -> np.ndarray:
        factors = self.check_factors(np.atleast_2d(factors))
        return factors.astype(np.uint8)[:, None, :, None]


class LinearFactorEncoder:
    """codes = normalised factors @ ``matrix`` (+ ``noise_dims`` codes of N(0, noise_scale^2) noise).

    Factors are scaled to [0, 1] by their grid size; ``matrix`` is ``[K, D]``. The noise comes from
    ``RandomState(seed)``, so a run is reproducible but a frame seen twice gets fresh noise, as
    nuisance codes of a real encoder would vary independently of the factors.
    """

    def __init__(self, sizes: Sequence[int], matrix: np.ndarray, noise_dims: int = 0, noise_scale: float = 1.0,
                 seed: int = 0):
        self.sizes = np.asarray(sizes, dtype=np.float64)
        self.matrix = np.asarray(matrix, dtype=np.float64)
        if self.matrix.shape[0] != len(self.sizes):
            raise ValueError(f"matrix must have one row per factor ({len(self.sizes)}), got {self.matrix.shape}")
        self.noise_dims = noise_dims
        self.noise_scale = noise_scale
        self._noise = np.random.RandomState(seed)
        self.latent_dim = self.matrix.shape[1] + noise_dims

    def factors_of(self, frames: np.ndarray) -> np.ndarray:
        return np.asarray(frames)[:, 0, :, 0].astype(np.float64)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        x = self.factors_of(frames) / np.maximum(self.sizes - 1, 1)
        codes = x @ self.matrix
        if self.noise_dims:
            codes = np.concatenate([codes, self._noise.normal(0, self.noise_scale, (len(x), self.noise_dims))], 1)
        return codes.astype(np.float32)


def permuted_scaled_identity(num_factors: int, seed: int = 0) -> np.ndarray:
    """A ``[K, K]`` matrix that copies each factor into one code, shuffled and rescaled (scales 0.5-3)."""
    rng = np.random.RandomState(seed)
    matrix = np.zeros((num_factors, num_factors))
    matrix[np.arange(num_factors), rng.permutation(num_factors)] = rng.uniform(0.5, 3.0, num_factors)
    return matrix


def random_rotation(dim: int, seed: int = 0) -> np.ndarray:
    """A Haar-random orthogonal ``[dim, dim]`` matrix: mixes every factor into every code."""
    q, r = np.linalg.qr(np.random.RandomState(seed).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))
