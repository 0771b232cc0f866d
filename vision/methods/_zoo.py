"""Helpers the zoo's methods share: range checks with clear messages and the Gaussian log-density.

Kept out of the core's files so each method file stays readable top to bottom.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from vision.errors import ConfigError

LOG_2PI = math.log(2.0 * math.pi)


def check_latents(config) -> None:
    """A latent code needs at least one unit."""
    if config.z_dim < 1:
        raise ConfigError(f"z_dim={config.z_dim} must be >= 1 (the latent size); dSprites work uses z_dim=10")


def check_nonnegative(config, *names: str) -> None:
    """Loss weights and capacities are magnitudes: a negative one would reward the opposite behaviour."""
    for name in names:
        value = getattr(config, name)
        if value is not None and not value >= 0:  # also rejects NaN
            raise ConfigError(f"{name}={value} must be >= 0 (a negative weight rewards what the term penalises); "
                              f"set {name}=0 to switch the term off")


def gaussian_log_density(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z | μ, σ²) element-wise (broadcasting), σ² = exp(logvar)."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))
