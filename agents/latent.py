"""Observations as latent means: a vector-env wrapper around a frozen encoder (and, for the oracle
baseline, the ground-truth factors themselves).

Encoding lives env-side (as stable-baselines3's maintainers recommend for frozen features): all
envs' frames are encoded in one batch, no gradients, and the *same* wrapper with the same encoder is
what zero-shot evaluation puts around a target-domain env, so source and target see one code path.
"""

from __future__ import annotations

import os
from typing import Protocol

import gymnasium
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

import vision.checkpoint
from agents.storage import sha256


class Encoder(Protocol):
    """What the agents need of a vision model (``vision.Encoder`` is one)."""

    latent_dim: int
    input_shape: tuple[int, int, int]

    def encode(self, frames: np.ndarray) -> np.ndarray: ...


class EncoderMismatchError(ValueError):
    """An encoder that cannot read the env's frames (size or channel order)."""


def check_frames_fit(observation_space: spaces.Space, encoder: Encoder) -> None:
    """Fail with the fix when the env's frames are not what the encoder was trained on."""
    shape = tuple(getattr(observation_space, "shape", ()) or ())
    expected = tuple(encoder.input_shape)
    if shape == expected and getattr(observation_space, "dtype", None) == np.uint8:
        return
    if len(shape) == 3 and shape == (expected[2], expected[0], expected[1]):
        raise EncoderMismatchError(
            f"the env emits channel-first frames {shape} but the encoder expects channel-last {expected}; "
            "wrap the env with the latent encoder before any VecTransposeImage / channel-first wrapper")
    raise EncoderMismatchError(
        f"the env emits {getattr(observation_space, 'dtype', '?')} frames of shape {shape} but the encoder "
        f"was trained on uint8 frames {expected}; make the env with the same size (e.g. size={expected[0]}) "
        "or train the vision model on frames from this env")


class StandardizationError(ValueError):
    """Standardisation statistics that are missing, malformed or from another encoder."""


