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
    digest        sha256 of the weights and code statistics (what the model computes), taken as
                  written; digests: the same per tensor ("model/<name>", "code_stats/<name>")
    origin        {"method", "data"}: the method and what it was trained on (the dataset's name,
                  digest, env id and version, domain, sampling; None for frames given as an array)

A checkpoint is data, never code: nothing in it is unpickled as an object. Writes go to a
temporary file in the same folder and are renamed over the old one, so a crash never leaves a
half-written checkpoint.

Integrity: :func:`read` refuses weights that are not finite (NaN, inf) or that differ from the
digest recorded as they were written (a flipped bit), naming the tensors. A checkpoint written
before digests existed has no ``digest`` and is refused as well, since nothing shows it intact:
``darla digest FILE`` loads it, checks it and records its digest (and the sha256 of its old bytes,
so agents that recorded them still accept it), or ``darla see`` trains it again. Only resuming a
training (:mod:`vision.train`) reads such a file without one, to continue and rewrite it.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from artifacts import ArrayDigest, atomic_path, differing, digest_arrays, file_sha256, package_version
from vision import config as cfg
from vision.errors import CheckpointError
from vision.methods import get as get_method

if TYPE_CHECKING:
    from vision.methods.base import Method

FORMAT = "darla.vision/1"


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "numpy": [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)]}


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def _tensor_bytes(value) -> np.ndarray:
    tensor = torch.as_tensor(value).detach().cpu().contiguous()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.view(torch.int16)  # numpy has no bfloat16: the same bytes
    return tensor.numpy()


def digest_of(payload: dict[str, Any]) -> ArrayDigest:
    """The :class:`~artifacts.ArrayDigest` of what a checkpoint computes with: its weights and code
    statistics (not optimiser or RNG states, which only resuming reads)."""
    arrays = {f"model/{k}": _tensor_bytes(v) for k, v in payload["model"].items()}
    stats = payload.get("code_stats") or {}
    arrays.update({f"code_stats/{k}": _tensor_bytes(stats[k]) for k in ("mean", "std") if k in stats})
    return digest_arrays(arrays)


def save(path: str | os.PathLike, model: Method, optimizers: dict, step: int, code_stats: dict | None = None,
         origin: dict | None = None, precision: str | None = None) -> Path:
    """Write ``model`` (a :class:`~vision.methods.base.Method`) at ``step`` atomically, with its
    digest and ``origin`` (what it was trained on, see the module docstring). ``precision``: the
    arithmetic its steps ran in ("fp32" or "bf16"), which ``precision=auto`` leaves to the hardware."""
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
    if precision is not None:
        payload["precision"] = precision
    _seal(payload, {"method": model.name, "data": origin})
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _seal(payload: dict[str, Any], origin: dict) -> None:
    digest = digest_of(payload)
    payload.update(digest=digest.hexdigest(), digests=digest.parts(), origin=origin)


def recorded_digest(path: str | os.PathLike) -> str | None:
    """The digest a checkpoint records (None for one from before digests), unverified: what a stage
    fingerprint takes, so that a replaced checkpoint re-runs the stages reading it."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    return payload.get("digest") if isinstance(payload, dict) else None


def add_digest(path: str | os.PathLike) -> bool:
    """Give a checkpoint written before digests its digest, once it loads and its weights are finite;
    False when it already has one (then verified). Records the sha256 of its old bytes as
    ``adopted_sha256``, for agents that identified their encoder by it."""
    path = Path(path)
    payload = read(path, allow_undigested=True)
    build(payload)
    if "digest" in payload:
        return False
    payload["adopted_sha256"] = file_sha256(path)
    _seal(payload, {"method": payload["method"], "data": None})
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return True


def identities(path: str | os.PathLike) -> set[str]:
    """The sha256 values that name this checkpoint file: of its bytes, and of its bytes before
    ``darla digest`` gave it a digest."""
    adopted = read(path).get("adopted_sha256")
    return {file_sha256(path)} | ({adopted} if adopted else set())


def read(path: str | os.PathLike, expect_method: str | None = None, *, allow_undigested: bool = False) -> dict[str, Any]:
    """The checkpoint's dict, checked (structure, finite weights, digest); ``expect_method`` rejects
    a checkpoint of another method; ``allow_undigested`` reads one from before digests."""
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
    _check_integrity(path, payload, allow_undigested)
    return payload


def _check_integrity(path: Path, payload: dict[str, Any], allow_undigested: bool) -> None:
    if not isinstance(payload["model"], dict) or not all(isinstance(v, torch.Tensor) for v in payload["model"].values()):
        raise CheckpointError(f"{path} holds no weights (its 'model' is not a dict of tensors); train it again "
                              "with `darla see`")
    bad = [k for k, v in payload["model"].items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{path} has NaN or infinite weights in {len(bad)} tensor(s) ({', '.join(bad[:3])}"
                              f"{', ...' if len(bad) > 3 else ''}); it cannot encode anything: train it again "
                              "with `darla see`")
    if "digest" not in payload:
        if allow_undigested:
            return
        raise CheckpointError(f"{path} was written by a darla version before checkpoints recorded a content digest, "
                              f"so nothing shows its weights are intact; run `darla digest {path}` to check it "
                              "and record one, or train it again with `darla see`")
    actual = digest_of(payload)
    digests = payload.get("digests")
    recorded = digests if isinstance(digests, dict) else {}
    wrong = differing(recorded, actual.parts())
    if wrong or actual.hexdigest() != payload["digest"]:
        names = [w.split("/", 1)[-1] for w in wrong]
        raise CheckpointError(f"{path} does not match the digest recorded when it was written: "
                              f"{', '.join(names[:3]) or 'its digest'}{' and others' if len(names) > 3 else ''} "
                              "differ (the weights were changed or damaged since); restore the file or train it "
                              "again with `darla see`")


def config_of(payload: dict[str, Any]) -> Method.Config:
    """The typed config stored in a checkpoint."""
    cls = get_method(payload["method"])
    try:
        return cfg.from_dict(cls.Config, payload["config"])
    except cfg.ConfigError as err:
        raise CheckpointError(f"checkpoint hyperparameters do not fit method {payload['method']!r} "
                              f"of this darla version ({err}); retrain with `darla see`") from None


def build(payload: dict[str, Any], device: torch.device | str = "cpu") -> Method:
    """The method module stored in a checkpoint, weights loaded, in eval mode."""
    cls = get_method(payload["method"])
    model = cls(config_of(payload), tuple(payload["input_shape"]))
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint weights do not fit method {payload['method']!r}: "
                              f"{str(err).splitlines()[0]}; retrain with `darla see`") from None
    return model.to(device).eval()


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu",
               expect_method: str | None = None) -> Method:
    """The full method module (encoder, decoder, ...) of a checkpoint, in eval mode."""
    return build(read(path, expect_method), device)
