"""Model-Free Episodic Control (``algo=ec``): known answers for the table update, the kNN estimate
and LRU eviction; save/load as data; the public entry points; bad input."""

import json
import pickle

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

import agents
from agents.episodic import EpisodicControl
from agents.storage import AgentFileError
from eval import transfer


class Points(gymnasium.Env):
    """Spaces only (2-d points, two actions or a continuous one): the tables are written by hand."""

    def __init__(self, continuous=False):
        self.observation_space = spaces.Box(-100, 100, (2,), np.float32)
        self.action_space = spaces.Box(-1, 1, (1,)) if continuous else spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}


def model(continuous=False, **settings):
    return EpisodicControl("MlpPolicy", DummyVecEnv([lambda: Points(continuous)]), seed=0, **settings)


def p(*xy):
    return np.array(xy, np.float32).reshape(-1, 2)


def test_table_keeps_the_highest_discounted_return_and_estimates_unseen_keys_from_k_neighbours():
    ec = model(k=2, gamma=0.5)
    assert np.isneginf(ec.q_values(p(0, 0))).all(), "empty tables know nothing"
    # returns 1, 2, 4: R_t = r_t + 0.5 R_{t+1}
    ec.record_episode(p(0, 0, 1, 0, 2, 0), [0, 0, 1], [0, 0, 4])
    # (2, 0) was never taken with action 0: its two nearest keys (1, 0) and (0, 0) give (2 + 1) / 2
    np.testing.assert_allclose(ec.q_values(p(0, 0, 1, 0, 2, 0)), [[1, 4], [2, 4], [1.5, 4]])
    ec.record_episode(p(0, 0, 1, 0), [0, 0], [0, 1])  # lower returns (0.5, 1): the table keeps 1 and 2
    np.testing.assert_allclose(ec.q_values(p(0, 0, 1, 0))[:, 0], [1, 2])
    ec.record_episode(p(0, 0), [0], [3])  # a higher return (3) replaces 1
    ec.record_episode(p(10, 0), [0], [-6])
    q = ec.q_values(p(0, 0, 1.4, 0, 9, 0))
    # exact match 3; (1.4, 0) → neighbours (1, 0) and (0, 0): (2 + 3) / 2; (9, 0) → (10, 0) and (1, 0): (-6 + 2) / 2
    np.testing.assert_allclose(q[:, 0], [3, 2.5, -2])
    np.testing.assert_allclose(q[:, 1], [4, 4, 4])  # fewer than k entries: the mean of all
    ec.record_episode(p(5, 5, 5, 5), [1, 1], [1, 0])  # one key twice in an episode: one entry, its best return
    assert ec.tables[1].size == 2 and ec.q_values(p(5, 5))[0, 1] == 1.0
    # greedy: (0, 0) → 3 against (4 + 1) / 2 for action 1; (9, 0) → -2 against 2.5
    np.testing.assert_array_equal(ec.predict(p(0, 0, 9, 0), deterministic=True)[0], [0, 1])


def test_full_table_drops_the_least_recently_used_entry():
    ec = model(k=1, buffer_size=3)
    table = ec.tables[0]
    for clock, x in enumerate((1, 2, 3), start=1):
        ec.num_timesteps = clock
        ec.record_episode(p(x, 0), [0], [float(x)])
    table.estimate(p(1, 0), clock=4)             # exact match: (1, 0) used at 4
    ec.num_timesteps = 5
    ec.record_episode(p(4, 0), [0], [4.0])       # evicts (2, 0), last used at 2
    assert sorted(k[0] for k in table.keys[:table.size]) == [1, 3, 4]
    table.estimate(p(3.2, 0), clock=6)           # its nearest neighbour (3, 0) is used at 6
    ec.num_timesteps = 7
    ec.record_episode(p(5, 0), [0], [5.0])       # evicts (1, 0), used at 4, not (3, 0)
    assert sorted(k[0] for k in table.keys[:table.size]) == [3, 4, 5] and table.size == 3
    assert set(table.index) == {k.tobytes() for k in table.keys[:3]}
    np.testing.assert_allclose(ec.q_values(p(1, 0))[0, 0], 3.0)  # (1, 0) is gone: its neighbour (3, 0) answers
    before = table.last_used.copy()
    ec.predict(p(4.1, 0), deterministic=True)
    np.testing.assert_array_equal(table.last_used, before)  # acting greedily (evaluation) marks nothing used


@pytest.fixture(scope="module")
def oracle_ec(tmp_path_factory):
    return agents.train("oracle", "darla/Room-v1", tmp_path_factory.mktemp("ec") / "oracle", steps=800, seed=0,
                        algo="ec", hyperparams={"k": 5})


