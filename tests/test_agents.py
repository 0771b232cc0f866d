"""Agents over frozen latents: the vec-env wrapper, save/load, deterministic evaluation, bad input."""

import numpy as np
import pytest
import torch

import agents
import vision
from agents.latent import EncoderMismatchError, LatentObservations
from envs.collect import collect
from envs.dataset import FrameDataset
from eval import transfer


class MeanColours:
    """A tiny deterministic encoder: mean RGB of each quarter of the frame (12 numbers)."""

    latent_dim = 12

    def __init__(self, size=64):
        self.input_shape = (size, size, 3)
        self.calls = 0

    def encode(self, frames):
        self.calls += 1
        n, h, w, _ = frames.shape
        quads = frames.reshape(n, 2, h // 2, 2, w // 2, 3).mean(axis=(2, 4))
        return (quads.reshape(n, 12) / 255).astype(np.float32)


def test_wrapper_encodings_equal_encoder_on_the_same_frames():
    encoder = MeanColours()
    raw = agents.make_vec_env("darla/Room-v1", "source", 4, seed=3)
    wrapped = LatentObservations(agents.make_vec_env("darla/Room-v1", "source", 4, seed=3), encoder)
    np.testing.assert_array_equal(wrapped.reset(), encoder.encode(raw.reset()))
    rng = np.random.default_rng(0)
    for _ in range(120):  # crosses an episode end (100 steps): terminal observations too
        actions = rng.integers(3, size=4)
        frames, r1, d1, i1 = raw.step(actions)
        codes, r2, d2, i2 = wrapped.step(actions)
        np.testing.assert_array_equal(codes, encoder.encode(frames))
        np.testing.assert_array_equal(r1, r2)
        for a, b in zip(i1, i2):
            if "terminal_observation" in a:
                np.testing.assert_array_equal(b["terminal_observation"], encoder.encode(a["terminal_observation"][None])[0])
    assert wrapped.observation_space.shape == (12,) and wrapped.observation_space.dtype == np.float32


def test_wrapper_encodes_all_envs_in_one_batch():
    encoder = MeanColours()
    wrapped = LatentObservations(agents.make_vec_env("darla/Room-v1", "source", 8, seed=0), encoder)
    wrapped.reset()
    before = encoder.calls
    wrapped.step(np.zeros(8, dtype=int))
    assert encoder.calls - before == 1


def test_encoder_that_does_not_fit_the_env_is_rejected():
    with pytest.raises(EncoderMismatchError, match=r"shape \(32, 32, 3\).*\(64, 64, 3\).*size=64"):
        LatentObservations(agents.make_vec_env("darla/Room-v1", "source", 1, 0, {"size": 32}), MeanColours(64))
    from stable_baselines3.common.vec_env import VecTransposeImage

    channel_first = VecTransposeImage(agents.make_vec_env("darla/Room-v1", "source", 1, 0))
    with pytest.raises(EncoderMismatchError, match="channel-first.*before any VecTransposeImage"):
        LatentObservations(channel_first, MeanColours(64))


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    collect("darla/Room-v1", folder / "frames.h5", 128, progress=False)
    with FrameDataset(folder / "frames.h5") as ds:
        return ds.frames[:]


def tiny_fit(frames, method, out, **extra):
    return vision.fit(frames, method=method, out_dir=out, steps=3, batch_size=16, progress=False,
                      tensorboard=False, **extra)


@pytest.fixture(scope="module")
def vae_checkpoint(tmp_path_factory, frames):
    return tiny_fit(frames, "vae", tmp_path_factory.mktemp("vision") / "vae")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, vae_checkpoint):
    out = tmp_path_factory.mktemp("agent") / "darla_ent"
    return agents.train("darla_ent", "darla/Room-v1", out, steps=256, seed=0, encoder_path=vae_checkpoint,
                        hyperparams={"n_steps": 32})


def test_saved_agent_reloads_and_acts_identically(trained):
    first, second = agents.load(trained), agents.load(trained)
    venv = first.make_env("target", n_envs=2, seed=5)
    obs = venv.reset()
    for _ in range(30):
        a, b = first.predict(obs), second.predict(obs)
        np.testing.assert_array_equal(a, b)
        obs = venv.step(a)[0]
    probs = [agent.model.policy.get_distribution(torch.as_tensor(obs)).distribution.probs for agent in (first, second)]
    torch.testing.assert_close(probs[0], probs[1])
    assert (trained / "encoder.pt").exists(), "the agent folder carries its own copy of the encoder"


