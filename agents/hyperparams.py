"""The RL algorithms and their default hyperparameters per environment: the one place to read or
change them. Each algorithm is registered once, as its class, the actions it can take and its
defaults (:func:`register_algorithm`); everything else asks :data:`ALGORITHMS`.

Keys are stable-baselines3 constructor arguments (for ``ec``, :class:`agents.episodic.EpisodicControl`'s), plus ``n_envs`` (parallel envs) and ``policy_kwargs``.
Entries are layered, each updating the one before: ``"*"`` (every env), ``("*", reads)`` (every
env, for one kind of policy input), the env's own, ``(env, reads)``, then the user's config
(``agent.hyperparams.learning_rate=1e-4`` on the command line). ``reads`` is what the variant's
policy reads (:attr:`agents.agent.AgentInput.reads`): ``latents`` (frozen codes), ``frames`` or
``factors`` (the oracle), because a 32-number code and a 64×64 frame rarely want the same settings.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

from stable_baselines3 import A2C, DQN, PPO, SAC

from agents.episodic import EpisodicControl
from artifacts.registry import Registry

Defaults = dict[str | tuple[str, str], dict]


@dataclass(frozen=True)
class Algorithm:
    """An RL algorithm: its (SB3-style) class, the action spaces it acts in, its layered defaults."""

    name: str
    cls: type
    actions: Literal["discrete", "continuous", "any"]
    defaults: Defaults


ALGORITHMS: Registry[Algorithm] = Registry("RL algorithm", hint="agents/hyperparams.py lists each with its defaults.")


def register_algorithm(name: str, cls: type, actions: Literal["discrete", "continuous", "any"],
                       defaults: Defaults) -> Algorithm:
    """Make ``cls`` trainable as ``agent.algo=name``; ``defaults`` is layered as the module says."""
    if actions not in ("discrete", "continuous", "any"):
        raise ValueError(f"algorithm {name!r}: actions must be 'discrete', 'continuous' or 'any', got {actions!r}")
    return ALGORITHMS.add(name, Algorithm(name, cls, actions, defaults))


register_algorithm("ppo", PPO, "any", {
    "*": {"n_envs": 8, "n_steps": 128, "batch_size": 256, "n_epochs": 4, "learning_rate": 3e-4,
          "gamma": 0.99, "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.01,
          "policy_kwargs": {"net_arch": [128, 128]}},
    # 100-step episodes, 3 actions, sparse ±1 rewards: a short horizon and more exploration help.
    "darla/Room-v1": {"gamma": 0.95, "ent_coef": 0.02},
    # continuous joint velocities and a dense reward: little entropy bonus, longer rollouts
    "darla/Reach-v0": {"n_steps": 256, "ent_coef": 0.0, "gamma": 0.98},
})

register_algorithm("a2c", A2C, "any", {
    "*": {"n_envs": 8, "n_steps": 16, "learning_rate": 7e-4, "gamma": 0.99, "ent_coef": 0.01,
          "policy_kwargs": {"net_arch": [128, 128]}},
    "darla/Room-v1": {"gamma": 0.95, "ent_coef": 0.02},
})

register_algorithm("dqn", DQN, "discrete", {
    "*": {"n_envs": 1, "buffer_size": 50_000, "learning_starts": 1_000, "batch_size": 64,
          "learning_rate": 1e-4, "gamma": 0.99, "train_freq": 4, "target_update_interval": 1_000,
          "exploration_fraction": 0.2, "exploration_final_eps": 0.05,
          "policy_kwargs": {"net_arch": [128, 128]}},
    "darla/Room-v1": {"gamma": 0.95},
})

# Model-Free Episodic Control (agents.episodic): k = 11 neighbours as in Blundell et al. 2016;
# buffer_size is per action. 8 envs share each neighbour search: 100k Room steps in 90 s of CPU, where the
# paper's single actor (n_envs=1) had not finished after 6 min (docs/episodic_control.md).
register_algorithm("ec", EpisodicControl, "discrete", {
    "*": {"n_envs": 8, "k": 11, "buffer_size": 100_000, "gamma": 0.99, "exploration_initial_eps": 1.0,
          "exploration_fraction": 0.1, "exploration_final_eps": 0.05, "projection_dim": 0,
          "knn_algorithm": "brute"},
    "darla/Room-v1": {"gamma": 0.95},
})

register_algorithm("sac", SAC, "continuous", {
    "*": {"n_envs": 1, "buffer_size": 100_000, "learning_starts": 1_000, "batch_size": 256,
          "learning_rate": 3e-4, "gamma": 0.99, "policy_kwargs": {"net_arch": [256, 256]}},
    # 100-step episodes of a dense reward; 50k frames keep the pixels variant's buffer near 1.2 GB
    "darla/Reach-v0": {"buffer_size": 50_000, "gamma": 0.98, "learning_starts": 500},
})


def defaults_for(algo: str, env_id: str, overrides: dict | None = None, reads: str | None = None) -> dict:
    """The merged hyperparameters for ``algo`` on ``env_id`` for a policy that ``reads`` latents,
    frames or factors (a fresh dict the caller may modify); see the module docstring for the layers."""
    table = ALGORITHMS.get(algo).defaults
    merged: dict = {}
    layers: list[str | tuple[str, str]] = ["*", ("*", reads), env_id, (env_id, reads)] if reads else ["*", env_id]
    for key in layers:
        merged.update(copy.deepcopy(table.get(key, {})))
    merged.update(copy.deepcopy(overrides or {}))
    return merged
