"""Level-1 checks beyond tests/test_level1.py, before any stage runs.

A kwarg that a constructor taking ``**kwargs`` does not accept (MiniWorld's envs, gymnasium's MuJoCo envs)
cannot be found from its signature, so it is refused when each domain's env is made once, naming the env,
the domain and the kwarg. A level-1 env's action space is checked as the agents will see it: with the run's ``env_kwargs``, which
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


class Forwarding(gymnasium.Env):
    """Takes ``**kwargs`` and hands them to a base that accepts only ``shade``, as MiniWorld's rooms do."""

    def __init__(self, size=16, **kwargs):
        self._base(**kwargs)
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.action_space = spaces.Discrete(2)

    def _base(self, shade=128):
        self.shade = shade


def test_a_kwarg_that_a_kwargs_constructor_refuses_names_the_env_the_domain_and_the_kwarg(tmp_path):
    gymnasium.register("test/Forwarding-v0", entry_point=Forwarding)
    try:
        domains = {"source": {}, "target": {"kwargs": {"shade": 40}}}
        assert envs.registry.check_domains("test/Forwarding-v0", domains)["target"]["kwargs"] == {"shade": 40}
        domains["target"]["kwargs"] = {"shadow": 40}
        data = {"name": "fw", "env": "test/Forwarding-v0", "domains": domains, "variants": ["pixels"]}
        with pytest.raises(ValueError, match=r"test/Forwarding-v0 \(domain 'target'\): the env cannot be made with "
                                             r"the kwargs \['shadow'\].*unexpected keyword argument 'shadow'.*"
                                             r"takes \*\*kwargs"):
            run(RunConfig.from_dict(data), tmp_path, log=lambda line: None)
        assert not (tmp_path / "fw").exists()
    finally:
        del gymnasium.registry["test/Forwarding-v0"]
        if "test/Forwarding-v0" in envs.registry.ENVIRONMENTS:
            envs.registry.ENVIRONMENTS.remove("test/Forwarding-v0")
