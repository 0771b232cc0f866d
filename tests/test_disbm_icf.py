"""DisBM (contrastive divergence against the exact likelihood gradient) and ICF (selectivity on a
toy env whose actions each move one factor): known answers, round-trips and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import vision
from envs.factor_walk import FactorWalkEnv
from envs.factors import Factor, FactorSpace
from vision.data import to_model_input
from vision.errors import ConfigError, FrameShapeError
from vision.methods.disbm import DisBM, log_likelihood_exact, log_partition_exact
from vision.methods.icf import ICF, selectivity

torch.set_num_threads(1)
FAST = dict(device="cpu", threads=1, log_every=10, image_every=1000, checkpoint_every=1000, progress=False,
            tensorboard=False)


# ----- DisBM ---------------------------------------------------------------------------------------

def tiny_disbm(**overrides) -> DisBM:
    """4 binary visible units (a 2×2 greyscale frame), 2 + 2 hidden units, 3 factors: 2^8 states."""
    config = DisBM.Config(z_dim=4, m_units=2, rank=3, downsample=1, init_std=0.7, seed=3, **overrides)
    return DisBM(config, (2, 2, 1)).double()


DATA = torch.tensor([[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 0, 0]], dtype=torch.float64)


def numerical_gradient(model: DisBM, data: torch.Tensor, eps: float = 1e-5) -> dict[str, torch.Tensor]:
    """Central differences of the exact mean log-likelihood (partition function by enumeration)."""
    grads = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            g = torch.zeros_like(p)
            flat, gflat = p.view(-1), g.view(-1)
            for i in range(flat.numel()):
                old = flat[i].item()
                flat[i] = old + eps
                up = log_likelihood_exact(model, data).mean()
                flat[i] = old - eps
                down = log_likelihood_exact(model, data).mean()
                flat[i] = old
                gflat[i] = (up - down) / (2 * eps)
            grads[name] = g
    return grads


def test_exact_likelihood_is_normalised():
    model = tiny_disbm()
    every_v = ((torch.arange(16)[:, None] >> torch.arange(4)) & 1).double()
    with torch.no_grad():
        assert torch.logsumexp(log_likelihood_exact(model, every_v), 0).item() == pytest.approx(0.0, abs=1e-9)
        assert torch.isfinite(log_partition_exact(model))


def test_cd_gradient_matches_the_exact_log_likelihood_gradient():
    """With an unbiased positive phase (Gibbs with v clamped) and long chains, the CD estimate that
    the training step back-propagates is the log-likelihood gradient, up to Monte-Carlo error."""
    model = tiny_disbm(cd_k=15, positive="gibbs", positive_gibbs_steps=15)
    exact = numerical_gradient(model, DATA)
    x = DATA.repeat_interleave(4000, 0).view(-1, 1, 2, 2)
    model.zero_grad()
    model.training_step(x, 0, torch.Generator().manual_seed(0))["loss"].backward()
    for name, p in model.named_parameters():
        estimate = -p.grad  # the step minimises the surrogate: its gradient is −∇ log p
        assert exact[name].abs().max() > 0.05  # a gradient worth comparing
        np.testing.assert_allclose(estimate.numpy(), exact[name].numpy(), atol=0.025, err_msg=name)


def blobs(n: int = 40, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    frames = np.zeros((n, size, size, 1), np.uint8)
    for i, (x, y) in enumerate(rng.integers(0, size - 4, (n, 2))):
        frames[i, y:y + 4, x:x + 4] = 255
    return frames


def test_disbm_trains_checkpoints_and_reloads(tmp_path):
    frames = blobs()
    path = vision.fit(frames, "disbm", tmp_path / "m", steps=4, batch_size=8, z_dim=6, m_units=2, rank=16,
                      persistent=True, **FAST)
    model = vision.load_model(path, expect_method="disbm")
    assert model.group_sizes == (4, 2) and bool(model.filled)  # PCD chains travel in the checkpoint
    codes = vision.load_encoder(path).encode(frames[:5])
    with torch.no_grad():
        direct = model.representation(to_model_input(frames[:5])).numpy()
    np.testing.assert_allclose(codes, direct, rtol=1e-5, atol=1e-6)
    assert codes.shape == (5, 6) and ((codes >= 0) & (codes <= 1)).all()  # activation means
    with torch.no_grad():
        assert model.decode(torch.as_tensor(codes)).shape == (5, 1, 16, 16)  # full resolution
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert np.isfinite(summary["pixel_mse"])


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_disbm_starts_its_visible_biases_at_the_data(likelihood):
    """Pixel (0, 0) is on in a quarter of the frames, the rest always off: binary units start at
    logit(1/4) there and at the clamp's floor elsewhere; Gaussian units start at the mean."""
    frames = np.zeros((8, 4, 4, 1), np.uint8)
    frames[:2, 0, 0] = 255
    model = DisBM(DisBM.Config(z_dim=2, rank=2, downsample=1, likelihood=likelihood), (4, 4, 1))
    model.initialize(frames)
    expect = np.zeros(16)
    expect[0] = 0.25
    if likelihood == "bernoulli":
        expect = np.log(np.clip(expect, 1e-3, 1) / (1 - np.clip(expect, 1e-3, 1)))
    np.testing.assert_allclose(model.b_v.detach().numpy(), expect, rtol=1e-5)
    if likelihood == "bernoulli":
        with torch.no_grad():  # hidden units off: the reconstruction is the data's mean frame
            assert torch.sigmoid(model.decode(torch.zeros(1, 2)))[0, 0, 0, 0].item() == pytest.approx(0.25)


