"""CCI-VAE (Burgess et al. 2018, "Understanding disentangling in β-VAE"): controlled capacity increase."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from vision.errors import ConfigError
from vision.methods._zoo import check_latents, check_nonnegative
from vision.methods.base import Step
from vision.methods.registry import register
from vision.methods.vae import VAE

#: Burgess et al. reach C_max after 100k of dlib's 300k steps: a third of the run.
PUBLISHED_C_STEPS = 100_000


@register
class CCIVAE(VAE):
    """Regulariser γ·|KL − C(step)|, with the capacity C raised linearly from 0 to ``c_max`` nats over
    ``c_steps`` steps, then held. Early on the KL is squeezed to ~0 so the code must spend its few
    nats on the factor that buys the most reconstruction; raising C lets further factors in one at a
    time, each in its own latent. γ and C are in the units of the core's convention (reconstruction
    summed over pixels, KL summed over latents, batch means), so γ = 1000 and C_max = 25 nats are the
    paper's values. ``c_steps = 0`` scales the schedule to the run: C_max is reached after a third of
    ``steps`` (as 100k of 300k in the paper), capped at 100k steps for longer runs.
    """

    name = "cci_vae"
    paper = "Burgess et al. 2018 (Understanding disentangling in beta-VAE)"
    summary = "VAE with gamma*|KL - C|, capacity C raised linearly to c_max nats"

    @dataclass
    class Config(VAE.Config):
        gamma: float = 1000.0
        c_max: float = 25.0
        c_steps: int = 0

        def validate(self) -> None:
            super().validate()
            check_latents(self)
            check_nonnegative(self, "gamma", "c_max")
            if self.c_steps < 0:
                raise ConfigError(f"c_steps={self.c_steps} must be >= 0 (0: reach c_max after a third of steps)")

        def ramp_steps(self) -> int:
            """Steps over which C rises: ``c_steps``, or a third of the run capped at 100k."""
            if self.c_steps:
                return self.c_steps
            return max(1, min(PUBLISHED_C_STEPS, math.ceil(self.steps / 3)))

    config: Config

    def capacity(self, step: int) -> float:
        """C in nats at (0-based) optimisation step ``step``."""
        return self.config.c_max * min(1.0, step / self.config.ramp_steps())

    def regularizer(self, kl: Tensor, mu: Tensor, logvar: Tensor, z: Tensor, step: int) -> Tensor:
        return self.config.gamma * (kl - self.capacity(step)).abs()

    def extra_terms(self, s: Step) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        return {}, {"capacity": torch.tensor(self.capacity(s.step), device=s.x.device)}  # logged only