def test_evaluation_with_the_same_seed_gives_the_same_returns(trained):
    agent = agents.load(trained)
    a = transfer.evaluate(agent, ["source", "target"], episodes=3, seed=11, n_envs=2)
    b = transfer.evaluate(agents.load(trained), ["source", "target"], episodes=3, seed=11, n_envs=2)
    assert a == b and [len(v) for v in a.values()] == [3, 3]


def test_agent_on_an_env_with_other_actions_is_rejected(trained):
    import gymnasium
    from stable_baselines3.common.vec_env import DummyVecEnv

    agent = agents.load(trained)
    mismatched = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")])
    with pytest.raises(ValueError, match="acts in Discrete\\(3\\).*Discrete\\(2\\)"):
        agent.check_env(mismatched)


def test_unknown_names_and_missing_inputs_fail_clearly(tmp_path, vae_checkpoint):
    with pytest.raises(KeyError, match="unknown agent variant 'darla_x'.*darla_dae"):
        agents.train("darla_x", "darla/Room-v1", tmp_path / "a", steps=10)
    with pytest.raises(KeyError, match="unknown RL algorithm 'trpo'.*ppo"):
        agents.train("pixels", "darla/Room-v1", tmp_path / "a", steps=10, algo="trpo")
    with pytest.raises(ValueError, match="needs a beta_vae_dae checkpoint"):
        agents.train("darla", "darla/Room-v1", tmp_path / "a", steps=10)
    with pytest.raises(ValueError, match="expects a dae checkpoint, got 'vae'"):
        agents.train("darla_dae", "darla/Room-v1", tmp_path / "a", steps=10, encoder_path=vae_checkpoint)
    with pytest.raises(FileNotFoundError, match="no agent at"):
        agents.load(tmp_path / "nothing")


def test_finetuned_encoder_changes_while_its_saved_copy_does_not(tmp_path, frames):
    checkpoint = tiny_fit(frames, "beta_vae_dae", tmp_path / "bvd", **{"dae.steps": 2})
    out = agents.train("darla_ft", "darla/Room-v1", tmp_path / "ft", steps=128, seed=0,
                       encoder_path=checkpoint, hyperparams={"n_steps": 16, "batch_size": 64})
    agent = agents.load(out)
    tuned = agent.model.policy.features_extractor.model.state_dict()
    original = vision.load_model(checkpoint).state_dict()
    changed = [k for k in original if not torch.equal(original[k], tuned[k])]
    assert changed, "the RL loss fine-tunes the encoder"
    assert all(torch.equal(v, original[k]) for k, v in vision.load_model(out / "encoder.pt").state_dict().items())


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn"])
def test_finetuned_encoder_starts_from_stage_1(tmp_path, frames, algo):
    # PPO and A2C re-draw the features extractor's weights when they build the policy (SB3's
    # ortho_init): darla_ft must still start from the vision checkpoint, not from random weights
    checkpoint = tiny_fit(frames, "beta_vae_dae", tmp_path / "bvd", **{"dae.steps": 2})
    out = agents.train("darla_ft", "darla/Room-v1", tmp_path / "ft", steps=0, seed=0, algo=algo,
                       encoder_path=checkpoint)
    started = agents.load(out).model.policy
    extractors = [m for m in started.modules() if isinstance(m, agents.agent.EncoderFeatures)]
    original = vision.load_model(checkpoint).state_dict()
    assert extractors and all(torch.equal(v, original[k]) for e in extractors for k, v in e.model.state_dict().items())


