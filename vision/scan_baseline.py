"""The baseline SCAN is compared with: a conditional VAE that conditions on the symbol directly.

q(z | x, y) and p(x | z, y) on the Burgess conv64 networks, the k-hot symbol y concatenated to the
encoder's last hidden layer and to the decoder's input; prior N(0, I). sym2img draws z from the
prior and decodes it with the symbol. Unlike SCAN it has no grounding in a pre-trained disentangled
space and no operators: a recombined concept is given to it as the ground-truth k-hot symbol of the
result (the paper's "test symbols" condition), and the unnamed factors' variety is whatever the
prior samples decode to. It learns from pixels, so it costs a full vision training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from vision.data import check_frames, to_frames, to_model_input
from vision.errors import ConfigError
from vision.losses import bernoulli_nll, kl_normal
from vision.networks import ConvDecoder, ConvEncoder


@dataclass
class ConditionalVAEConfig:
    z_dim: int = 10
    beta: float = 1.0
    steps: int = 2000
    batch_size: int = 64
    lr: float = 5e-4
    seed: int = 0
    threads: int = 0

    def validate(self) -> None:
        if self.z_dim < 1 or self.batch_size < 1 or self.steps < 0 or not self.lr > 0 or self.beta < 0:
            raise ConfigError(f"invalid conditional VAE config {self}: z_dim, batch_size >= 1, steps >= 0, "
                              "lr > 0, beta >= 0")


class ConditionalVAE(nn.Module):
    """A VAE whose encoder and decoder both see the k-hot symbol."""

    def __init__(self, input_shape: tuple[int, int, int], vocab_size: int, config: ConditionalVAEConfig):
        super().__init__()
        self.config = config
        h, w, c = input_shape
        self.input_shape = (h, w, c)
        self.vocab_size = vocab_size
        self.features = ConvEncoder(self.input_shape, 256)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(256 + vocab_size, 2 * config.z_dim))
        self.decoder = ConvDecoder(self.input_shape, config.z_dim + vocab_size)

    def encode(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(torch.cat([self.features(x), y], 1)).chunk(2, dim=1)

    def decode(self, z: Tensor, y: Tensor) -> Tensor:
        return self.decoder(torch.cat([z, y], 1))

    def losses(self, x: Tensor, y: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        mu, logvar = self.encode(x, y)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        out = {"reconstruction": bernoulli_nll(self.decode(z, y), x),
               "kl": self.config.beta * kl_normal(mu, logvar).sum() / len(x)}
        out["loss"] = out["reconstruction"] + out["kl"]
        return out

    @torch.no_grad()
    def sym2img(self, symbols: np.ndarray, samples: int = 8, seed: int = 0) -> np.ndarray:
        """uint8 [n, samples, H, W, C]: prior draws decoded with each symbol."""
        y = torch.as_tensor(np.atleast_2d(np.asarray(symbols, np.float32)))
        g = torch.Generator().manual_seed(int(seed))
        z = torch.randn((len(y) * samples, self.config.z_dim), generator=g)
        frames = to_frames(torch.sigmoid(self.decode(z, y.repeat_interleave(samples, 0))))
        return frames.reshape(len(y), samples, *frames.shape[1:])


def fit_conditional_vae(frames: np.ndarray, symbols: np.ndarray, config: ConditionalVAEConfig | None = None,
                        progress: bool | None = None) -> ConditionalVAE:
    """Train the baseline on (frame, symbol) pairs, seeded by ``config.seed``."""
    from tqdm.auto import tqdm

    config = config or ConditionalVAEConfig()
    config.validate()
    shape = check_frames(frames)
    if len(symbols) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(symbols)} symbols; give one symbol per frame")
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = ConditionalVAE(shape, int(np.asarray(symbols).shape[1]), config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    g = torch.Generator().manual_seed(config.seed)
    y_all = torch.as_tensor(np.asarray(symbols, np.float32))
    for _ in tqdm(range(config.steps), desc="conditional vae", unit="step",
                  disable=None if progress is None else not progress):
        idx = torch.randint(0, len(frames), (min(config.batch_size, len(frames)),), generator=g).numpy()
        losses = model.losses(to_model_input(frames[np.sort(idx)]), y_all[np.sort(idx)], g)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
    return model.eval()
