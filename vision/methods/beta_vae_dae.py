"""β-VAE-DAE (DARLA's default vision): a β-VAE whose reconstruction is measured through a frozen DAE."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence, cast

import numpy as np
import torch
from torch import Tensor, nn

from vision.errors import CheckpointError, ConfigError, FrameShapeError
from vision.methods.ae import DenoisingAutoEncoder
from vision.methods.registry import register
from vision.methods.vae import BetaVAE
from vision.networks import DAE_CHANNELS


def _default_dae() -> DenoisingAutoEncoder.Config:
    return DenoisingAutoEncoder.Config(steps=600, checkpoint_every=300, image_every=300)


@register
class BetaVAEDAE(BetaVAE):
    """Loss = ‖J(x) − J(x̂)‖² (summed over J's units, batch mean) + β KL, with x̂ = sigmoid(decoder
    logits) and J a frozen pre-trained DAE. Matching DAE features instead of pixels rewards getting
    what the DAE learned to see (colours, layout) right rather than every pixel's exact value.

    ``perceptual`` picks J (the paper is ambiguous, reimplementations disagree):
    ``logits`` (default) — the DAE's reconstruction before its output sigmoid (SCAN's "last layer …
    before the non-linearity"); ``bottleneck`` — the DAE's 128-unit code (its "high-level feature
    space"), 25% cheaper, but 128 numbers under-determine a 64×64×3 image: on Room frames the
    decoder drifts to wrong colours that share the code (pixel MSE 3× that of the mean image).
    β is relative to J's magnitude, so it differs from pixel-space β-VAE values; see
    docs/vision.md's benchmarks for how the default was chosen.

    ``pixel_weight`` adds that multiple of the pixel likelihood (``likelihood``, summed over
    pixels) to the perceptual term; 0 is the paper's pure perceptual loss. The decoder can fool a
    frozen DAE: on Room frames, with ``pixel_weight=0``, every β from 0.5 to 512 and both J options
    gave checkerboard textures the DAE maps to the right features (pixel MSE 2–3× that of the mean
    image), so the default anchors the pixels. Defaults β = 32, pixel_weight = 8 (chosen on Room
    frames: reconstructions at 0.13 of the mean image's MSE with ~8 informative latents; with
    pixel_weight = 1, β = 8 the ratio was 0.23 with all 32 latents in use; see docs/vision.md).

    Without ``dae_checkpoint``, ``prepare`` first trains a DAE with the nested ``dae.*``
    hyperparameters into ``OUT/dae`` (on the β-VAE's ``device`` and ``threads``, which override
    ``dae.device`` and ``dae.threads``); with one, its stored hyperparameters replace ``dae.*``.
    The DAE's weights travel inside this method's checkpoint, so loading needs no second file.

    ``network`` picks the encoder and decoder: ``burgess`` (the conv64 of the rest of the zoo) or
    ``darla`` (DARLA's appendix: the DAE's Conv 32, 32, 64, 64 → FC 256 → z). ``init_from_dae``
    (``darla`` network only) starts the conv layers of both from the trained DAE's: the DAE, fitted
    on the same source frames without noise in its code, learns to draw the Room's small objects in
    far fewer steps than a VAE does, and its filters hand that to the β-VAE at step 0. Still stage 1's
    rule: source frames only, no reward, no labels.
    """

    name = "beta_vae_dae"
    paper = "Higgins et al. 2017 (DARLA, ICML)"
    summary = "beta-VAE with the reconstruction measured through a frozen pre-trained DAE"
    requires = {"dae": "dae_checkpoint"}

    @dataclass
    class Config(BetaVAE.Config):
        beta: float = 32.0
        lr: float = 5e-4
        steps: int = 1900
        perceptual: Literal["bottleneck", "logits"] = "logits"
        pixel_weight: float = 8.0
        network: Literal["burgess", "darla"] = "burgess"
        init_from_dae: bool = False
        dae_checkpoint: str = ""
        dae: DenoisingAutoEncoder.Config = field(default_factory=_default_dae)

        RESUMABLE = BetaVAE.Config.RESUMABLE + ("dae_checkpoint",)

        def validate(self) -> None:
            super().validate()
            if self.init_from_dae and self.network != "darla":
                raise ConfigError("init_from_dae=true needs network=darla (the DAE's conv stack); "
                                 "set vision.methods.beta_vae_dae.network=darla")

    config: Config

    def __init__(self, config: Config, input_shape: tuple[int, int, int]):
        super().__init__(config, input_shape)
        self.dae = DenoisingAutoEncoder(config.dae, input_shape)
        self.dae.requires_grad_(False)
        self.dae.eval()

    def architecture(self, config: Config) -> tuple[Sequence[int], Sequence[int]]:
        return (DAE_CHANNELS, (256,)) if config.network == "darla" else super().architecture(config)

    def train(self, mode: bool = True) -> BetaVAEDAE:
        super().train(mode)
        self.dae.eval()  # frozen: never in training mode, whatever layers a future DAE has
        return self

    def features(self, x: Tensor) -> Tensor:
        """J(x): the DAE features the reconstruction is compared in."""
        code = self.dae.encode(x)[0]
        return code if self.config.perceptual == "bottleneck" else self.dae.decode(code)

    def reconstruction_loss(self, x: Tensor, logits: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            target = self.features(x)
        terms = {"perceptual": (self.features(torch.sigmoid(logits)).float() - target.float()).pow(2).sum() / x.shape[0]}
        if self.config.pixel_weight:
            terms["pixel"] = self.config.pixel_weight * super().likelihood_loss(x, logits)
        return terms

    @classmethod
    def prepare(cls, config: Config, frames: np.ndarray, out_dir: Path, fit: Callable[..., Path],
                **fit_kwargs: Any) -> Config:
        from vision import checkpoint

        if config.dae_checkpoint:
            payload = checkpoint.read(config.dae_checkpoint, expect_method="dae")
            shape = tuple(frames.shape[1:])
            if tuple(payload["input_shape"]) != shape:
                raise FrameShapeError(f"the DAE at {config.dae_checkpoint} was trained on "
                                      f"{tuple(payload['input_shape'])} frames, these are {shape}; "
                                      "leave dae_checkpoint empty to train a DAE on these frames")
            if not payload["complete"]:
                raise CheckpointError(f"the DAE at {config.dae_checkpoint} stopped at step {payload['step']} "
                                      f"of {payload['config']['steps']}; finish it with `darla see --method dae`")
            dae_config = cast(DenoisingAutoEncoder.Config, checkpoint.config_of(payload))  # expect_method="dae"
            return dataclasses.replace(config, dae=dae_config)
        dae = dataclasses.replace(config.dae, device=config.device, threads=config.threads)
        path = fit(frames, "dae", Path(out_dir) / "dae", config=dae, **fit_kwargs)
        return dataclasses.replace(config, dae=dae, dae_checkpoint=str(path))

    def initialize(self, frames: np.ndarray) -> None:
        from vision import checkpoint

        dae = cast(DenoisingAutoEncoder, checkpoint.load_model(self.config.dae_checkpoint, expect_method="dae"))
        self.dae.load_state_dict(dae.state_dict())
        if self.config.init_from_dae:
            for mine, theirs in ((self.encoder.net, dae.encoder.net), (self.decoder.convs, dae.decoder.convs)):
                convs = [(a, b) for a, b in zip(mine, theirs) if isinstance(a, (nn.Conv2d, nn.ConvTranspose2d))]
                for a, b in convs:
                    a.load_state_dict(b.state_dict())
