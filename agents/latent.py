"""Observations as latent means: a vector-env wrapper around a frozen encoder (and, for the oracle
baseline, the ground-truth factors themselves).

Encoding lives env-side (as stable-baselines3's maintainers recommend for frozen features): all
envs' frames are encoded in one batch, no gradients, and the *same* wrapper with the same encoder is
what zero-shot evaluation puts around a target-domain env, so source and target see one code path.
"""

from __future__ import annotations

from typing import Protocol

import gymnasium
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper


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


class LatentObservations(VecEnvWrapper):
    """Replaces every env's uint8 frame with the encoder's latent means (float32 ``Box``)."""

    def __init__(self, venv: VecEnv, encoder: Encoder):
        check_frames_fit(venv.observation_space, encoder)
        self.encoder = encoder
        space = spaces.Box(-np.inf, np.inf, (encoder.latent_dim,), dtype=np.float32)
        super().__init__(venv, observation_space=space)

    def reset(self) -> np.ndarray:
        return self.encoder.encode(self.venv.reset())

    def step_wait(self):
        frames, rewards, dones, infos = self.venv.step_wait()
        finished = [i for i, info in enumerate(infos) if "terminal_observation" in info]
        if finished:  # bootstrapping on truncation needs the last frame encoded too, in one batch
            last = self.encoder.encode(np.stack([infos[i]["terminal_observation"] for i in finished]))
            for i, code in zip(finished, last):
                infos[i]["terminal_observation"] = code
        return self.encoder.encode(frames), rewards, dones, infos


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
        code = np.zeros(self.observation_space.shape, np.float32)
        code[self.offsets + np.concatenate([factors, self.space.views(factors)[0]])] = 1.0
        return code

    def reset(self, **kwargs):
        _, info = self.env.reset(**kwargs)
        return self._one_hot(info), info

    def step(self, action):
        _, reward, terminated, truncated, info = self.env.step(action)
        return self._one_hot(info), reward, terminated, truncated, info
