"""Unsupervised model selection: pick one of several vision models (same method, other seeds) by a
score computed on source-domain frames only, without rewards or ground truth.

DARLA's agent can only be as good as the frozen vision it reads, and the seed of that vision moved
the return more than β did; so a run may train several vision seeds and keep one. The rule must
not look at labels, returns or shifted domains, or the transfer result would be selected, not
measured. Rules:

* ``udr``: Unsupervised Disentanglement Ranking (Duan et al. 2020): the model whose informative
  latents the other seeds reproduce most consistently (median pairwise score, Lasso), on the
  codes of the same stage-1 frames. Needs at least two models.
* ``reconstruction``: the lowest pixel MSE of the mean reconstruction on the stage-1 frames
  (how much of the frame the code keeps).
* ``first``: no selection: the first seed.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import vision
from eval.metrics.udr import encode_with_kl, udr_from_codes

SCORE_FRAMES = 1000


def _udr(models: Sequence, frames: np.ndarray, seed: int) -> list[float]:
    codes, kls = [], []
    for encoder in models:
        means, point_kl = encode_with_kl(encoder, frames)
        codes.append(means)
        # a deterministic code: active units (variance of the means), as the UDR metric falls back to
        kls.append(np.var(means, axis=0) if point_kl is None else point_kl.mean(axis=0))
    return udr_from_codes(codes, kls, random_state=np.random.RandomState(seed))["model_scores"]


def _reconstruction(models: Sequence, frames: np.ndarray, seed: int) -> list[float]:
    from vision.train import evaluate

    return [-evaluate(encoder.model, frames, n=len(frames), seed=seed)["pixel_mse"] for encoder in models]


def _first(models: Sequence, frames: np.ndarray, seed: int) -> list[float]:
    return [1.0] + [0.0] * (len(models) - 1)


RULES: dict[str, Callable] = {"udr": _udr, "reconstruction": _reconstruction, "first": _first}
HIGHER_IS_BETTER = "every rule's score is higher for a better model (reconstruction: minus the pixel MSE)"


def check_rule(rule: str) -> str:
    if rule not in RULES:
        raise ValueError(f"unknown selection rule {rule!r}; known: {', '.join(RULES)} "
                         "(udr: consistency across seeds; reconstruction: pixel MSE on source frames; first: none)")
    return rule


def select(rule: str, checkpoints: Sequence, frames: np.ndarray, seed: int = 0) -> dict:
    """Score every checkpoint by ``rule`` on (up to :data:`SCORE_FRAMES` of) the source ``frames``;
    return ``{"rule", "scores", "chosen"}`` where ``chosen`` indexes the best-scoring checkpoint
    (the first on ties)."""
    check_rule(rule)
    if not checkpoints:
        raise ValueError("selection needs at least one checkpoint")
    if rule == "udr" and len(checkpoints) < 2:
        raise ValueError("selection rule 'udr' compares models across seeds: give at least 2 vision seeds, "
                         "or use selection=reconstruction")
    frames = np.asarray(frames)
    idx = np.sort(np.random.default_rng([seed, 4]).choice(len(frames), min(SCORE_FRAMES, len(frames)), replace=False))
    models = [vision.load_encoder(path) for path in checkpoints]
    scores = [float(s) for s in RULES[rule](models, frames[idx], seed)]
    return {"rule": rule, "scores": scores, "chosen": int(np.argmax(scores)), "frames_scored": len(idx),
            "note": HIGHER_IS_BETTER}