class CodeStandardizer:
    """``(code − mean) / scale`` per latent, with the mean and standard deviation of the encoder's
    codes over its stage-1 training frames (source data only; stored in the vision checkpoint).

    An MLP policy learns fastest from inputs of unit scale, and latent means are not: a DAE
    bottleneck has an arbitrary scale, and a β-VAE's active latents spread over a few units. A
    collapsed latent's spread is noise, so the scale is floored at ``FLOOR`` × the widest latent's
    spread: its noise is never blown up to unit variance (which would make it look like signal,
    and shift by many units on a new domain)."""

    FLOOR = 0.01

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        if self.mean.shape != self.std.shape or self.mean.ndim != 1 or not np.isfinite(self.mean).all() \
                or not np.isfinite(self.std).all() or (self.std < 0).any():
            raise StandardizationError("standardisation statistics must be finite float vectors of one length "
                                       f"(std ≥ 0); got shapes {self.mean.shape} and {self.std.shape}")
        self.scale = np.maximum(self.std, max(float(self.std.max(initial=0.0)) * self.FLOOR, 1e-8)).astype(np.float32)

    @classmethod
    def from_encoder(cls, encoder: Encoder) -> "CodeStandardizer":
        mean, std = getattr(encoder, "code_mean", None), getattr(encoder, "code_std", None)
        if mean is None or std is None:
            raise StandardizationError(f"the {getattr(encoder, 'method', '')} checkpoint has no code statistics "
                                       "(it was written before darla 0.2, or did not finish); train it again with "
                                       "`darla see`, or set agent.standardize=false")
        if len(mean) != encoder.latent_dim:
            raise StandardizationError(f"code statistics have {len(mean)} entries for a {encoder.latent_dim}-d encoder")
        return cls(mean, std)

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        return ((codes - self.mean) / self.scale).astype(np.float32)

    def record(self, encoder_file: str | os.PathLike) -> dict:
        """What a saved agent stores: the statistics and the digest of the encoder they belong to."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "encoder_sha256": sha256(encoder_file)}

    @classmethod
    def from_record(cls, record, encoder_file: str | os.PathLike, where: str = "the agent") -> "CodeStandardizer":
        """The statistics a saved agent acted with, refused unless they belong to ``encoder_file``."""
        if not isinstance(record, dict) or not {"mean", "std", "encoder_sha256"} <= set(record):
            raise StandardizationError(f"{where} was trained on standardised codes but its standardisation "
                                       "statistics are missing or incomplete (mean, std, encoder_sha256); "
                                       "it cannot act correctly: train it again")
        if record["encoder_sha256"] not in vision.checkpoint.identities(encoder_file):
            raise StandardizationError(f"{where}'s standardisation statistics belong to another encoder than "
                                       f"{encoder_file} (sha256 differs); the encoder was replaced: train the agent "
                                       "again, or restore its own encoder file")
        return cls(record["mean"], record["std"])


class LatentObservations(VecEnvWrapper):
    """Replaces every env's uint8 frame with the encoder's latent means (float32 ``Box``),
    standardised by ``standardizer`` when one is given."""

    def __init__(self, venv: VecEnv, encoder: Encoder, standardizer: CodeStandardizer | None = None):
        check_frames_fit(venv.observation_space, encoder)
        if standardizer is not None and standardizer.mean.shape != (encoder.latent_dim,):
            raise StandardizationError(f"standardisation statistics of length {len(standardizer.mean)} do not fit "
                                       f"a {encoder.latent_dim}-d encoder")
        self.encoder = encoder
        self.standardizer = standardizer
        space = spaces.Box(-np.inf, np.inf, (encoder.latent_dim,), dtype=np.float32)
        super().__init__(venv, observation_space=space)

    def _encode(self, frames) -> np.ndarray:
        """Frames as the wrapped VecEnv gives them (one image array; these envs have no dict spaces)."""
        codes = self.encoder.encode(np.asarray(frames))
        return codes if self.standardizer is None else self.standardizer(codes)

    def reset(self) -> np.ndarray:
        return self._encode(self.venv.reset())

    def step_wait(self):
        frames, rewards, dones, infos = self.venv.step_wait()
        finished = [i for i, info in enumerate(infos) if "terminal_observation" in info]
        if finished:  # bootstrapping on truncation needs the last frame encoded too, in one batch
            last = self._encode(np.stack([infos[i]["terminal_observation"] for i in finished]))
            for i, code in zip(finished, last):
                infos[i]["terminal_observation"] = code
        return self._encode(frames), rewards, dones, infos


class FactorObservations(gymnasium.Wrapper):
    """Replaces the frame with the ground truth, one-hot per factor and per view: the code a perfectly
    disentangled vision model would give (the ``oracle`` variant).

    The factors are ``info["factors"]``; the views (``factor_space.views``) restate them as the
    observer sees them (for the Room, each object's bearing and distance in the frame), which is
    all a model of first-person frames can encode about allocentric cells. Every factor is kept,
    colours included, so the policy must still learn to ignore those that do not matter; on a
    target domain it meets unseen *combinations* of one-hot blocks it has seen, which is DARLA's
    transfer argument with vision taken out of the question."""

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        space = getattr(env.unwrapped, "factor_space", None)
        if space is None:
            raise ValueError(f"{env.spec.id if env.spec else env} exposes no factor_space, so the oracle variant "
                             "cannot see its ground truth; use an env that reports info['factors']")
        self.space = space
        self.sizes = np.asarray(space.sizes + tuple(v.size for v in space.view_factors))
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.observation_space = spaces.Box(0.0, 1.0, (int(self.sizes.sum()),), dtype=np.float32)

    def _one_hot(self, info: dict) -> np.ndarray:
        factors = np.asarray(info["factors"])
        code = np.zeros(int(self.sizes.sum()), np.float32)
        code[self.offsets + np.concatenate([factors, self.space.views(factors)[0]])] = 1.0
        return code

    def reset(self, **kwargs):
        _, info = self.env.reset(**kwargs)
        return self._one_hot(info), info

    def step(self, action):
        _, reward, terminated, truncated, info = self.env.step(action)
        return self._one_hot(info), reward, terminated, truncated, info
