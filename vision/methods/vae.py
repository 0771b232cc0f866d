"""Variational autoencoders: ``vae`` (β = 1, DARLA_ENT's vision) and ``beta_vae`` (Higgins et al. 2017)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from vision.methods._zoo import check_nonnegative
from vision.methods.ae import AutoEncoder
from vision.methods.registry import register


@register
class VAE(AutoEncoder):
    """Gaussian encoder (μ, log σ²) and N(0, I) prior on the Burgess conv64 networks."""

    name = "vae"
    paper = "Kingma & Welling 2014"
    summary = "variational autoencoder (beta = 1)"
    stochastic = True

    @dataclass
    class Config(AutoEncoder.Config):
        pass


@register
class BetaVAE(VAE):
    """β-VAE: the KL weighted by β. β is relative to a reconstruction summed over pixels and a KL
    summed over latents, both batch means (:mod:`vision.losses`), so published values apply."""

    name = "beta_vae"
    paper = "Higgins et al. 2017 (beta-VAE, ICLR)"
    summary = "VAE with the KL weighted by beta"

    @dataclass
    class Config(VAE.Config):
        beta: float = 4.0

        def validate(self) -> None:
            super().validate()
            check_nonnegative(self, "beta")

    def regularizer(self, kl: Tensor, mu, logvar, z, step) -> Tensor:
        return self.config.beta * kl
