"""Vision stage: methods learn, the DAE stays frozen, the loss convention holds, checkpoints round-trip,
resume equals an uninterrupted run, and bad input gets a clear error. Tiny synthetic frames only."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import torch

import vision
from vision import checkpoint
from vision.data import batch_indices, occlusion_mask, to_frames, to_model_input
from vision.images import TRAVERSAL_ANCHORS, latent_stats, tile, traversal_grid, traversal_order, traverse
from vision.losses import bernoulli_nll, gaussian_nll, kl_normal

torch.set_num_threads(1)

SHAPE = (32, 32, 3)
FAST = dict(batch_size=16, device="cpu", threads=1, log_every=5, image_every=1000, checkpoint_every=1000)


def rectangles(n: int = 64, seed: int = 0, shape=SHAPE) -> np.ndarray:
    """Coloured rectangles on a coloured background: a few independent factors. Channels are 0 or
    255, so the Bernoulli loss can fall towards 0 instead of stalling at the pixels' entropy."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    frames = np.empty((n, h, w, c), np.uint8)
    for i in range(n):
        frames[i] = rng.integers(0, 2, c) * 255
        y, x = rng.integers(0, h // 2, 2)
        frames[i, y:y + h // 2, x:x + w // 2] = rng.integers(0, 2, c) * 255
    return frames


@pytest.fixture(scope="module")
def frames():
    return rectangles()


def _state(path):
    return checkpoint.read(path)["model"]


# ----- the loss convention --------------------------------------------------------------------------

def test_kl_matches_closed_form_and_torch_distributions():
    mu = torch.tensor([[1.0, 0.0], [-2.0, 0.5]])
    logvar = torch.log(torch.tensor([[4.0, 1.0], [0.25, 2.0]]))
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, logvar.mul(0.5).exp()), torch.distributions.Normal(0.0, 1.0))
    assert torch.allclose(kl_normal(mu, logvar), expected, atol=1e-6)
    # μ = 1, σ² = 4: ½ (1 + 4 − ln 4 − 1)
    assert kl_normal(mu, logvar)[0, 0].item() == pytest.approx(0.5 * (4 - math.log(4)), abs=1e-6)
    assert kl_normal(torch.zeros(3, 5), torch.zeros(3, 5)).abs().max().item() == 0.0


def test_reconstruction_is_summed_over_pixels_and_averaged_over_batch():
    target = torch.rand(4, 3, 8, 8)
    logits = torch.randn(4, 3, 8, 8)
    per_pixel = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    assert bernoulli_nll(logits, target).item() == pytest.approx(per_pixel.sum((1, 2, 3)).mean().item(), rel=1e-5)
    sq = (torch.sigmoid(logits) - target).pow(2).sum((1, 2, 3)).mean()
    assert gaussian_nll(logits, target, sigma=0.5 ** 0.5).item() == pytest.approx(sq.item(), rel=1e-5)


def test_vae_step_terms_follow_the_convention(frames):
    cls = vision.methods.get("beta_vae")
    model = cls(cls.Config(beta=3.0), SHAPE)
    x = to_model_input(frames[:8])
    out = model.training_step(x, 0, torch.Generator().manual_seed(0))
    assert out["kl_per_latent"].shape == (32,)
    assert out["kl"].item() == pytest.approx(out["kl_per_latent"].sum().item(), rel=1e-6)
    assert out["regulariser"].item() == pytest.approx(3.0 * out["kl"].item(), rel=1e-6)
    assert out["loss"].item() == pytest.approx(out["reconstruction"].item() + out["regulariser"].item(), rel=1e-6)
    # summed over 32·32·3 pixels: an untrained decoder's BCE is about ln 2 per pixel, not per frame
    assert out["reconstruction"].item() > 0.3 * 32 * 32 * 3


def test_uint8_to_float_conversion_is_one_function():
    f = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3) * 2
    x = to_model_input(f)
    assert x.dtype == torch.float32 and x.shape == (2, 3, 4, 4)
    assert x[1, 2, 3, 1].item() == pytest.approx(f[1, 3, 1, 2] / 255.0)
    assert 0.0 <= x.min().item() and x.max().item() <= 1.0


# ----- occlusion ------------------------------------------------------------------------------------

