"""SCAN (Higgins et al. 2018, "SCAN: Learning Hierarchical Compositional Visual Concepts"): symbols
grounded in a frozen β-VAE's disentangled latents, with img2sym, sym2img and the learnt
AND / IN COMMON / IGNORE recombination operators.

Why here and not in :mod:`vision.methods`: a method there is a representation learner of *frames*
(``darla see`` trains it, ``Encoder`` serves it to agents). SCAN learns nothing about frames: its
input is a k-hot symbol, its latent space is the β-VAE's, and it trains on the β-VAE's posteriors
with the β-VAE frozen. So it lives beside the encoder, as a model *on top of* a finished vision
checkpoint, and sees arrays only (symbols come from ``envs.symbols``, wired by ``darla scan``).

Model. Symbol encoder q(z_y | y) and decoder p(y | z_y), MLPs over the k-hot vocabulary, with
z_y in the β-VAE's latent space (same dimension K). Loss per minibatch of (frame x, symbol y),
each term summed over units or latents and averaged over the batch (the vision losses' convention):

    symbol_reconstruction  −log p(y | z_y), z_y ~ q(z_y | y)   Bernoulli over the vocabulary units
    prior_kl               β · KL(q(z_y | y) ‖ N(0, I))
    grounding_kl           λ · KL(q(z_x | x) ‖ q(z_y | y))     forward KL, visual posterior first

The grounding term is the forward KL: it is mode-*covering* in q(z_y | y), so for a latent whose
value varies across the examples of a symbol (a factor the symbol does not name) the concept
posterior must widen to cover them all and, pulled by the prior term, settles near N(0, 1); a
named factor's latent, the same in every example, becomes narrow. The reverse KL would instead pick
one example's value (SCAN_R in the paper). Paper defaults β = 1, λ = 10.

Recombination. :class:`Recombinator` maps two concept Gaussians and a one-hot operator to a new
Gaussian. Like the paper's convolutional module it strides over latents: the same small network
sees (μ₁ₗ, log σ²₁ₗ, μ₂ₗ, log σ²₂ₗ) for each latent l and outputs (μₗ, log σ²ₗ); the one-hot operator
selects its weight matrices. With SCAN frozen it is trained on (a, b, operator, frame of the
result concept) with ``operator_kl`` = KL(q(z_x | x) ‖ r(z | a, b, s)), again forward.

Inference. ``sym2img``: sample the concept's Gaussian, decode through the β-VAE decoder.
``img2sym``: the β-VAE's posterior mean of a frame through SCAN's symbol decoder, one probability
per unit. SCAN is trained on symbols naming only some factors, so a unit's probability is roughly
"the frame has this value *and* a symbol would name it": compare units within a factor (argmax),
not against 0.5.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import Tensor, nn

from vision import checkpoint as vision_checkpoint
from vision.config import from_dict
from vision.data import to_frames, to_model_input
from vision.errors import CheckpointError, ConfigError, VisionError
from vision.losses import kl_normal

if TYPE_CHECKING:
    from vision.methods.base import Method

FORMAT = "darla.scan/1"
#: recombination operators in the order of the one-hot conditioning vector (as ``envs.symbols``)
OPERATORS = ("and", "in_common", "ignore")


class ScanError(VisionError):
    """Bad input to SCAN: a vision checkpoint without a Gaussian posterior, unknown operator, shapes."""


def operator_index(name: str) -> int:
    """Position of ``name`` in :data:`OPERATORS` (case and spaces ignored: ``"IN COMMON"`` works)."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in OPERATORS:
        raise ScanError(f"unknown recombination operator {name!r}; known: {', '.join(OPERATORS)}")
    return OPERATORS.index(key)


def kl_diagonal(mu_p: Tensor, logvar_p: Tensor, mu_q: Tensor, logvar_q: Tensor) -> Tensor:
    """KL(N(μ_p, σ_p²) ‖ N(μ_q, σ_q²)) per latent (elementwise), for diagonal Gaussians:
    ½ (log σ_q² − log σ_p² + (σ_p² + (μ_p − μ_q)²) / σ_q² − 1)."""
    return 0.5 * (logvar_q - logvar_p + (logvar_p.exp() + (mu_p - mu_q).pow(2)) / logvar_q.exp() - 1.0)


