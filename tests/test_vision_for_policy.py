"""What stage 1 hands the policy: the sampling of its frames, the code statistics stored with a
checkpoint, and the standardised codes a frozen-vision agent acts on (saved, reloaded, guarded)."""

import json
import shutil

import numpy as np
import pytest
import torch

import agents
import envs
import vision
from agents.latent import CodeStandardizer, LatentObservations, StandardizationError
from envs.collect import collect
from envs.dataset import FrameDataset


# -- stage-1 sampling -----------------------------------------------------------------------------
def test_factor_sampling_draws_reachable_source_states_rendered_exactly(tmp_path):
    path = collect("darla/Room-v1", tmp_path / "f.h5", 300, seed=4, sampling="factors", progress=False)
    space = envs.make_factor_space("darla/Room-v1")
    with FrameDataset(path) as ds:
        frames, factors = ds.load()
        assert ds.meta["sampling"] == "factors" and ds.meta["policy"] == "none"
    np.testing.assert_array_equal(frames, space.render(factors))
    assert space.domain("source").contains(factors).all()
    assert space.reachable(factors).all()
    # uniform states are not a random walk: no two consecutive frames share the agent's pose
    pose = factors[:, 3:6]
    assert (pose[1:] == pose[:-1]).all(axis=1).mean() < 0.05
    again = collect("darla/Room-v1", tmp_path / "g.h5", 300, seed=4, sampling="factors", progress=False)
    with FrameDataset(again) as ds:
        np.testing.assert_array_equal(ds.load()[1], factors)


def test_room_reachable_states_are_exactly_those_the_env_visits():
    space = envs.make_factor_space("darla/Room-v1")
    env = envs.registry.make_env("darla/Room-v1")
    _, info = env.reset(seed=1)
    rng = np.random.default_rng(0)
    visited = []
    for _ in range(2000):
        visited.append(info["factors"])
        _, _, term, trunc, info = env.step(int(rng.integers(3)))
        if term or trunc:
            _, info = env.reset()
    assert space.reachable(np.array(visited)).all()
    state = np.array(visited[0])
    agent_cell = state[3] * 4 + state[4]
    for hat, lolly in ((agent_cell, (agent_cell + 1) % 16), ((agent_cell + 1) % 16, agent_cell),
                       ((agent_cell + 2) % 16, (agent_cell + 2) % 16)):
        bad = state.copy()
        bad[6], bad[7] = hat, lolly
        assert not space.reachable(bad[None])[0]


def test_unknown_sampling_fails_before_any_file_and_lists_the_known_ones(tmp_path):
    from darla.config import load

    with pytest.raises(ValueError, match="unknown sampling 'uniform'.*auto, rollout, factors"):
        collect("darla/Room-v1", tmp_path / "x.h5", 10, sampling="uniform", progress=False)
    with pytest.raises(ValueError, match="no dynamics to roll out.*sampling=factors"):
        collect("dsprites", tmp_path / "x.h5", 10, sampling="rollout", progress=False)
    assert not list(tmp_path.iterdir())
    config = load("quickstart")
    config.collect.sampling = "uniform"
    with pytest.raises(ValueError, match="unknown sampling 'uniform'"):
        config.validate()


# -- code statistics and standardisation ----------------------------------------------------------
@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    path = collect("darla/Room-v1", tmp_path_factory.mktemp("f") / "f.h5", 96, progress=False)
    with FrameDataset(path) as ds:
        return ds.frames[:]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, frames):
    root = tmp_path_factory.mktemp("vision")
    return [vision.fit(frames, method="vae", out_dir=root / f"vae{seed}", steps=3, batch_size=16, seed=seed,
                       progress=False, tensorboard=False) for seed in (0, 1)]


def test_checkpoint_stores_the_code_statistics_of_its_training_frames(frames, checkpoints):
    encoder = vision.load_encoder(checkpoints[0])
    codes = encoder.encode(frames).astype(np.float64)
    np.testing.assert_allclose(encoder.code_mean, codes.mean(0), atol=1e-5)
    np.testing.assert_allclose(encoder.code_std, codes.std(0), rtol=1e-4, atol=1e-6)


def test_standardised_training_codes_have_zero_mean_and_unit_spread_with_a_floor():
    rng = np.random.default_rng(0)
    codes = rng.normal([3.0, -1.0, 0.0], [2.0, 0.5, 1e-6], size=(5000, 3)).astype(np.float32)
    s = CodeStandardizer(codes.mean(0), codes.std(0))
    out = s(codes)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(out.std(0)[:2], 1, rtol=1e-3)
    # a collapsed latent is scaled by 1% of the widest spread, so its noise stays tiny
    assert out.std(0)[2] < 1e-3 and s.scale[2] == pytest.approx(0.01 * codes.std(0)[0], rel=1e-5)
    with pytest.raises(StandardizationError, match="finite"):
        CodeStandardizer([0.0, np.nan], [1.0, 1.0])


def test_wrapper_feeds_standardised_codes(checkpoints):
    encoder = vision.load_encoder(checkpoints[0])
    s = CodeStandardizer.from_encoder(encoder)
    raw = agents.make_vec_env("darla/Room-v1", "source", 2, seed=3)
    wrapped = LatentObservations(agents.make_vec_env("darla/Room-v1", "source", 2, seed=3), encoder, s)
    np.testing.assert_allclose(wrapped.reset(), s(encoder.encode(raw.reset())), rtol=1e-6)
    with pytest.raises(StandardizationError, match="length 2 do not fit a 32-d encoder"):
        LatentObservations(raw, encoder, CodeStandardizer([0.0, 0.0], [1.0, 1.0]))


def test_checkpoint_without_statistics_is_refused_with_the_fix(tmp_path, checkpoints):
    payload = torch.load(checkpoints[0], weights_only=True)
    for key in ("code_stats", "digest", "digests", "origin"):  # as darla before 0.2 wrote it
        del payload[key]
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    vision.checkpoint.add_digest(old)  # what `darla digest` does before such a file can be read
    with pytest.raises(StandardizationError, match="no code statistics.*darla see.*agent.standardize=false"):
        agents.train("darla_ent", "darla/Room-v1", tmp_path / "a", steps=64, encoder_path=old, standardize=True,
                     hyperparams={"n_steps": 8})


@pytest.fixture(scope="module")
def standardized_agent(tmp_path_factory, checkpoints):
    out = tmp_path_factory.mktemp("agent") / "darla_ent"
    return agents.train("darla_ent", "darla/Room-v1", out, steps=128, seed=0, encoder_path=checkpoints[0],
                        standardize=True, hyperparams={"n_steps": 16, "batch_size": 64})


def test_standardised_agent_round_trips_and_records_its_statistics(standardized_agent, checkpoints):
    spec = json.loads((standardized_agent / "agent.json").read_text())
    assert spec["standardize"] is True
    encoder = vision.load_encoder(checkpoints[0])
    np.testing.assert_allclose(spec["standardization"]["mean"], encoder.code_mean, rtol=1e-6)
    first, second = agents.load(standardized_agent), agents.load(standardized_agent)
    assert first.standardizer is not None
    venv = first.make_env("target", n_envs=2, seed=5)
    obs = venv.reset()
    raw = agents.make_vec_env("darla/Room-v1", "target", 2, seed=5).reset()
    np.testing.assert_allclose(obs, first.standardizer(encoder.encode(raw)), rtol=1e-6)
    for _ in range(20):
        a = first.predict(obs)
        np.testing.assert_array_equal(a, second.predict(obs))
        obs = venv.step(a)[0]


def test_agent_with_missing_or_foreign_statistics_is_refused(tmp_path, standardized_agent, checkpoints):
    missing = tmp_path / "missing"
    shutil.copytree(standardized_agent, missing)
    spec = json.loads((missing / "agent.json").read_text())
    del spec["standardization"]
    (missing / "agent.json").write_text(json.dumps(spec))
    with pytest.raises(StandardizationError, match="statistics are missing"):
        agents.load(missing)
    swapped = tmp_path / "swapped"
    shutil.copytree(standardized_agent, swapped)
    shutil.copyfile(checkpoints[1], swapped / "encoder.pt")  # same method and shape, other weights
    with pytest.raises(StandardizationError, match="belong to another encoder"):
        agents.load(swapped)


# -- unsupervised model selection -----------------------------------------------------------------
def test_selection_rules_score_every_seed_on_source_frames(frames, checkpoints):
    from eval import selection

    udr = selection.select("udr", checkpoints, frames, seed=0)
    assert udr["rule"] == "udr" and len(udr["scores"]) == 2 and udr["chosen"] == int(np.argmax(udr["scores"]))
    rec = selection.select("reconstruction", checkpoints, frames, seed=0)
    mse = [vision.train.evaluate(vision.load_model(c), frames, n=len(frames))["pixel_mse"] for c in checkpoints]
    np.testing.assert_allclose(rec["scores"], [-m for m in mse], rtol=1e-6)
    assert rec["chosen"] == int(np.argmin(mse))
    assert selection.select("first", checkpoints, frames)["chosen"] == 0
    with pytest.raises(ValueError, match="unknown selection rule 'best_return'; known: udr, reconstruction, first"):
        selection.select("best_return", checkpoints, frames)
    with pytest.raises(ValueError, match="at least 2 vision seeds"):
        selection.select("udr", checkpoints[:1], frames)


@pytest.mark.timeout(600)
def test_run_trains_every_vision_seed_and_agents_read_the_selected_one(tmp_path):
    from darla import config as config_module
    from darla.pipeline import run

    tiny = ["collect.frames=96", "agent.steps=64", "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=64",
            "transfer.episodes=1", "transfer.domains=source", "threads=1", "variants=darla", "vision.seeds=0,1",
            "vision.selection=reconstruction", "agent.standardize=true"] + \
        [f"vision.methods.{m}.{k}" for m in ("dae", "beta_vae_dae") for k in ("steps=2", "batch_size=16")]
    cfg = config_module.RunConfig.from_dict(config_module.apply_overrides(config_module.load("quickstart").to_dict(), tiny))
    run_dir = run(cfg, tmp_path, log=lambda line: None)
    sel = json.loads((run_dir / "select" / "beta_vae_dae" / "selection.json").read_text())
    assert sel["rule"] == "reconstruction" and sel["seeds"] == [0, 1] and len(sel["scores"]) == 2
    chosen = run_dir / "vision" / f"beta_vae_dae-seed{sel['chosen_seed']}" / "checkpoint.pt"
    assert (run_dir / "vision" / "dae" / "checkpoint.pt").exists(), "the DAE is shared, trained once"
    agent = run_dir / "agent" / "darla" / "seed0"
    assert (agent / "encoder.pt").read_bytes() == chosen.read_bytes()
    assert json.loads((agent / "agent.json").read_text())["standardize"] is True
    assert "## Vision model selection (beta_vae_dae)" in (run_dir / "report.md").read_text()
    bad = config_module.RunConfig.from_dict(config_module.apply_overrides(cfg.to_dict(), ["vision.seeds=3"]))
    with pytest.raises(ValueError, match="vision.seeds must be empty .* or at least 2 distinct"):
        bad.validate()
    bad.vision.seeds, bad.vision.selection = [0, 1], "oracle"
    with pytest.raises(ValueError, match="unknown selection rule 'oracle'"):
        bad.validate()


def test_beta_warmup_raises_the_kl_weight_linearly_then_holds_it():
    from vision.errors import ConfigError
    from vision.methods import get

    cls = get("beta_vae_dae")
    model = cls(cls.Config(beta=8.0, beta_warmup=4), (16, 16, 3))
    assert [model.kl_weight(s) for s in range(6)] == [2.0, 4.0, 6.0, 8.0, 8.0, 8.0]
    kl = torch.tensor(3.0)
    assert float(model.regularizer(kl, None, None, None, 1)) == pytest.approx(12.0)
    plain = cls(cls.Config(beta=8.0), (16, 16, 3))
    assert [plain.kl_weight(s) for s in (0, 100)] == [8.0, 8.0]
    with pytest.raises(ConfigError, match="beta_warmup=-1 must be >= 0"):
        cls.Config(beta_warmup=-1).validate()