def test_occlusion_masks_are_rectangles_with_the_stated_distribution():
    n, h, w = 20000, 12, 16
    masks = occlusion_mask(n, h, w, torch.Generator().manual_seed(0))
    rows, cols = masks.any(2), masks.any(1)
    # a rectangle: the mask is the outer product of its row and column spans, both contiguous
    assert torch.equal(masks, rows[:, :, None] & cols[:, None, :])
    for span in (rows, cols):
        d = torch.diff(span.int(), dim=1)
        assert ((d == 1).sum(1) <= 1).all() and ((d == -1).sum(1) <= 1).all()
    # a column x is covered iff min(a, b) <= x < max(a, b), a, b uniform on {0..W}:
    # P = 2 (x + 1)(W − x) / (W + 1)²; a pixel needs the row span non-empty too (P = 1 − 1/(H + 1))
    x = torch.arange(w, dtype=torch.float32)
    expected_x = 2 * (x + 1) * (w - x) / (w + 1) ** 2 * (1 - 1 / (h + 1))
    assert torch.allclose(cols.float().mean(0), expected_x, atol=0.012)
    y = torch.arange(h, dtype=torch.float32)
    expected_y = 2 * (y + 1) * (h - y) / (h + 1) ** 2 * (1 - 1 / (w + 1))
    assert torch.allclose(rows.float().mean(0), expected_y, atol=0.012)
    # pixel (y, x) is covered with the product of the two (the axes are independent)
    assert torch.allclose(masks.float().mean(0), (expected_y[:, None] * expected_x[None, :]) / (1 - 1 / (h + 1))
                          / (1 - 1 / (w + 1)), atol=0.012)


def test_dae_zeroes_pixels_only_inside_the_rectangle(frames):
    dae = vision.methods.get("dae")(vision.methods.get("dae").Config(), SHAPE)
    x = to_model_input(frames[:64]) * 0.5 + 0.25  # no zeros in the clean frames
    xc = dae.corrupt(x, torch.Generator().manual_seed(1))
    zeroed = (xc == 0).all(1)
    assert torch.equal(xc[~zeroed[:, None].expand_as(x)], x[~zeroed[:, None].expand_as(x)])
    assert zeroed.any()


# ----- every method learns ------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["ae", "dae", "vae", "beta_vae", "beta_vae_dae"])
def test_each_method_loss_drops_and_round_trips(method, frames, tmp_path):
    extra = {"dae.steps": 30, "dae.batch_size": 16} if method == "beta_vae_dae" else {}
    path = vision.fit(frames, method, tmp_path / method, steps=100, lr=1e-3, progress=False,
                      tensorboard=False, **FAST, **extra)
    events = json.loads((tmp_path / method / "summary.json").read_text())
    assert events["method"] == method and events["steps"] == 100
    # compare the first and last logged loss (means over 5 steps)
    model = vision.load_model(path)
    cls = vision.methods.get(method)
    torch.manual_seed(model.config.seed)  # fit initialises from this seed: `fresh` is the untrained model
    fresh = cls(model.config, SHAPE)
    if method == "beta_vae_dae":
        fresh.dae.load_state_dict(model.dae.state_dict())
    x = to_model_input(frames)
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    with torch.no_grad():
        before = fresh.eval().training_step(x, 0, gen())["loss"].item()
        after = model.eval().training_step(x, 0, gen())["loss"].item()
    assert after < 0.93 * before, (method, before, after)
    enc = vision.load_encoder(path)
    codes = enc.encode(frames[:5])
    assert codes.dtype == np.float32 and codes.shape == (5, enc.latent_dim)
    assert enc.input_shape == SHAPE
    traversal = cv2.imread(str(tmp_path / method / "traversal.png"))
    block_w = 9 * (SHAPE[1] + 2) + 2  # one anchor's 9 columns
    assert traversal.shape[1] == 96 + TRAVERSAL_ANCHORS * block_w + (TRAVERSAL_ANCHORS - 1) * 12
    assert (tmp_path / method / "reconstructions.png").stat().st_size > 0


def test_bf16_precision_is_repeatable_and_differs_from_fp32(frames, tmp_path):
    """bf16 autocast is deterministic on CPU (same seed, same weights), learns, and is not a no-op."""
    runs = {name: vision.fit(frames, "beta_vae_dae", tmp_path / name, steps=40, lr=1e-3, progress=False,
                             tensorboard=False, precision=precision, **{"dae.steps": 5, "dae.batch_size": 16}, **FAST)
            for name, precision in [("bf16", "bf16"), ("bf16_again", "bf16"), ("fp32", "fp32")]}
    bf16, again, fp32 = (_state(runs[k]) for k in ("bf16", "bf16_again", "fp32"))
    assert all(torch.equal(bf16[k], again[k]) for k in bf16)
    assert not all(torch.equal(bf16[k], fp32[k]) for k in bf16 if k.startswith("encoder."))
    summary = json.loads((tmp_path / "bf16" / "summary.json").read_text())
    assert summary["config"]["precision"] == summary["precision"] == "bf16" and np.isfinite(summary["mse_ratio"])
    with pytest.raises(vision.ConfigError, match=r"precision='fp16' is not one of \['fp32', 'bf16', 'auto'\]"):
        vision.fit(frames, "vae", tmp_path / "bad", steps=1, precision="fp16", **FAST)


def test_auto_precision_follows_the_hardware_and_emulated_bf16_warns(monkeypatch):
    from vision import train
    cpu = torch.device("cpu")
    monkeypatch.setattr(train, "native_bf16", lambda device: True)
    assert train.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(train, "native_bf16", lambda device: False)
    assert train.resolve_precision("auto", cpu) == "fp32" and train.resolve_precision("fp32", cpu) == "fp32"
    with pytest.warns(UserWarning, match="precision=bf16 on a cpu without bf16 instructions is emulated"):
        assert train.resolve_precision("bf16", cpu) == "bf16"


def test_auto_precision_resumes_only_in_the_arithmetic_it_began_in(frames, tmp_path, monkeypatch):
    """A checkpoint records what precision=auto ran in; resuming where auto means something else is
    refused with the fix, and naming that precision explicitly resumes it."""
    from vision import train
    monkeypatch.setattr(train, "native_bf16", lambda device: True)
    kw = dict(progress=False, tensorboard=False, **FAST)
    vision.fit(frames, "vae", tmp_path, steps=4, precision="auto", **kw)
    assert checkpoint.read(tmp_path / "checkpoint.pt")["precision"] == "bf16"
    monkeypatch.setattr(train, "native_bf16", lambda device: False)  # the same run, moved to another machine
    with pytest.raises(vision.CheckpointError, match=r"ran its first 4 steps in bf16, but precision=auto runs "
                                                     r"fp32 on this cpu; resume with precision=bf16"):
        vision.fit(frames, "vae", tmp_path, steps=8, precision="auto", **kw)
    with pytest.warns(UserWarning, match="emulated"):
        vision.fit(frames, "vae", tmp_path, steps=8, precision="bf16", **kw)
    payload = checkpoint.read(tmp_path / "checkpoint.pt")
    assert payload["step"] == 8 and payload["precision"] == "bf16"
    with pytest.raises(vision.CheckpointError, match="ran its first 8 steps in bf16"):
        vision.fit(frames, "vae", tmp_path, steps=9, precision="fp32", **kw)


def test_dae_stays_frozen_while_beta_vae_dae_trains(frames, tmp_path):
    dae_path = vision.fit(frames, "dae", tmp_path / "dae", steps=10, progress=False, tensorboard=False, **FAST)
    dae_weights = _state(dae_path)
    path = vision.fit(frames, "beta_vae_dae", tmp_path / "bvd", steps=15, lr=1e-2, progress=False,
                      tensorboard=False, dae_checkpoint=str(dae_path), **FAST)
    model = vision.load_model(path)
    trained = _state(path)
    for key, value in dae_weights.items():
        assert torch.equal(trained[f"dae.{key}"], value), key
    assert not any(p.requires_grad for p in model.dae.parameters())
    # ... while the β-VAE's own weights did move
    torch.manual_seed(0)
    fresh = vision.methods.get("beta_vae_dae")(model.config, SHAPE).state_dict()
    assert not torch.equal(trained["encoder.net.0.weight"], fresh["encoder.net.0.weight"])
    # the DAE is in eval mode even when the model is put in training mode
    model.train()
    assert not model.dae.training
    # the DAE config recorded is the checkpoint's, not the defaults
    assert checkpoint.read(path)["config"]["dae"]["steps"] == 10


def test_beta_vae_dae_trains_its_own_dae_when_none_is_given(frames, tmp_path):
    path = vision.fit(frames, "beta_vae_dae", tmp_path / "run", steps=3, progress=False, tensorboard=False,
                      **FAST, **{"dae.steps": 4})
    assert checkpoint.read(tmp_path / "run" / "dae" / "checkpoint.pt", "dae")["step"] == 4
    assert checkpoint.read(path)["config"]["dae_checkpoint"].endswith("checkpoint.pt")


# ----- traversal images ---------------------------------------------------------------------------

def test_traversal_grid_sweeps_each_latent_over_its_fitted_range_from_each_anchor(frames, tmp_path):
    """Each anchor has its own block; column j of every block sets the latent to the same value,
    evenly spaced over the fitted mean ± 2 sd; the blocks differ (the other latents are the anchor's)."""
    path = vision.fit(frames, "vae", tmp_path, steps=60, lr=1e-3, progress=False, tensorboard=False, **FAST)
    model = vision.load_model(path).eval()
    x = to_model_input(frames[:3])
    stats = latent_stats(model, to_model_input(frames))
    grid = traversal_grid(model, x, stats, rows=4, cols=5, gap=12)
    h, w, _ = SHAPE
    block_w = 5 * (w + 2) + 2
    assert grid.shape == (4 * (h + 2) + 2, 96 + 3 * block_w + 2 * 12, 3)
    order = traversal_order(stats.score, 4)
    with torch.no_grad():
        mu, logvar = model.encode(to_model_input(frames))
        sd = (mu.var(0, unbiased=False) + logvar.exp().mean(0)).sqrt().numpy()
        np.testing.assert_allclose(stats.low, mu.mean(0).numpy() - 2 * sd, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.high, mu.mean(0).numpy() + 2 * sd, rtol=1e-5, atol=1e-6)
        for k in range(3):
            block = grid[:, 96 + k * (block_w + 12):96 + k * (block_w + 12) + block_w]
            sweeps = traverse(model, x[k:k + 1], order, stats, cols=5)
            assert np.array_equal(block, tile(list(sweeps)))
            z = model.encode(x[k:k + 1])[0].repeat(5, 1)
            latent = int(order[0])
            z[:, latent] = torch.linspace(float(stats.low[latent]), float(stats.high[latent]), 5)
            assert np.array_equal(sweeps[0], to_frames(torch.sigmoid(model.decode(z))))
            assert (sweeps[:, 0] != sweeps[:, -1]).any()  # the latent does something
    assert not np.array_equal(grid[:, 96:96 + block_w], grid[:, 96 + block_w + 12:96 + 2 * block_w + 12])


