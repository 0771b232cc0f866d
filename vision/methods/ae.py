"""Autoencoders: ``ae`` (deterministic, Burgess conv64) and ``dae`` (DARLA's denoising autoencoder)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import torch
from torch import Tensor

from vision.data import occlude
from vision.methods.base import Method
from vision.methods.registry import register
from vision.networks import BURGESS_CHANNELS, BURGESS_HIDDEN, DAE_CHANNELS, ConvDecoder, ConvEncoder


@register
class AutoEncoder(Method):
    """Deterministic autoencoder on the Burgess conv64 networks: no prior, no KL."""

    name = "ae"
    paper = "Hinton & Salakhutdinov 2006 (networks: Burgess et al. 2018)"
    summary = "deterministic autoencoder"
    channels: ClassVar[Sequence[int]] = BURGESS_CHANNELS
    hidden: ClassVar[Sequence[int]] = BURGESS_HIDDEN
    stochastic: ClassVar[bool] = False

    @dataclass
    class Config(Method.Config):
        pass

    config: Config

    def __init__(self, config: Config, input_shape: tuple[int, int, int]):
        super().__init__(config, input_shape)
        width = config.z_dim * (2 if self.stochastic else 1)
        channels, hidden = self.architecture(config)
        self.encoder = ConvEncoder(self.input_shape, width, channels, hidden)
        self.decoder = ConvDecoder(self.input_shape, config.z_dim, channels, hidden)

    def architecture(self, config: Any) -> tuple[Sequence[int], Sequence[int]]:
        """Conv channels and MLP widths of encoder and decoder; a method whose config picks its
        network overrides this."""
        return self.channels, self.hidden

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        h = self.encoder(x)
        if not self.stochastic:
            return h, None
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)


@register
class DenoisingAutoEncoder(AutoEncoder):
    """DARLA's DAE: Conv 32, 32, 64, 64 (4×4, s2) → 128-unit linear bottleneck, mirrored decoder,
    trained to reconstruct clean frames from frames with one random zeroed rectangle. Its bottleneck
    is DARLA_DAE's representation and the feature space of β-VAE-DAE's perceptual loss."""

    name = "dae"
    paper = "Higgins et al. 2017 (DARLA), appendix"
    summary = "denoising autoencoder with rectangular occlusions"
    channels = DAE_CHANNELS
    hidden = ()

    @dataclass
    class Config(AutoEncoder.Config):
        z_dim: int = 128
        lr: float = 1e-3

    config: Config

    def corrupt(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return occlude(x, generator)
