"""Checkpoints: a dict of tensors and plain metadata that loads with ``torch.load(weights_only=True)``.

Layout::

    format        "darla.vision/1"
    method        registry name ("beta_vae_dae")
    config        the method's hyperparameters (dataclasses.asdict)
    input_shape   [H, W, C] of the frames it was trained on
    version       darla version; torch_version
    step          optimisation steps done; complete: step == config["steps"]
    model         state_dict (CPU tensors)
    optimizers    {name: optimizer state_dict}
    rng           torch and numpy global RNG states (plain lists / uint8 tensor)
    code_stats    complete checkpoints: {"mean", "std"} float32 [z] of the representation over the
                  frames it was trained on, and "frames" (how many); agents standardise with them

A checkpoint is data, never code: nothing in it is unpickled as an object. Writes go to a
temporary file in the same folder and are renamed over the old one, so a crash never leaves a
half-written checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artifacts import atomic_path, package_version
from vision import config as cfg
from vision.errors import CheckpointError
from vision.methods import get as get_method

FORMAT = "darla.vision/1"


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "numpy": [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)]}


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def save(path: Path, model, optimizers: dict, step: int, code_stats: dict | None = None) -> Path:
    """Write ``model`` (a :class:`~vision.methods.base.Method`) at ``step`` atomically."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "method": model.name,
        "config": asdict(model.config),
        "input_shape": list(model.input_shape),
        "version": package_version(),
        "torch_version": str(torch.__version__),
        "step": int(step),
        "complete": int(step) >= model.config.steps,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
        "rng": _rng_state(),
    }
    if code_stats is not None:
        payload["code_stats"] = code_stats
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read(path: str | os.PathLike, expect_method: str | None = None) -> dict[str, Any]:
    """The checkpoint's dict, checked; ``expect_method`` rejects a checkpoint of another method."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no vision checkpoint at {path}; train one with "
                                f"`darla see --data FILE --out DIR` (it writes DIR/checkpoint.pt)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated, foreign or unsafe files
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()] or [""]
        reason = next((ln for ln in lines if "Unpickler error" in ln), lines[0])[:240]
        raise CheckpointError(f"{path} is not a readable vision checkpoint (corrupt, truncated or not "
                              f"written by darla: {type(err).__name__}: {reason}); "
                              "train it again with `darla see`") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path} is not a darla vision checkpoint (format {found!r}, expected "
                              f"{FORMAT!r}); pass a DIR/checkpoint.pt written by `darla see`")
    missing = [k for k in ("method", "config", "input_shape", "step", "complete", "model") if k not in payload]
    if missing:
        raise CheckpointError(f"{path} is an incomplete darla vision checkpoint (no {', '.join(missing)}); "
                              "train it again with `darla see`")
    if expect_method is not None and payload["method"] != expect_method:
        raise CheckpointError(f"{path} is a {payload['method']!r} checkpoint, not {expect_method!r}; "
                              f"pass a checkpoint trained with --method {expect_method}")
    return payload


def config_of(payload: dict[str, Any]):
    """The typed config stored in a checkpoint."""
    cls = get_method(payload["method"])
    try:
        return cfg.from_dict(cls.Config, payload["config"])
    except cfg.ConfigError as err:
        raise CheckpointError(f"checkpoint hyperparameters do not fit method {payload['method']!r} "
                              f"of this darla version ({err}); retrain with `darla see`") from None


def build(payload: dict[str, Any], device: torch.device | str = "cpu"):
    """The method module stored in a checkpoint, weights loaded, in eval mode."""
    cls = get_method(payload["method"])
    model = cls(config_of(payload), tuple(payload["input_shape"]))
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint weights do not fit method {payload['method']!r}: "
                              f"{str(err).splitlines()[0]}; retrain with `darla see`") from None
    return model.to(device).eval()


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu", expect_method: str | None = None):
    """The full method module (encoder, decoder, ...) of a checkpoint, in eval mode."""
    return build(read(path, expect_method), device)
