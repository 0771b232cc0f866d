"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
Maximizing Generative Adversarial Nets").

A generator G maps noise ε and structured codes c = (one categorical code of ``categories`` values,
``z_dim`` continuous codes ~ U(−1, 1)) to frames. A discriminator D (the shared conv64 encoder
trunk + a real/fake head) plays the usual GAN game, and a Q head on the same trunk infers c from a
frame. G and Q maximise the variational lower bound on I(c; G(ε, c))::

    L_I = E_{c, x ~ G(ε, c)} [log Q(c | x)] + H(c)  ≤  I(c; x)

which reaches H(c) when Q recovers c exactly (log 10 ≈ 2.30 nats for a 10-way code, the value the
paper reports). Q's continuous part is a factored Gaussian with unit variance, so its log-density
is a squared error; the means of Q's continuous codes are this method's representation (``encode``),
which the agents and the metrics use.

Gradient routing (three players, one backward each, no optimiser steps before all backwards):
D's head and trunk get the discriminator loss and λ·(−L_I); G gets its non-saturating adversarial
loss and λ·(−L_I); Q's head gets λ·(−L_I).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vision.errors import ConfigError
from vision.methods._zoo import LOG_2PI, check_latents, check_nonnegative
from vision.methods.base import Method
from vision.methods.registry import register
from vision.networks import BURGESS_CHANNELS, ConvDecoder, ConvEncoder

TRUNK_WIDTH = 256
UNIFORM_ENTROPY = math.log(2.0)  # H(U(−1, 1)) per continuous code


def mutual_information_bound(cat_logits: Tensor | None, cat_codes: Tensor | None,
                             cont_mean: Tensor | None, cont_codes: Tensor | None) -> Tensor:
    """L_I = E[log Q(c|x)] + H(c) in nats, batch mean, for a uniform categorical code (integer
    ``cat_codes`` [n], Q's ``cat_logits`` [n, K]) and U(−1, 1) continuous codes (``cont_codes``
    [n, D], Q's unit-variance Gaussian means ``cont_mean``). Either part may be None."""
    bound: Tensor | float = 0.0
    if cat_logits is not None:
        if cat_codes is None:
            raise TypeError("cat_logits needs cat_codes")
        log_q = F.log_softmax(cat_logits, dim=1).gather(1, cat_codes[:, None]).squeeze(1)
        bound = bound + log_q.mean() + math.log(cat_logits.shape[1])
    if cont_mean is not None:
        if cont_codes is None:
            raise TypeError("cont_mean needs cont_codes")
        log_q = -0.5 * (LOG_2PI + (cont_codes - cont_mean).pow(2)).sum(1)
        bound = bound + log_q.mean() + cont_mean.shape[1] * UNIFORM_ENTROPY
    return torch.as_tensor(bound)


