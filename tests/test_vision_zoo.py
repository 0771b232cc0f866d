"""The vision zoo: the mathematics of each method (estimators, schedules, covariances, gradient
routing), its bad-input errors, and one smoke test that trains every registered method, checkpoints,
reloads and encodes. Tiny inputs; a few seconds per test."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import vision
from vision.data import to_model_input
from vision.losses import kl_normal
from vision import checkpoint
from vision.methods._samplers import OneFactorSampler
from vision.methods.beta_tcvae import decompose_kl, log_importance_weights
from vision.methods.dc_ign import ClampToMean, latent_groups
from vision.methods.guided_vae import orthogonality_penalty, uniform_cross_entropy
from vision.methods.dip_vae import dip_covariance, dip_penalty
from vision.methods.factor_vae import permute_dims
from vision.methods.infogan import mutual_information_bound

torch.set_num_threads(1)

SHAPE = (32, 32, 1)
FAST = dict(batch_size=16, device="cpu", threads=1, log_every=5, image_every=1000, checkpoint_every=1000,
            progress=False, tensorboard=False)


def blobs(n: int = 48, seed: int = 0, size: int = 32):
    """Binary frames of a square whose x, y and side are three independent factors (int [n, 3])."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, 4, n), rng.integers(0, 4, n), rng.integers(0, 3, n)], axis=1)
    frames = np.zeros((n, size, size, 1), np.uint8)
    for i, (x, y, s) in enumerate(factors):
        side = 6 + 3 * s
        frames[i, 2 + 5 * y:2 + 5 * y + side, 2 + 5 * x:2 + 5 * x + side] = 255
    return frames, factors


@pytest.fixture(scope="module")
def data():
    return blobs()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----- CCI-VAE ----------------------------------------------------------------------------------------

def test_cci_capacity_rises_linearly_then_holds():
    cls = vision.methods.get("cci_vae")
    model = cls(cls.Config(z_dim=4, c_max=20.0, c_steps=100, gamma=1000.0), SHAPE)
    assert [model.capacity(s) for s in (0, 25, 50, 100, 400)] == pytest.approx([0.0, 5.0, 10.0, 20.0, 20.0])
    # γ·|KL − C|: below and above the capacity
    assert model.regularizer(torch.tensor(4.0), None, None, None, 50).item() == pytest.approx(1000 * 6.0)
    assert model.regularizer(torch.tensor(13.0), None, None, None, 50).item() == pytest.approx(1000 * 3.0)
    # c_steps = 0: a third of the run, capped at the paper's 100k steps
    assert cls.Config(steps=3000).ramp_steps() == 1000
    assert cls.Config(steps=300_000).ramp_steps() == 100_000
    assert cls.Config(steps=900_000).ramp_steps() == 100_000
    assert cls.Config().gamma == 1000.0 and cls.Config().c_max == 25.0


def test_cci_step_logs_the_capacity_and_uses_it(data):
    cls = vision.methods.get("cci_vae")
    model = cls(cls.Config(z_dim=4, c_max=10.0, c_steps=10), SHAPE)
    out = model.training_step(to_model_input(data[0][:8]), 5, gen())
    assert out["capacity"].item() == pytest.approx(5.0)
    assert out["regulariser"].item() == pytest.approx(1000.0 * abs(out["kl"].item() - 5.0), rel=1e-5)
    assert out["loss"].item() == pytest.approx(out["reconstruction"].item() + out["regulariser"].item(), rel=1e-5)


# ----- β-TCVAE ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_tc_weight_rows_are_distributions_with_own_weight(estimator):
    n, b = 1000, 8
    w = log_importance_weights(b, n, estimator, dtype=torch.float64).exp()
    assert torch.allclose(w.sum(1), torch.ones(b, dtype=torch.float64), atol=1e-6)
    if estimator == "mss":
        assert torch.allclose(torch.diagonal(w), torch.full((b,), 1 / n, dtype=torch.float64))
        m = b - 1
        strat = (w - (n - m) / (n * m)).abs() < 1e-12
        assert strat.sum(1).tolist() == [1] * b  # one stratum weight in every row (the PR #1 bug: two or none)
        assert torch.equal(strat.sum(0), torch.ones(b, dtype=torch.long))