def test_beta_vae_dae_on_darlas_network_starts_its_convolutions_from_the_trained_dae(tmp_path, frames):
    from vision.errors import ConfigError
    from vision.methods import get

    dae = vision.fit(frames, method="dae", out_dir=tmp_path / "dae", steps=3, batch_size=16, progress=False,
                     tensorboard=False)
    cls = get("beta_vae_dae")
    with pytest.raises(ConfigError, match="init_from_dae=true needs network=darla"):
        cls.Config(init_from_dae=True).validate()
    trained_dae = vision.checkpoint.load_model(dae, expect_method="dae")
    shape = frames.shape[1:]
    for init in (True, False):
        model = cls(cls.Config(network="darla", init_from_dae=init, dae_checkpoint=str(dae)), shape)
        model.initialize(frames)
        mine = [m for m in model.encoder.net if isinstance(m, torch.nn.Conv2d)]
        theirs = [m for m in trained_dae.encoder.net if isinstance(m, torch.nn.Conv2d)]
        mine += [m for m in model.decoder.convs if isinstance(m, torch.nn.ConvTranspose2d)]
        theirs += [m for m in trained_dae.decoder.convs if isinstance(m, torch.nn.ConvTranspose2d)]
        assert len(mine) == len(theirs) == 8
        same = [torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias) for a, b in zip(mine, theirs)]
        assert all(same) if init else not any(same)
    # the burgess network (the default) keeps its own, narrower convolutions
    assert cls(cls.Config(), shape).encoder.net[6].out_channels == 32


# -- methods declare what they build on -----------------------------------------------------------
@pytest.fixture
def method_on_a_dae():
    """A throwaway vision method, registered from this test alone, that needs a DAE's checkpoint."""
    from dataclasses import dataclass

    from vision.methods import registry
    from vision.methods.vae import VAE

    @registry.register
    class VAEOnDAE(VAE):
        name, paper, summary = "vae_on_dae", "test", "a VAE that records the DAE it was given"
        requires = {"dae": "base_checkpoint"}

        @dataclass
        class Config(VAE.Config):
            base_checkpoint: str = ""
            RESUMABLE = VAE.Config.RESUMABLE + ("base_checkpoint",)

    yield VAEOnDAE
    registry.METHODS.remove("vae_on_dae")


@pytest.mark.timeout(600)
def test_a_method_that_requires_another_gets_it_trained_first_and_handed_over(tmp_path, method_on_a_dae):
    from darla import config as config_module
    from darla.pipeline import run, vision_plan

    tiny = ["collect.frames=64", "agent.steps=32", "agent.hyperparams.n_steps=4", "agent.hyperparams.batch_size=32",
            "transfer.episodes=1", "transfer.domains=source", "threads=1", "variants=darla", "jobs=1",
            "vision.method=vae_on_dae"] + \
        [f"vision.methods.{m}.{k}" for m in ("dae", "vae_on_dae") for k in ("steps=2", "batch_size=16")]
    cfg = config_module.RunConfig.from_dict(config_module.apply_overrides(config_module.load("quickstart").to_dict(), tiny))
    assert vision_plan(cfg) == ["dae", "vae_on_dae"]
    run_dir = run(cfg, tmp_path, log=lambda line: None)
    stage = json.loads((run_dir / "vision" / "vae_on_dae" / "stage.json").read_text())
    assert stage["inputs"] == ["collect", "vision/dae"], "the DAE's digest is part of the fingerprint"
    summary = json.loads((run_dir / "vision" / "vae_on_dae" / "summary.json").read_text())
    assert summary["config"]["base_checkpoint"] == str(run_dir / "vision" / "dae" / "checkpoint.pt")


def test_a_checkpoint_missing_its_config_is_refused_naming_the_file(tmp_path, checkpoints):
    from vision.errors import CheckpointError

    payload = torch.load(checkpoints[0], weights_only=True)
    del payload["config"]
    broken = tmp_path / "broken.pt"
    torch.save(payload, broken)
    with pytest.raises(CheckpointError, match=r"broken.pt is an incomplete darla vision checkpoint \(no config\)"):
        vision.load_encoder(broken)