@pytest.mark.parametrize("frames, message", [
    (np.zeros((10, 8), np.float32), "must be a uint8 array"),
    (np.zeros((10, 16, 16, 1), np.float32), "must be uint8"),
])
def test_disbm_refuses_non_image_data(frames, message, tmp_path):
    with pytest.raises(FrameShapeError, match=message):
        vision.fit(frames, "disbm", tmp_path / "m", steps=1, **FAST)
    assert not (tmp_path / "m" / "checkpoint.pt").exists()


def test_disbm_refuses_settings_it_cannot_use(tmp_path):
    with pytest.raises(ConfigError, match="downsample=3"):
        vision.fit(blobs(), "disbm", tmp_path / "m", steps=1, downsample=3, **FAST)
    with pytest.raises(ConfigError, match="m_units=8"):
        vision.fit(blobs(), "disbm", tmp_path / "m", steps=1, z_dim=8, m_units=8, **FAST)


# ----- ICF ---------------------------------------------------------------------------------------

class Squares(FactorSpace):
    """A 3×3 white square on a 16×16 frame at (x, y) ∈ 8 × 8: two factors, one action pair each."""

    def __init__(self):
        super().__init__([Factor("x", 8), Factor("y", 8)], (16, 16, 1))

    def render(self, factors: np.ndarray) -> np.ndarray:
        out = np.zeros((len(factors), 16, 16, 1), np.uint8)
        for i, (x, y) in enumerate(np.asarray(factors)):
            out[i, 2 * y:2 * y + 3, 2 * x:2 * x + 3] = 255
        return out


