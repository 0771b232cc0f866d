"""Reconstruction grids and latent traversals, as uint8 RGB arrays for TensorBoard and PNG files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from vision.data import to_frames
from vision.losses import kl_normal

if TYPE_CHECKING:
    from vision.methods.base import Method


def tile(rows: list[np.ndarray], pad: int = 2, fill: int = 255) -> np.ndarray:
    """uint8 [rows][cols, H, W, C] → one image with ``pad`` pixels between tiles."""
    n_cols = max(len(r) for r in rows)
    h, w, c = rows[0].shape[1:]
    out = np.full((len(rows) * (h + pad) + pad, n_cols * (w + pad) + pad, c), fill, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y:y + h, x:x + w] = img
    return out


def _rgb(img: np.ndarray) -> np.ndarray:
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3]


@torch.no_grad()
def reconstruction_grid(model: Method, x: torch.Tensor, generator: torch.Generator) -> np.ndarray:
    """Rows: originals, the corrupted inputs (denoising methods only), mean reconstructions."""
    rows = [to_frames(x)]
    corrupted = model.corrupt(x, generator)
    if not torch.equal(corrupted, x):
        rows.append(to_frames(corrupted))
    rows.append(to_frames(model.reconstruct(x)))
    return _rgb(tile(rows))


#: how far a traversal sweeps each latent: its fitted aggregate posterior's mean ± this many standard
#: deviations (disentanglement_lib's ``conf_interval_cycle``). A sweep of ±3 prior units around the
#: anchor's own mean, as before, runs half off the data's codes for an anchor whose mean sits at ±1.5:
#: the decoder extrapolates there, and the far end rarely shows what the latent does to the scene.
SWEEP_STDS = 2.0


@dataclass(frozen=True)
class LatentStats:
    """What a traversal needs to know about each latent, measured on a batch of frames.

    ``score``: KL in nats to the prior (stochastic methods, ``kind`` "KL") or the code's standard
    deviation (deterministic ones, ``kind`` "std"): it ranks the rows. ``low``/``high``: the interval
    a sweep covers, the fitted Gaussian's mean ± :data:`SWEEP_STDS` standard deviations, where the
    fitted variance is the mean posterior variance plus the variance of the means (the aggregate
    posterior's; a deterministic code's is the variance of its values)."""

    score: np.ndarray
    kind: str
    low: np.ndarray
    high: np.ndarray


@torch.no_grad()
def latent_stats(model: Method, x: torch.Tensor) -> LatentStats:
    """:class:`LatentStats` of ``model``'s code on the frames ``x`` [n, C, H, W]."""
    mu, logvar = model.encode(x)
    spread = mu.std(0, unbiased=False)
    if logvar is None:
        score, kind, std = spread, "std", spread
    else:
        score, kind, std = kl_normal(mu, logvar).mean(0), "KL", (spread.pow(2) + logvar.exp().mean(0)).sqrt()
    std = torch.where(std > 0, std, torch.ones_like(std))  # one frame of a deterministic code: unit steps
    loc = mu.mean(0)
    low, high = (loc - SWEEP_STDS * std).cpu().numpy(), (loc + SWEEP_STDS * std).cpu().numpy()
    return LatentStats(score.cpu().numpy(), kind, low, high)


@torch.no_grad()
def traverse(model: Method, frame: torch.Tensor, latents: np.ndarray, stats: LatentStats, cols: int = 9) -> np.ndarray:
    """uint8 [len(latents), cols, H, W, C]: each latent set to ``cols`` evenly spaced values over its
    interval (``stats.low`` to ``stats.high``), the others held at the encoded ``frame``'s [1, C, H, W]
    means, decoded to mean images. The interval is the same for every anchor, so each column means
    the same value of the latent in every block."""
    mu = model.encode(frame)[0][0]
    images = []
    for i in latents:
        z = mu.repeat(cols, 1)
        z[:, i] = torch.linspace(float(stats.low[i]), float(stats.high[i]), cols, device=mu.device)
        images.append(to_frames(torch.sigmoid(model.decode(z))))
    return np.stack(images)


def traversal_order(scores: np.ndarray, rows: int = 10) -> np.ndarray:
    """The latents a traversal shows: the ``rows`` highest scores, highest first."""
    return np.argsort(-scores, kind="stable")[:rows]


#: how many anchor frames a traversal.png sweeps, side by side: one frame shows what a latent does
#: to that frame only (an object's latent does nothing where no object is in view). Five, as
#: disentanglement_lib's ``visualize(num_animations=5)`` draws five random anchors.
TRAVERSAL_ANCHORS = 5


@torch.no_grad()
def traversal_grid(model: Method, frames: torch.Tensor, stats: LatentStats, rows: int = 10, cols: int = 9,
                   gap: int = 12) -> np.ndarray:
    """One row per latent (highest score first), labelled with its index and score (KL in nats, or
    std); for each anchor in ``frames`` [k, C, H, W], one block of that latent's :func:`traverse`
    sweep, blocks side by side ``gap`` pixels apart, as disentanglement_lib draws several anchors."""
    order = traversal_order(stats.score, rows)
    blocks = [_rgb(tile(list(traverse(model, frame[None], order, stats, cols)))) for frame in frames]
    h, height = frames.shape[2], blocks[0].shape[0]
    label = np.full((height, 96, 3), 255, np.uint8)
    spacer = np.full((height, gap, 3), 255, np.uint8)
    canvas = np.concatenate([label] + [part for block in blocks for part in (spacer, block)][1:], axis=1)
    for r, i in enumerate(order):
        y = 2 + r * (h + 2) + h // 2 + 4
        cv2.putText(canvas, f"z{i} {stats.kind} {stats.score[i]:.2f}", (3, y), cv2.FONT_HERSHEY_SIMPLEX,
                    0.33, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas
