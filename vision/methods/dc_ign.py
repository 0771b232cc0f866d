"""DC-IGN (Kulkarni et al. 2015, "Deep Convolutional Inverse Graphics Network").

Training batches vary one ground-truth factor only (:class:`~vision.methods._samplers.OneFactorSampler`).
The latents are split into one contiguous group per factor; in a batch where factor k varies, every
latent *not* in k's group is clamped to its batch mean on the forward pass (the frames share those
factors, so the decoder must explain the batch's variation through k's group alone), and on the
backward pass its gradient is replaced by the "invariance" gradient, its difference from the batch
mean, which pulls the clamped latents of the batch together (:class:`ClampToMean`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vision.errors import ConfigError
from vision.methods._samplers import FactorBatches, OneFactorSampler, check_factors, parse_floats
from vision.methods._zoo import check_latents, check_nonnegative
from vision.methods.base import Step
from vision.methods.registry import register
from vision.methods.vae import VAE


class ClampToMean(torch.autograd.Function):
    """Forward: latents where ``clamped`` [D] is True become their batch mean. Backward: those get
    ``weight · (z − mean) / n`` (the gradient of weight · ½ · mean_i ‖z_i − z̄‖², the invariance
    target, in the core's batch-mean convention) in place of the decoder's gradient; the others
    pass the incoming gradient through unchanged."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, clamped: Tensor, weight: float) -> Tensor:
        mean = z.mean(0, keepdim=True)
        ctx.save_for_backward(z - mean, clamped)
        ctx.weight = weight
        return torch.where(clamped, mean.expand_as(z), z)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        diff, clamped = ctx.saved_tensors
        return torch.where(clamped, ctx.weight * diff / diff.shape[0], grad), None, None


def latent_groups(z_dim: int, num_factors: int) -> list[np.ndarray]:
    """Contiguous, near-equal groups of latent indices, one per factor."""
    return np.array_split(np.arange(z_dim), num_factors)


@register
class DCIGN(FactorBatches, VAE):
    """A VAE (KL weight 1, core loss convention) trained on one-factor batches with clamping.

    ``batch_weights`` ("1,1,1,10": one non-negative weight per factor, in the data's factor order;
    empty = equal) sets how often each factor is the varying one; Kulkarni et al. used about 1:1:1:10
    for their three extrinsic factors (pose, light) against the intrinsic one (identity).
    ``invariance`` scales the difference-from-mean gradient. ``batch_size`` 20 follows the paper;
    a batch holds fewer frames when the data has fewer that differ in only its factor.
    """

    name = "dc_ign"
    paper = "Kulkarni et al. 2015 (Deep Convolutional Inverse Graphics Network, NeurIPS)"
    summary = "VAE on one-factor batches; other factors' latents clamped to the batch mean (needs factors)"

    @dataclass
    class Config(VAE.Config):
        batch_size: int = 20
        invariance: float = 1.0
        batch_weights: str = ""
        num_factors: int = 0  # recorded from the training factors (the latent groups depend on it)

        def validate(self) -> None:
            super().validate()
            check_latents(self)
            check_nonnegative(self, "invariance")
            if self.batch_weights:
                parse_floats(self.batch_weights, "batch_weights")

    config: Config

    def __init__(self, config: Config, input_shape: tuple[int, int, int]):
        super().__init__(config, input_shape)
        self._sampler: OneFactorSampler | None = None  # built from the run's factors on first use
        self._sampler_for: np.ndarray | None = None

    @classmethod
    def with_factors(cls, config: Config, factors: np.ndarray | None) -> Config:
        config = super().with_factors(config, factors)
        assert factors is not None  # refused above: DC-IGN needs factors
        k = factors.shape[1]
        if config.z_dim < k:
            raise ConfigError(f"z_dim={config.z_dim} is smaller than the {k} factors; DC-IGN gives each factor "
                              f"at least one latent, so set z_dim >= {k}")
        weights = parse_floats(config.batch_weights, "batch_weights") if config.batch_weights else None
        OneFactorSampler(factors, weights)  # fails now, with the reason, if no batch can be built
        return dataclasses.replace(config, num_factors=k)

    def batch_indices(self, factors: np.ndarray | None, step: int, num_frames: int) -> np.ndarray:
        if self._sampler is None or self._sampler_for is not factors:
            weights = parse_floats(self.config.batch_weights, "batch_weights") if self.config.batch_weights else None
            self._sampler = OneFactorSampler(check_factors(factors, num_frames), weights)
            self._sampler_for = factors
        return self._sampler.draw(self.config.seed, step, self.config.batch_size)[1]

    def clamp_mask(self, factors: Tensor) -> Tensor:
        """bool [z_dim]: True for latents clamped in this batch (all but the varying factor's group)."""
        varying = torch.nonzero((factors != factors[:1]).any(0)).flatten().tolist()
        if len(varying) > 1:
            raise ConfigError(f"a DC-IGN batch must vary one factor, this one varies factors {varying}; "
                              "draw batches with its batch_indices (vision.fit does)")
        clamped = torch.ones(self.config.z_dim, dtype=torch.bool, device=factors.device)
        if varying:
            clamped[latent_groups(self.config.z_dim, factors.shape[1])[varying[0]]] = False
        return clamped

    def decoder_input(self, z: Tensor, factors: Tensor | None) -> Tensor:
        if factors is None:
            raise ConfigError("dc_ign needs each batch's ground-truth factors; train it with "
                              "vision.fit(frames, 'dc_ign', ..., factors=FACTORS) or `darla see` on a dataset with factors")
        return ClampToMean.apply(z, self.clamp_mask(factors), self.config.invariance)

    def extra_terms(self, s: Step) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        assert s.factors is not None  # decoder_input refused a batch without them
        clamped = self.clamp_mask(s.factors)
        spread = 0.5 * (s.z - s.z.mean(0, keepdim=True))[:, clamped].pow(2).sum(1).mean()
        return {}, {"invariance_target": spread.detach()}

