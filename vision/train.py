"""The training loop: one loop for every method, checkpointed, resumable, logged.

Reproducibility: the model is initialised from ``torch.manual_seed(seed)``; minibatch ``step``
holds :func:`vision.data.batch_indices` ``(seed, step)`` and its noise comes from a generator seeded
by ``(seed, step)``; optimiser states and global RNG states are checkpointed. A run interrupted and
resumed from its last checkpoint therefore ends, on CPU, with exactly the weights of an
uninterrupted run.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from vision import checkpoint, config as cfg
from artifacts import write_json_atomic, write_png
from vision.data import Frames, as_uint8_array, check_frames, step_generator, to_model_input
from vision.errors import CheckpointError, ConfigError, NonFiniteLossError
from vision.images import TRAVERSAL_ANCHORS, latent_stats, reconstruction_grid, traversal_grid
from vision.losses import kl_normal
from vision.methods import get as get_method
from vision.methods._samplers import FactorBatches, check_factors

if TYPE_CHECKING:
    from vision.methods.base import Method

CHECKPOINT = "checkpoint.pt"
ACTIVE_KL = 0.01  # nats: a latent whose mean KL exceeds this carries information


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; a CUDA request without CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={name!r} is not a device; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but torch sees no CUDA GPU; use device=cpu or device=auto")
    return device


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware: a CUDA GPU with bf16, or a CPU with
    AVX-512 BF16 or AMX. Without them oneDNN emulates bf16, measured 2-10 times slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's own CPUID checks
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` → ``bf16`` where :func:`native_bf16`, else ``fp32``; ``bf16`` on hardware without
    it runs (the numbers are the same everywhere) but warns that it is slower than fp32."""
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if name == "bf16" and not native_bf16(device):
        warnings.warn(f"precision=bf16 on a {device.type} without bf16 instructions is emulated and runs 2-10 "
                      "times slower than fp32; use precision=fp32, or auto to choose by hardware", stacklevel=2)
    return name


def resolve_config(method: str, config: Any, hyperparameters: dict[str, Any]) -> Any:
    """``method``'s config: the one given (which must be that method's ``Config``) or its defaults,
    updated with ``hyperparameters`` and validated; shared by :func:`fit` and ``vision.fit_env``."""
    cls = get_method(method)
    if config is None:
        config = cls.Config()
    elif type(config) is not cls.Config:
        raise ConfigError(f"config is a {type(config).__qualname__}, but method {method!r} takes "
                          f"{cls.__name__}.Config; build it with vision.methods.get({method!r}).Config(...)")
    if hyperparameters:
        config = cfg.update(config, hyperparameters)
    config.validate()
    return config


def fit(frames: Frames, method: str = "beta_vae_dae", out_dir: str | os.PathLike = "runs/vision",
        config: Method.Config | None = None, *, factors: ArrayLike | None = None, resume: bool = True,
        progress: bool | None = None, tensorboard: bool = True, origin: dict | None = None,
        **hyperparameters: Any) -> Path:
    """Train ``method`` on ``frames`` (uint8 [N, H, W, C]: numpy array or h5py dataset) and return
    the path of its final checkpoint, ``out_dir/checkpoint.pt``.

    Hyperparameters come from ``config`` (the method's ``Config`` dataclass) and/or keyword
    overrides (``beta=4.0``, ``steps=1000``, ``**{"dae.steps": 500}``). If ``out_dir`` holds a
    checkpoint of the same run it resumes from it (``resume=False`` starts over); one from another
    method or other hyperparameters is an error. ``progress=None`` shows a bar on a terminal only.
    ``factors`` (int [N, K], one row per frame) are the ground-truth factors; only methods that
    inherit :class:`~vision.methods._samplers.FactorBatches` use them (DC-IGN, supervised
    Guided-VAE), to build their own batches; the others ignore them.
    ``origin`` describes the frames (``FrameDataset.provenance()``); checkpoints record it.
    Also writes ``reconstructions.png``, ``traversal.png``, ``summary.json`` and TensorBoard
    events under ``out_dir/tb``.
    """
    cls = get_method(method)
    if cls.interactive:
        raise ConfigError(f"{method} learns by interacting with an environment, not from frames: it needs an env "
                          f"id (`darla see --env ENV_ID --method {method} --out DIR`; Python: "
                          f"vision.fit_env(make_env, {method!r}, DIR))")
    shape = check_frames(frames)
    config = resolve_config(method, config, hyperparameters)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = as_uint8_array(frames)
    if factors is not None:
        factors = check_factors(factors, len(data))
    if issubclass(cls, FactorBatches):
        config = cls.with_factors(config, factors)
    else:
        factors = None  # stage 1's rule: a method that does not ask for labels never receives them
    config = cls.prepare(config, data, out, fit, resume=resume, progress=progress, tensorboard=tensorboard)
    return _Run(cls, config, data, shape, out, progress, tensorboard, factors, origin).train(resume)


