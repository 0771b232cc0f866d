"""DisBM (Reed, Sohn, Zhang & Lee 2014, "Learning to Disentangle Factors of Variation with Manifold
Interaction", ICML): a higher-order Boltzmann machine whose hidden units form two groups, h (the
paper's identity units) and m (its pose units), that meet the visible units through factored
three-way weights, trained by contrastive divergence.

Energy (binary visible units; ṽ = v)::

    E(v, h, m) = −Σ_f (ṽ·Wv)_f (h·Wh)_f (m·Wm)_f − ṽ·Ph·h − ṽ·Pm·m − bv·v − bh·h − bm·m

With ``likelihood=gaussian`` the visible units are Gaussian with fixed σ: ṽ = v / σ and −bv·v
becomes ‖v − bv‖² / (2σ²), so p(v | h, m) = N(bv + σ·input, σ²). Given v the two groups are not
independent (the three-way term couples them), so the posterior is approximated by mean field,
alternating μh = sigmoid(input to h | μm) and μm = sigmoid(input to m | μh), as in the paper. The
code is (μh, μm): the groups' activation means are what agents and metrics read.

Learning follows the paper: a mean-field positive phase and a CD-k (or persistent CD) negative
phase of three-block Gibbs sampling v | h, m → h | v, m → m | v, h. One training step minimises
the surrogate ``E(v⁺, μh⁺, μm⁺) − E(v⁻, h⁻, m⁻)`` (batch means) with every state detached, whose
gradient *is* the CD estimate of −∇ log p(v): E is linear in h and in m, so plugging in the
mean-field means gives the expectation under the factorised posterior. That keeps DisBM on the
shared optimiser and loop (:mod:`vision.train`); only ``training_step`` differs. The surrogate's
value is not a likelihood; ``reconstruction`` (the one-step mean-field reconstruction's
−log p(v | μh, μm)) is logged beside it. ``positive=gibbs`` replaces mean field by block Gibbs
sampling of (h, m) with v clamped: unbiased, used by the test that compares the CD gradient with
the exact log-likelihood gradient of a small model.

What is approximated, and why:
- The visible layer is fully connected (as the paper's), on frames average-pooled by ``downsample``
  (default 2: Room's 64×64×3 → 3 072 visible units). Reed et al. trained on 48×48 faces and small
  digit/pose images; 12 288 fully connected visible units would quadruple every weight matrix for no
  benefit at these budgets. ``decode`` upsamples the visible means back (nearest), so
  reconstructions and the collapse check compare at full resolution.
- Binary visible units take intensities in [0, 1] as probabilities in the positive phase (the
  usual RBM treatment of grey levels, and the toolkit's continuous-Bernoulli convention);
  dSprites is binary anyway.
- The paper's optional supervision (manifold-based correspondence between pairs of frames that
  share identity or pose) is not implemented: stage 1 here learns without labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vision.data import to_model_input
from vision.errors import ConfigError
from vision.methods._zoo import check_latents, check_nonnegative
from vision.methods.base import Method
from vision.methods.registry import register


@register
class DisBM(Method):
    """Two hidden groups (h: ``z_dim − m_units`` units, m: ``m_units``); the three-way weight tensor
    is factored as Σ_f Wv_f ⊗ Wh_f ⊗ Wm_f over ``rank`` factors (the paper's F).

    Defaults: CD-1 from the data (``cd_k`` 1; ``persistent`` keeps one chain per batch row across
    steps instead), 10 mean-field sweeps, Adam lr 1e-3, factor weights drawn N(0, ``init_std``²).
    ``weight_decay`` adds ½·wd·‖W‖² over the weight matrices (not the biases).
    """

    name = "disbm"
    paper = "Reed, Sohn, Zhang & Lee 2014 (Learning to Disentangle Factors of Variation with Manifold Interaction, ICML)"
    summary = "higher-order RBM: two hidden groups coupled by factored three-way weights, trained by CD/PCD"

    @dataclass
    class Config(Method.Config):
        z_dim: int = 32
        m_units: int = 0  # units of the second group m (pose); 0 = z_dim // 2
        rank: int = 256  # F, the number of factors of the three-way weight tensor
        downsample: int = 2
        cd_k: int = 1
        persistent: bool = False
        positive: Literal["mean_field", "gibbs"] = "mean_field"
        mean_field_steps: int = 10
        positive_gibbs_steps: int = 20  # only with positive=gibbs
        weight_decay: float = 0.0
        init_std: float = 0.01
        lr: float = 1e-3

        def validate(self) -> None:
            super().validate()
            check_latents(self)
            check_nonnegative(self, "weight_decay", "init_std")
            if self.z_dim < 2:
                raise ConfigError(f"z_dim={self.z_dim}: DisBM needs at least one unit in each of its two groups")
            if not 0 <= self.m_units < self.z_dim:
                raise ConfigError(f"m_units={self.m_units} must be in [0, z_dim) (0 = half of z_dim={self.z_dim}), "
                                  "so that both hidden groups have units")
            for key in ("rank", "downsample", "cd_k", "mean_field_steps", "positive_gibbs_steps"):
                if getattr(self, key) < 1:
                    raise ConfigError(f"{key}={getattr(self, key)} must be >= 1")
            if not self.sigma > 0:
                raise ConfigError(f"sigma={self.sigma} must be > 0 (the Gaussian visible units' standard deviation)")

    config: Config
    chains: Tensor  # PCD only: buffers
    filled: Tensor

    def __init__(self, config: Config, input_shape: tuple[int, int, int]):
        super().__init__(config, input_shape)
        h, w, c = self.input_shape
        d = config.downsample
        if h % d or w % d:
            raise ConfigError(f"frames of {h}×{w} cannot be average-pooled by downsample={d}; choose a divisor "
                              f"of both (e.g. downsample=1 or 2)")
        self.visible_shape = (c, h // d, w // d)
        nv = c * (h // d) * (w // d)
        nm = config.m_units or config.z_dim // 2
        nh = config.z_dim - nm
        gen = torch.Generator().manual_seed(config.seed)  # the loop also seeds torch; this keeps tests stable

        def weights(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape, generator=gen) * config.init_std)

        self.w_v, self.w_h, self.w_m = weights(nv, config.rank), weights(nh, config.rank), weights(nm, config.rank)
        self.p_h, self.p_m = weights(nv, nh), weights(nv, nm)
        self.b_v, self.b_h, self.b_m = (nn.Parameter(torch.zeros(n)) for n in (nv, nh, nm))
        if config.persistent:  # PCD's fantasy particles: (v, h, m) per batch row; "filled" once drawn
            self.register_buffer("chains", torch.zeros(config.batch_size, nv + nh + nm))
            self.register_buffer("filled", torch.zeros((), dtype=torch.bool))

    @property
    def group_sizes(self) -> tuple[int, int]:
        """(units of h, units of m)."""
        return self.w_h.shape[0], self.w_m.shape[0]

    # ----- the Boltzmann machine ---------------------------------------------------------------
    def visible(self, x: Tensor) -> Tensor:
        """Frames float [n, C, H, W] in [0, 1] → visible vectors [n, D] (average-pooled, flattened)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.input_shape[2], *self.input_shape[:2]):
            raise ConfigError(f"disbm takes frames [n, {self.input_shape[2]}, {self.input_shape[0]}, "
                              f"{self.input_shape[1]}] (the shape it was built for), got {list(x.shape)}")
        d = self.config.downsample
        return (F.avg_pool2d(x, d) if d > 1 else x).flatten(1)

    def _scaled(self, v: Tensor) -> Tensor:
        return v / self.config.sigma if self.config.likelihood == "gaussian" else v

    def energy(self, v: Tensor, h: Tensor, m: Tensor) -> Tensor:
        """E(v, h, m) per row [n] (module docstring); h and m may be binary states or their means."""
        vs = self._scaled(v)
        three_way = ((vs @ self.w_v) * (h @ self.w_h) * (m @ self.w_m)).sum(1)
        two_way = ((vs @ self.p_h) * h).sum(1) + ((vs @ self.p_m) * m).sum(1)
        if self.config.likelihood == "gaussian":
            visible = -(v - self.b_v).pow(2).sum(1) / (2 * self.config.sigma ** 2)
        else:
            visible = v @ self.b_v
        return -(three_way + two_way + visible + h @ self.b_h + m @ self.b_m)

    def h_input(self, v: Tensor, m: Tensor) -> Tensor:
        """Total input to h given v and m: p(h = 1 | v, m) = sigmoid of it."""
        vs = self._scaled(v)
        return self.b_h + vs @ self.p_h + ((vs @ self.w_v) * (m @ self.w_m)) @ self.w_h.t()

    def m_input(self, v: Tensor, h: Tensor) -> Tensor:
        """Total input to m given v and h: p(m = 1 | v, h) = sigmoid of it."""
        vs = self._scaled(v)
        return self.b_m + vs @ self.p_m + ((vs @ self.w_v) * (h @ self.w_h)) @ self.w_m.t()

    def v_input(self, h: Tensor, m: Tensor) -> Tensor:
        """Input to v given h and m: Bernoulli logits, or (Gaussian) the mean is bv + σ · input."""
        return ((h @ self.w_h) * (m @ self.w_m)) @ self.w_v.t() + h @ self.p_h.t() + m @ self.p_m.t()

    def v_mean(self, h: Tensor, m: Tensor) -> Tensor:
        """E[v | h, m]."""
        if self.config.likelihood == "gaussian":
            return self.b_v + self.config.sigma * self.v_input(h, m)
        return torch.sigmoid(self.b_v + self.v_input(h, m))

    def mean_field(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """Factorised approximation q(h) q(m) of p(h, m | v): (μh, μm) after ``mean_field_steps`` sweeps,
        starting m from its two-way input alone."""
        mu_m = torch.sigmoid(self.b_m + self._scaled(v) @ self.p_m)
        mu_h = torch.sigmoid(self.h_input(v, mu_m))
        for _ in range(self.config.mean_field_steps - 1):
            mu_m = torch.sigmoid(self.m_input(v, mu_h))
            mu_h = torch.sigmoid(self.h_input(v, mu_m))
        return mu_h, mu_m

    def gibbs_hidden(self, v: Tensor, h: Tensor, m: Tensor, steps: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """``steps`` sweeps of h | v, m then m | v, h with v clamped."""
        for _ in range(steps):
            h = _bernoulli(torch.sigmoid(self.h_input(v, m)), gen)
            m = _bernoulli(torch.sigmoid(self.m_input(v, h)), gen)
        return h, m

    def gibbs(self, v: Tensor, h: Tensor, m: Tensor, steps: int, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """``steps`` sweeps of v | h, m → h | v, m → m | v, h."""
        for _ in range(steps):
            mean = self.v_mean(h, m)
            if self.config.likelihood == "gaussian":
                v = mean + self.config.sigma * torch.randn(mean.shape, generator=gen, device=mean.device)
            else:
                v = _bernoulli(mean, gen)
            h, m = self.gibbs_hidden(v, h, m, 1, gen)
        return v, h, m

    # ----- the Method interface ------------------------------------------------------------------
    @torch.no_grad()
    def initialize(self, frames: np.ndarray) -> None:
        """Start the visible biases at the data: bv = logit of each visible unit's mean (binary
        units) or the mean itself (Gaussian), as Hinton's practical guide to RBMs advises. From
        bv = 0 every reconstruction starts at grey 0.5, and Adam moves a bias by about ``lr`` a
        step, so at lr 1e-3 a thousand steps could not reach dSprites' black background."""
        sample = frames[:: max(1, len(frames) // 10_000)]
        means = torch.stack([self.visible(to_model_input(sample[i:i + 1024], self.b_v.device)).sum(0)
                             for i in range(0, len(sample), 1024)]).sum(0) / len(sample)
        if self.config.likelihood == "gaussian":
            self.b_v.copy_(means)
        else:
            self.b_v.copy_(torch.logit(means.clamp(1e-3, 1 - 1e-3)))

    def encode(self, x: Tensor) -> tuple[Tensor, None]:
        """The code: (μh, μm) concatenated, the mean-field activation means of both groups."""
        mu_h, mu_m = self.mean_field(self.visible(x))
        return torch.cat([mu_h, mu_m], 1), None

    def decode(self, z: Tensor) -> Tensor:
        """Group activations → logits of E[v | h, m] at the frames' full resolution."""
        nh, _ = self.group_sizes
        h, m = z[:, :nh], z[:, nh:]
        logits = (torch.logit(self.v_mean(h, m).clamp(1e-4, 1 - 1e-4)) if self.config.likelihood == "gaussian"
                  else self.b_v + self.v_input(h, m))
        out = logits.view(-1, *self.visible_shape)
        d = self.config.downsample
        return F.interpolate(out, scale_factor=d, mode="nearest") if d > 1 else out

    def training_step(self, x: Tensor, step: int, generator: torch.Generator,
                      factors: Tensor | None = None) -> dict[str, Tensor]:
        """CD: positive statistics from the data's mean-field posterior, negative ones from ``cd_k``
        Gibbs sweeps (from the data, or from the persistent chains); ``loss`` is the surrogate
        whose gradient is the CD estimate (module docstring)."""
        c = self.config
        with torch.no_grad():
            v_pos = self.visible(x)
            mu_h, mu_m = self.mean_field(v_pos)
            h_pos, m_pos = mu_h, mu_m
            if c.positive == "gibbs":
                h_pos, m_pos = self.gibbs_hidden(v_pos, _bernoulli(mu_h, generator), _bernoulli(mu_m, generator),
                                                 c.positive_gibbs_steps, generator)
            if c.persistent:
                v0, h0, m0 = self._chains(v_pos, h_pos, m_pos, generator)
            else:
                v0, h0, m0 = v_pos, _bernoulli(h_pos, generator), _bernoulli(m_pos, generator)
            v_neg, h_neg, m_neg = self.gibbs(v0, h0, m0, c.cd_k, generator)
            if c.persistent:
                self.chains[: len(v_neg)] = torch.cat([v_neg, h_neg, m_neg], 1)
                self.filled.fill_(True)
            mean = self.v_mean(mu_h, mu_m)
            if c.likelihood == "gaussian":
                rec = (mean - v_pos).pow(2).sum(1).mean() / (2 * c.sigma ** 2)
            else:
                rec = F.binary_cross_entropy(mean.clamp(1e-6, 1 - 1e-6), v_pos, reduction="sum") / len(v_pos)
        surrogate = self.energy(v_pos, h_pos, m_pos).mean() - self.energy(v_neg, h_neg, m_neg).mean()
        out = {"cd_surrogate": surrogate.detach(), "reconstruction": rec}
        loss = surrogate
        if c.weight_decay:
            weights = (self.w_v, self.w_h, self.w_m, self.p_h, self.p_m)
            decay = 0.5 * c.weight_decay * torch.stack([w.pow(2).sum() for w in weights]).sum()
            out["weight_decay"] = decay.detach()
            loss = loss + decay
        out["loss"] = loss
        return out

    def _chains(self, v: Tensor, h: Tensor, m: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """PCD's chain states for a batch of ``len(v)`` rows; the first batch starts them from the data."""
        n = len(v)
        if not bool(self.filled) or n > len(self.chains):
            return v, _bernoulli(h, gen), _bernoulli(m, gen)
        nv = v.shape[1]
        nh, _ = self.group_sizes
        state = self.chains[:n]
        return state[:, :nv], state[:, nv:nv + nh], state[:, nv + nh:]


def _bernoulli(p: Tensor, gen: torch.Generator) -> Tensor:
    return torch.bernoulli(p, generator=gen)


def log_partition_exact(model: DisBM) -> Tensor:
    """log Z by enumerating every binary (v, h, m): a check for models of at most 20 binary units."""
    return _enumerate(model)[1]


def log_likelihood_exact(model: DisBM, v: Tensor) -> Tensor:
    """Exact log p(v) [n] of binary visible vectors by enumeration (tests; at most 20 binary units)."""
    states_hm, log_z = _enumerate(model)
    return torch.logsumexp(-_energies(model, v, states_hm), 1) - log_z


def _binary_states(n: int, dtype: torch.dtype) -> Tensor:
    idx = torch.arange(2 ** n)
    return ((idx[:, None] >> torch.arange(n)) & 1).to(dtype)


def _enumerate(model: DisBM) -> tuple[Tensor, Tensor]:
    if model.config.likelihood != "bernoulli":
        raise ConfigError("exact enumeration needs binary visible units (likelihood=bernoulli)")
    nv = model.w_v.shape[0]
    nh, nm = model.group_sizes
    if nv + nh + nm > 20:
        raise ConfigError(f"enumerating 2^{nv + nh + nm} states is too many; use at most 20 binary units")
    dtype = model.w_v.dtype
    states_hm = _binary_states(nh + nm, dtype)
    vs = _binary_states(nv, dtype)
    return states_hm, torch.logsumexp(-_energies(model, vs, states_hm).flatten(), 0)


def _energies(model: DisBM, v: Tensor, states_hm: Tensor) -> Tensor:
    """E of every (row of v, hidden state) pair, [len(v), len(states_hm)]."""
    nh, _ = model.group_sizes
    rows, states = len(v), len(states_hm)
    vv = v.repeat_interleave(states, 0)
    hm = states_hm.repeat(rows, 1)
    return model.energy(vv, hm[:, :nh], hm[:, nh:]).view(rows, states)