def _gaussian_batch(mu, sigma, generator):
    logvar = torch.full_like(mu, 2 * math.log(sigma))
    z = mu + sigma * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return z, logvar


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_tc_terms_sum_to_the_monte_carlo_kl(estimator):
    g = gen(1)
    mu = torch.randn(512, 5, generator=g, dtype=torch.float64) * 1.5
    logvar = torch.randn(512, 5, generator=g, dtype=torch.float64) * 0.3 - 1.0
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g, dtype=torch.float64)
    t = decompose_kl(z, mu, logvar, 10_000, estimator)
    monte_carlo = (t["log_qz_given_x"] - t["log_pz"]).mean()
    assert (t["mi"] + t["tc"] + t["dim_kl"]).item() == pytest.approx(monte_carlo.item(), abs=1e-9)
    # ... and that Monte-Carlo KL estimates the closed form (one sample per frame, 512 frames)
    assert monte_carlo.item() == pytest.approx(kl_normal(mu, logvar).sum(1).mean().item(), rel=0.05)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_tc_is_zero_for_independent_latents_and_right_for_dependent_ones(estimator):
    """Posterior means N(0, I), σ = 0.5: q(z) is near N(0, 1.25 I) and TC ≈ 0. Tying three latents
    together (z1 = z0, z2 = −z0) gives q(z) ≈ N(0, Σ) with TC = ½(Σ log Σ_ii − log det Σ) ≈ 1.13."""
    n, m = 4096, 1024
    g = gen(2)
    mu = torch.randn(n, 4, generator=g, dtype=torch.float64)
    tied = mu.clone()
    tied[:, 1], tied[:, 2] = tied[:, 0], -tied[:, 0]
    cov = torch.tensor([[1.25, 1, -1], [1, 1.25, -1], [-1, -1, 1.25]], dtype=torch.float64)
    expected = 0.5 * (torch.log(torch.diagonal(cov)).sum() - torch.logdet(cov)).item()
    independent, dependent = [], []
    for rep in range(3):
        idx = torch.randperm(n, generator=g)[:m]
        for source, out in ((mu, independent), (tied, dependent)):
            z, logvar = _gaussian_batch(source[idx], 0.5, g)
            out.append(decompose_kl(z, source[idx], logvar, n, estimator)["tc"].item())
    assert abs(np.mean(independent)) < 0.1, independent
    assert np.mean(dependent) == pytest.approx(expected, abs=0.12), (dependent, expected)


def test_mss_estimate_of_q_z_is_unbiased_given_the_frames_own_posterior():
    """With the frame n* fixed at row i and the other batch members drawn uniformly, the average of
    q̂(z) over batches is the exact aggregate posterior 1/N Σ_n q(z|x_n). MWS (own weight 1/M) is not."""
    n, b = 40, 6
    g = gen(3)
    mu = torch.randn(n, 2, generator=g, dtype=torch.float64)
    logvar = torch.full((n, 2), math.log(0.3), dtype=torch.float64)
    own, row = 7, 2
    z = mu[own] + 0.1  # a code its own posterior explains well, as in training
    exact = torch.logsumexp(
        (-0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp())).sum(1), 0).exp().item() / n
    others = torch.tensor([k for k in range(n) if k != own])
    estimates = {"mss": [], "mws": []}
    for _ in range(2500):
        idx = others[torch.randperm(n - 1, generator=g)[:b - 1]].tolist()
        idx.insert(row, own)
        zs = z.expand(b, 2)
        for est in estimates:
            estimates[est].append(decompose_kl(zs, mu[idx], logvar[idx], n, est)["log_qz"][row].exp().item())
    assert np.mean(estimates["mss"]) == pytest.approx(exact, rel=0.03)
    assert abs(np.mean(estimates["mws"]) / exact - 1) > 0.1  # the frame's own term overweighted


def test_tc_estimators_use_logsumexp_and_stay_finite_for_sharp_posteriors():
    mu = torch.tensor([[0.0, 0.0], [30.0, -30.0], [60.0, 10.0]])
    logvar = torch.full_like(mu, -20.0)  # σ ≈ 5e-5: every cross density underflows exp()
    t = decompose_kl(mu.clone(), mu, logvar, 100, "mss")
    assert all(torch.isfinite(t[k]).all() for k in ("mi", "tc", "dim_kl"))
    # each code is only explained by its own frame: log q(z_i) = log(1/N) + log q(z_i|x_i)
    assert torch.allclose(t["log_qz"], t["log_qz_given_x"] - math.log(100), atol=1e-3)