def test_selectivity_is_each_latents_share_of_the_change():
    z = torch.zeros(3, 3)
    z_next = torch.tensor([[2.0, 0.0, 0.0], [1.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    sel = selectivity(z, z_next, torch.tensor([0, 2, 1]))
    np.testing.assert_allclose(sel.numpy(), [1.0, 0.5, 0.0], atol=1e-5)


def test_factor_walk_moves_exactly_one_factor():
    env = FactorWalkEnv(Squares(), episode_length=5)
    _, info = env.reset(seed=0)
    for action in range(4):
        before = info["factors"]
        _, reward, _, _, info = env.step(action)
        k, up = divmod(action, 2)
        expected = before.copy()
        expected[k] = min(max(before[k] + (1 if up else -1), 0), 7)
        assert reward == 0.0 and (info["factors"] == expected).all()


def test_dsprites_walk_is_a_conformant_env_over_dsprites_frames():
    import gymnasium
    from gymnasium.utils.env_checker import check_env

    import envs

    env = gymnasium.make("darla/dSpritesWalk-v0")
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    space = envs.make_factor_space("darla/dSpritesWalk-v0")
    assert env.action_space.n == 2 * space.num_factors
    np.testing.assert_array_equal(obs, envs.make_factor_space("dsprites").render(info["factors"][None])[0])


def one_factor_moves(space: Squares, n: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Frames of ``n`` random states, and for each factor the frames after moving it by one."""
    factors = space.sample(n, np.random.default_rng(seed))
    moved = []
    for k in range(2):
        g = factors.copy()
        g[:, k] = np.where(g[:, k] < 7, g[:, k] + 1, g[:, k] - 1)
        moved.append(space.render(g))
    return space.render(factors), moved


def change_shares(encode, space: Squares) -> np.ndarray:
    """[latent, factor]: each latent's mean |Δz| when one factor moves by one, split over the factors."""
    frames, moved = one_factor_moves(space, 300, seed=1)
    changes = np.stack([np.abs(encode(m) - encode(frames)).mean(0) for m in moved], 1)
    return changes / changes.sum(1, keepdims=True)


def test_selectivity_gradient_separates_the_latents_of_two_factors():
    """Transitions where latent 0's rows move x and latent 1's rows move y: minimising the loss
    (reconstruction − λ·selectivity) makes each latent's change follow its own factor."""
    space = Squares()
    torch.manual_seed(0)
    model = ICF(ICF.Config(z_dim=2, actions=4, lr=1e-3, selectivity_weight=1e4), (16, 16, 1))
    optimizers = model.configure_optimizers()
    frames, moved = one_factor_moves(space, 64, seed=0)
    x = to_model_input(np.concatenate([frames[:32], frames[32:]]))
    x_next = to_model_input(np.concatenate([moved[0][:32], moved[1][32:]]))
    k = torch.tensor([0] * 32 + [1] * 32)
    a = torch.tensor([1] * 32 + [3] * 32)
    encode = lambda f: model.representation(to_model_input(f)).detach().numpy()  # noqa: E731
    before = change_shares(encode, space)
    for step in range(60):
        losses = model.transition_step(x, x_next, k, a, step, torch.Generator().manual_seed(step))
        model.update(losses, optimizers)
    after = change_shares(encode, space)
    assert np.diag(after).min() > 0.6 and np.diag(after).min() > np.diag(before).min() + 0.08, (before, after)


@pytest.mark.slow
def test_icf_latents_align_with_the_factors_its_actions_move(tmp_path):
    """Trained by acting (its policies choose the actions): each latent's policy moves one factor,
    a different one each, and that latent's change follows that factor (400 steps, ~1-2 min)."""
    space = Squares()
    path = vision.fit_env(lambda i: FactorWalkEnv(space, episode_length=20), "icf", tmp_path / "icf", steps=400,
                          z_dim=2, lr=1e-3, reference=256, **FAST)
    model = vision.load_model(path)
    frames, _ = one_factor_moves(space, 300, seed=1)
    with torch.no_grad():
        probs = torch.softmax(model.policy_logits(model.representation(to_model_input(frames))), -1).mean(0)
    per_factor = probs.view(2, 2, 2).sum(-1).numpy()  # [latent, factor]: mass on the factor's action pair
    chosen = per_factor.argmax(1)
    assert per_factor.max(1).min() > 0.9 and set(chosen) == {0, 1}, per_factor
    share = change_shares(vision.load_encoder(path).encode, space)
    assert share[[0, 1], chosen].min() > 0.6, (per_factor, share)


def test_icf_given_a_frame_file_says_it_needs_an_env_id(tmp_path, capsys):
    from darla.cli import main

    with pytest.raises(ConfigError, match="needs an env id"):
        vision.fit(blobs(), "icf", tmp_path / "a", steps=1, **FAST)
    frames = tmp_path / "frames.h5"
    frames.write_bytes(b"not read")
    assert main(["see", "--data", str(frames), "--method", "icf", "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "needs an env id" in err and "--env" in err
    assert not (tmp_path / "b").exists()
    assert main(["see", "--env", "darla/Room-v1", "--method", "beta_vae", "--out", str(tmp_path / "c")]) == 1
    assert "learns from frames" in capsys.readouterr().err


def test_icf_refuses_continuous_actions(tmp_path):
    import gymnasium

    class Continuous(FactorWalkEnv):
        def __init__(self):
            super().__init__(Squares())
            self.action_space = gymnasium.spaces.Box(-1, 1, (2,))

    with pytest.raises(ConfigError, match="Discrete action space"):
        vision.fit_env(lambda i: Continuous(), "icf", tmp_path / "icf", steps=1, reference=8, **FAST)


def test_icf_checkpoint_round_trip_and_resume(tmp_path):
    space = Squares()
    make = lambda i: FactorWalkEnv(space, episode_length=10)  # noqa: E731
    path = vision.fit_env(make, "icf", tmp_path / "icf", steps=3, z_dim=2, batch_size=4, reference=16, **FAST)
    model = vision.load_model(path, expect_method="icf")
    assert model.config.actions == 4  # read from the env and recorded
    frames = space.render(space.sample(6, np.random.default_rng(1)))
    codes = vision.load_encoder(path).encode(frames)
    with torch.no_grad():
        np.testing.assert_allclose(codes, model.representation(to_model_input(frames)).numpy(), rtol=1e-5, atol=1e-6)
    # resuming to more steps continues from the checkpoint; other hyperparameters are refused
    path = vision.fit_env(make, "icf", tmp_path / "icf", steps=5, z_dim=2, batch_size=4, reference=16, **FAST)
    assert torch.load(path, weights_only=True)["step"] == 5
    with pytest.raises(vision.CheckpointError, match="other hyperparameters"):
        vision.fit_env(make, "icf", tmp_path / "icf", steps=6, z_dim=2, batch_size=4, reference=16,
                       selectivity_weight=1.0, **FAST)


def test_darla_methods_lists_both_with_their_papers(capsys):
    from darla.cli import main

    assert main(["methods", "disbm"]) == 0 and main(["methods", "icf"]) == 0
    text = capsys.readouterr().out
    assert "Reed, Sohn, Zhang & Lee 2014" in text and "Manifold Interaction" in text and "cd_k" in text
    assert "Thomas, Pondard, Bengio et al. 2017" in text and "selectivity_weight" in text
