"""A factor space as an environment: each action moves exactly one factor by one step.

``darla/dSpritesWalk-v0`` is dSprites made interactive, so that methods that learn by acting (ICF)
can be trained on it and scored with the same metrics as the frame-only methods (``darla metrics
--env dsprites``: the frames are dSprites' own). Action ``2k`` lowers factor k by one, ``2k + 1``
raises it (clipped at the grid's edges, so some actions do nothing); a move that would leave the
domain is refused (the state stays). Episodes start from a uniform draw of the domain and last
``episode_length`` steps; the reward is always 0 (nothing here is a task).

This is the structure Thomas et al.'s toy experiments assume: the controllable factors are the
ground-truth ones, one action pair each. A method trained on it is told, through the actions,
which changes belong together, which no frame-only method is; read its scores with that in mind.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.factors import FactorSpace


def factor_space(space: str = "dsprites", **space_kwargs) -> FactorSpace:
    """The walked space (``make_factor_space(space, **space_kwargs)``): the env's ground truth."""
    from envs.registry import make_factor_space

    return make_factor_space(space, **space_kwargs)


class FactorWalkEnv(gymnasium.Env):
    """Walk the grid of a registered factor space (``space``, e.g. ``dsprites``) or of a given one."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, space: str | FactorSpace = "dsprites", domain: str | None = None, episode_length: int = 50,
                 render_mode: str | None = None):
        self.factor_space = factor_space(space) if isinstance(space, str) else space
        self.domain = self.factor_space.domain(domain or self.factor_space.training_domain).name
        if episode_length < 1:
            raise ValueError(f"episode_length={episode_length} must be >= 1")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.episode_length, self.render_mode = episode_length, render_mode
        self.observation_space = spaces.Box(0, 255, self.factor_space.observation_shape, dtype=np.uint8)
        self.action_space = spaces.Discrete(2 * self.factor_space.num_factors)
        self._state = np.zeros(self.factor_space.num_factors, dtype=np.int64)
        self._frame = np.zeros(self.factor_space.observation_shape, dtype=np.uint8)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._state[:] = self.factor_space.sample(1, self.np_random, self.domain)[0]
        self._t = 0
        return self._observe(), {"factors": self._state.copy()}

    def step(self, action: int | np.integer) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = int(action)
        actions = 2 * self.factor_space.num_factors
        if not 0 <= action < actions:
            raise ValueError(f"action must be in [0, {actions}) (2k lowers factor k, 2k + 1 raises it), "
                             f"got {action}")
        k, up = divmod(action, 2)
        moved = self._state.copy()
        moved[k] = min(max(moved[k] + (1 if up else -1), 0), self.factor_space.sizes[k] - 1)
        if self.factor_space.domain(self.domain).contains(moved):
            self._state[:] = moved
        self._t += 1
        return self._observe(), 0.0, False, self._t >= self.episode_length, {"factors": self._state.copy()}

    def _observe(self) -> np.ndarray:
        self._frame[:] = self.factor_space.render(self._state[None])[0]
        return self._frame.copy()

    def render(self) -> np.ndarray | None:
        """The frame as RGB (greyscale spaces such as dSprites repeat their one channel)."""
        if self.render_mode != "rgb_array":
            return None
        return np.repeat(self._frame, 3, axis=-1) if self._frame.shape[-1] == 1 else self._frame.copy()