@dataclass
class ScanConfig:
    """SCAN's hyperparameters. ``hidden``: width of the two ReLU layers of the symbol encoder and
    decoder (our choice); ``beta`` and ``grounding_weight`` (λ): the paper's 1 and 10. ``steps`` of
    SCAN, then ``operator_steps`` of the recombination module (0: none) with SCAN frozen."""

    hidden: int = 128
    beta: float = 1.0
    grounding_weight: float = 10.0
    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    operator_steps: int = 2000
    operator_hidden: int = 32
    operator_lr: float = 1e-3
    seed: int = 0
    threads: int = 0
    log_every: int = 50

    def validate(self) -> None:
        for key in ("hidden", "batch_size", "operator_hidden", "log_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}={getattr(self, key)} must be >= 1")
        for key in ("steps", "operator_steps", "seed", "threads", "beta", "grounding_weight"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}={getattr(self, key)} must be >= 0")
        for key in ("lr", "operator_lr"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{key}={getattr(self, key)} must be > 0")


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class SymbolVAE(nn.Module):
    """SCAN proper: q(z_y | y) and p(y | z_y) over k-hot symbols; :meth:`losses` is its objective."""

    def __init__(self, vocab_size: int, z_dim: int, hidden: int):
        super().__init__()
        self.encoder = _mlp([vocab_size, hidden, hidden, 2 * z_dim])
        self.decoder = _mlp([z_dim, hidden, hidden, vocab_size])

    def encode(self, symbols: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encoder(symbols).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """Symbol logits, one per vocabulary unit."""
        return self.decoder(z)

    def losses(self, symbols: Tensor, vis_mu: Tensor, vis_logvar: Tensor, beta: float, weight: float,
               generator: torch.Generator | None = None) -> dict[str, Tensor]:
        mu, logvar = self.encode(symbols)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        n = symbols.shape[0]
        out = {
            "symbol_reconstruction": F.binary_cross_entropy_with_logits(self.decode(z), symbols, reduction="sum") / n,
            "prior_kl": beta * kl_normal(mu, logvar).sum() / n,
            "grounding_kl": weight * kl_diagonal(vis_mu, vis_logvar, mu, logvar).sum() / n,
        }
        out["loss"] = out["symbol_reconstruction"] + out["prior_kl"] + out["grounding_kl"]
        return out


class Recombinator(nn.Module):
    """r(z | z₁, z₂, s): per latent, (μ₁, log σ₁², μ₂, log σ₂²) → ReLU ``hidden`` → (μ, log σ²), with
    the weight matrices selected by the one-hot operator s and shared across latents (a 1-wide
    convolution over the latent axis, as in the paper)."""

    def __init__(self, hidden: int = 32, num_operators: int = len(OPERATORS)):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(num_operators, 4, hidden) * 0.5)
        self.b1 = nn.Parameter(torch.zeros(num_operators, hidden))
        self.w2 = nn.Parameter(torch.randn(num_operators, hidden, 2) * (1.0 / hidden) ** 0.5)
        self.b2 = nn.Parameter(torch.zeros(num_operators, 2))

    def forward(self, mu1: Tensor, logvar1: Tensor, mu2: Tensor, logvar2: Tensor, ops: Tensor) -> tuple[Tensor, Tensor]:
        s = ops.to(mu1.dtype)                                   # [n, O] one-hot
        x = torch.stack([mu1, logvar1, mu2, logvar2], dim=-1)   # [n, K, 4]
        w1, w2 = torch.einsum("no,oih->nih", s, self.w1), torch.einsum("no,ohj->nhj", s, self.w2)
        h = torch.relu(torch.einsum("nki,nih->nkh", x, w1) + (s @ self.b1).unsqueeze(1))
        out = torch.einsum("nkh,nhj->nkj", h, w2) + (s @ self.b2).unsqueeze(1)
        return out[..., 0], out[..., 1]


def frozen_vision(path: str | os.PathLike) -> Method:
    """The vision model of a finished checkpoint, frozen, after checking it has a Gaussian posterior."""
    payload = vision_checkpoint.read(path)
    return _vision_from_payload(payload, str(path))


def _vision_from_payload(payload: dict, where: str) -> Method:
    model = vision_checkpoint.build(payload)
    h, w, c = model.input_shape
    with torch.no_grad():
        _, logvar = model.encode(torch.zeros(1, c, h, w))
    if logvar is None:
        raise ScanError(f"{where} is a {payload['method']!r} checkpoint: a deterministic code with no posterior "
                        "variance. SCAN grounds each concept in the vision model's Gaussian posterior q(z|x) (its "
                        "forward KL needs a mean and a variance per latent, and sym2img decodes samples through "
                        "its decoder); train a Gaussian-posterior method, e.g. `darla see --method beta_vae` "
                        "or the default beta_vae_dae")
    if not payload.get("complete", True):
        raise ScanError(f"{where} stopped at step {payload['step']} of {payload['config'].get('steps')}; SCAN needs a "
                        "finished, frozen vision model: finish it with `darla see` (same --out resumes it)")
    model.requires_grad_(False)
    return model.eval()


class Scan(nn.Module):
    """A trained SCAN: the frozen vision model, the symbol VAE, the recombination operators and
    the vocabulary's unit names and factor groups (from ``envs.symbols.Vocabulary``)."""

    def __init__(self, vision_model: Method, units: Sequence[str], groups: Sequence[tuple[str, int]],
                 config: ScanConfig):
        super().__init__()
        config.validate()
        if sum(int(n) for _, n in groups) != len(units):
            raise ScanError(f"factor groups cover {sum(int(n) for _, n in groups)} units, the vocabulary has {len(units)}")
        self.config = config
        self.vision = vision_model
        self.units = tuple(units)
        self.groups = [(str(f), int(n)) for f, n in groups]
        self.z_dim = int(vision_model.latent_dim)
        self.symbols = SymbolVAE(len(self.units), self.z_dim, config.hidden)
        self.operators = Recombinator(config.operator_hidden)

    @property
    def vocab_size(self) -> int:
        return len(self.units)

    def train(self, mode: bool = True) -> Scan:
        super().train(mode)
        self.vision.eval()  # frozen, always
        return self

    def _symbols(self, symbols: ArrayLike | None) -> Tensor:
        y = torch.as_tensor(np.asarray(symbols, np.float32))
        y = y.unsqueeze(0) if y.dim() == 1 else y
        if y.dim() != 2 or y.shape[1] != self.vocab_size:
            raise ScanError(f"symbols must be k-hot [n, {self.vocab_size}] over this SCAN's vocabulary, got "
                            f"{tuple(y.shape)}; encode concepts with envs.symbols.Vocabulary")
        if (y.sum(1) == 0).any():
            raise ScanError("an empty symbol names nothing; name at least one factor value")
        return y

    @torch.no_grad()
    def concept(self, symbols: ArrayLike) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) [n, K] of q(z_y | y) for k-hot ``symbols`` [n, V] (or one [V])."""
        return self.symbols.encode(self._symbols(symbols))

    @torch.no_grad()
    def recombine(self, a: ArrayLike, b: ArrayLike, operator: str) -> tuple[Tensor, Tensor]:
        """The concept Gaussian of ``a OPERATOR b`` (k-hot symbols) through the learnt operator."""
        s = F.one_hot(torch.tensor(operator_index(operator)), len(OPERATORS)).float()
        (mu1, lv1), (mu2, lv2) = self.concept(a), self.concept(b)
        if len(mu1) != len(mu2):
            raise ScanError(f"recombine needs as many left symbols as right ones, got {len(mu1)} and {len(mu2)}")
        return self.operators(mu1, lv1, mu2, lv2, s.expand(len(mu1), -1))

    @torch.no_grad()
    def sym2img(self, symbols: ArrayLike | None = None, samples: int = 8, seed: int = 0, *,
                concept: tuple[Tensor, Tensor] | None = None) -> np.ndarray:
        """uint8 [n, samples, H, W, C]: frames decoded from ``samples`` draws of each concept's
        Gaussian (from k-hot ``symbols``, or a ready ``concept=(μ, log σ²)`` such as :meth:`recombine`'s)."""
        mu, logvar = concept if concept is not None else self.symbols.encode(self._symbols(symbols))
        g = torch.Generator().manual_seed(int(seed))
        eps = torch.randn((len(mu), samples, self.z_dim), generator=g)
        z = (mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps).reshape(-1, self.z_dim)
        frames = to_frames(torch.sigmoid(self.vision.decode(z)))
        return frames.reshape(len(mu), samples, *frames.shape[1:])

    @torch.no_grad()
    def img2sym(self, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """float32 [n, V]: each unit's probability for uint8 frames [n, H, W, C]."""
        mu, _ = encode_posterior(self.vision, frames, batch_size)
        return torch.sigmoid(self.symbols.decode(torch.from_numpy(mu))).numpy()

    def img2sym_values(self, frames: np.ndarray) -> np.ndarray:
        """int [n, factors]: the most probable value of each factor group (argmax within the group)."""
        probs = self.img2sym(frames)
        out, start = [], 0
        for _, size in self.groups:
            out.append(probs[:, start:start + size].argmax(1))
            start += size
        return np.stack(out, 1)


@torch.no_grad()
def encode_posterior(vision_model: Method, frames: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(μ, log σ²) float32 [n, K] of the frozen vision posterior for uint8 frames [n, H, W, C]."""
    frames = np.asarray(frames)
    shape = tuple(vision_model.input_shape)
    if frames.ndim != 4 or tuple(frames.shape[1:]) != shape or frames.dtype != np.uint8:
        raise ScanError(f"the vision model takes uint8 frames [n, {', '.join(map(str, shape))}], got "
                        f"{frames.dtype} {frames.shape}; render the frames at the resolution it was trained on")
    mus, logvars = [], []
    for start in range(0, len(frames), batch_size):
        mu, logvar = vision_model.encode(to_model_input(frames[start:start + batch_size]))
        if logvar is None:
            raise ScanError(f"the {vision_model.name!r} vision model has a deterministic code, no posterior variance; "
                            "SCAN needs a Gaussian-posterior method (see frozen_vision)")
        mus.append(mu.float())
        logvars.append(logvar.float())
    return torch.cat(mus).numpy(), torch.cat(logvars).numpy()


@dataclass
class Recombinations:
    """Operator training data: k-hot operands ``a``, ``b`` [m, V], operator indices [m] into
    :data:`OPERATORS`, and one frame [m, H, W, C] showing each row's result concept."""

    a: np.ndarray
    b: np.ndarray
    operators: np.ndarray
    frames: np.ndarray


def fit(vision_path: str | os.PathLike, frames: np.ndarray, symbols: np.ndarray, units: Sequence[str],
        groups: Sequence[tuple[str, int]], config: ScanConfig | None = None,
        recombinations: Recombinations | None = None, *, progress: bool | None = None,
        tensorboard: str | os.PathLike | None = None, vision_model: Method | None = None) -> Scan:
    """Train SCAN on (frame, symbol) pairs against the frozen vision model at ``vision_path``,
    then its operators on ``recombinations`` (if given and ``operator_steps`` > 0).

    The vision model is frozen, so each frame's posterior is computed once and the loops only run
    the small symbol networks. Minibatches are drawn from a generator seeded by ``config.seed``.
    ``tensorboard``: a folder for scalar logs (``scan/*``, ``operators/*``)."""
    from tqdm.auto import tqdm

    config = config or ScanConfig()
    config.validate()
    if config.threads:
        torch.set_num_threads(config.threads)
    vision_model = vision_model if vision_model is not None else frozen_vision(vision_path)
    model = Scan(vision_model, units, groups, config)
    khot = model._symbols(symbols)
    if len(khot) != len(frames):
        raise ScanError(f"{len(frames)} frames but {len(khot)} symbols; give one symbol per frame")
    torch.manual_seed(config.seed)
    model.symbols = SymbolVAE(model.vocab_size, model.z_dim, config.hidden)
    model.operators = Recombinator(config.operator_hidden)
    vis_mu, vis_logvar = (torch.from_numpy(a) for a in encode_posterior(vision_model, frames))
    writer = None
    if tensorboard is not None:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(tensorboard))
    g = torch.Generator().manual_seed(config.seed)
    total = config.steps + (config.operator_steps if recombinations is not None else 0)
    bar = tqdm(total=total, unit="step", desc="scan", disable=None if progress is None else not progress,
               dynamic_ncols=True)
    try:
        opt = torch.optim.Adam(model.symbols.parameters(), lr=config.lr)
        model.train()
        _loop(config.steps, config, bar, writer, "scan", opt, lambda idx: model.symbols.losses(
            khot[idx], vis_mu[idx], vis_logvar[idx], config.beta, config.grounding_weight, g), len(khot), g)
        if recombinations is not None and config.operator_steps:
            _fit_operators(model, recombinations, config, bar, writer, g)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    return model.eval()


def _loop(steps: int, config: ScanConfig, bar, writer, tag: str, opt, step_losses, n: int, g: torch.Generator) -> None:
    sums: dict[str, float] = {}
    for step in range(steps):
        idx = torch.randint(0, n, (min(config.batch_size, n),), generator=g)
        losses = step_losses(idx)
        value = losses["loss"].item()
        if not np.isfinite(value):
            raise ScanError(f"{tag}: the loss is {value} at step {step}; lower lr or grounding_weight")
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
        for key, term in losses.items():
            sums[key] = sums.get(key, 0.0) + term.item()
        if (step + 1) % config.log_every == 0 or step + 1 == steps:
            count = (step % config.log_every) + 1
            means = {k: v / count for k, v in sums.items()}
            if writer is not None:
                for key, value in means.items():
                    writer.add_scalar(f"{tag}/{key}", value, step + 1)
            bar.set_postfix({k[:8]: f"{v:.4g}" for k, v in means.items()}, refresh=False)
            sums = {}
        bar.update(1)


def _fit_operators(model: Scan, data: Recombinations, config: ScanConfig, bar, writer, g) -> None:
    """Train the recombination module with SCAN frozen: forward KL from the visual posterior of a
    frame of the result concept to the recombined Gaussian."""
    ops = torch.as_tensor(np.asarray(data.operators, np.int64))
    if ops.numel() and (ops.min() < 0 or ops.max() >= len(OPERATORS)):
        raise ScanError(f"operator indices must be in [0, {len(OPERATORS)}) ({', '.join(OPERATORS)})")
    a, b = model._symbols(data.a), model._symbols(data.b)
    if not len(a) == len(b) == len(ops) == len(data.frames):
        raise ScanError(f"recombination data of unequal lengths: a {len(a)}, b {len(b)}, operators {len(ops)}, "
                        f"frames {len(data.frames)}")
    with torch.no_grad():
        mu1, lv1 = model.symbols.encode(a)
        mu2, lv2 = model.symbols.encode(b)
    vis_mu, vis_lv = (torch.from_numpy(x) for x in encode_posterior(model.vision, data.frames))
    onehot = F.one_hot(ops, len(OPERATORS)).float()
    model.symbols.requires_grad_(False)
    opt = torch.optim.Adam(model.operators.parameters(), lr=config.operator_lr)

    def losses(idx):
        mu, lv = model.operators(mu1[idx], lv1[idx], mu2[idx], lv2[idx], onehot[idx])
        kl = kl_diagonal(vis_mu[idx], vis_lv[idx], mu, lv).sum() / len(idx)
        return {"operator_kl": kl, "loss": kl}

    try:
        _loop(config.operator_steps, config, bar, writer, "operators", opt, losses, len(ops), g)
    finally:
        model.symbols.requires_grad_(True)


def save(path: str | os.PathLike, model: Scan) -> Path:
    """Write ``model`` atomically as a dict of tensors and plain data (``torch.load(weights_only=True)``);
    the frozen vision model's weights travel inside, so loading needs no second file."""
    from artifacts import atomic_path, package_version

    vision = model.vision
    payload = {
        "format": FORMAT,
        "config": asdict(model.config),
        "units": list(model.units),
        "groups": [[f, n] for f, n in model.groups],
        "operators_order": list(OPERATORS),
        "vision": {"method": vision.name, "config": asdict(vision.config), "input_shape": list(vision.input_shape),
                   "model": {k: v.detach().cpu() for k, v in vision.state_dict().items()}, "complete": True,
                   "step": vision.config.steps},
        "symbols": {k: v.detach().cpu() for k, v in model.symbols.state_dict().items()},
        "operators": {k: v.detach().cpu() for k, v in model.operators.state_dict().items()},
        "version": package_version(),
        "torch_version": str(torch.__version__),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load(path: str | os.PathLike) -> Scan:
    """A :class:`Scan` written by :func:`save`, in eval mode on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no SCAN checkpoint at {path}; train one with `darla scan --vision CKPT --env ENV --out DIR`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"{path} is not a readable SCAN checkpoint ({type(err).__name__}); "
                              "train it again with `darla scan`") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path} is not a SCAN checkpoint (format {found!r}, expected {FORMAT!r}); "
                              "pass the scan.pt written by `darla scan`")
    try:
        config = from_dict(ScanConfig, payload["config"])
        model = Scan(_vision_from_payload(payload["vision"], str(path)), payload["units"],
                     [tuple(g) for g in payload["groups"]], config)
        model.symbols.load_state_dict(payload["symbols"])
        model.operators.load_state_dict(payload["operators"])
    except (KeyError, RuntimeError, ConfigError) as err:
        raise CheckpointError(f"{path} does not fit this darla's SCAN ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''}); train it again with `darla scan`") from None
    return model.eval()