def test_beta_tcvae_weights_only_the_terms_they_name(data):
    cls = vision.methods.get("beta_tcvae")
    x = to_model_input(data[0][:16])
    torch.manual_seed(0)
    base = cls(cls.Config(z_dim=4, alpha=1.0, beta=1.0, gamma=1.0, dataset_size=48), SHAPE)
    weighted = copy.deepcopy(base)
    weighted.config = cls.Config(z_dim=4, alpha=2.0, beta=6.0, gamma=0.5, dataset_size=48)
    a = base.training_step(x, 0, gen())
    b = weighted.training_step(x, 0, gen())
    assert b["alpha_mi"].item() == pytest.approx(2.0 * a["alpha_mi"].item(), rel=1e-5)
    assert b["beta_tc"].item() == pytest.approx(6.0 * a["beta_tc"].item(), rel=1e-5)
    assert b["gamma_dim_kl"].item() == pytest.approx(0.5 * a["gamma_dim_kl"].item(), rel=1e-5)
    assert cls.Config().beta == 6.0 and cls.Config().alpha == cls.Config().gamma == 1.0


def test_beta_tcvae_takes_the_dataset_size_from_the_frames(data, tmp_path):
    path = vision.fit(data[0], "beta_tcvae", tmp_path, steps=2, z_dim=4, **FAST)
    assert vision.load_model(path).config.dataset_size == len(data[0])


# ----- FactorVAE --------------------------------------------------------------------------------------------

def test_permutation_keeps_each_marginal_and_breaks_dependence():
    g = gen(4)
    base = torch.randn(2000, 1, generator=g)
    z = torch.cat([base, 2 * base + 1, -base], dim=1)  # fully dependent dimensions
    p = permute_dims(z, gen(5))
    assert torch.equal(torch.sort(p, 0).values, torch.sort(z, 0).values)  # same multiset per column
    assert not torch.equal(p, z)
    corr = torch.corrcoef(p.T)
    assert corr[0, 1].abs() < 0.1 and corr[0, 2].abs() < 0.1 and corr[1, 2].abs() < 0.1
    assert torch.corrcoef(z.T)[0, 1] > 0.999


def test_factor_vae_gradients_reach_only_their_own_networks(data):
    cls = vision.methods.get("factor_vae")
    torch.manual_seed(0)
    model = cls(cls.Config(z_dim=4, disc_width=32, disc_layers=2, gamma=10.0), SHAPE)
    x = to_model_input(data[0][:16])
    # expected: D's gradient from its own loss alone; the encoder's from the VAE loss alone
    ref = copy.deepcopy(model)
    out = ref.training_step(x, 0, gen())
    d_expected = torch.autograd.grad(out["discriminator"], list(ref.discriminator.parameters()), retain_graph=True)
    enc_expected = torch.autograd.grad(out["loss"], list(ref.encoder.parameters()))
    # the D loss does not depend on the encoder at all (detached codes)
    assert all(g is None for g in torch.autograd.grad(
        ref.training_step(x, 0, gen())["discriminator"], list(ref.encoder.parameters()), allow_unused=True))
    optimizers = model.configure_optimizers()
    with torch.autograd.set_detect_anomaly(True):  # no in-place modification of a needed tensor
        losses = model.training_step(x, 0, gen())
        before = copy.deepcopy(model.state_dict())
        model.update(losses, optimizers)
    for p, expected in zip(model.discriminator.parameters(), d_expected):
        assert torch.allclose(p.grad, expected, atol=1e-6)
    for p, expected in zip(model.encoder.parameters(), enc_expected):
        assert torch.allclose(p.grad, expected, atol=1e-6)
    after = model.state_dict()
    assert not torch.equal(before["discriminator.net.0.weight"], after["discriminator.net.0.weight"])
    assert not torch.equal(before["encoder.net.0.weight"], after["encoder.net.0.weight"])
    assert set(optimizers) == {"model", "discriminator"}
    assert not any(p is q for p in optimizers["model"].param_groups[0]["params"]
                   for q in model.discriminator.parameters())


