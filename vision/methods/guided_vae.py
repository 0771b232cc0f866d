"""Guided-VAE (Ding et al. 2020, "Guided Variational Autoencoder for Disentanglement Learning", CVPR).

A β-VAE whose latents are *guided* by a side task, in one of two modes:

- **unsupervised**: the first ``geometric_latents`` latents z_t also drive a lightweight decoder
  that renders a learned template warped by an affine transform θ = I + A z_t (a spatial
  transformer). Only a geometric change of the template can explain the frame there, so z_t is
  pulled towards pose (position, scale, rotation, shear). An orthogonality penalty
  ‖ÂᵀÂ − I‖² on the unit-normalised columns of A makes each of those latents move the template
  along its own direction of the affine space (the paper's "principal directions"; our reading
  of its deformable-template decoder for frames without the official code's MNIST specifics).
- **supervised**: latent k (k < K, the number of ground-truth factors) is assigned to factor k.
  *Excitation*: a small classifier must predict factor k from z_k alone (trained with the encoder).
  *Inhibition*: an adversary predicts factor k from the other latents z_{−k}; it trains on detached
  codes with its own optimiser, while the encoder is trained to defeat it (cross-entropy of the
  adversary's prediction against the uniform distribution: the stable form of maximising its loss),
  so information about factor k is driven out of z_{−k}. Labels are the data set's factors.

Weights follow the core's loss convention (reconstruction summed over pixels, KL summed over
latents, batch means): the official code's excitation weight 200 is kept as the default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vision.errors import ConfigError
from vision.methods._samplers import FactorBatches, factor_sizes, parse_ints
from vision.methods._zoo import adversarial_update, check_latents, check_nonnegative
from vision.methods.base import Step
from vision.methods.registry import register
from vision.methods.vae import VAE

HEAD_WIDTH = 64


def orthogonality_penalty(directions: Tensor) -> Tensor:
    """‖ÂᵀÂ − I‖²_F for the columns of ``directions`` [6, m] normalised to unit length."""
    unit = directions / directions.norm(dim=0, keepdim=True).clamp_min(1e-8)
    gram = unit.T @ unit
    return (gram - torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype)).pow(2).sum()


def uniform_cross_entropy(logits: Tensor) -> Tensor:
    """Cross-entropy of softmax(``logits``) against the uniform distribution, batch mean: minimal
    (log C) when the prediction carries no information."""
    return -F.log_softmax(logits, dim=1).mean(1).mean()


def _mlp(inputs: int, classes: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, HEAD_WIDTH), nn.ReLU(), nn.Linear(HEAD_WIDTH, HEAD_WIDTH), nn.ReLU(),
                         nn.Linear(HEAD_WIDTH, classes))


@register
class GuidedVAE(FactorBatches, VAE):
    """β-VAE + guidance (module docstring). Unsupervised: ``geometric_latents``, ``light_weight``
    (weight of the light decoder's reconstruction), ``orthogonality``. Supervised: ``excitation``,
    ``inhibition`` (the encoder's weight against the adversaries), ``adversary_lr``; ``factor_sizes``
    ("3,6,40,32,32", classes per factor) is filled in from the training factors."""

    name = "guided_vae"
    paper = "Ding et al. 2020 (Guided Variational Autoencoder for Disentanglement Learning, CVPR)"
    summary = ("beta-VAE guided by an affine-template light decoder (unsupervised) or by per-factor "
               "excitation/inhibition classifiers (supervised; needs factors)")

    @dataclass
    class Config(VAE.Config):
        mode: Literal["unsupervised", "supervised"] = "unsupervised"
        beta: float = 1.0
        geometric_latents: int = 4
        light_weight: float = 1.0
        orthogonality: float = 1.0
        excitation: float = 200.0
        inhibition: float = 1.0
        adversary_lr: float = 1e-4
        factor_sizes: str = ""

        def validate(self) -> None:
            super().validate()
            check_latents(self)
            check_nonnegative(self, "beta", "light_weight", "orthogonality", "excitation", "inhibition")
            if self.mode == "unsupervised" and not 1 <= self.geometric_latents <= self.z_dim:
                raise ConfigError(f"geometric_latents={self.geometric_latents} must be in [1, z_dim={self.z_dim}]")
            if not self.adversary_lr > 0:
                raise ConfigError(f"adversary_lr={self.adversary_lr} must be > 0")
            if self.factor_sizes and any(c < 2 for c in parse_ints(self.factor_sizes, "factor_sizes")):
                raise ConfigError(f"factor_sizes={self.factor_sizes!r}: every factor needs at least 2 classes")

    config: Config

    @classmethod
    def needs_factors(cls, config: Config) -> bool:
        return config.mode == "supervised"

    @classmethod
    def with_factors(cls, config: Config, factors: np.ndarray | None) -> Config:
        if config.mode != "supervised":
            return config
        if factors is None:
            raise ConfigError("guided_vae mode=supervised needs labels: the ground-truth factors of every frame, "
                              "and none were given; pass vision.fit(..., factors=FACTORS) or train with `darla see` "
                              "on a dataset with factors, or use mode=unsupervised")
        config = super().with_factors(config, factors)
        sizes = [max(s, 2) for s in factor_sizes(factors)]
        if config.z_dim <= len(sizes):
            raise ConfigError(f"z_dim={config.z_dim} must exceed the {len(sizes)} factors: one latent per factor "
                              f"plus the rest for the adversaries; set z_dim >= {len(sizes) + 1}")
        return dataclasses.replace(config, factor_sizes=",".join(map(str, sizes)))

    def __init__(self, config: Config, input_shape: tuple[int, int, int]):
        super().__init__(config, input_shape)
        c = config
        h, w, ch = self.input_shape
        if c.mode == "unsupervised":
            self.template = nn.Parameter(torch.zeros(1, ch, h, w))  # logits; learned
            self.affine = nn.Parameter(torch.randn(6, c.geometric_latents) * 0.01)
        else:
            if not c.factor_sizes:
                raise ConfigError("guided_vae mode=supervised needs factor_sizes (classes per factor); vision.fit "
                                  "fills it from the factors, direct use must set it (e.g. factor_sizes='3,6,40,32,32')")
            sizes = parse_ints(c.factor_sizes, "factor_sizes")
            if c.z_dim <= len(sizes):
                raise ConfigError(f"z_dim={c.z_dim} must exceed the {len(sizes)} factors")
            self.classifiers = nn.ModuleList(_mlp(1, k) for k in sizes)
            self.adversaries = nn.ModuleList(_mlp(c.z_dim - 1, k) for k in sizes)

    def light_decode(self, z_t: Tensor) -> Tensor:
        """The template warped by θ = I + A z_t, as probabilities [n, C, H, W]."""
        identity = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], device=z_t.device, dtype=z_t.dtype)
        theta = (identity + z_t @ self.affine.T).view(-1, 2, 3)
        grid = F.affine_grid(theta, [len(z_t), *self.template.shape[1:]], align_corners=False)
        template = torch.sigmoid(self.template).expand(len(z_t), -1, -1, -1)
        return F.grid_sample(template, grid, padding_mode="zeros", align_corners=False)

    def regularizer(self, kl: Tensor, mu: Tensor, logvar: Tensor, z: Tensor, step: int) -> dict[str, Tensor]:
        return {"beta_kl": self.config.beta * kl}

    def extra_terms(self, s: Step) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        c = self.config
        if c.mode == "unsupervised":
            light = self.light_decode(s.z[:, :c.geometric_latents]).clamp(1e-4, 1 - 1e-4)
            light_rec = self.likelihood_loss(s.x, torch.logit(light))
            penalty = orthogonality_penalty(self.affine)
            return ({"light": c.light_weight * light_rec, "orthogonal": c.orthogonality * penalty},
                    {"light_reconstruction": light_rec, "orthogonality_penalty": penalty})
        if s.factors is None:
            raise ConfigError("guided_vae mode=supervised needs each batch's factors (labels); train it with "
                              "vision.fit(..., factors=FACTORS)")
        excitation = inhibition = adversary = correct = s.z.new_zeros(())  # sums over the factors
        for k, (clf, adv) in enumerate(zip(self.classifiers, self.adversaries)):
            y = s.factors[:, k]
            rest = torch.cat([s.z[:, :k], s.z[:, k + 1:]], dim=1)
            logits = clf(s.z[:, k:k + 1])
            excitation = excitation + F.cross_entropy(logits, y)
            correct = correct + (logits.argmax(1) == y).float().mean()
            inhibition = inhibition + uniform_cross_entropy(adv(rest))
            adversary = adversary + F.cross_entropy(adv(rest.detach()), y)
        return ({"excite": c.excitation * excitation, "inhibit": c.inhibition * inhibition},
                {"excitation_ce": excitation, "inhibition_ce": inhibition, "adversary": adversary,
                 "excitation_accuracy": (correct / len(self.classifiers)).detach()})

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        model = [p for name, p in self.named_parameters() if not name.startswith("adversaries.")]
        optimizers: dict[str, torch.optim.Optimizer] = {
            "model": torch.optim.Adam(model, lr=c.lr, betas=(c.adam_beta1, c.adam_beta2))}
        if c.mode == "supervised":
            optimizers["adversary"] = torch.optim.Adam(self.adversaries.parameters(), lr=c.adversary_lr,
                                                       betas=(c.adam_beta1, c.adam_beta2))
        return optimizers

    def update(self, losses: dict[str, Tensor], optimizers: dict[str, torch.optim.Optimizer]) -> None:
        if self.config.mode == "unsupervised":
            return super().update(losses, optimizers)
        # the encoder's inhibition gradient on the adversaries (which would teach them to be uninformative) is dropped
        adversarial_update(losses, optimizers, "adversary")

