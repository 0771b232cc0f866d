"""Adding to the toolkit is one definition plus one registration, with no other file edited."""

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnvWrapper

import agents
from agents.agent import VARIANTS
from eval import transfer


class QuadrantMeans(VecEnvWrapper):
    """A new kind of policy input: the mean colour of each quarter of the frame (12 numbers)."""

    def __init__(self, venv):
        super().__init__(venv, observation_space=spaces.Box(0.0, 1.0, (12,), np.float32))

    @staticmethod
    def _features(frames):
        n, h, w, _ = frames.shape
        return (frames.reshape(n, 2, h // 2, 2, w // 2, 3).mean(axis=(2, 4)).reshape(n, 12) / 255).astype(np.float32)

    def reset(self):
        return self._features(self.venv.reset())

    def step_wait(self):
        frames, rewards, dones, infos = self.venv.step_wait()
        for info in infos:
            if "terminal_observation" in info:
                info["terminal_observation"] = self._features(info["terminal_observation"][None])[0]
        return self._features(frames), rewards, dones, infos


class QuadrantInput(agents.AgentInput):
    def wrap(self, venv, encoder, standardizer):
        return QuadrantMeans(venv)


@pytest.fixture
def quadrant_variant():
    yield agents.register_variant(agents.Variant("quadrants", None, QuadrantInput(), "mean colour of each quarter"))
    del VARIANTS["quadrants"]


def test_a_variant_with_a_new_kind_of_input_trains_saves_reloads_and_transfers(tmp_path, quadrant_variant):
    out = agents.train("quadrants", "darla/Room-v1", tmp_path / "q", steps=64, seed=0,
                       hyperparams={"n_steps": 8, "batch_size": 64})
    agent = agents.load(out)
    venv = agent.make_env("target", n_envs=2, seed=1)
    obs = venv.reset()
    assert obs.shape == (2, 12) and agent.model.observation_space.shape == (12,)
    returns = transfer.evaluate(agent, ["source", "target"], episodes=1, seed=3)
    assert set(returns) == {"source", "target"}
    with pytest.raises(ValueError, match="registered twice"):
        agents.register_variant(agents.Variant("quadrants", None, QuadrantInput(), "another"))