def test_trains_through_the_public_api_and_reloads_as_data(oracle_ec, monkeypatch):
    files = sorted(f.name for f in oracle_ec.iterdir())
    assert files == ["agent.json", "policy.json", "policy.safetensors"]
    description = json.loads((oracle_ec / "policy.json").read_text())
    assert description["format"] == "darla.episodic-control/1" and description["settings"]["k"] == 5
    assert description["state"]["num_timesteps"] == 800  # one 100-step episode in each of the default 8 envs

    def refuse(*args, **kwargs):
        raise AssertionError("loading an EC agent must not unpickle anything")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    first, second = agents.load(oracle_ec), agents.load(oracle_ec)
    assert sum(t.size for t in first.model.tables) > 0
    venv = first.make_env("target", n_envs=2, seed=5)
    obs = venv.reset()
    for _ in range(60):
        a, b = first.predict(obs), second.predict(obs)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(first.model.q_values(obs), second.model.q_values(obs))
        obs = venv.step(a)[0]
    evaluated = transfer.evaluate(first, ["source", "ood"], episodes=2, seed=3, n_envs=2)
    assert evaluated == transfer.evaluate(agents.load(oracle_ec), ["source", "ood"], episodes=2, seed=3, n_envs=2)


def test_damaged_or_foreign_files_are_refused(oracle_ec, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(oracle_ec, copy)
    data = bytearray((copy / "policy.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "policy.safetensors").write_bytes(bytes(data))
    with pytest.raises(AgentFileError, match="does not match the sha256"):
        agents.load(copy)
    shutil.copytree(oracle_ec, tmp_path / "other")
    record = json.loads((tmp_path / "other" / "agent.json").read_text())
    (tmp_path / "other" / "agent.json").write_text(json.dumps({**record, "algo": "ppo"}))
    with pytest.raises(AgentFileError, match="episodic-control/1.*expected 'darla.agent-policy/1'"):
        agents.load(tmp_path / "other")


def test_cli_act_and_transfer_with_ec(tmp_path, capsys):
    from darla.cli import main

    out = tmp_path / "agent"
    assert main(["act", "--variant", "oracle", "--algo", "ec", "--steps", "200", "--out", str(out), "k=3"]) == 0
    assert list((out / "tb").glob("events.out.tfevents*")), "training logs to TensorBoard"
    assert main(["transfer", str(out), "--episodes", "2", "--domains", "source,target", "--out", str(tmp_path),
                 "--threads", "1"]) == 0
    assert "| oracle | target | 1 |" in capsys.readouterr().out


def test_frozen_latents_train_with_ec(tmp_path):
    from envs.collect import collect
    from envs.dataset import FrameDataset

    import vision

    collect("darla/Room-v1", tmp_path / "frames.h5", 64, progress=False)
    with FrameDataset(tmp_path / "frames.h5") as ds:
        frames = ds.frames[:]
    checkpoint = vision.fit(frames, method="vae", out_dir=tmp_path / "vae", steps=2, batch_size=16, progress=False,
                            tensorboard=False)
    out = agents.train("darla_ent", "darla/Room-v1", tmp_path / "ec", steps=200, seed=1, algo="ec",
                       encoder_path=checkpoint, hyperparams={"projection_dim": 4, "n_envs": 2})
    agent = agents.load(out)  # two 100-step episodes were written, keyed on 4-d projections of the codes
    assert agent.model.projection.shape == (agent.encoder.latent_dim, 4)
    assert all(t.keys.shape[1] == 4 for t in agent.model.tables) and sum(t.size for t in agent.model.tables) > 0
    returns = transfer.evaluate(agent, ["target"], episodes=1, seed=0, n_envs=1)
    assert len(returns["target"]) == 1


def test_bad_input_fails_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match="EC needs discrete actions.*Box.*use ppo, a2c, sac"):
        model(continuous=True)
    for name in ("pixels", "darla_ft"):
        with pytest.raises(ValueError, match=f"reads vector observations, but variant '{name}'.*darla / darla_ent"
                                             " / darla_dae / oracle"):
            agents.train(name, "darla/Room-v1", tmp_path / name, steps=10, algo="ec")
    with pytest.raises(ValueError, match="k=20 is larger than its buffer_size=10"):
        agents.train("oracle", "darla/Room-v1", tmp_path / "k", steps=10, algo="ec",
                     hyperparams={"k": 20, "buffer_size": 10})
    with pytest.raises(ValueError, match="k=20 is larger than its buffer_size=10"):
        model(k=20, buffer_size=10)
    with pytest.raises(ValueError, match="knn_algorithm must be one of"):
        model(knn_algorithm="annoy")
    assert not (tmp_path / "pixels").exists() and not (tmp_path / "k").exists()


def test_run_config_refuses_ec_for_frame_variants_before_any_stage():
    from darla.config import RunConfig

    config = RunConfig.from_dict({"name": "x", "variants": ["oracle", "pixels"], "agent": {"algo": "ec"}})
    with pytest.raises(ValueError, match="agent.algo=ec: .*variant 'pixels'"):
        config.validate()
    bad_k = RunConfig.from_dict({"name": "x", "variants": ["oracle"],
                                 "agent": {"algo": "ec", "hyperparams": {"k": 50, "buffer_size": 8}}})
    with pytest.raises(ValueError, match="k=50 is larger than its buffer_size=8"):
        bad_k.validate()
    RunConfig.from_dict({"name": "x", "variants": ["oracle", "darla"], "agent": {"algo": "ec"}}).validate()
