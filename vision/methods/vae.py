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

    config: Config


@register
class BetaVAE(VAE):
    """β-VAE: the KL weighted by β. β is relative to a reconstruction summed over pixels and a KL
    summed over latents, both batch means (:mod:`vision.losses`), so published values apply.

    ``beta_warmup`` > 0 raises the weight linearly from 0 to β over that many steps (KL annealing,
    Bowman et al. 2016): early on the model trains as an autoencoder and learns the small details
    (the Room's objects) that a full KL weight from step 0 keeps out of the code while the decoder
    cannot yet use them; 0 (the default) is the plain β-VAE."""

    name = "beta_vae"
    paper = "Higgins et al. 2017 (beta-VAE, ICLR)"
    summary = "VAE with the KL weighted by beta"

    @dataclass
    class Config(VAE.Config):
        beta: float = 4.0
        beta_warmup: int = 0

        def validate(self) -> None:
            super().validate()
            check_nonnegative(self, "beta")
            check_nonnegative(self, "beta_warmup")

    config: Config

    def kl_weight(self, step: int) -> float:
        """β at training step ``step`` (0-based): linear from 0 over ``beta_warmup`` steps, then β."""
        warmup = self.config.beta_warmup
        return self.config.beta * (min(1.0, (step + 1) / warmup) if warmup else 1.0)

    def regularizer(self, kl: Tensor, mu: Tensor, logvar: Tensor, z: Tensor, step: int) -> Tensor:
        return self.kl_weight(step) * kl
