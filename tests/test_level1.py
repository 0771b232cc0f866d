"""Level 1: any gymnasium env with image observations, without ground truth. Domains are named sets of
constructor kwargs and/or wrappers; vision, agents, transfer and the report work; what needs factors is
refused or skipped, and bad domains fail before any stage runs."""

import json

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

import agents
import envs
from darla.config import RunConfig
from darla.pipeline import run


class Blob(gymnasium.Env):
    """A square of one colour to walk to the right edge: no factor space, no domain argument (48 pixels:
    the smallest multiple of 16 that SB3's CNN for the pixels agent takes)."""

    def __init__(self, colour=(220, 60, 60), size=48):
        self.colour, self.size = np.asarray(colour, np.uint8), size
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.action_space = spaces.Discrete(2)

    def _frame(self):
        frame = np.full((self.size, self.size, 3), 30, np.uint8)
        frame[6:10, 4 * self.x:4 * self.x + 4] = self.colour
        return frame

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.x = int(self.np_random.integers(0, 2))
        return self._frame(), {}

    def step(self, action):
        self.x = int(np.clip(self.x + (1 if action else -1), 0, 3))
        return self._frame(), float(self.x == 3), self.x == 3, False, {}


DOMAINS = {"source": {}, "target": {"kwargs": {"colour": [60, 60, 220]}},
           "shift": {"wrappers": [{"name": "hue_rotate", "degrees": 90}]}}


@pytest.fixture
def blob():
    gymnasium.register("test/Blob-v0", entry_point=Blob, max_episode_steps=10)
    yield "test/Blob-v0"
    del gymnasium.registry["test/Blob-v0"]
    if "test/Blob-v0" in envs.registry.ENVIRONMENTS:
        envs.registry.ENVIRONMENTS.remove("test/Blob-v0")


def tiny(env, **changes):
    data = {"name": "blob", "env": env, "domains": DOMAINS, "variants": ["darla", "pixels"], "threads": 1, "jobs": 1,
            "collect": {"frames": 64}, "metrics": {"names": ["mig"]},
            "vision": {"methods": {m: {"steps": 2, "batch_size": 16} for m in ("dae", "beta_vae_dae")}},
            "agent": {"steps": 32, "hyperparams": {"n_steps": 8, "batch_size": 32, "n_envs": 4}},
            "transfer": {"episodes": 2}}
    for key, value in changes.items():
        section, _, leaf = key.partition("__")
        if leaf:
            data.setdefault(section, {})[leaf] = value
        else:
            data[section] = value
    return RunConfig.from_dict(data)


def test_an_env_without_ground_truth_runs_see_act_transfer_and_the_report(tmp_path, blob):
    run_dir = run(tiny(blob), tmp_path, log=lambda line: None)
    resolved = json.loads((run_dir / "config.json").read_text())
    assert resolved["collect"]["domain"] == "source" and resolved["transfer"]["domains"] == ["source", "target", "shift"]
    with envs.dataset.FrameDataset(run_dir / "collect" / "source.h5") as ds:
        frames, factors = ds.load()
    assert frames.shape == (64, 48, 48, 3) and factors.shape == (64, 0)
    assert (frames[:, 6:10] == [220, 60, 60]).all(axis=-1).any()        # the source's colour, by rollout
    summary = json.loads((run_dir / "transfer.json").read_text())["summary"]
    assert {(s["variant"], s["domain"]) for s in summary} == {(v, d) for v in ("darla", "pixels")
                                                               for d in ("source", "target", "shift")}
    report = (run_dir / "report.md").read_text()
    assert "has no ground truth" in report and "metrics.names ['mig'] were skipped" in report
    assert not (run_dir / "metrics").exists()

    # a saved agent carries its env's domains: it acts on the target in a process that never declared them
    envs.registry.ENVIRONMENTS.remove(blob)
    agent = agents.load(run_dir / "agent" / "pixels" / "seed0")
    obs = agent.make_env("target", n_envs=1, seed=0).reset()
    assert obs.shape == (1, 3, 48, 48)
    with pytest.raises(envs.registry.NoGroundTruthError, match="no ground truth"):
        envs.make_factor_space(blob)


def test_what_needs_factors_is_refused_before_any_stage(tmp_path, blob):
    with pytest.raises(ValueError, match=r"no ground truth.*sampling=factors.*variant 'oracle'"):
        run(tiny(blob, collect__sampling="factors", variants=["darla", "oracle"]), tmp_path, log=print)
    assert not (tmp_path / "blob").exists()


def test_a_domain_kwarg_the_constructor_does_not_accept_names_the_env_and_the_kwarg(tmp_path, blob):
    domains = {"source": {}, "target": {"kwargs": {"color": [0, 0, 255]}}}
    with pytest.raises(ValueError, match=r"test/Blob-v0: domains.target.kwargs: .* accepts no 'color'; it accepts: "
                                         r"\['colour', 'size'\]"):
        tiny(blob, domains=domains).validate()
    with pytest.raises(ValueError, match="a domain is a mapping with keys"):
        tiny(blob, domains={"source": {"wrapper": []}}).validate()
    with pytest.raises(ValueError, match="unknown wrapper 'hue'"):
        tiny(blob, domains={"source": {"wrappers": ["hue"]}}).validate()


def test_frames_not_a_multiple_of_16_name_the_resize_wrapper(blob):
    with pytest.raises(ValueError, match=r"20×20 pixels.*resize wrapper.*\"size\": \[16, 16\]"):
        tiny(blob, domains={"source": {"kwargs": {"size": 20}}}).validate()
    resized = {"source": {"kwargs": {"size": 20}, "wrappers": [{"name": "resize", "size": 16}]}}
    assert tiny(blob, domains=resized).validate().transfer.domains == ["source"]


def test_observations_that_are_not_images_name_the_pixels_wrapper():
    with pytest.raises(ValueError, match=r"CartPole-v1 \(domain 'source'\).*'pixels' wrapper.*'resize'"):
        tiny("CartPole-v1", domains={"source": {}}).validate()


def test_domains_on_an_env_with_ground_truth_are_refused():
    with pytest.raises(ValueError, match="has ground truth and declares its own domains"):
        tiny("darla/Room-v1").validate()
