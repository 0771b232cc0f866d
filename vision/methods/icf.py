"""Independently Controllable Factors (Thomas, Pondard, Bengio et al. 2017, "Independently
Controllable Factors", arXiv:1708.01289; first as "Independently Controllable Features",
arXiv:1703.07718): an autoencoder whose K latents are trained together with K policies, one per
latent, so that policy π_k can change latent k and leaves the others alone.

The selectivity of latent k for a transition s → s' (action a ~ π_k(· | s))::

    sel_k(s, s') = |f_k(s') − f_k(s)| / (Σ_k' |f_k'(s') − f_k'(s)| + ε)

One step, on a batch of transitions from parallel environments where each row drew its latent k
uniformly and acted with π_k (no reward is read)::

    loss = −log p(s | g(f(s)))                              reconstruction (summed over pixels)
           − λ · mean sel_k(s, s')                          pathwise: the encoder makes k's change selective
           − λ · mean log π_k(a | s) · (sel_k − b_k)        REINFORCE: π_k picks actions that move k alone
           − η · mean H(π_k(· | s))                         entropy, so a policy does not fix on one action early

b_k is the batch's mean selectivity of the rows that drew k (a baseline; it does not change the
gradient's expectation). The expectation over s' is the environment's; like the paper, one sample.
Policies read the latent code f(s) (a 64-unit MLP), so they share the encoder as in the paper.

It learns by interacting: :func:`vision.fit_env` steps environments handed in by the caller
(``darla see --env ENV_ID --method icf`` makes them from the source domain) and calls
:meth:`ICF.choose` then :meth:`ICF.transition_step`; given frames (``vision.fit``, ``darla see
--data``) it refuses, asking for an env id. The representation is f(s), deterministic.

What is approximated: the paper's later variational form (latent policy embeddings, log
selectivity) is not used; the selectivity is the 2017 form above. λ multiplies a term in [0, 1]
against a reconstruction summed over pixels (thousands of nats on 64×64×3 frames), hence its
default of 100; ``selectivity_weight`` trades the two. An action that leaves the frame unchanged
(bumping into a wall) has selectivity 0 for every k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vision.errors import ConfigError
from vision.methods._zoo import check_latents, check_nonnegative
from vision.methods.base import Method
from vision.methods.registry import register
from vision.networks import ConvDecoder, ConvEncoder

POLICY_HIDDEN = 64
EPSILON = 1e-6


def selectivity(z: Tensor, z_next: Tensor, k: Tensor) -> Tensor:
    """sel_k per row [n]: latent k's share of the absolute change of all latents (0 when none changes)."""
    change = (z_next - z).abs()
    return change.gather(1, k[:, None]).squeeze(1) / (change.sum(1) + EPSILON)


@register
class ICF(Method):
    """Burgess conv64 autoencoder (deterministic) + one softmax policy per latent over ``actions``
    discrete actions (read from the environment when training starts).

    Defaults: z = 8 latents (one policy each), λ = ``selectivity_weight`` 100, η = ``entropy`` 0.01
    (in the same units as λ's term times λ: it multiplies nats of policy entropy), batch = 32
    parallel environments, Adam lr 5e-4.
    """

    name = "icf"
    paper = "Thomas, Pondard, Bengio et al. 2017 (Independently Controllable Factors, arXiv:1708.01289)"
    summary = "autoencoder + one policy per latent, selectivity objective; learns by stepping an env (--env)"
    interactive: ClassVar[bool] = True

    @dataclass
    class Config(Method.Config):
        z_dim: int = 8
        selectivity_weight: float = 100.0
        entropy: float = 0.01
        actions: int = 0  # the environment's number of discrete actions, recorded when training starts
        batch_size: int = 32
        lr: float = 5e-4

        def validate(self) -> None:
            super().validate()
            check_latents(self)
            check_nonnegative(self, "selectivity_weight", "entropy")
            if self.actions < 0:
                raise ConfigError(f"actions={self.actions} must be >= 0 (0: read from the environment)")

    config: Config

    def __init__(self, config: Config, input_shape: tuple[int, int, int]):
        super().__init__(config, input_shape)
        self.encoder = ConvEncoder(self.input_shape, config.z_dim)
        self.decoder = ConvDecoder(self.input_shape, config.z_dim)
        actions = max(config.actions, 1)  # 0 only while a config is being described, never when training
        self.policy = nn.Sequential(nn.Linear(config.z_dim, POLICY_HIDDEN), nn.ReLU(),
                                    nn.Linear(POLICY_HIDDEN, config.z_dim * actions))

    def encode(self, x: Tensor) -> tuple[Tensor, None]:
        return self.encoder(x), None

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def policy_logits(self, z: Tensor) -> Tensor:
        """[n, K, A]: logits of every latent's policy."""
        return self.policy(z).view(len(z), self.config.z_dim, -1)

    @torch.no_grad()
    def choose(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """For each frame: the latent k it trains (uniform) and an action a ~ π_k(· | x). Returns (k, a)."""
        n = len(x)
        k = torch.randint(0, self.config.z_dim, (n,), generator=generator, device=x.device)
        logits = self.policy_logits(self.encode(x)[0])[torch.arange(n, device=x.device), k]
        a = torch.multinomial(F.softmax(logits, 1), 1, generator=generator).squeeze(1)
        return k, a

    def transition_step(self, x: Tensor, x_next: Tensor, k: Tensor, a: Tensor, step: int,
                        generator: torch.Generator) -> dict[str, Tensor]:
        """Loss terms of one batch of transitions x → x_next, where row i trained latent k[i] with
        action a[i] (module docstring)."""
        c, n = self.config, len(x)
        z = self.encode(x)[0]
        z_next = self.encode(x_next)[0]
        rec = self.likelihood_loss(x, self.decode(z))
        sel = selectivity(z, z_next, k)
        logits = self.policy_logits(z)[torch.arange(n, device=x.device), k]
        log_pi = F.log_softmax(logits, 1)
        entropy = -(log_pi.exp() * log_pi).sum(1)
        counts = torch.zeros(c.z_dim, device=x.device).index_add_(0, k, torch.ones(n, device=x.device))
        sums = torch.zeros(c.z_dim, device=x.device).index_add_(0, k, sel.detach())
        baseline = (sums / counts.clamp_min(1))[k]
        chosen = log_pi.gather(1, a[:, None]).squeeze(1)
        terms = {"selectivity_term": -c.selectivity_weight * sel.mean(),
                 "policy_gradient": -c.selectivity_weight * (chosen * (sel.detach() - baseline)).mean(),
                 "entropy_term": -c.entropy * entropy.mean()}
        out = {"reconstruction": rec, **terms, "selectivity": sel.mean().detach(),
               "policy_entropy": entropy.mean().detach()}
        out["loss"] = rec + sum(terms.values(), torch.zeros((), device=x.device))
        return out

    def training_step(self, x: Tensor, step: int, generator: torch.Generator,
                      factors: Tensor | None = None) -> dict[str, Tensor]:
        raise ConfigError("icf learns by interacting with an environment, not from a frame file: it needs an env "
                          "id (`darla see --env darla/Room-v1 --method icf --out DIR`; Python: "
                          "vision.fit_env(make_env, 'icf', DIR))")
