"""Convolutional encoders and decoders, parameterised once so no architecture is pasted twice.

Two instances matter: Burgess et al. 2018's conv64 (4 × Conv 32 4×4 s2 → FC 256 → FC 256 → out),
the de-facto standard for β-VAE work, and DARLA's DAE (Conv 32, 32, 64, 64 → FC 128). Inputs are
any H × W that are multiples of 16, with any number of channels; decoders mirror their encoders and
return logits (the output non-linearity belongs to the likelihood).
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from vision.data import DOWNSAMPLE

BURGESS_CHANNELS = (32, 32, 32, 32)
BURGESS_HIDDEN = (256, 256)
DAE_CHANNELS = (32, 32, 64, 64)


class ConvEncoder(nn.Module):
    """Conv(4×4, stride 2, pad 1) + ReLU per entry of ``channels``, then ReLU MLP ``hidden`` → ``out_dim`` (linear)."""

    def __init__(self, input_shape: tuple[int, int, int], out_dim: int,
                 channels: Sequence[int] = BURGESS_CHANNELS, hidden: Sequence[int] = BURGESS_HIDDEN):
        super().__init__()
        h, w, c = input_shape
        layers: list[nn.Module] = []
        for out in channels:
            layers += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.ReLU()]
            c = out
        layers.append(nn.Flatten())
        width = c * (h // DOWNSAMPLE) * (w // DOWNSAMPLE)
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: ReLU MLP ``hidden`` → feature map → ConvTranspose stack → logits."""

    def __init__(self, output_shape: tuple[int, int, int], in_dim: int,
                 channels: Sequence[int] = BURGESS_CHANNELS, hidden: Sequence[int] = BURGESS_HIDDEN):
        super().__init__()
        h, w, c_out = output_shape
        rev = list(channels)[::-1]
        self._map = (rev[0], h // DOWNSAMPLE, w // DOWNSAMPLE)
        layers: list[nn.Module] = []
        width = in_dim
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        layers += [nn.Linear(width, rev[0] * self._map[1] * self._map[2]), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        convs: list[nn.Module] = []
        for c_in, c_next in zip(rev, rev[1:] + [c_out]):
            convs += [nn.ConvTranspose2d(c_in, c_next, 4, stride=2, padding=1), nn.ReLU()]
        self.convs = nn.Sequential(*convs[:-1])  # logits: no ReLU after the last layer

    def forward(self, z: Tensor) -> Tensor:
        return self.convs(self.mlp(z).view(-1, *self._map))