def view_indices(n: int, seed: int) -> np.ndarray:
    """The training frames a run draws its images from (up to 256, sorted); the traversal's anchors
    are the first :data:`~vision.images.TRAVERSAL_ANCHORS`. A function so that benchmarks can find
    the frames a traversal.png started from."""
    return np.sort(np.random.default_rng([seed, 1]).choice(n, min(n, 256), replace=False))


class _Run:
    """State of one training run (kept out of the method: a method never counts steps)."""

    def __init__(self, cls, config, data: np.ndarray, shape, out: Path, progress, tensorboard: bool,
                 factors: np.ndarray | None = None, origin: dict | None = None):
        self.cls, self.config, self.data, self.shape, self.out = cls, config, data, shape, out
        self.factors, self.origin = factors, origin
        self.progress, self.tensorboard = progress, tensorboard
        self.path = out / CHECKPOINT
        self.device = resolve_device(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        self.last_saved: int | None = None

    def _compatible(self, payload) -> None:
        if payload["method"] != self.cls.name:
            raise CheckpointError(f"{self.path} holds a {payload['method']!r} run, not {self.cls.name!r}; "
                                  "choose another output folder or start over (resume=False / --force)")
        if tuple(payload["input_shape"]) != self.shape:
            raise CheckpointError(f"{self.path} was trained on {tuple(payload['input_shape'])} frames, "
                                  f"these are {self.shape}; choose another output folder or start over")
        saved = checkpoint.config_of(payload)
        # where the arithmetic a run began in is known, precision is compared by it (below), not by
        # name: an auto run may resume as what it ran in
        began_in = payload.get("precision", None if saved.precision == "auto" else saved.precision)
        diff = _differences(saved, self.config, set(self.config.RESUMABLE) | ({"precision"} if began_in else set()))
        if began_in is not None and began_in != self.precision and payload["step"] < self.config.steps:
            raise CheckpointError(f"{self.path} ran its first {payload['step']} steps in {began_in}, but "
                                  f"precision={self.config.precision} runs {self.precision} on this "
                                  f"{self.device.type}; resume with precision={began_in} to finish as it began "
                                  "(bf16 on hardware without bf16 units is emulated and slow), or start over "
                                  "(resume=False / --force)")
        if diff:
            raise CheckpointError(f"{self.path} is a run with other hyperparameters ({'; '.join(diff)}); "
                                  "resume with the same ones, choose another output folder, or start over "
                                  "(resume=False / --force)")
        if payload["step"] > self.config.steps:
            raise CheckpointError(f"{self.path} is at step {payload['step']}, past steps={self.config.steps}; "
                                  "ask for at least that many steps or start over")

    def train(self, resume: bool) -> Path:
        config, device = self.config, self.device
        threads = torch.get_num_threads()
        if config.threads:
            torch.set_num_threads(config.threads)
        try:
            torch.manual_seed(config.seed)
            np.random.seed(config.seed % 2 ** 32)
            # channels-last weights match the NHWC frames' layout: 15-25% faster convolutions on CPU
            model = self.cls(config, self.shape).to(device, memory_format=torch.channels_last)
            optimizers = model.configure_optimizers()
            start = 0
            if resume and self.path.exists():
                # a run interrupted under a darla before digests resumes too: its next save has one
                payload = checkpoint.read(self.path, allow_undigested=True)
                self._compatible(payload)
                model.load_state_dict(payload["model"])
                for name, opt in optimizers.items():
                    opt.load_state_dict(payload["optimizers"][name])
                checkpoint.restore_rng(payload["rng"])
                start = self.last_saved = payload["step"]
                if start == config.steps and (self.out / "summary.json").exists():
                    return self.path
            else:
                model.initialize(self.data)
            return self._loop(model, optimizers, start)
        finally:
            torch.set_num_threads(threads)

    def _loop(self, model, optimizers, start: int) -> Path:
        from tqdm.auto import tqdm

        config, device, data = self.config, self.device, self.data
        n = len(data)
        writer = None
        if self.tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            writer = SummaryWriter(str(self.out / "tb"), purge_step=start if start else None)
        x_view = to_model_input(data[view_indices(n, config.seed)], device)
        sums: dict[str, float] = defaultdict(float)
        kl_sum = None
        count = 0
        bar = tqdm(total=config.steps, initial=start, unit="step", desc=f"see {self.cls.name}",
                   disable=None if self.progress is None else not self.progress, dynamic_ncols=True)
        began = time.perf_counter()
        try:
            for step in range(start, config.steps):
                model.train()
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                    losses, batch = self._step(model, step)
                value = losses["loss"].item()
                if not math.isfinite(value):
                    raise NonFiniteLossError(self._nan_message(f"the loss is {value}", step))
                model.update(losses, optimizers)
                for key, term in losses.items():
                    if term.dim() == 0:
                        sums[key] += term.item()
                if "kl_per_latent" in losses:
                    kl = losses["kl_per_latent"].detach()
                    kl_sum = kl if kl_sum is None else kl_sum + kl
                count += 1
                done = step + 1
                if done % config.log_every == 0 or done == config.steps:
                    means = {k: v / count for k, v in sums.items()}
                    rate = (done - start) * batch / max(time.perf_counter() - began, 1e-9)
                    self._log(writer, done, means, None if kl_sum is None else kl_sum / count, rate)
                    bar.set_postfix({k[:5]: f"{v:.4g}" for k, v in means.items() if k in
                                     ("loss", "reconstruction", "kl")} | {"img/s": f"{rate:.0f}"}, refresh=False)
                    sums, kl_sum, count = defaultdict(float), None, 0
                if done % config.image_every == 0 or done == config.steps:
                    self._images(writer, model, x_view, done)
                if done % config.checkpoint_every == 0 or done == config.steps:
                    self._save(model, optimizers, done)
                bar.update(1)
            elapsed = time.perf_counter() - began
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        summary = evaluate(model, data, seed=config.seed)
        summary.update(method=self.cls.name, steps=config.steps, checkpoint=str(self.path), precision=self.precision,
                       steps_this_session=config.steps - start, seconds_this_session=round(elapsed, 3),
                       images_per_s=round((config.steps - start) * min(config.batch_size, n) / max(elapsed, 1e-9), 1),
                       config=asdict(config))
        write_json_atomic(self.out / "summary.json", summary)
        return self.path

    def _step(self, model, step: int) -> tuple[dict[str, torch.Tensor], int]:
        """Loss terms of minibatch ``step`` and its number of frames (an interactive run steps envs instead)."""
        idx = model.batch_indices(self.factors, step, len(self.data))
        x = to_model_input(self.data[idx], self.device)
        y = None if self.factors is None else torch.as_tensor(self.factors[idx], device=self.device)
        return model.training_step(x, step, step_generator(self.config.seed, step, self.device), factors=y), len(x)

    def _nan_message(self, what: str, step: int) -> str:
        kept = (f"the last finite checkpoint, {self.path} at step {self.last_saved}, is intact"
                if self.last_saved is not None else "no checkpoint was written yet")
        return (f"{self.cls.name}: {what} at step {step}; training stopped and {kept}. Lower lr "
                f"(now {self.config.lr}) or check the frames, then train again in a new output folder "
                "or start over (resume=False / --force)")

    def _save(self, model, optimizers, step: int) -> None:
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            raise NonFiniteLossError(self._nan_message("a weight became NaN or inf", step))
        stats = code_statistics(model, self.data, seed=self.config.seed) if step == self.config.steps else None
        checkpoint.save(self.path, model, optimizers, step, stats, self.origin, precision=self.precision)
        self.last_saved = step

    def _log(self, writer, step: int, means: dict[str, float], kl: torch.Tensor | None, rate: float) -> None:
        if writer is None:
            return
        for key, value in means.items():
            writer.add_scalar(f"loss/{key}", value, step)
        writer.add_scalar("speed/images_per_s", rate, step)
        if kl is not None:
            for i, value in enumerate(kl.tolist()):
                writer.add_scalar(f"kl_per_latent/z{i:02d}", value, step)
            writer.add_scalar("latents/active", int((kl > ACTIVE_KL).sum()), step)

    @torch.no_grad()
    def _images(self, writer, model, x_view: torch.Tensor, step: int) -> None:
        model.eval()
        gen = step_generator(self.config.seed, 0, self.device)
        recon = reconstruction_grid(model, x_view[:8], gen)
        trav = traversal_grid(model, x_view[:TRAVERSAL_ANCHORS], latent_stats(model, x_view))
        write_png(self.out / "reconstructions.png", recon)
        write_png(self.out / "traversal.png", trav)
        if writer is not None:
            writer.add_image("reconstructions", recon, step, dataformats="HWC")
            writer.add_image("traversal", trav, step, dataformats="HWC")


def _differences(saved, current, ignore: set[str], prefix: str = "") -> list[str]:
    """Hyperparameters that differ and change the numbers a run computes. Nested configs (a
    pre-trained part) may change only their runtime keys: their ``steps`` shaped the weights."""
    out = []
    for name in (f.name for f in cfg.fields(current)):
        old, new = getattr(saved, name), getattr(current, name)
        if name in ignore or old == new:
            continue
        if cfg.is_dataclass(new):
            resumable = getattr(new, "RESUMABLE")  # a nested TrainConfig's
            out += _differences(old, new, set(resumable) - {"steps"}, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}: {old!r} → {new!r}")
    return out


def mean_image(frames: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """float64 [H, W, C] mean of uint8 frames in [0, 1], summed chunk by chunk."""
    total = np.zeros(frames.shape[1:], np.float64)
    for start in range(0, len(frames), chunk):
        total += frames[start:start + chunk].sum(0, dtype=np.float64)
    return total / (255.0 * len(frames))


@torch.no_grad()
def code_statistics(model: Method, frames: Frames, n: int = 20_000, seed: int = 0, batch_size: int = 256) -> dict:
    """Per-dimension mean and standard deviation of the representation over (up to ``n`` of) the
    training frames: what a policy's input standardisation needs, from stage-1 data only."""
    frames = as_uint8_array(frames)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    idx = np.sort(np.random.default_rng([seed, 3]).choice(len(frames), min(n, len(frames)), replace=False))
    codes = torch.cat([model.representation(to_model_input(frames[idx[s:s + batch_size]], device)).double().cpu()
                       for s in range(0, len(idx), batch_size)])
    model.train(was_training)
    return {"mean": codes.mean(0).float(), "std": codes.std(0, correction=0).float(), "frames": len(idx)}


@torch.no_grad()
def evaluate(model: Method, frames: Frames, n: int = 2048, seed: int = 0, reference: np.ndarray | None = None,
             batch_size: int = 256) -> dict:
    """Collapse check on up to ``n`` frames: pixel MSE of the mean reconstruction (values in [0, 1],
    mean over pixels and channels), the MSE of always predicting the mean image of ``reference``
    (default: ``frames``), their ratio, KL per latent and active latents (KL > 0.01 nats)."""
    frames = as_uint8_array(frames)
    model.eval()
    device = next(model.parameters()).device
    idx = np.sort(np.random.default_rng([seed, 2]).choice(len(frames), min(n, len(frames)), replace=False))
    mean = torch.as_tensor(mean_image(frames if reference is None else reference), dtype=torch.float32,
                           device=device).permute(2, 0, 1)
    sq, sq_mean, kl_total = 0.0, 0.0, None
    for start in range(0, len(idx), batch_size):
        x = to_model_input(frames[idx[start:start + batch_size]], device)
        mu, logvar = model.encode(x)
        sq += (torch.sigmoid(model.decode(mu)) - x).pow(2).sum().item()
        sq_mean += (x - mean).pow(2).sum().item()
        if logvar is not None:
            kl = kl_normal(mu, logvar).sum(0)
            kl_total = kl if kl_total is None else kl_total + kl
    pixels = len(idx) * int(np.prod(frames.shape[1:]))
    out: dict[str, Any] = {"frames_scored": len(idx), "pixel_mse": sq / pixels, "mean_image_mse": sq_mean / pixels,
           "mse_ratio": sq / max(sq_mean, 1e-12)}
    if kl_total is not None:
        kl = (kl_total / len(idx)).cpu()
        out["kl_per_latent"] = [round(v, 5) for v in kl.tolist()]
        out["active_latents"] = int((kl > ACTIVE_KL).sum())
    out["collapse_reasons"] = collapse_reasons(out)
    out["collapsed"] = bool(out["collapse_reasons"])
    return out


def collapse_reasons(summary: dict) -> list[str]:
    """Why a model's ``summary.json`` (:func:`evaluate`'s numbers) shows a collapsed code, or []:
    no active latent, or a reconstruction no better than always predicting the mean image. Such a
    code is (nearly) constant, so an agent on it sees the same input in every domain, and equal
    returns on source and target would look like perfect transfer while meaning nothing."""
    reasons = []
    if summary.get("active_latents") == 0:
        reasons.append(f"0 active latents (no latent's mean KL exceeds {ACTIVE_KL} nats)")
    ratio = summary.get("mse_ratio")
    if isinstance(ratio, (int, float)) and ratio >= 1.0:
        reasons.append(f"reconstruction no better than the mean image (pixel MSE {summary.get('pixel_mse', 0):.4g} vs "
                       f"{summary.get('mean_image_mse', 0):.4g} for the mean image)")
    return reasons

