"""Training by interaction: the loop of :mod:`vision.train`, fed with transitions from environments.

A method with ``interactive = True`` (ICF) does not read a frame file. :func:`fit_env` gets a
``make_env(index)`` callable from the caller (``darla see --env`` and ``darla run`` make the source
domain's env; this package never makes one), runs ``batch_size`` environments side by side and, at
every step, asks the method which latent each row trains and which action to take
(``choose``), steps every environment once, and trains on the transitions
(``transition_step``). No reward is read. Episodes that end are reset, their last transition kept.

Everything else is :class:`vision.train._Run`'s: checkpoints, resuming, TensorBoard, images, the
collapse check. Those need frames, so a fixed set of ``reference_frames`` frames is drawn first,
by a uniform random policy on a separate environment (seed ``(seed, 4)``): the images, the
``summary.json`` reconstruction check and the code statistics that agents standardise with come
from them. A resumed run starts its environments from fresh resets (an environment's state cannot
be checkpointed in general), so unlike a frame run it is not bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch

from vision.data import check_frames, step_generator, to_model_input
from vision.errors import ConfigError
from vision.methods import get as get_method
from vision.train import _Run, resolve_config


class Env(Protocol):
    """The part of a gymnasium environment the loop uses (discrete actions, uint8 HWC frames)."""

    action_space: Any

    def reset(self, *, seed: int | None = None) -> tuple[Any, dict[str, Any]]: ...

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]: ...

    def close(self) -> None: ...


def discrete_actions(env: Env, what: str = "the environment") -> int:
    """The number of actions of a ``Discrete`` action space, or an error saying what is needed."""
    n = getattr(env.action_space, "n", None)
    if n is None or getattr(env.action_space, "shape", None) not in ((), None):
        raise ConfigError(f"{what} has action space {env.action_space}; interactive methods train one policy per "
                          "latent over discrete actions, so they need a Discrete action space")
    return int(n)


class EnvBatch:
    """``n`` environments stepped together; ``obs`` holds each one's current frame (uint8 [n, H, W, C])."""

    def __init__(self, make_env: Callable[[int], Env], n: int, seed: int):
        self.envs = [make_env(i) for i in range(n)]
        self.actions = discrete_actions(self.envs[0])
        first = [env.reset(seed=seed * 10_007 + i)[0] for i, env in enumerate(self.envs)]
        self.obs = np.stack(first)
        check_frames(self.obs, "the environment's observations")

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Step every environment; return the frames the actions led to (before any reset)."""
        out = np.empty_like(self.obs)
        for i, (env, action) in enumerate(zip(self.envs, actions)):
            obs, _reward, terminated, truncated, _ = env.step(int(action))  # the reward is never read
            out[i] = obs
            self.obs[i] = env.reset()[0] if terminated or truncated else obs
        return out

    def close(self) -> None:
        for env in self.envs:
            env.close()


def reference_frames(make_env: Callable[[int], Env], n: int, seed: int) -> np.ndarray:
    """``n`` frames of one environment under a uniform random policy (seeded by ``seed``)."""
    env = make_env(-1)
    try:
        actions = discrete_actions(env)
        rng = np.random.default_rng([seed, 4])
        obs = env.reset(seed=int(rng.integers(2 ** 31)))[0]
        frames = np.empty((n, *np.shape(obs)), dtype=np.asarray(obs).dtype)
        for i in range(n):
            frames[i] = obs
            obs, _reward, terminated, truncated, _ = env.step(int(rng.integers(actions)))
            if terminated or truncated:
                obs = env.reset()[0]
        return frames
    finally:
        env.close()


def fit_env(make_env: Callable[[int], Env], method: str = "icf", out_dir: str | os.PathLike = "runs/vision",
            config: Any = None, *, reference: int = 2048, resume: bool = True, progress: bool | None = None,
            tensorboard: bool = True, origin: dict | None = None, **hyperparameters: Any) -> Path:
    """Train an interactive ``method`` on environments ``make_env(i)`` (i = 0 … batch_size − 1 for
    training, −1 for the reference frames) and return its checkpoint ``out_dir/checkpoint.pt``.

    Hyperparameters and resuming work as in :func:`vision.fit`; ``origin`` describes the
    environment (checkpoints record it). The environments must have a ``Discrete`` action space
    and uint8 [H, W, C] observations with H and W multiples of 16."""
    cls = get_method(method)
    if not cls.interactive:
        raise ConfigError(f"{method} learns from frames, not by interacting; collect them (`darla collect`) and "
                          f"train with `darla see --data FILE --method {method}` (Python: vision.fit)")
    config = resolve_config(method, config, hyperparameters)
    frames = reference_frames(make_env, reference, config.seed)
    shape = check_frames(frames, "the environment's observations")
    probe = make_env(-1)
    try:
        actions = discrete_actions(probe)
    finally:
        probe.close()
    if config.actions not in (0, actions):
        raise ConfigError(f"actions={config.actions}, but the environment has {actions} actions; leave actions=0 "
                          "(it is read from the environment)")
    config = dataclasses.replace(config, actions=actions)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _InteractiveRun(cls, config, frames, shape, out, progress, tensorboard, make_env, origin).train(resume)


class _InteractiveRun(_Run):
    """A :class:`~vision.train._Run` whose minibatches are transitions in ``batch_size`` environments."""

    def __init__(self, cls, config, frames: np.ndarray, shape, out: Path, progress, tensorboard: bool,
                 make_env: Callable[[int], Env], origin: dict | None):
        super().__init__(cls, config, frames, shape, out, progress, tensorboard, None, origin)
        self.make_env = make_env
        self.envs: EnvBatch | None = None

    def _loop(self, model, optimizers, start: int) -> Path:
        self.envs = EnvBatch(self.make_env, self.config.batch_size, self.config.seed + start)
        try:
            return super()._loop(model, optimizers, start)
        finally:
            self.envs.close()
            self.envs = None

    def _step(self, model, step: int) -> tuple[dict[str, torch.Tensor], int]:
        assert self.envs is not None  # opened by _loop
        gen = step_generator(self.config.seed, step, self.device)
        x = to_model_input(self.envs.obs, self.device)
        k, a = model.choose(x, gen)
        x_next = to_model_input(self.envs.step(a.cpu().numpy()), self.device)
        return model.transition_step(x, x_next, k, a, step, gen), len(x)
