"""agents.train takes a vision.Encoder object as well as a checkpoint path, and saves it with the agent
through the safe checkpoint format (torch.load with weights_only=True), not pickled."""

import numpy as np
import pytest
import torch

import agents
import envs
import vision

SMALL = {"n_steps": 8, "batch_size": 32, "n_envs": 4}


@pytest.fixture(scope="module")
def frames():
    space = envs.make_factor_space("darla/Room-v1")
    return space.render(space.sample(32, np.random.default_rng(0), domain="source"))


def test_a_trained_encoder_object_round_trips_with_the_agent(tmp_path, frames):
    path = vision.fit(frames, method="beta_vae", out_dir=tmp_path / "see", steps=2, batch_size=16, progress=False,
                      tensorboard=False)
    encoder = vision.load_encoder(path)
    out = agents.train("darla", "darla/Room-v1", tmp_path / "agent", steps=32, seed=0, encoder=encoder,
                       hyperparams=SMALL, standardize=True)
    saved = torch.load(out / "encoder.pt", map_location="cpu", weights_only=True)   # data only
    assert saved["method"] == "beta_vae" and saved["complete"]
    agent = agents.load(out)
    np.testing.assert_array_equal(agent.encoder.encode(frames), encoder.encode(frames))
    np.testing.assert_array_equal(agent.standardizer.mean, encoder.code_mean)
    assert agent.make_env("target", n_envs=1, seed=0).reset().shape == (1, encoder.latent_dim)


def test_an_encoder_built_in_python_trains_an_agent_and_is_saved_with_it(tmp_path, frames):
    method = vision.methods.get("beta_vae")
    encoder = vision.Encoder(method(method.Config(z_dim=6), (64, 64, 3)))        # never written by darla see
    out = agents.train("darla", "darla/Room-v1", tmp_path / "agent", steps=32, seed=0, encoder=encoder,
                       hyperparams=SMALL)
    reloaded = vision.load_encoder(out / "encoder.pt")
    assert reloaded.latent_dim == 6
    np.testing.assert_allclose(reloaded.encode(frames), encoder.encode(frames), rtol=0, atol=0)
    with pytest.raises(ValueError, match="give the encoder once"):
        agents.train("darla", "darla/Room-v1", tmp_path / "x", steps=8, encoder=encoder, encoder_path=out / "encoder.pt")
