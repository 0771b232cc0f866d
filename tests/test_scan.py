"""SCAN: the grounding KL's closed form, abstraction over unnamed factors, sym2img on a tiny synthetic
space, the checkpoint round trip, the `darla scan` command and every bad input the issue lists."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vision
from envs.factors import Factor, FactorSpace
from envs.registry import register_ground_truth
from envs.symbols import (OPERATORS, Vocabulary, combine, frames_of, operator_index, sample_pairs,
                          sample_recombinations)
from vision import scan

torch.set_num_threads(1)


class Bars(FactorSpace):
    """16×16 frames: a 4-px vertical bar at column block ``x`` and a 4-px horizontal bar
    at row block ``y``: two factors of 4 values each, trivially disentangled."""

    def __init__(self):
        super().__init__([Factor("x", 4, ("a", "b", "c", "d")), Factor("y", 4)], (16, 16, 1))

    def render(self, factors):
        factors = self.check_factors(np.atleast_2d(factors))
        out = np.zeros((len(factors), 16, 16, 1), np.uint8)
        for i, (x, y) in enumerate(factors):
            out[i, 4 * y:4 * y + 4, :, 0] = 255
            out[i, :, 4 * x:4 * x + 4, 0] = 255
        return out


register_ground_truth("test_scan_bars", Bars, "two bars on 16x16 frames (test_scan only)")


@pytest.fixture(scope="module")
def space():
    return Bars()


@pytest.fixture(scope="module")
def vocab(space):
    return Vocabulary(space)


@pytest.fixture(scope="module")
def bvae(tmp_path_factory, space):
    """A small β-VAE on every Bars frame (a few seconds on one thread)."""
    out = tmp_path_factory.mktemp("bvae")
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(4), indexing="ij"), -1).reshape(-1, 2)
    frames = space.render(np.repeat(grid, 16, axis=0))
    return vision.fit(frames, "beta_vae", out, z_dim=4, beta=0.5, steps=1000, lr=3e-3, batch_size=32,
                      device="cpu", threads=1, checkpoint_every=1000, image_every=1000, progress=False,
                      tensorboard=False)


@pytest.fixture(scope="module")
def trained(bvae, space, vocab):
    data = sample_pairs(space, vocab, num_concepts=8, examples_per_concept=20, seed=0, named=1)
    rng = np.random.default_rng(1)
    triples, ops = [], []
    for k, op in enumerate(OPERATORS):
        found = sample_recombinations(vocab, 200, rng, op, named=(1, 2))
        triples += found
        ops += [k] * len(found)
    frames = space.render(np.concatenate([frames_of(space, vocab, r, 1, rng) for _, _, r in triples]))
    rec = scan.Recombinations(vocab.encode([t[0] for t in triples]), vocab.encode([t[1] for t in triples]),
                              np.array(ops), frames)
    config = scan.ScanConfig(steps=1500, operator_steps=800, hidden=64, seed=0)
    return scan.fit(bvae, data.frames, data.symbols, vocab.units, vocab.groups, config, rec, progress=False)


def _read_values(space, frames):
    """Ground truth of generated frames: the brightest 4-px column block (x) and row block (y)."""
    img = frames[..., 0].astype(np.float32)
    cols = img.sum(1).reshape(len(frames), 4, 4).sum(2)
    rows = img.sum(2).reshape(len(frames), 4, 4).sum(2)
    return np.stack([cols.argmax(1), rows.argmax(1)], 1)


# -- the loss ----------------------------------------------------------------------------------
def test_forward_kl_equals_closed_form_for_diagonal_gaussians():
    g = torch.Generator().manual_seed(0)
    mu_p, mu_q = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    lv_p, lv_q = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    ours = scan.kl_diagonal(mu_p, lv_p, mu_q, lv_q)
    sp, sq = torch.exp(0.5 * lv_p), torch.exp(0.5 * lv_q)
    closed = torch.log(sq / sp) + (sp ** 2 + (mu_p - mu_q) ** 2) / (2 * sq ** 2) - 0.5
    torch.testing.assert_close(ours, closed)
    reference = torch.distributions.kl_divergence(torch.distributions.Normal(mu_p, sp), torch.distributions.Normal(mu_q, sq))
    torch.testing.assert_close(ours, reference)
    # one number by hand: KL(N(1, 1) || N(0, 4)) = log 2 + (1 + 1) / 8 - 1/2
    one = scan.kl_diagonal(torch.tensor(1.0), torch.tensor(0.0), torch.tensor(0.0), torch.tensor(np.log(4.0)))
    assert one.item() == pytest.approx(np.log(2) + 2 / 8 - 0.5)
    # the loss term is the forward direction: visual posterior first
    model = scan.SymbolVAE(4, 3, 16)
    y = torch.eye(4)[:2]
    vis_mu, vis_lv = torch.zeros(2, 3), torch.full((2, 3), -2.0)
    terms = model.losses(y, vis_mu, vis_lv, beta=1.0, weight=10.0)
    mu, lv = model.encode(y)
    assert terms["grounding_kl"].item() == pytest.approx(10 * scan.kl_diagonal(vis_mu, vis_lv, mu, lv).sum().item() / 2,
                                                         rel=1e-5)
    assert set(terms) == {"symbol_reconstruction", "prior_kl", "grounding_kl", "loss"}


def test_unnamed_factor_keeps_a_broad_concept_posterior():
    """Latent 0 carries the named factor (±2, narrow); latent 1 an unnamed one, different in every
    example. The concept posterior must be narrow on 0 and stay near the prior's width on 1."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = scan.SymbolVAE(2, 2, 32)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(600):
        value = torch.randint(0, 2, (64,), generator=g)
        y = torch.nn.functional.one_hot(value, 2).float()
        vis_mu = torch.stack([4.0 * value - 2.0, torch.rand(64, generator=g) * 3 - 1.5], 1)
        vis_lv = torch.full((64, 2), np.log(0.01))
        loss = model.losses(y, vis_mu, vis_lv, beta=1.0, weight=10.0, generator=g)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        mu, lv = model.encode(torch.eye(2))
    std = torch.exp(0.5 * lv)
    assert mu[:, 0].tolist() == pytest.approx([-2.0, 2.0], abs=0.2)
    assert (std[:, 0] < 0.2).all()  # named: specific
    assert (std[:, 1] > 0.6).all()  # unnamed: broad (the examples span ±1.5)


