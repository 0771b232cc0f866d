"""β-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

The batch-averaged KL(q(z|x) ‖ p(z)) splits into three terms, estimated on a minibatch from the
sampled codes z_i ~ q(z|x_i)::

    index-code MI      E[log q(z|x) − log q(z)]
    total correlation  E[log q(z) − Σ_d log q(z_d)]
    dimension-wise KL  E[Σ_d log q(z_d) − log p(z)]

Their sum is exactly the Monte-Carlo estimate E[log q(z|x) − log p(z)] of the KL (the aggregate
terms telescope), whatever the estimator of q(z). The aggregate posterior q(z) = 1/N Σ_n q(z|x_n)
over the N training frames is estimated from the batch by a weighted log-sum-exp:

- **MWS** (minibatch-weighted sampling): every batch member weighs 1/M, i.e. the batch is taken as
  a sample of the data set. Chen et al. print the normaliser as 1/(NM); that shifts log q(z) by
  −log N, MI by +log N and TC by (D−1)·log N — constants with no effect on gradients but which make
  the logged terms meaningless (TC would be hundreds of nats for independent latents), so the
  normaliser here is 1/M.
- **MSS** (minibatch-stratified sampling): the frame's own posterior weighs 1/N, one other member
  (N−M)/(NM) and the remaining M−1 weigh 1/M, with M = batch − 1 (Chen et al., appendix C.2). Each
  row of the weight matrix puts 1/N on its diagonal and sums to 1, so q̂(z) is unbiased; the matrix
  copied through several repositories strides the wrong entries (rtqichen/beta-tcvae PR #1).

All sums over the batch are log-sum-exps; densities are never exponentiated.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch
from torch import Tensor

from vision.errors import ConfigError
from vision.methods._zoo import check_latents, check_nonnegative, gaussian_log_density
from vision.methods.registry import register
from vision.methods.vae import VAE


def log_importance_weights(batch_size: int, dataset_size: int, estimator: str,
                           device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """[M', M'] log weights w_ij of q(z_i | x_j) in the estimate of q(z_i), M' = ``batch_size``."""
    b, n = batch_size, dataset_size
    if estimator == "mws" or b == 1:
        return torch.full((b, b), -math.log(b), device=device, dtype=dtype)
    if n < b:
        raise ConfigError(f"MSS needs dataset_size >= batch size, got dataset_size={n} < {b}; "
                          "set dataset_size to the number of training frames (vision.fit does)")
    m = b - 1
    w = torch.full((b, b), 1.0 / m, device=device, dtype=torch.float64)
    idx = torch.arange(b, device=device)
    w[idx, idx] = 1.0 / n
    w[idx, (idx + 1) % b] = (n - m) / (n * m)  # one stratum member per row, next to the diagonal
    return w.log().to(dtype)  # a zero weight (n == m) is −inf, which logsumexp handles


def decompose_kl(z: Tensor, mu: Tensor, logvar: Tensor, dataset_size: int,
                 estimator: Literal["mws", "mss"] = "mss") -> dict[str, Tensor]:
    """Batch means of the three KL terms (nats) for codes ``z`` ~ q(z|x) with posteriors (``mu``,
    ``logvar``), all [M, D]. Also returns ``log_qz_given_x``, ``log_qz``, ``log_qz_product`` and
    ``log_pz`` per sample ([M]) for tests and diagnostics."""
    b = z.shape[0]
    log_w = log_importance_weights(b, dataset_size, estimator, z.device, z.dtype)
    # [i, j, d]: log q(z_i,d | x_j)
    pairwise = gaussian_log_density(z[:, None, :], mu[None, :, :], logvar[None, :, :])
    log_qz = torch.logsumexp(pairwise.sum(2) + log_w, dim=1)
    log_qz_product = torch.logsumexp(pairwise + log_w[:, :, None], dim=1).sum(1)
    log_qz_given_x = gaussian_log_density(z, mu, logvar).sum(1)
    log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    return {"mi": (log_qz_given_x - log_qz).mean(),
            "tc": (log_qz - log_qz_product).mean(),
            "dim_kl": (log_qz_product - log_pz).mean(),
            "log_qz_given_x": log_qz_given_x, "log_qz": log_qz,
            "log_qz_product": log_qz_product, "log_pz": log_pz}


@register
class BetaTCVAE(VAE):
    """Regulariser α·MI + β·TC + γ·dimension-wise KL, each estimated on the minibatch (module
    docstring). β-TCVAE proper is α = γ = 1 and β > 1: only the total correlation is penalised more
    than in the VAE; α = β = γ recovers a β-VAE with a Monte-Carlo KL. The weights are relative to the
    core's loss convention (reconstruction summed over pixels, KL terms summed over latents, batch
    means), so β = 6 is the value disentanglement_lib uses on dSprites.

    ``dataset_size`` N enters the MSS weights; 0 means "the number of training frames", filled in
    by :meth:`prepare` when training starts.
    """

    name = "beta_tcvae"
    paper = "Chen et al. 2018 (Isolating Sources of Disentanglement in VAEs, NeurIPS)"
    summary = "VAE with the KL split into MI, total correlation and dimension-wise KL, weighted alpha, beta, gamma"

    @dataclass
    class Config(VAE.Config):
        alpha: float = 1.0
        beta: float = 6.0
        gamma: float = 1.0
        estimator: Literal["mss", "mws"] = "mss"
        dataset_size: int = 0

        def validate(self) -> None:
            super().validate()
            check_latents(self)
            check_nonnegative(self, "alpha", "beta", "gamma")
            if self.dataset_size < 0:
                raise ConfigError(f"dataset_size={self.dataset_size} must be >= 0 (0: the number of training frames)")

    config: Config

    @classmethod
    def prepare(cls, config: Config, frames: np.ndarray, out_dir: Path, fit: Callable[..., Path],
                **fit_kwargs: Any) -> Config:
        if config.dataset_size == 0:
            return dataclasses.replace(config, dataset_size=len(frames))
        return config

    def regularizer(self, kl: Tensor, mu: Tensor, logvar: Tensor, z: Tensor, step: int) -> dict[str, Tensor]:
        c = self.config
        if c.dataset_size == 0 and c.estimator == "mss":
            raise ConfigError("beta_tcvae with estimator=mss needs dataset_size (the number of training "
                              "frames); vision.fit sets it, direct use must pass it in the Config")
        terms = decompose_kl(z, mu, logvar, max(c.dataset_size, len(z)), c.estimator)
        return {"alpha_mi": c.alpha * terms["mi"], "beta_tc": c.beta * terms["tc"],
                "gamma_dim_kl": c.gamma * terms["dim_kl"]}
