"""The frozen encoder other stages use: uint8 frames in, latent means out."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import torch

from vision import checkpoint
from vision.data import to_model_input
from vision.errors import FrameShapeError

if TYPE_CHECKING:
    from vision.methods.base import Method


class Encoder:
    """A trained method's representation (latent means), frozen, in eval mode.

    ``encode(frames)`` takes uint8 [n, H, W, C] frames, as environments emit them, and returns
    float32 [n, latent_dim]. ``input_shape`` is (H, W, C).
    """

    def __init__(self, model: Method, meta: dict | None = None, code_stats: dict | None = None):
        # channels-last weights match the NHWC frames' memory layout: ~30% faster CPU convolutions
        # torch's stub of Module.to lacks the memory_format keyword that it accepts
        self.model = model.eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.model.requires_grad_(False)
        self.meta = dict(meta or {})
        self.method: str = model.name
        self.latent_dim: int = int(model.latent_dim)
        self.input_shape: tuple[int, int, int] = model.input_shape
        self.device = next(model.parameters()).device
        # mean and std of the codes over the training frames (None for checkpoints written before 0.2)
        self.code_mean = self.code_std = None
        if code_stats is not None:
            self.code_mean = np.asarray(code_stats["mean"], np.float32)
            self.code_std = np.asarray(code_stats["std"], np.float32)

    def encode(self, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
        return self._run(frames, batch_size, lambda x: (self.model.representation(x), None))[0]

    def encode_distribution(self, frames: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
        """``(means, log-variances)`` of the posterior, float32 [n, latent_dim] each; the
        log-variances are None for a deterministic code (AE, DAE, InfoGAN's recognition net).
        UDR uses them for the reference's KL filter on informative latents."""
        return self._run(frames, batch_size, self.model.encode)

    @torch.inference_mode()
    def _run(self, frames, batch_size: int, fn):
        frames = np.asarray(frames)
        if frames.ndim != 4 or tuple(frames.shape[1:]) != self.input_shape or frames.dtype != np.uint8:
            raise FrameShapeError(f"this {self.method} encoder takes uint8 frames [n, {', '.join(map(str, self.input_shape))}], "
                                  f"got {frames.dtype} {frames.shape}; pass a batch (frames[None] for one frame) "
                                  "at the resolution the encoder was trained on")
        means = np.empty((len(frames), self.latent_dim), np.float32)
        logvars = None
        for start in range(0, len(frames), batch_size):
            x = to_model_input(frames[start:start + batch_size], self.device)
            mu, logvar = fn(x)
            means[start:start + len(x)] = mu.float().cpu().numpy()
            if logvar is not None:
                if logvars is None:
                    logvars = np.empty_like(means)
                logvars[start:start + len(x)] = logvar.float().cpu().numpy()
        return means, logvars

    def __repr__(self) -> str:
        return f"Encoder(method={self.method!r}, latent_dim={self.latent_dim}, input_shape={self.input_shape})"


def save_encoder(encoder: Encoder, path: str | os.PathLike) -> os.PathLike:
    """Write ``encoder`` as a complete checkpoint (weights, hyperparameters, code statistics, digest;
    no optimiser state), so an Encoder built or trained in Python travels like one from ``darla see``:
    through ``torch.load(weights_only=True)``, never pickled."""
    model = encoder.model
    stats = None
    if encoder.code_mean is not None:
        stats = {"mean": torch.as_tensor(encoder.code_mean), "std": torch.as_tensor(encoder.code_std),
                 "frames": int(encoder.meta.get("code_frames", 0))}
    origin = encoder.meta.get("origin")
    return checkpoint.save(path, model, {}, step=model.config.steps, code_stats=stats,
                           origin=origin.get("data") if isinstance(origin, dict) else None)


def load_encoder(path: str | os.PathLike, device: str | torch.device = "cpu",
                 expect_method: str | None = None) -> Encoder:
    """The :class:`Encoder` of a checkpoint written by :func:`vision.fit` / ``darla see``."""
    payload = checkpoint.read(path, expect_method)
    meta = {k: payload[k] for k in ("method", "config", "input_shape", "version", "step", "complete")}
    meta["origin"] = payload.get("origin")
    meta["code_frames"] = (payload.get("code_stats") or {}).get("frames", 0)
    return Encoder(checkpoint.build(payload, device), meta, payload.get("code_stats"))