def test_cli_act_then_transfer(tmp_path, vae_checkpoint, capsys):
    from darla.cli import main

    out = tmp_path / "agent"
    assert main(["act", "--variant", "darla_ent", "--vision", str(vae_checkpoint), "--steps", "128",
                 "--out", str(out), "n_steps=16", "batch_size=32"]) == 0
    assert list((out / "tb").glob("events.out.tfevents*")), "training logs to TensorBoard"
    before = torch.get_num_threads()
    try:
        assert main(["transfer", str(out), "--episodes", "2", "--domains", "source,target", "--out", str(tmp_path),
                     "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    printed = capsys.readouterr().out
    assert "| darla_ent | target | 1 |" in printed
    assert (tmp_path / "transfer.csv").read_text().count("\n") == 1 + 2 * 2
    assert main(["act", "--variant", "darla", "--steps", "10", "--out", str(tmp_path / "x")]) == 1
    assert "needs a beta_vae_dae checkpoint" in capsys.readouterr().err


def test_oracle_sees_one_hot_ground_truth_including_at_episode_ends():
    venv = agents.make_vec_env("darla/Room-v1", "target", 2, seed=4, factors=True)
    space = venv.envs[0].unwrapped.factor_space
    assert [v.name for v in space.view_factors] == ["hat_bearing", "hat_distance", "lolly_bearing", "lolly_distance"]
    sizes = np.array(space.sizes + tuple(v.size for v in space.view_factors))  # factors, then views
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    obs = venv.reset()
    assert venv.observation_space.shape == (sizes.sum(),) and obs.dtype == np.float32

    def one_hot_state():
        expected = np.zeros_like(obs)
        for i, env in enumerate(venv.envs):
            state = env.unwrapped._state
            expected[i, offsets + np.concatenate([state, space.views(state)[0]])] = 1
        return expected

    for _ in range(100):  # the whole 100-step episode, then the auto-reset
        np.testing.assert_array_equal(obs, one_hot_state())
        obs, _, dones, infos = venv.step(np.zeros(2, dtype=int))
    assert dones.all() and infos[0]["terminal_observation"].sum() == len(sizes)  # one hot per factor and view
    np.testing.assert_array_equal(obs, one_hot_state())  # the first observation of the next episode


def test_oracle_trains_saves_and_reloads_without_an_encoder(tmp_path):
    out = agents.train("oracle", "darla/Room-v1", tmp_path / "oracle", steps=256, seed=0,
                       hyperparams={"n_steps": 32})
    agent = agents.load(out)
    assert agent.encoder is None and not (out / "encoder.pt").exists()
    a = transfer.evaluate(agent, ["target"], episodes=2, seed=3, n_envs=2)
    assert a == transfer.evaluate(agents.load(out), ["target"], episodes=2, seed=3, n_envs=2)


def test_rl_defaults_are_layered_by_env_and_by_what_the_policy_reads():
    from stable_baselines3 import PPO

    from agents import hyperparams

    hyperparams.register_algorithm("ppo_layers", PPO, "any", {
        "*": {"n_epochs": 4, "learning_rate": 3e-4, "gamma": 0.99},
        ("*", "latents"): {"n_epochs": 8},
        "darla/Room-v1": {"gamma": 0.95, "n_epochs": 5},
        ("darla/Room-v1", "latents"): {"learning_rate": 1e-3},
    })
    try:
        assert hyperparams.defaults_for("ppo_layers", "darla/Room-v1", reads="latents") == \
            {"n_epochs": 5, "learning_rate": 1e-3, "gamma": 0.95}
        assert hyperparams.defaults_for("ppo_layers", "darla/Room-v1", reads="frames") == \
            {"n_epochs": 5, "learning_rate": 3e-4, "gamma": 0.95}
        assert hyperparams.defaults_for("ppo_layers", "other", {"gamma": 0.9}, reads="latents") == \
            {"n_epochs": 8, "learning_rate": 3e-4, "gamma": 0.9}
        with pytest.raises(ValueError, match="actions must be"):
            hyperparams.register_algorithm("ppo_bad", PPO, "both", {})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="RL algorithm 'ppo' is registered twice"):
            hyperparams.register_algorithm("ppo", PPO, "any", {})
    finally:
        hyperparams.ALGORITHMS.remove("ppo_layers")
    assert {v: agents.variant(v).input.reads for v in ("darla", "darla_dae", "pixels", "darla_ft", "oracle")} == \
        {"darla": "latents", "darla_dae": "latents", "pixels": "frames", "darla_ft": "frames", "oracle": "factors"}
