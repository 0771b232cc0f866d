"""Environments with ground truth (factor spaces, domains) or without it (domains as kwargs and wrappers), frame collection and datasets.

Importing this package registers the toolkit's gymnasium environments (``darla/Room-v1``, ``darla/Reach-v0``).
"""

from envs.factors import Domain, Factor, FactorSpace
from envs.registry import (available, declared_domains, make_factor_space, register_domains, register_env,
                           register_ground_truth)
from envs.wrappers import apply_wrappers, check_spec, known_wrappers, register_wrapper

__all__ = ["Domain", "Factor", "FactorSpace", "apply_wrappers", "available", "check_spec", "declared_domains",
           "known_wrappers", "make_factor_space", "register_domains", "register_env", "register_ground_truth",
           "register_wrapper"]

register_env("darla/Room-v1", "envs.room:RoomEnv",
             "first-person seek-avoid room (hat +1, lolly -1); colour domains source/target/ood")
register_env("darla/Reach-v0", "envs.reach:ReachEnv",
             "MuJoCo arm reaching for a cube (needs darla[mujoco]); domains source/target/ood/render_shift",
             factor_space="envs.reach:factor_space")
register_env("darla/dSpritesWalk-v0", "envs.factor_walk:FactorWalkEnv",
             "dSprites as an env: each action moves one factor by one step, reward 0 (for interactive methods: icf)",
             factor_space="envs.factor_walk:factor_space")

import envs.datasets  # noqa: E402,F401  (registers procedural datasets)