def test_factor_vae_tc_term_is_the_discriminators_log_ratio(data):
    cls = vision.methods.get("factor_vae")
    model = cls(cls.Config(z_dim=4, disc_width=16, disc_layers=1, gamma=7.0), SHAPE)
    out = model.training_step(to_model_input(data[0][:8]), 0, gen())
    mu, logvar = model.encode(to_model_input(data[0][:8]))
    z = model.sample(mu, logvar, gen())
    logits = model.discriminator(z)
    assert out["tc"].item() == pytest.approx((logits[:, 0] - logits[:, 1]).mean().item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(
        out["reconstruction"].item() + out["kl"].item() + 7.0 * out["tc"].item(), rel=1e-5)


# ----- DIP-VAE ------------------------------------------------------------------------------------------------

def test_dip_covariances_match_a_hand_computed_case():
    mu = torch.tensor([[1.0, 2.0], [3.0, 0.0], [-1.0, 1.0], [1.0, -3.0]])
    var = torch.tensor([[1.0, 0.5], [0.5, 0.5], [1.0, 1.0], [0.5, 2.0]])
    # mean (1, 0); centred rows (0, 2), (2, 0), (−2, 1), (0, −3); Cov = Σ c cᵀ / 4
    cov_i = torch.tensor([[2.0, -0.5], [-0.5, 3.5]])
    # DIP-II adds the average of the per-sample diagonal covariances diag(σ²): (0.75, 1.0)
    cov_ii = torch.tensor([[2.75, -0.5], [-0.5, 4.5]])
    assert torch.allclose(dip_covariance(mu, var.log(), "i"), cov_i)
    assert torch.allclose(dip_covariance(mu, var.log(), "ii"), cov_ii)
    # λ_od · 2·0.5² + λ_d · ((2.75 − 1)² + (4.5 − 1)²)
    assert dip_penalty(cov_ii, 10.0, 5.0).item() == pytest.approx(10 * 0.5 + 5 * (1.75 ** 2 + 3.5 ** 2))
    assert dip_penalty(torch.eye(3), 10.0, 100.0).item() == 0.0


def test_dip_default_diagonal_weights_and_regulariser(data):
    cls = vision.methods.get("dip_vae")
    assert cls.Config(variant="i", lambda_od=3.0).diagonal_weight() == 30.0
    assert cls.Config(variant="ii", lambda_od=3.0).diagonal_weight() == 3.0
    assert cls.Config(variant="ii", lambda_od=3.0, lambda_d=0.0).diagonal_weight() == 0.0
    model = cls(cls.Config(z_dim=3, variant="ii", lambda_od=2.0), SHAPE)
    out = model.training_step(to_model_input(data[0][:8]), 0, gen())
    mu, logvar = model.encode(to_model_input(data[0][:8]))
    expected = dip_penalty(dip_covariance(mu, logvar, "ii"), 2.0, 2.0)
    assert out["dip"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert out["kl_term"].item() == pytest.approx(out["kl"].item(), rel=1e-6)


# ----- InfoGAN ----------------------------------------------------------------------------------------------

def test_infogan_bound_reaches_the_code_entropy_at_its_maximum():
    n, k = 1000, 10
    codes = torch.arange(n) % k
    perfect = 50.0 * torch.nn.functional.one_hot(codes, k).float()  # Q recovers c
    assert mutual_information_bound(perfect, codes, None, None).item() == pytest.approx(math.log(10), abs=1e-6)
    assert math.log(10) == pytest.approx(2.30, abs=0.01)  # the paper's plateau for a 10-way code
    assert mutual_information_bound(torch.zeros(n, k), codes, None, None).item() == pytest.approx(0.0, abs=1e-6)
    noisy = torch.randn(n, k, generator=gen(6)) * 3
    assert mutual_information_bound(noisy, codes, None, None).item() < math.log(10)
    # continuous codes, unit-variance Q: E log Q + H(U(−1, 1)) per code, maximal at exact recovery
    c = torch.rand(n, 2, generator=gen(7)) * 2 - 1
    at_max = 2 * (math.log(2.0) - 0.5 * math.log(2 * math.pi))
    assert mutual_information_bound(None, None, c, c).item() == pytest.approx(at_max, abs=1e-6)
    assert mutual_information_bound(None, None, c + 0.5, c).item() < at_max


def test_infogan_q_learns_the_categorical_code():
    """Trained on the information term alone, G and Q raise the categorical part of L_I from 0
    (Q guesses) towards its maximum H(c) = log 3."""
    cls = vision.methods.get("infogan")
    torch.manual_seed(0)
    model = cls(cls.Config(z_dim=1, categories=3, noise_dim=2), (16, 16, 1))

    def categorical_bound():
        g = gen(123)
        cats = torch.arange(300) % 3
        with torch.no_grad():
            inputs = model.generator_input(torch.randn(300, 2, generator=g), cats, torch.rand(300, 1, generator=g) * 2 - 1)
            logits, _ = model._q(model._features(torch.sigmoid(model.generator(inputs))))
        return mutual_information_bound(logits, cats, None, None).item()

    before = categorical_bound()
    opt = torch.optim.Adam(list(model.generator.parameters()) + list(model.q_head.parameters())
                           + list(model.trunk.parameters()), lr=3e-3)
    x = torch.zeros(32, 1, 16, 16)  # real frames only enter the discriminator's loss, unused here
    for step in range(60):
        out = model.training_step(x, step, gen(step))
        opt.zero_grad()
        out["info"].backward()
        opt.step()
    after = categorical_bound()
    assert abs(before) < 0.05 and 0.3 < after <= math.log(3), (before, after)


def test_infogan_routes_each_players_gradient(data):
    cls = vision.methods.get("infogan")
    torch.manual_seed(0)
    model = cls(cls.Config(z_dim=2, categories=3, noise_dim=4), SHAPE)
    x = to_model_input(data[0][:8])
    ref = copy.deepcopy(model)
    out = ref.training_step(x, 0, gen())
    d_params = list(ref.trunk.parameters()) + list(ref.d_head.parameters())
    d_expected = torch.autograd.grad(out["discriminator"] + out["info"], d_params, retain_graph=True)
    g_expected = torch.autograd.grad(out["generator"] + out["info"], list(ref.generator.parameters()))
    optimizers = model.configure_optimizers()
    with torch.autograd.set_detect_anomaly(True):
        model.update(model.training_step(x, 0, gen()), optimizers)
    for p, e in zip(list(model.trunk.parameters()) + list(model.d_head.parameters()), d_expected):
        assert torch.allclose(p.grad, e, atol=1e-6)
    for p, e in zip(model.generator.parameters(), g_expected):
        assert torch.allclose(p.grad, e, atol=1e-6)
    # the representation is Q's continuous-code mean
    with torch.no_grad():
        mean = model.encode(x)[0]
    assert mean.shape == (8, 2) and model.latent_dim == 2


# ----- DC-IGN ---------------------------------------------------------------------------------------------------

def test_clamp_to_mean_forward_and_invariance_gradient_on_a_tiny_graph():
    z = torch.tensor([[1.0, 2.0, 5.0], [3.0, 6.0, -1.0]], requires_grad=True)
    clamped = torch.tensor([False, True, True])
    out = ClampToMean.apply(z, clamped, 0.5)
    assert torch.equal(out.detach(), torch.tensor([[1.0, 4.0, 2.0], [3.0, 4.0, 2.0]]))
    upstream = torch.tensor([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    out.backward(upstream)
    # free latent: the decoder's gradient; clamped ones: 0.5 · (z − mean) / n, whatever came from above
    expected = torch.tensor([[10.0, 0.5 * -2.0 / 2, 0.5 * 3.0 / 2], [40.0, 0.5 * 2.0 / 2, 0.5 * -3.0 / 2]])
    assert torch.allclose(z.grad, expected)
    # the invariance gradient is that of weight · ½ · mean_i ‖z_i − z̄‖² over the clamped latents
    z2 = z.detach().clone().requires_grad_(True)
    (0.5 * 0.5 * (z2 - z2.mean(0))[:, 1:].pow(2).sum(1).mean()).backward()
    assert torch.allclose(z2.grad[:, 1:], expected[:, 1:])


def test_one_factor_batches_vary_exactly_one_factor_with_the_configured_ratio(data):
    _, factors = data
    sampler = OneFactorSampler(factors, [1.0, 0.0, 3.0])
    kinds = []
    for step in range(400):
        col, idx = sampler.draw(0, step, 8)
        varying = np.flatnonzero((factors[idx] != factors[idx[0]]).any(0))
        assert varying.tolist() == [col], (col, factors[idx])
        kinds.append(col)
    counts = np.bincount(kinds, minlength=3)
    assert counts[1] == 0 and 0.68 < counts[2] / 400 < 0.82, counts
    assert np.array_equal(sampler.draw(0, 17, 8)[1], OneFactorSampler(factors, [1.0, 0.0, 3.0]).draw(0, 17, 8)[1])
    with pytest.raises(vision.ConfigError, match="batch_weights has 2 entries but the data has 3 factors"):
        OneFactorSampler(factors, [1.0, 1.0])
    unique = np.array([[0, 0], [1, 1], [2, 2]])  # no two rows differ in one factor only
    with pytest.raises(vision.ConfigError, match="no two frames differ in exactly one factor"):
        OneFactorSampler(unique)


def test_dc_ign_clamps_all_but_the_varying_factors_latents(data):
    frames, factors = data
    cls = vision.methods.get("dc_ign")
    model = cls(cls.Config(z_dim=7, num_factors=3), SHAPE)
    assert [g.tolist() for g in latent_groups(7, 3)] == [[0, 1, 2], [3, 4], [5, 6]]
    sampler = OneFactorSampler(factors)
    col, idx = next((c, i) for c, i in (sampler.draw(0, s, 8) for s in range(50)) if c == 1)
    y = torch.as_tensor(factors[idx])
    assert model.clamp_mask(y).tolist() == [True, True, True, False, False, True, True]
    x = to_model_input(frames[idx])
    out = model.training_step(x, 0, gen(), factors=y)
    mu, logvar = model.encode(x)
    z = model.sample(mu, logvar, gen())
    z[:, [0, 1, 2, 5, 6]] = z[:, [0, 1, 2, 5, 6]].mean(0)
    assert out["reconstruction"].item() == pytest.approx(model.reconstruction_loss(x, model.decode(z)).item(), rel=1e-5)
    mixed = torch.as_tensor(factors[:8])
    with pytest.raises(vision.ConfigError, match="must vary one factor"):
        model.training_step(to_model_input(frames[:8]), 0, gen(), factors=mixed)


def test_dc_ign_without_factors_gets_a_clear_error(data, tmp_path):
    frames, factors = data
    with pytest.raises(vision.ConfigError, match=r"dc_ign needs the ground-truth factors.*factors=FACTORS"):
        vision.fit(frames, "dc_ign", tmp_path, steps=1, **FAST)
    with pytest.raises(vision.FrameShapeError, match="one row per frame"):
        vision.fit(frames, "dc_ign", tmp_path, steps=1, factors=factors[:10], **FAST)
    with pytest.raises(vision.ConfigError, match="z_dim=2 is smaller than the 3 factors"):
        vision.fit(frames, "dc_ign", tmp_path, steps=1, factors=factors, z_dim=2, **FAST)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_dc_ign_resume_equals_uninterrupted(data, tmp_path):
    """Its batches are a function of (seed, step), like the core's."""
    frames, factors = data
    kw = dict(FAST, checkpoint_every=3, z_dim=6, factors=factors)
    full = vision.fit(frames, "dc_ign", tmp_path / "full", steps=6, **kw)
    vision.fit(frames, "dc_ign", tmp_path / "cut", steps=3, **kw)
    resumed = vision.fit(frames, "dc_ign", tmp_path / "cut", steps=6, **kw)
    a, b = checkpoint.read(full)["model"], checkpoint.read(resumed)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_darla_see_hands_the_datasets_factors_to_dc_ign(data, tmp_path, capsys):
    from darla.cli import main
    from envs.dataset import DatasetWriter

    frames, factors = data

    def write(path, f):
        with DatasetWriter(path, len(frames), SHAPE, f.shape[1], {"env_id": "synthetic",
                                                                   "factor_names": ["x", "y", "side"]}) as w:
            w.write(frames, f, np.zeros(len(frames), np.int8))

    write(tmp_path / "blobs.h5", factors)
    args = ["see", "--data", str(tmp_path / "blobs.h5"), "--method", "dc_ign", "--out", str(tmp_path / "run"),
            "--no-progress", "steps=3", "z_dim=6", "device=cpu", "threads=1", "batch_weights=1,1,2"]
    assert main(args) == 0
    assert checkpoint.read(tmp_path / "run" / "checkpoint.pt")["config"]["num_factors"] == 3
    # a dataset whose frames never differ in one factor alone: no DC-IGN batch exists
    write(tmp_path / "diagonal.h5", np.repeat(np.arange(len(frames))[:, None], 3, axis=1))
    capsys.readouterr()
    assert main([*args[:2], str(tmp_path / "diagonal.h5"), *args[3:6], str(tmp_path / "run2"), *args[7:]]) == 1
    assert "no two frames differ in exactly one factor" in capsys.readouterr().err


# ----- Guided-VAE ---------------------------------------------------------------------------------------------

def test_guided_orthogonality_and_light_decoder():
    q, _ = torch.linalg.qr(torch.randn(6, 4, generator=gen(8)))
    assert orthogonality_penalty(q * torch.tensor([1.0, 3.0, 0.2, 5.0])).item() == pytest.approx(0.0, abs=1e-9)
    assert orthogonality_penalty(torch.ones(6, 2)).item() == pytest.approx(2.0, abs=1e-6)  # cos = 1, twice
    cls = vision.methods.get("guided_vae")
    model = cls(cls.Config(z_dim=5, geometric_latents=3), SHAPE)
    with torch.no_grad():
        model.template.copy_(torch.randn(model.template.shape, generator=gen(9)))
        at_identity = model.light_decode(torch.zeros(2, 3))  # θ = I: the template itself
        assert torch.allclose(at_identity, torch.sigmoid(model.template).expand(2, -1, -1, -1), atol=1e-5)
        model.affine.zero_()
        model.affine[2, 0] = 0.5  # z_0 shifts x: a different image
        assert not torch.allclose(model.light_decode(torch.tensor([[1.0, 0.0, 0.0]])), at_identity[:1], atol=1e-3)
    assert uniform_cross_entropy(torch.zeros(4, 5)).item() == pytest.approx(math.log(5))
    assert uniform_cross_entropy(torch.tensor([[9.0, 0, 0, 0, 0]])).item() > math.log(5)


def test_guided_supervised_excites_assigned_latents_and_inhibits_the_rest(data):
    frames, factors = data
    cls = vision.methods.get("guided_vae")
    torch.manual_seed(0)
    model = cls(cls.Config(z_dim=5, mode="supervised", factor_sizes="4,4,3", excitation=2.0, inhibition=3.0), SHAPE)
    x, y = to_model_input(frames[:16]), torch.as_tensor(factors[:16])
    ref = copy.deepcopy(model)
    out = ref.training_step(x, 0, gen(), factors=y)
    assert out["loss"].item() == pytest.approx(out["reconstruction"].item() + out["kl"].item()
                                               + 2.0 * out["excitation_ce"].item() + 3.0 * out["inhibition_ce"].item(), rel=1e-5)
    # the classifier for factor 1 reads latent 1 only; the adversary for factor 1 reads the other four
    assert ref.classifiers[1][0].in_features == 1 and ref.adversaries[1][0].in_features == 4
    adv_expected = torch.autograd.grad(out["adversary"], list(ref.adversaries.parameters()), retain_graph=True)
    enc_expected = torch.autograd.grad(out["loss"], list(ref.encoder.parameters()), retain_graph=True)
    # the inhibition term reaches the encoder (it is trained to defeat the adversaries)
    inhib = torch.autograd.grad(out["inhibition_ce"], list(ref.encoder.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in inhib)
    optimizers = model.configure_optimizers()
    with torch.autograd.set_detect_anomaly(True):
        model.update(model.training_step(x, 0, gen(), factors=y), optimizers)
    for p, e in zip(model.adversaries.parameters(), adv_expected):
        assert torch.allclose(p.grad, e, atol=1e-6)
    for p, e in zip(model.encoder.parameters(), enc_expected):
        assert torch.allclose(p.grad, e, atol=1e-5)


def test_guided_supervised_puts_each_factor_in_its_latent_and_keeps_it_out_of_the_rest():
    """On squares with independent x, y and size, excitation makes each assigned latent predict its
    factor while the adversaries, reading the other latents, stay near chance."""
    frames, factors = blobs(512, seed=1)
    cls = vision.methods.get("guided_vae")
    config = cls.with_factors(cls.Config(mode="supervised", z_dim=6, lr=1e-3), factors)
    assert config.factor_sizes == "4,4,3"
    torch.manual_seed(0)
    model = cls(config, SHAPE)
    optimizers = model.configure_optimizers()
    rng = np.random.default_rng(0)
    for step in range(200):
        idx = rng.choice(len(frames), 32, replace=False)
        out = model.training_step(to_model_input(frames[idx]), step, gen(step), factors=torch.as_tensor(factors[idx]))
        model.update(out, optimizers)
    chance = 2 * math.log(4) + math.log(3)
    with torch.no_grad():
        out = model.training_step(to_model_input(frames[:256]), 0, gen(), factors=torch.as_tensor(factors[:256]))
    assert out["excitation_accuracy"].item() > 0.9, out["excitation_accuracy"]
    assert out["adversary"].item() > 0.8 * chance, (out["adversary"], chance)


def test_guided_supervised_without_labels_gets_a_clear_error(data, tmp_path):
    frames, _ = data
    with pytest.raises(vision.ConfigError, match=r"mode=supervised needs labels.*factors=FACTORS"):
        vision.fit(frames, "guided_vae", tmp_path, steps=1, mode="supervised", **FAST)
    cls = vision.methods.get("guided_vae")
    with pytest.raises(vision.ConfigError, match="needs factor_sizes"):
        cls(cls.Config(mode="supervised"), SHAPE)
    # unsupervised needs no labels
    assert vision.fit(frames, "guided_vae", tmp_path / "u", steps=1, z_dim=4, **FAST).exists()


# ----- bad input --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, override, message", [
    ("beta_tcvae", {"beta": -1.0}, r"beta=-1.0 must be >= 0"),
    ("cci_vae", {"c_max": -5.0}, r"c_max=-5.0 must be >= 0"),
    ("cci_vae", {"z_dim": 0}, r"z_dim=0 must be >= 1"),
    ("factor_vae", {"gamma": -2.0}, r"gamma=-2.0 must be >= 0"),
    ("dip_vae", {"lambda_od": -1.0}, r"lambda_od=-1.0 must be >= 0"),
    ("dip_vae", {"variant": "iii"}, r"variant"),
    ("infogan", {"categories": 1}, r"categories=1 must be 0"),
    ("infogan", {"z_dim": 0}, r"z_dim=0 must be >= 1"),
])
def test_out_of_range_hyperparameters_get_a_clear_error(data, tmp_path, method, override, message):
    with pytest.raises(vision.ConfigError, match=message):
        vision.fit(data[0], method, tmp_path, steps=1, **FAST, **override)
    assert not (tmp_path / "checkpoint.pt").exists()


# ----- every method behind the one interface ---------------------------------------------------------------

@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("method", [m for m in vision.methods.names() if not vision.methods.get(m).interactive])
def test_every_method_trains_checkpoints_reloads_and_encodes(method, precision, data, tmp_path):
    frames, factors = data
    extra = {"factor_vae": {"disc_width": 64}, "beta_vae_dae": {"dae.steps": 2, "dae.batch_size": 16}}.get(method, {})
    path = vision.fit(frames, method, tmp_path / method, steps=3, lr=1e-3, factors=factors, precision=precision,
                      **FAST, **extra)
    model = vision.load_model(path)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # bf16 autocasts the pass, not the weights
    encoder = vision.load_encoder(path)
    codes = encoder.encode(frames[:6])
    assert codes.shape == (6, model.latent_dim) and np.isfinite(codes).all()
    with torch.no_grad():
        direct = model.representation(to_model_input(frames[:6])).numpy()
    np.testing.assert_allclose(codes, direct, rtol=1e-5, atol=1e-6)
    # the weights moved: a fresh model from the same seed encodes differently
    torch.manual_seed(model.config.seed)
    fresh = vision.methods.get(method)(model.config, SHAPE).eval()
    with torch.no_grad():
        assert not np.allclose(fresh.representation(to_model_input(frames[:6])).numpy(), direct)


def test_darla_methods_lists_the_zoo_with_papers_and_weights(capsys):
    from darla.cli import main

    assert main(["methods"]) == 0
    text = capsys.readouterr().out
    for name, paper, key in [("dc_ign", "Kulkarni et al. 2015", "batch_weights"),
                             ("guided_vae", "Ding et al. 2020", "excitation"),
                             ("cci_vae", "Burgess et al. 2018", "c_max"), ("beta_tcvae", "Chen et al. 2018", "estimator"),
                             ("factor_vae", "Kim & Mnih 2018", "gamma"), ("dip_vae", "Kumar et al. 2018", "lambda_od"),
                             ("infogan", "Chen et al. 2016", "lambda_info")]:
        block = text.split(f"{name}:", 1)[1].split("\n\n", 1)[0]
        assert paper in block and key in block, name


def test_beta_vae_rejects_a_negative_beta():
    from vision.errors import ConfigError
    with pytest.raises(ConfigError, match="beta"):
        vision.methods.get("beta_vae").Config(beta=-1.0).validate()