# -- trained on a tiny space ---------------------------------------------------------------------
def test_sym2img_returns_the_named_value_more_often_than_chance(trained, space, vocab):
    """160 samples per factor, chance 0.25 (standard error 0.034). The toy β-VAE spreads x over three
    latents with broad posteriors (y gets one precise latent), so x is the harder factor: measured
    0.375 for x; each factor must beat chance by 2 standard errors, their mean by 4."""
    accuracy = {}
    for factor in ("x", "y"):
        col = space.index(factor)
        hits = [np.mean(_read_values(space, trained.sym2img(vocab.symbol({factor: v}), samples=40, seed=v)[0])[:, col] == v)
                for v in range(4)]
        accuracy[factor] = float(np.mean(hits))
    assert min(accuracy.values()) > 0.25 + 2 * 0.034, accuracy
    assert np.mean(list(accuracy.values())) > 0.25 + 4 * 0.034, accuracy


def test_recombined_concepts_match_and_img2sym_reads_frames(trained, space, vocab):
    hits = []
    for x in range(4):
        for y in range(4):
            mu, lv = trained.recombine(vocab.symbol({"x": x}), vocab.symbol({"y": y}), "AND")
            got = _read_values(space, trained.sym2img(concept=(mu, lv), samples=10, seed=x * 4 + y)[0])
            hits.append(np.mean((got[:, 0] == x) & (got[:, 1] == y)))
    assert np.mean(hits) > 0.25  # chance for both at once is 1/16
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(4), indexing="ij"), -1).reshape(-1, 2)
    assert np.mean(trained.img2sym_values(space.render(grid)) == grid) > 0.5


def test_checkpoint_round_trip(trained, space, tmp_path):
    path = scan.save(tmp_path / "scan.pt", trained)
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == scan.FORMAT and payload["units"] == list(trained.units)
    loaded = scan.load(path)
    frames = space.render(np.array([[0, 1], [3, 2]]))
    np.testing.assert_array_equal(loaded.img2sym(frames), trained.img2sym(frames))
    np.testing.assert_array_equal(loaded.sym2img(np.eye(8)[:2], 3, seed=1), trained.sym2img(np.eye(8)[:2], 3, seed=1))
    a, b = np.eye(8)[[0]], np.eye(8)[[5]]
    for op in OPERATORS:
        torch.testing.assert_close(loaded.recombine(a, b, op), trained.recombine(a, b, op))


def test_darla_scan_command(bvae, tmp_path):
    from darla.cli import main

    out = tmp_path / "scan"
    rc = main(["scan", "--vision", str(bvae), "--env", "test_scan_bars", "--out", str(out), "--concepts", "8",
               "--examples", "4", "--recombinations", "20", "--samples", "3", "--no-progress",
               "--show", "x=b;x=a,y=2", "steps=30", "operator_steps=20", "hidden=16"])
    assert rc == 0
    for name in ("scan.pt", "sym2img.png", "recombined.png", "sym2img.md", "img2sym.md", "img2sym_frames.png",
                 "summary.json"):
        assert (out / name).is_file(), name
    assert list((out / "tb").iterdir())
    assert "{x=b}" in (out / "sym2img.md").read_text()
    assert "| frame | x | y |" in (out / "img2sym.md").read_text()
    scan.load(out / "scan.pt")


# -- concepts from ground truth ------------------------------------------------------------------
def test_vocabulary_and_sampler(space, vocab):
    assert vocab.size == 8 and vocab.units[:2] == ("x=a", "x=b") and vocab.groups == [("x", 4), ("y", 4)]
    np.testing.assert_array_equal(vocab.symbol({"x": "c", "y": 1}), [0, 0, 1, 0, 0, 1, 0, 0])
    assert vocab.decode(vocab.encode([{"y": 3}])) == [{"y": 3}]
    assert vocab.parse("x=d, y=0") == {"x": 3, "y": 0}
    data = sample_pairs(space, vocab, 6, 5, seed=3, named=(1, 2))
    again = sample_pairs(space, vocab, 6, 5, seed=3, named=(1, 2))
    np.testing.assert_array_equal(data.symbols, again.symbols)
    np.testing.assert_array_equal(data.frames, again.frames)
    assert data.frames.shape == (30, 16, 16, 1) and data.symbols.shape == (30, 8)
    for row, symbol in zip(data.factors, vocab.decode(data.symbols)):  # every named value is the frame's
        assert all(row[space.index(f)] == v for f, v in symbol.items())
    one = sample_pairs(space, vocab, 8, 1, seed=0, named=1)
    assert (one.symbols.sum(1) == 1).all()
    held = {"x": 1, "y": 2}
    for op in OPERATORS:
        for a, b, result in sample_recombinations(vocab, 30, np.random.default_rng(0), op, (1, 2), exclude=[held]):
            assert combine(a, b, op) == result and result != held and result


# -- bad input -------------------------------------------------------------------------------------
def test_bad_symbols_name_the_valid_ones(space, vocab):
    with pytest.raises(ValueError, match=r"factor 'colour'.*valid factors: \['x', 'y'\]"):
        vocab.symbol({"colour": 1})
    with pytest.raises(ValueError, match=r"factor 'x' has no value 'e'; valid: a, b, c, d \(or indices 0-3\)"):
        vocab.symbol({"x": "e"})
    with pytest.raises(ValueError, match=r"factor 'y' has no value 7; valid: indices 0-3"):
        vocab.symbol({"y": 7})
    with pytest.raises(ValueError, match=r"empty symbol names nothing.*\['x', 'y'\]"):
        vocab.symbol({})
    with pytest.raises(ValueError, match=r"not FACTOR=VALUE"):
        vocab.parse("x")
    with pytest.raises(ValueError, match=r"unknown factor 'z' for the vocabulary; this space has \['x', 'y'\]"):
        Vocabulary(space, ["z"])
    with pytest.raises(ValueError, match=r"named=\(0, 1\)"):
        sample_pairs(space, vocab, 2, 2, named=(0, 1))


def test_bad_operator_names_the_known_ones(trained, vocab):
    with pytest.raises(ValueError, match=r"unknown recombination operator 'OR'; known: and, in_common, ignore"):
        operator_index("OR")
    with pytest.raises(scan.ScanError, match=r"unknown recombination operator 'xor'; known: and, in_common, ignore"):
        trained.recombine(vocab.symbol({"x": 0}), vocab.symbol({"y": 0}), "xor")
    assert operator_index("IN COMMON") == scan.operator_index("in common") == 1


def test_empty_or_misshaped_symbol_refused_by_the_model(trained):
    with pytest.raises(scan.ScanError, match="empty symbol"):
        trained.sym2img(np.zeros(8), 2)
    with pytest.raises(scan.ScanError, match=r"k-hot \[n, 8\]"):
        trained.concept(np.ones(5))


@pytest.mark.parametrize("method", ["ae", "dae"])
def test_vision_without_gaussian_posterior_is_refused(method, space, tmp_path, vocab):
    frames = space.render(np.array([[0, 0], [1, 2], [3, 3], [2, 1]]))
    path = vision.fit(frames, method, tmp_path / method, z_dim=4, steps=1, batch_size=4, device="cpu", threads=1,
                      progress=False, tensorboard=False)
    with pytest.raises(scan.ScanError, match=rf"'{method}' checkpoint: a deterministic code with no posterior "
                                             r"variance.*--method beta_vae"):
        scan.fit(path, frames, vocab.encode([{"x": 0}] * 4), vocab.units, vocab.groups, scan.ScanConfig(steps=1))


def test_unfinished_or_foreign_checkpoints_are_refused(bvae, tmp_path):
    with pytest.raises(vision.CheckpointError, match="not a SCAN checkpoint"):
        scan.load(bvae)
    with pytest.raises(FileNotFoundError, match="darla scan"):
        scan.load(tmp_path / "missing.pt")
