"""A level-1 env's action space is checked as the agents will see it: with the run's ``env_kwargs``, which
can switch it (CarRacing's ``continuous=False`` gives 5 discrete actions) or be needed to make the env at
all (``render_mode`` for the ``pixels`` wrapper). An algorithm that cannot act in it is refused before any
stage runs, naming the algorithms that fit."""

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

import envs
from darla.config import RunConfig
from darla.pipeline import run


class Pad(gymnasium.Env):
    """A grey 16×16 frame and a pad steered by continuous or discrete actions, as CarRacing's constructor
    chooses (``continuous``, default True); ``render_mode`` is required, like an env seen through ``pixels``."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, continuous=True, render_mode=None):
        if render_mode != "rgb_array":
            raise ValueError("Pad renders rgb_array frames only")
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 255, (16, 16, 3), np.uint8)
        self.action_space = spaces.Box(-1, 1, (2,), np.float32) if continuous else spaces.Discrete(5)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.full((16, 16, 3), 128, np.uint8), {}

    def step(self, action):
        return np.full((16, 16, 3), 128, np.uint8), 0.0, False, False, {}

    def render(self):
        return np.full((16, 16, 3), 128, np.uint8)


@pytest.fixture
def pad():
    gymnasium.register("test/Pad-v0", entry_point=Pad, max_episode_steps=4)
    yield "test/Pad-v0"
    del gymnasium.registry["test/Pad-v0"]
    if "test/Pad-v0" in envs.registry.ENVIRONMENTS:
        envs.registry.ENVIRONMENTS.remove("test/Pad-v0")


def config(env, algo, **env_kwargs):
    return RunConfig.from_dict({"name": "pad", "env": env, "env_kwargs": {"render_mode": "rgb_array", **env_kwargs},
                                "domains": {"source": {}, "target": {"wrappers": [{"name": "brightness", "gain": 0.5}]}},
                                "variants": ["pixels"], "threads": 1, "agent": {"algo": algo}})


def test_the_run_env_kwargs_choose_the_action_space_that_is_checked(pad):
    assert config(pad, "dqn", continuous=False).validate().agent.algo == "dqn"   # 5 discrete actions: DQN fits
    assert config(pad, "sac").validate().agent.algo == "sac"                     # the default: continuous


def test_dqn_on_continuous_actions_is_refused_before_any_stage_naming_the_algorithms_that_fit(pad, tmp_path):
    with pytest.raises(ValueError, match=r"dqn cannot act in test/Pad-v0: its actions are continuous "
                                         r"\(Box.*\); algorithms that fit: a2c, ppo, sac"):
        run(config(pad, "dqn"), tmp_path, log=lambda line: None)
    assert not (tmp_path / "pad").exists()
    with pytest.raises(ValueError, match=r"sac cannot act in test/Pad-v0: its actions are discrete "
                                         r"\(Discrete\(5\)\); algorithms that fit: a2c, dqn, ec, ppo"):
        config(pad, "sac", continuous=False).validate()
