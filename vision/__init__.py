"""Representation learners behind one interface: networks, losses, training loop, checkpoints.

This package sees arrays, never environments: it must not import ``envs``, ``agents``, ``eval`` or
``darla``. Interactive methods (ICF) step environments the caller makes (:func:`fit_env`).

    path = vision.fit(frames, method="beta_vae_dae", out_dir="runs/see", steps=2000)
    encoder = vision.load_encoder(path)
    codes = encoder.encode(frames[:100])        # float32 [100, latent_dim] latent means
"""

from vision import methods
from vision.checkpoint import load_model
from vision.encoder import Encoder, load_encoder, save_encoder
from vision.errors import (CheckpointError, ConfigError, FrameShapeError, NonFiniteLossError,
                           UnknownMethodError, VisionError)
from vision.train import collapse_reasons, evaluate, fit
from vision.interact import fit_env

load = load_encoder

__all__ = ["CheckpointError", "ConfigError", "Encoder", "collapse_reasons", "FrameShapeError", "NonFiniteLossError",
           "UnknownMethodError", "VisionError", "evaluate", "fit", "fit_env", "load", "load_encoder", "load_model", "save_encoder",
           "methods"]
