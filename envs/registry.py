"""One registry for everything that has ground truth: gymnasium environments and procedural datasets.

Environments are registered with gymnasium (so ``gymnasium.make("darla/Room-v1", domain="target")``
works) and recorded here with a description; procedural datasets (dSprites, 3D shapes) register a
factory for their :class:`~envs.factors.FactorSpace`. Either kind answers ``make_factor_space(name)``,
which is all the metrics and frame collection need. Unknown names fail with the list of known ones.
"""

from __future__ import annotations

import importlib
from typing import Callable

import gymnasium

from envs.factors import FactorSpace

_ENVS: dict[str, str] = {}
_ENV_SPACES: dict[str, str] = {}  # env id -> "module:function" building its FactorSpace without the env
_GROUND_TRUTH: dict[str, tuple[Callable[..., FactorSpace], str]] = {}


def register_env(env_id: str, entry_point: str, description: str, factor_space: str | None = None,
                 **kwargs) -> None:
    """Register a gymnasium environment whose ``unwrapped.factor_space`` is a FactorSpace.

    ``factor_space`` ("module:function", called with the env's keyword arguments) builds that space
    without making the env: for an env whose simulator is an optional extra, so that listing,
    metrics' bookkeeping and config checks work where the simulator is not installed."""
    if env_id not in gymnasium.registry:
        gymnasium.register(env_id, entry_point=entry_point, **kwargs)
    _ENVS[env_id] = description
    if factor_space is not None:
        _ENV_SPACES[env_id] = factor_space


def register_ground_truth(name: str, factory: Callable[..., FactorSpace], description: str) -> None:
    """Register a procedural dataset: ``factory(**kwargs)`` returns its FactorSpace."""
    _GROUND_TRUTH[name] = (factory, description)


def available() -> dict[str, str]:
    """Every registered name (environments first, then datasets) with its one-line description."""
    return {**_ENVS, **{name: desc for name, (_, desc) in _GROUND_TRUTH.items()}}


def is_env(name: str) -> bool:
    return name in _ENVS


def env_version(name: str) -> int | None:
    """The version of a registered environment (``-v1`` → 1), recorded in each dataset's origin;
    None for procedural datasets, which have none."""
    return gymnasium.spec(name).version if name in _ENVS else None


def check_name(name: str) -> None:
    if name not in _ENVS and name not in _GROUND_TRUTH:
        raise KeyError(f"unknown environment or dataset {name!r}; known: {sorted(available())}. "
                       "Run `darla envs` to see each with its factors and domains.")


def make_env(env_id: str, **kwargs) -> gymnasium.Env:
    """``gymnasium.make`` with the toolkit's error for an unknown id."""
    check_name(env_id)
    if env_id not in _ENVS:
        raise ValueError(f"{env_id!r} is a dataset, not an environment; environments: {sorted(_ENVS)}")
    return gymnasium.make(env_id, **kwargs)


def make_factor_space(name: str, **kwargs) -> FactorSpace:
    """The ground-truth factor space of a registered environment or dataset."""
    check_name(name)
    if name in _GROUND_TRUTH:
        return _GROUND_TRUTH[name][0](**kwargs)
    if name in _ENV_SPACES:
        module, function = _ENV_SPACES[name].split(":")
        return getattr(importlib.import_module(module), function)(**kwargs)
    env = gymnasium.make(name, **kwargs)
    try:
        return env.unwrapped.factor_space
    finally:
        env.close()
