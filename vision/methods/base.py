"""The one training step every method shares, and the named hooks methods override.

A training step (:meth:`Method.training_step`) is::

    idx    = batch_indices(factors, step, n)  # which frames: a uniform shuffle; DC-IGN one-factor sweeps
    x_in   = corrupt(x)                       # identity; the DAE occludes
    mu, logvar = encode(x_in)                 # logvar is None for deterministic codes
    z      = sample(mu, logvar)               # reparameterised; z = mu when deterministic
    rec    = reconstruction_loss(x, decode(decoder_input(z, factors)))  # DC-IGN clamps z first
    reg    = regularizer(kl, mu, logvar, z, step)  # β·KL, and the zoo's TC, capacity, DIP terms
    added, beside = extra_terms(Step(...))    # FactorVAE's γ·TC and discriminator loss, Guided-VAE's guides
    loss   = rec + reg + added

and :meth:`Method.update` back-propagates ``loss`` through one Adam optimiser. A new method
overrides the hook that differs (usually ``regularizer``). Every step receives the batch's
ground-truth factors, None except for the methods that ask for labels (DC-IGN, supervised
Guided-VAE, through :class:`~vision.methods._samplers.FactorBatches`). One with extra networks and optimisers (FactorVAE's discriminator) also overrides
``configure_optimizers`` and ``update``, and a method that needs a pre-trained part (β-VAE-DAE's
DAE) overrides ``prepare`` and ``initialize``. InfoGAN, a generator and not an encoder-decoder,
is the one method with a step of its own; DisBM's contrastive-divergence step replaces the shared one
too, and ICF, which learns from transitions it makes in an environment, gets its batches from
:mod:`vision.interact`. The loop in :mod:`vision.train` never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from typing import Any, Callable, ClassVar, Literal, cast

import numpy as np
import torch
from torch import Tensor, nn

from vision.config import TrainConfig
from vision.data import batch_indices
from vision.losses import bernoulli_nll, gaussian_nll, kl_normal


class Step(NamedTuple):
    """What :meth:`Method.extra_terms` may use of one training step."""

    x: Tensor
    mu: Tensor
    logvar: Tensor | None
    z: Tensor
    factors: Tensor | None
    step: int
    generator: torch.Generator


class Method(nn.Module):
    """A representation learner. Subclasses set ``name``, ``paper``, ``Config`` and build networks."""

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: methods this one builds on: {required method: config key that takes its checkpoint path}.
    #: A pipeline trains those first and hands their checkpoints over (β-VAE-DAE: {"dae": "dae_checkpoint"}).
    requires: ClassVar[dict[str, str]] = {}
    #: True for a method that learns by stepping an environment (ICF), trained by
    #: :func:`vision.fit_env` with environments the caller makes, never from a frame file.
    interactive: ClassVar[bool] = False

    @dataclass
    class Config(TrainConfig):
        """Latent size and likelihood. ``likelihood`` is ``bernoulli`` (logits, continuous
        cross-entropy) or ``gaussian`` (sigmoid mean, fixed σ = ``sigma``); either is summed over
        pixels and averaged over the batch (see :mod:`vision.losses`)."""

        z_dim: int = 32
        likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
        sigma: float = 0.5 ** 0.5

    def __init__(self, config: "Method.Config", input_shape: tuple[int, int, int]):
        super().__init__()
        self.config = config
        h, w, c = input_shape
        self.input_shape = (int(h), int(w), int(c))

    # ----- networks ---------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.z_dim

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """float [n, C, H, W] in [0, 1] → (mean, log-variance or None)."""
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:
        """Latents → output logits [n, C, H, W]."""
        raise NotImplementedError

    def representation(self, x: Tensor) -> Tensor:
        """What downstream stages see: the latent mean."""
        return self.encode(x)[0]

    def reconstruct(self, x: Tensor) -> Tensor:
        """The mean reconstruction in [0, 1] of clean frames, decoded from the latent mean."""
        return torch.sigmoid(self.decode(self.encode(x)[0]))

    # ----- hooks -------------------------------------------------------------------------------
    def corrupt(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """The input the encoder sees during training (identity; denoising methods corrupt it)."""
        return x

    def sample(self, mu: Tensor, logvar: Tensor | None, generator: torch.Generator) -> Tensor:
        """Reparameterised sample z = μ + σ ε, or μ for deterministic codes."""
        if logvar is None:
            return mu
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def reconstruction_loss(self, x: Tensor, logits: Tensor) -> Tensor | dict[str, Tensor]:
        """−log p(x | z), summed over pixels, averaged over the batch. Return a tensor, or a dict of
        named terms whose sum is the reconstruction loss (each is logged)."""
        return self.likelihood_loss(x, logits)

    def likelihood_loss(self, x: Tensor, logits: Tensor) -> Tensor:
        """The likelihood term of :meth:`reconstruction_loss`: ``bernoulli`` or ``gaussian`` −log p(x | z)."""
        if self.config.likelihood == "bernoulli":
            return bernoulli_nll(logits, x)
        return gaussian_nll(logits, x, self.config.sigma)

    def regularizer(self, kl: Tensor, mu: Tensor, logvar: Tensor, z: Tensor, step: int) -> Tensor | dict[str, Tensor]:
        """The prior term added to the reconstruction: KL(q(z|x) ‖ p(z)) summed over latents,
        batch mean, as ``kl``. Return a tensor, or a dict of named terms whose sum is the regulariser."""
        return kl

    def decoder_input(self, z: Tensor, factors: Tensor | None) -> Tensor:
        """The latents the decoder reconstructs from (z itself; DC-IGN clamps the invariant ones)."""
        return z

    def extra_terms(self, s: Step) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Terms beyond reconstruction and prior: ``(added to the loss, reported beside it)``. Terms
        beside the loss are logged when 0-d and reach :meth:`update` (an adversary's own loss)."""
        return {}, {}

    def batch_indices(self, factors: np.ndarray | None, step: int, num_frames: int) -> np.ndarray:
        """The frames of minibatch ``step``: a function of (seed, step) only, so a resumed run draws
        the same batches (a uniform shuffle; DC-IGN draws one-factor sweeps from ``factors``)."""
        return batch_indices(self.config.seed, step, num_frames, self.config.batch_size)

    def training_step(self, x: Tensor, step: int, generator: torch.Generator,
                      factors: Tensor | None = None) -> dict[str, Tensor]:
        """Loss terms of one minibatch: ``loss`` (what is minimised), the named 0-d terms, and
        ``kl_per_latent`` ([z], batch mean) for stochastic methods."""
        mu, logvar = self.encode(self.corrupt(x, generator))
        z = self.sample(mu, logvar, generator)
        rec_terms = self.reconstruction_loss(x, self.decode(self.decoder_input(z, factors)))
        if isinstance(rec_terms, dict):
            out = dict(rec_terms)
            rec = cast(Tensor, sum(rec_terms.values()))  # at least one term: a tensor
        else:
            out, rec = {}, rec_terms
        out["reconstruction"] = rec
        terms: dict[str, Tensor] = {}
        if logvar is not None:
            kl_per_latent = kl_normal(mu, logvar).mean(0)
            kl = kl_per_latent.sum()
            reg = self.regularizer(kl, mu, logvar, z, step)
            terms = dict(reg) if isinstance(reg, dict) else {"regulariser": reg}
            out["kl"], out["kl_per_latent"] = kl, kl_per_latent
        added, beside = self.extra_terms(Step(x, mu, logvar, z, factors, step, generator))
        terms.update(added)
        out.update(terms)
        out.update(beside)
        out["loss"] = rec + cast(Tensor, sum(terms.values())) if terms else rec
        return out

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimisers (their states are checkpointed by name). One Adam over trainable parameters."""
        params = [p for p in self.parameters() if p.requires_grad]
        return {"model": torch.optim.Adam(params, lr=self.config.lr,
                                          betas=(self.config.adam_beta1, self.config.adam_beta2))}

    def update(self, losses: dict[str, Tensor], optimizers: dict[str, torch.optim.Optimizer]) -> None:
        """One optimisation step from the terms :meth:`training_step` returned."""
        opt = optimizers["model"]
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()

    # ----- set-up --------------------------------------------------------------------------------
    @classmethod
    def prepare(cls, config: Any, frames: np.ndarray, out_dir: Path, fit: Callable[..., Path],
                **fit_kwargs: Any) -> Any:
        """Before a run: train or locate what the method depends on; return the final config."""
        return config

    def initialize(self, frames: np.ndarray) -> None:
        """After construction on a fresh (not resumed) run: load pre-trained parts, or set starting
        values from the training frames (uint8 [N, H, W, C])."""
