"""Adding to the toolkit is one definition plus one registration, with no other file edited."""

import json

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnvWrapper

import agents
import envs
import envs.dataset
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
    VARIANTS.remove("quadrants")


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


# -- an environment with its own domain names ------------------------------------------------------
class LampSpace(envs.FactorSpace):
    """A lit square at one of four columns; the lamp's colour decides the domain (day: warm, night: cold)."""

    COLOURS = np.array([[250, 220, 120], [240, 160, 60], [60, 90, 200], [40, 40, 120]], np.uint8)

    def __init__(self):
        warm = envs.Domain("day", lambda f: f[:, 1] < 2, "warm lamps")
        cold = envs.Domain("night", lambda f: f[:, 1] >= 2, "cold lamps")
        super().__init__([envs.Factor("column", 4), envs.Factor("colour", 4)], (16, 16, 3), [warm, cold])

    def render(self, factors):
        frames = np.zeros((len(factors), 16, 16, 3), np.uint8)
        for frame, (column, colour) in zip(frames, factors):
            frame[6:10, 4 * column:4 * column + 4] = self.COLOURS[colour]
        return frames


class LampEnv(gymnasium.Env):
    """Walk the lamp to the right edge (+1), in ten steps at most."""

    def __init__(self, domain="day"):
        self.factor_space = LampSpace()
        self.domain = self.factor_space.domain(domain).name
        self.observation_space = spaces.Box(0, 255, (16, 16, 3), np.uint8)
        self.action_space = spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        seed_rng = np.random.default_rng(int(self.np_random.integers(2**31)))
        self.state = self.factor_space.sample(1, seed_rng, self.domain)[0].copy()
        self.state[0], self.t = 0, 0
        return self.factor_space.render(self.state[None])[0], {"factors": self.state.copy()}

    def step(self, action):
        self.state[0] = int(np.clip(self.state[0] + (1 if action else -1), 0, 3))
        self.t += 1
        done = self.state[0] == 3
        frame = self.factor_space.render(self.state[None])[0]
        return frame, float(done), bool(done), self.t >= 10, {"factors": self.state.copy()}


@pytest.fixture
def lamp_env():
    envs.register_env("test/Lamp-v0", LampEnv, "a lamp to walk right, by day or by night")
    yield "test/Lamp-v0"
    del gymnasium.registry["test/Lamp-v0"]
    envs.registry.ENVIRONMENTS.remove("test/Lamp-v0")


@pytest.fixture
def code_spread_metric():
    """A throwaway metric: the mean standard deviation of the codes over sampled states."""
    from eval.metrics import registry, utils

    def code_spread(space, encoder, rng_or_seed=0, *, num_points: int = 32, domain: str | None = None) -> dict:
        codes, _ = utils.sample_codes(space, encoder, rng_or_seed, num_points, 16, domain)
        return {"mean_std": float(np.std(codes, axis=1).mean()), "points": num_points}

    registry.register("code_spread", paper="this test", description="mean std of the codes")(code_spread)
    yield "code_spread"
    registry.METRICS.remove("code_spread")


def test_an_env_with_its_own_domain_names_runs_the_whole_pipeline(tmp_path, lamp_env, code_spread_metric):
    from darla import config as config_module
    from darla.pipeline import run

    tiny = [f"env={lamp_env}", "collect.frames=64", "collect.sampling=factors", "agent.steps=64",
            "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=64", "transfer.episodes=2",
            "threads=1", "jobs=1", "variants=darla", "name=lamp", f"metrics.names=[{code_spread_metric}]",
            "metrics.settings.num_points=24"] + \
        [f"vision.methods.{m}.{k}" for m in ("dae", "beta_vae_dae") for k in ("steps=2", "batch_size=16")]
    data = config_module.apply_overrides(config_module.load("quickstart").to_dict(), tiny)
    data["collect"]["domain"], data["transfer"]["domains"] = "", []   # the env's own, not the Room's
    cfg = config_module.RunConfig.from_dict(data)
    run_dir = run(cfg, tmp_path, log=lambda line: None)
    resolved = json.loads((run_dir / "config.json").read_text())
    assert resolved["collect"]["domain"] == "day" and resolved["transfer"]["domains"] == ["day", "night"]
    with envs.dataset.FrameDataset(run_dir / "collect" / "source.h5") as ds:
        frames, factors = ds.load()
        assert ds.meta["domain"] == "day" and (factors[:, 1] < 2).all()
    summary = json.loads((run_dir / "transfer.json").read_text())["summary"]
    assert [s["domain"] for s in summary] == ["day", "night"]
    scores = json.loads((run_dir / "metrics" / "beta_vae_dae" / "scores.json").read_text())
    assert '"code_spread"' in json.dumps(scores) and '"points": 24' in json.dumps(scores), scores
    assert summary[0]["vs_source"] == pytest.approx(1.0) or summary[0]["mean"] == 0.0

    data["name"], data["transfer"]["domains"] = "lamp2", ["day", "ood"]
    with pytest.raises(ValueError, match=r"transfer.domains='ood': test/Lamp-v0 has no such domain; its domains: \['day', 'night'\]"):
        run(config_module.RunConfig.from_dict(data), tmp_path, log=lambda line: None)
    assert not (tmp_path / "lamp2").exists(), "refused before the run directory is touched"
