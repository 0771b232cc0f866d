"""Reconstruction grids and latent traversals, as uint8 RGB arrays for TensorBoard and PNG files."""

from __future__ import annotations

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


@torch.no_grad()
def latent_scores(model: Method, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, str]:
    """Per-latent (score, spread) on a batch: KL in nats and posterior-mean std for stochastic
    methods; code std (twice, as score and spread) for deterministic ones."""
    mu, logvar = model.encode(x)
    spread = mu.std(0).cpu().numpy() if len(mu) > 1 else np.ones(mu.shape[1], np.float32)
    if logvar is None:
        return spread, spread, "std"
    return kl_normal(mu, logvar).mean(0).cpu().numpy(), spread, "KL"


@torch.no_grad()
def traverse(model: Method, frame: torch.Tensor, latents: np.ndarray, kind: str, spread: np.ndarray,
             cols: int = 9, radius: float = 3.0) -> np.ndarray:
    """uint8 [len(latents), cols, H, W, C]: each latent swept over ±``radius`` around the encoded
    ``frame`` [1, C, H, W], the others held at their means, decoded to mean images.

    For stochastic methods (``kind`` "KL") the sweep is in prior units (±3 around μ); deterministic
    codes have no prior, so they sweep ±3 of each code's standard deviation (``spread``) instead."""
    mu = model.encode(frame)[0][0]
    offsets = torch.linspace(-radius, radius, cols, device=mu.device)
    images = []
    for i in latents:
        z = mu.repeat(cols, 1)
        scale = 1.0 if kind == "KL" else float(spread[i])
        z[:, i] = mu[i] + offsets * scale
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
def traversal_grid(model: Method, frames: torch.Tensor, scores: np.ndarray, kind: str, spread: np.ndarray,
                   rows: int = 10, cols: int = 9, radius: float = 3.0, gap: int = 12) -> np.ndarray:
    """One row per latent (highest score first), labelled with its index and score (KL in nats, or
    std); for each anchor in ``frames`` [k, C, H, W], one block of that latent's :func:`traverse`
    sweep, blocks side by side ``gap`` pixels apart, as disentanglement_lib draws several anchors."""
    order = traversal_order(scores, rows)
    blocks = [_rgb(tile(list(traverse(model, frame[None], order, kind, spread, cols, radius)))) for frame in frames]
    h, height = frames.shape[2], blocks[0].shape[0]
    label = np.full((height, 96, 3), 255, np.uint8)
    spacer = np.full((height, gap, 3), 255, np.uint8)
    canvas = np.concatenate([label] + [part for block in blocks for part in (spacer, block)][1:], axis=1)
    for r, i in enumerate(order):
        y = 2 + r * (h + 2) + h // 2 + 4
        cv2.putText(canvas, f"z{i} {kind} {scores[i]:.2f}", (3, y), cv2.FONT_HERSHEY_SIMPLEX,
                    0.33, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas
