"""Helpers the zoo's methods share: range checks with clear messages and the Gaussian log-density.

Kept out of the core's files so each method file stays readable top to bottom.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from vision.errors import ConfigError

if TYPE_CHECKING:
    from vision.methods.base import Method

LOG_2PI = math.log(2.0 * math.pi)


def check_latents(config: Method.Config) -> None:
    """A latent code needs at least one unit."""
    if config.z_dim < 1:
        raise ConfigError(f"z_dim={config.z_dim} must be >= 1 (the latent size); dSprites work uses z_dim=10")


def check_nonnegative(config: object, *names: str) -> None:
    """Loss weights and capacities are magnitudes: a negative one would reward the opposite behaviour."""
    for name in names:
        value = getattr(config, name)
        if value is not None and not value >= 0:  # also rejects NaN
            raise ConfigError(f"{name}={value} must be >= 0 (a negative weight rewards what the term penalises); "
                              f"set {name}=0 to switch the term off")


def gaussian_log_density(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z | μ, σ²) element-wise (broadcasting), σ² = exp(logvar)."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def adversarial_update(losses: dict[str, Tensor], optimizers: dict[str, torch.optim.Optimizer],
                       adversary: str) -> None:
    """One step of a model and its adversary (FactorVAE's discriminator, Guided-VAE's inhibitors).

    Both backward passes run before either optimiser steps (stepping first would modify weights the
    second graph still needs: torch's in-place error). The adversary's gradients are zeroed between
    the two passes, so the model loss's gradient on the adversary is dropped and it learns from its
    own loss only."""
    model_opt, adversary_opt = optimizers["model"], optimizers[adversary]
    model_opt.zero_grad(set_to_none=True)
    losses["loss"].backward()
    adversary_opt.zero_grad(set_to_none=True)
    losses[adversary].backward()
    model_opt.step()
    adversary_opt.step()