def test_latent_stats_of_a_deterministic_code_rank_by_std_and_sweep_its_spread(frames, tmp_path):
    path = vision.fit(frames, "ae", tmp_path, steps=5, progress=False, tensorboard=False, **FAST)
    model = vision.load_model(path).eval()
    stats = latent_stats(model, to_model_input(frames))
    with torch.no_grad():
        codes = model.encode(to_model_input(frames))[0].numpy()
    assert stats.kind == "std"
    np.testing.assert_allclose(stats.score, codes.std(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats.high - stats.low, 4 * codes.std(0), rtol=1e-4, atol=1e-6)
    one = latent_stats(model, to_model_input(frames[:1]))  # no spread from one frame: unit steps
    np.testing.assert_allclose(one.high - one.low, 4.0, rtol=1e-6)


# ----- checkpoints and resume ---------------------------------------------------------------------

def test_checkpoint_round_trip_gives_identical_encodings(frames, tmp_path):
    path = vision.fit(frames, "beta_vae", tmp_path / "run", steps=5, progress=False, tensorboard=False, **FAST)
    payload = torch.load(path, weights_only=True)  # plain data, loadable without trusting code
    assert payload["method"] == "beta_vae" and payload["input_shape"] == list(SHAPE)
    assert payload["config"]["beta"] == 4.0 and "version" in payload and payload["complete"]
    a = vision.load_encoder(path).encode(frames)
    b = vision.load_encoder(path).encode(frames)
    model = vision.load_model(path)
    with torch.no_grad():
        direct = model.encode(to_model_input(frames))[0].numpy()
    assert np.array_equal(a, b)
    np.testing.assert_allclose(a, direct, rtol=1e-6, atol=1e-6)


def test_encode_distribution_gives_the_posterior_of_vaes_and_no_variance_for_deterministic_codes(frames, tmp_path):
    vae = vision.load_encoder(vision.fit(frames, "beta_vae", tmp_path / "vae", steps=5, progress=False,
                                         tensorboard=False, **FAST))
    means, logvars = vae.encode_distribution(frames)
    with torch.no_grad():
        direct = vision.load_model(tmp_path / "vae" / "checkpoint.pt").encode(to_model_input(frames))[1].numpy()
    np.testing.assert_array_equal(means, vae.encode(frames))
    np.testing.assert_allclose(logvars, direct, rtol=1e-6, atol=1e-6)
    ae = vision.load_encoder(vision.fit(frames, "ae", tmp_path / "ae", steps=5, progress=False, tensorboard=False,
                                        **FAST))
    ae_means, ae_logvars = ae.encode_distribution(frames)
    assert ae_logvars is None and np.array_equal(ae_means, ae.encode(frames))


def test_data_order_is_a_function_of_seed_and_step():
    a = [batch_indices(3, s, 100, 16) for s in range(20)]
    b = [batch_indices(3, s, 100, 16) for s in reversed(range(20))][::-1]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    epoch = np.concatenate(a[:6])
    assert len(set(epoch.tolist())) == 96  # one epoch: no repeats
    assert not np.array_equal(batch_indices(4, 0, 100, 16), a[0])


@pytest.mark.parametrize("method", ["beta_vae", "dae"])
def test_resume_equals_uninterrupted(method, frames, tmp_path, monkeypatch):
    kw = dict(FAST, checkpoint_every=4, steps=10)
    full = vision.fit(frames, method, tmp_path / "full", progress=False, tensorboard=False, **kw)

    cls = vision.methods.get(method)
    original = cls.training_step

    def crash_at_7(self, x, step, generator, factors=None):
        if step == 7:
            raise KeyboardInterrupt("simulated interruption")
        return original(self, x, step, generator, factors=factors)

    monkeypatch.setattr(cls, "training_step", crash_at_7)
    with pytest.raises(KeyboardInterrupt):
        vision.fit(frames, method, tmp_path / "cut", progress=False, tensorboard=False, **kw)
    assert checkpoint.read(tmp_path / "cut" / "checkpoint.pt")["step"] == 4
    monkeypatch.setattr(cls, "training_step", original)
    resumed = vision.fit(frames, method, tmp_path / "cut", progress=False, tensorboard=False, **kw)
    a, b = _state(full), _state(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    opt_a = checkpoint.read(full)["optimizers"]["model"]["state"]
    opt_b = checkpoint.read(resumed)["optimizers"]["model"]["state"]
    assert all(torch.equal(opt_a[k]["exp_avg"], opt_b[k]["exp_avg"]) for k in opt_a)


def test_resume_refuses_other_hyperparameters_and_methods(frames, tmp_path):
    vision.fit(frames, "beta_vae", tmp_path / "run", steps=2, progress=False, tensorboard=False, **FAST)
    with pytest.raises(vision.CheckpointError, match=r"beta: 4.0 → 8.0"):
        vision.fit(frames, "beta_vae", tmp_path / "run", steps=4, beta=8.0, progress=False, tensorboard=False, **FAST)
    with pytest.raises(vision.CheckpointError, match=r"holds a 'beta_vae' run, not 'vae'"):
        vision.fit(frames, "vae", tmp_path / "run", steps=2, progress=False, tensorboard=False, **FAST)
    # more steps is allowed: it continues
    path = vision.fit(frames, "beta_vae", tmp_path / "run", steps=4, progress=False, tensorboard=False, **FAST)
    assert checkpoint.read(path)["step"] == 4


# ----- bad input --------------------------------------------------------------------------------------

def test_unknown_method_lists_known_ones(frames, tmp_path):
    with pytest.raises(vision.UnknownMethodError, match=r"unknown vision method 'bvae'.*beta_vae_dae"):
        vision.fit(frames, "bvae", tmp_path)
    assert {"ae", "dae", "vae", "beta_vae", "beta_vae_dae"} <= set(vision.methods.names())


@pytest.mark.parametrize("bad, message", [
    (np.zeros((4, 30, 30, 3), np.uint8), "multiples of 16"),
    (np.zeros((4, 32, 32, 3), np.float32), "must be uint8"),
    (np.zeros((4, 32, 32), np.uint8), r"\[N, H, W, C\]"),
    (np.zeros((4, 3, 32, 32), np.uint8), r"multiples of 16"),
])
def test_frames_that_do_not_fit_get_a_clear_error(bad, message, tmp_path):
    with pytest.raises(vision.FrameShapeError, match=message):
        vision.fit(bad, "vae", tmp_path, steps=1, progress=False, tensorboard=False)


def test_encoder_rejects_frames_of_another_shape(frames, tmp_path):
    enc = vision.load_encoder(vision.fit(frames, "ae", tmp_path, steps=1, progress=False, tensorboard=False, **FAST))
    with pytest.raises(vision.FrameShapeError, match=r"takes uint8 frames \[n, 32, 32, 3\]"):
        enc.encode(np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(vision.FrameShapeError, match=r"frames\[None\]"):
        enc.encode(frames[0])


def test_unknown_and_mistyped_hyperparameters(frames, tmp_path):
    with pytest.raises(vision.ConfigError, match=r"unknown hyperparameter 'bta'.*valid keys: .*beta"):
        vision.fit(frames, "beta_vae", tmp_path, bta=2)
    with pytest.raises(vision.ConfigError, match=r"steps='10' has the wrong type"):
        vision.fit(frames, "beta_vae", tmp_path, steps="10")
    with pytest.raises(vision.ConfigError, match=r"perceptual=.pixels. is not one of \[.bottleneck., .logits.\]"):
        vision.fit(frames, "beta_vae_dae", tmp_path, perceptual="pixels")


def test_nan_loss_stops_with_the_step_and_keeps_the_last_finite_checkpoint(frames, tmp_path, monkeypatch):
    cls = vision.methods.get("vae")
    original = cls.training_step

    def nan_from_5(self, x, step, generator, factors=None):
        out = original(self, x, step, generator, factors=factors)
        if step >= 5:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(cls, "training_step", nan_from_5)
    with pytest.raises(vision.NonFiniteLossError, match=r"loss is nan at step 5.*step 4, is intact"):
        vision.fit(frames, "vae", tmp_path, steps=10, progress=False, tensorboard=False,
                   **dict(FAST, checkpoint_every=2))
    payload = checkpoint.read(tmp_path / "checkpoint.pt")
    assert payload["step"] == 4
    assert all(torch.isfinite(v).all() for v in payload["model"].values())


def test_corrupt_and_foreign_checkpoints(frames, tmp_path):
    path = vision.fit(frames, "dae", tmp_path / "dae", steps=1, progress=False, tensorboard=False, **FAST)
    with pytest.raises(vision.CheckpointError, match=r"is a 'dae' checkpoint, not 'beta_vae'"):
        vision.load_encoder(path, expect_method="beta_vae")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(vision.CheckpointError, match="corrupt, truncated"):
        vision.load_encoder(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(vision.CheckpointError, match="not a darla vision checkpoint"):
        vision.load_encoder(foreign)
    with pytest.raises(FileNotFoundError, match="darla see"):
        vision.load_encoder(tmp_path / "missing.pt")
    # a β-VAE given as the DAE of β-VAE-DAE
    vae = vision.fit(frames, "vae", tmp_path / "vae", steps=1, progress=False, tensorboard=False, **FAST)
    with pytest.raises(vision.CheckpointError, match=r"is a 'vae' checkpoint, not 'dae'"):
        vision.fit(frames, "beta_vae_dae", tmp_path / "bvd", dae_checkpoint=str(vae), steps=1,
                   progress=False, tensorboard=False, **FAST)


def test_vision_imports_no_other_toolkit_package():
    import subprocess
    import sys

    code = ("import sys, vision; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('envs', 'agents', 'eval', 'darla')]; print(bad); sys.exit(bool(bad))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
