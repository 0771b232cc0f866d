"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising").

A discriminator D learns to tell codes z ~ q(z) (a batch of posterior samples) from samples of the
product of its marginals (each latent dimension permuted independently across the batch). With
D's two logits, log D(z)/(1 − D(z)) = logit_joint − logit_product estimates log q(z)/∏ q(z_d), so
its batch mean is the density-ratio estimate of the total correlation the VAE adds with weight γ.

Gradient flow (the trap of three popular ports): the VAE loss reaches D's weights, and stepping
one optimiser before the other's backward modifies tensors the second graph still needs. Here the
discriminator's loss is computed on *detached* codes, both losses are back-propagated before
either optimiser steps, and D keeps only the gradient of its own loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vision.errors import ConfigError
from vision.methods._zoo import adversarial_update, check_latents, check_nonnegative
from vision.methods.base import Step
from vision.methods.registry import register
from vision.methods.vae import VAE


def permute_dims(z: Tensor, generator: torch.Generator) -> Tensor:
    """Samples of ∏_d q(z_d): each column of ``z`` [n, D] shuffled by its own random permutation,
    so every dimension keeps its batch marginal exactly while the dependence between them is broken."""
    n, d = z.shape
    order = torch.argsort(torch.rand(n, d, generator=generator, device=z.device), dim=0)
    return torch.gather(z, 0, order)


class Discriminator(nn.Module):
    """Kim & Mnih's MLP: z → ``layers`` × ``width`` LeakyReLU(0.2) → 2 logits (joint, product)."""

    def __init__(self, z_dim: int, width: int = 1000, layers: int = 6):
        super().__init__()
        mods: list[nn.Module] = []
        size = z_dim
        for _ in range(layers):
            mods += [nn.Linear(size, width), nn.LeakyReLU(0.2)]
            size = width
        mods.append(nn.Linear(size, 2))
        self.net = nn.Sequential(*mods)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


@register
class FactorVAE(VAE):
    """VAE loss + γ·TĈ, TĈ = mean(logit_joint − logit_product) of the discriminator on z ~ q(z|x).

    γ is relative to the core's convention (reconstruction summed over pixels, KL summed over
    latents, batch means) as in the paper; the default 10 is the low end of disentanglement_lib's
    sweep (10–100; Kim & Mnih report 6.4–40 on dSprites). The discriminator (``disc_width`` ×
    ``disc_layers``) trains with its own Adam (``disc_lr``, betas ``disc_beta1``, ``disc_beta2``) on
    the same batch: codes as class 0, their dimension-wise permutation as class 1.
    """

    name = "factor_vae"
    paper = "Kim & Mnih 2018 (Disentangling by Factorising, ICML)"
    summary = "VAE + gamma * total correlation estimated by a permutation discriminator"

    @dataclass
    class Config(VAE.Config):
        gamma: float = 10.0
        disc_lr: float = 1e-4
        disc_beta1: float = 0.5
        disc_beta2: float = 0.9
        disc_width: int = 1000
        disc_layers: int = 6

        def validate(self) -> None:
            super().validate()
            check_latents(self)
            check_nonnegative(self, "gamma")
            if not self.disc_lr > 0:
                raise ConfigError(f"disc_lr={self.disc_lr} must be > 0")
            if self.disc_width < 1 or self.disc_layers < 1:
                raise ConfigError(f"disc_width={self.disc_width} and disc_layers={self.disc_layers} must be >= 1")

    config: Config

    def __init__(self, config: Config, input_shape: tuple[int, int, int]):
        super().__init__(config, input_shape)
        self.discriminator = Discriminator(config.z_dim, config.disc_width, config.disc_layers)

    def extra_terms(self, s: Step) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        logits = self.discriminator(s.z)
        tc = (logits[:, 0] - logits[:, 1]).mean()
        # discriminator: detached codes, so its loss never reaches the encoder
        codes = s.z.detach()
        both = self.discriminator(torch.cat([codes, permute_dims(codes, s.generator)]))
        labels = torch.cat([torch.zeros(len(codes)), torch.ones(len(codes))]).long().to(codes.device)
        return {"gamma_tc": self.config.gamma * tc}, {"tc": tc, "discriminator": F.cross_entropy(both, labels)}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        vae = [p for name, p in self.named_parameters() if not name.startswith("discriminator.")]
        return {"model": torch.optim.Adam(vae, lr=c.lr, betas=(c.adam_beta1, c.adam_beta2)),
                "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=c.disc_lr,
                                                  betas=(c.disc_beta1, c.disc_beta2))}

    def update(self, losses: dict[str, Tensor], optimizers: dict[str, torch.optim.Optimizer]) -> None:
        # the VAE loss's gradient on D (which would teach D to *raise* the TC estimate) is dropped
        adversarial_update(losses, optimizers, "discriminator")