@register
class InfoGAN(Method):
    """Generator on the conv64 decoder, D and Q on one conv64 encoder trunk (module docstring).

    Paper settings (MNIST): 62 noise units, a 10-way categorical and 2 continuous codes, λ_info = 1,
    G lr 1e-3 (``lr``), D lr 2e-4 (``disc_lr``), Adam β1 = 0.5, batch 128. The defaults here suit
    dSprites' five factors: 5 continuous codes (``z_dim``, the representation) and a 3-way
    categorical (``categories``; 0 for none). ``decode(z)`` feeds G zero noise and category 0, so
    traversals show what each continuous code does with everything else fixed. ``likelihood`` and
    ``sigma`` are unused (a GAN has no likelihood).
    """

    name = "infogan"
    paper = "Chen et al. 2016 (InfoGAN, NeurIPS)"
    summary = "GAN whose Q-network recovers categorical and continuous codes (MI lower bound)"

    @dataclass
    class Config(Method.Config):
        z_dim: int = 5
        categories: int = 3
        noise_dim: int = 62
        lambda_info: float = 1.0
        batch_size: int = 128
        lr: float = 1e-3
        adam_beta1: float = 0.5
        disc_lr: float = 2e-4

        def validate(self) -> None:
            super().validate()
            check_latents(self)
            check_nonnegative(self, "lambda_info")
            if self.categories < 0 or self.categories == 1:
                raise ConfigError(f"categories={self.categories} must be 0 (no categorical code) or >= 2")
            if self.noise_dim < 0:
                raise ConfigError(f"noise_dim={self.noise_dim} must be >= 0")
            if not self.disc_lr > 0:
                raise ConfigError(f"disc_lr={self.disc_lr} must be > 0")

    config: Config

    def __init__(self, config: Config, input_shape: tuple[int, int, int]):
        super().__init__(config, input_shape)
        c = config
        self.generator = ConvDecoder(self.input_shape, c.noise_dim + c.categories + c.z_dim)
        self.trunk = ConvEncoder(self.input_shape, TRUNK_WIDTH, BURGESS_CHANNELS, (TRUNK_WIDTH,))
        self.d_head = nn.Linear(TRUNK_WIDTH, 1)
        self.q_head = nn.Linear(TRUNK_WIDTH, c.categories + c.z_dim)

    def _features(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.trunk(x), 0.2)

    def _q(self, h: Tensor) -> tuple[Tensor | None, Tensor]:
        out = self.q_head(h)
        k = self.config.categories
        return (out[:, :k] if k else None), out[:, k:]

    def encode(self, x: Tensor) -> tuple[Tensor, None]:
        return self._q(self._features(x))[1], None

    def generator_input(self, noise: Tensor, categories: Tensor | None, cont: Tensor) -> Tensor:
        parts = [noise]
        if self.config.categories:
            if categories is None:
                raise TypeError(f"the generator takes {self.config.categories} categories; got None")
            parts.append(F.one_hot(categories, self.config.categories).to(cont.dtype))
        return torch.cat(parts + [cont], dim=1)

    def decode(self, z: Tensor) -> Tensor:
        noise = z.new_zeros(len(z), self.config.noise_dim)
        cats = torch.zeros(len(z), dtype=torch.long, device=z.device) if self.config.categories else None
        return self.generator(self.generator_input(noise, cats, z))

    def training_step(self, x: Tensor, step: int, generator: torch.Generator,
                      factors: Tensor | None = None) -> dict[str, Tensor]:
        """A GAN's step, not an encoder-decoder's: the one method that replaces the shared step."""
        c, n, dev = self.config, len(x), x.device
        noise = torch.randn(n, c.noise_dim, generator=generator, device=dev)
        cats = torch.randint(0, c.categories, (n,), generator=generator, device=dev) if c.categories else None
        cont = torch.rand(n, c.z_dim, generator=generator, device=dev) * 2 - 1
        fake = torch.sigmoid(self.generator(self.generator_input(noise, cats, cont)))
        h_real = self._features(x)
        h_fake_d = self._features(fake.detach())
        ones, zeros = torch.ones(n, device=dev), torch.zeros(n, device=dev)
        d_loss = (F.binary_cross_entropy_with_logits(self.d_head(h_real).squeeze(1), ones)
                  + F.binary_cross_entropy_with_logits(self.d_head(h_fake_d).squeeze(1), zeros))
        h_fake = self._features(fake)
        g_adv = F.binary_cross_entropy_with_logits(self.d_head(h_fake).squeeze(1), ones)
        cat_logits, cont_mean = self._q(h_fake)
        bound = mutual_information_bound(cat_logits, cats, cont_mean, cont)
        info = -c.lambda_info * bound
        return {"discriminator": d_loss, "generator": g_adv, "info": info, "mi_bound": bound.detach(),
                "loss": d_loss + g_adv + info}  # "loss": the players' objectives summed, for the finite check

    def _groups(self):
        d = list(self.trunk.parameters()) + list(self.d_head.parameters())
        return d, list(self.generator.parameters()), list(self.q_head.parameters())

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        d, g, q = self._groups()
        return {"model": torch.optim.Adam(g + q, lr=c.lr, betas=(c.adam_beta1, c.adam_beta2)),
                "discriminator": torch.optim.Adam(d, lr=c.disc_lr, betas=(c.adam_beta1, c.adam_beta2))}

    def update(self, losses: dict[str, Tensor], optimizers: dict[str, torch.optim.Optimizer]) -> None:
        d, g, q = self._groups()
        info, g_adv, d_loss = losses["info"], losses["generator"], losses["discriminator"]
        grads_g = torch.autograd.grad(g_adv + info, g, retain_graph=True, allow_unused=True)
        grads_dq = torch.autograd.grad(info, d + q, retain_graph=True, allow_unused=True)
        grads_d = torch.autograd.grad(d_loss, d, allow_unused=True)
        total: dict[nn.Parameter, Tensor] = {}
        for params, grads in ((g, grads_g), (d + q, grads_dq), (d, grads_d)):
            for p, grad in zip(params, grads):
                if grad is not None:
                    total[p] = total[p] + grad if p in total else grad
        for opt in optimizers.values():
            opt.zero_grad(set_to_none=True)
        for p, grad in total.items():
            p.grad = grad
        for opt in optimizers.values():
            opt.step()
