"""`darla see`, `darla methods` and the key=value override parser."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pytest
import torch

import vision
from darla.overrides import OverrideError, apply, valid_keys
from vision import checkpoint
from vision.losses import bernoulli_nll

torch.set_num_threads(1)


@dataclass
class Inner:
    steps: int = 10
    lr: float = 1e-3


@dataclass
class Outer:
    beta: float = 4.0
    name: str = "x"
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    limit: int | None = None
    inner: Inner = field(default_factory=Inner)


def test_overrides_parse_by_field_type():
    cfg = apply(Outer(), ["beta=2", "name=hello=world", "flag=yes", "mode=b", "limit=none", "inner.steps=7",
                          "inner.lr=3e-4"])
    assert cfg == Outer(beta=2.0, name="hello=world", flag=True, mode="b", limit=None, inner=Inner(7, 3e-4))
    assert isinstance(cfg.beta, float) and isinstance(cfg.inner.steps, int)
    assert apply(Outer(), ["limit=5"]).limit == 5
    assert Outer() == Outer()  # the input is not modified
    assert valid_keys(Outer) == ["beta", "name", "flag", "mode", "limit", "inner.steps", "inner.lr"]


@pytest.mark.parametrize("pair, message", [
    ("bta=2", r"unknown key 'bta' for Outer; valid keys: beta, name, flag, mode, limit, inner.steps, inner.lr"),
    ("inner.stepz=2", r"unknown key 'inner.stepz' for Inner; valid keys: inner.steps, inner.lr"),
    ("inner=3", r"'inner' is a group; set its fields as inner.NAME=VALUE"),
    ("beta.x=1", r"'beta' has no sub-keys"),
    ("inner.steps=1.5", r"inner.steps='1.5': expected an integer"),
    ("beta=big", r"beta='big': expected a number"),
    ("flag=maybe", r"expected a boolean"),
    ("mode=c", r"expected one of \['a', 'b'\]"),
    ("beta", r"is not KEY=VALUE"),
])
def test_bad_overrides_name_the_problem(pair, message):
    with pytest.raises(OverrideError, match=message):
        apply(Outer(), [pair])


def test_overrides_build_every_method_config():
    for name in vision.methods.names():
        cls = vision.methods.get(name)
        cfg = apply(cls.Config(), ["steps=3", "seed=2"])
        assert type(cfg) is cls.Config and cfg.steps == 3 and cfg.seed == 2
    cfg = apply(vision.methods.get("beta_vae_dae").Config(), ["dae.steps=5", "perceptual=bottleneck"])
    assert cfg.dae.steps == 5 and cfg.perceptual == "bottleneck"


def test_beta_vae_dae_reconstruction_terms():
    cls = vision.methods.get("beta_vae_dae")
    shape = (32, 32, 3)
    x = torch.rand(4, 3, 32, 32)
    logits = torch.randn(4, 3, 32, 32)
    for perceptual in ("logits", "bottleneck"):
        model = cls(cls.Config(perceptual=perceptual, pixel_weight=0.0), shape)
        terms = model.reconstruction_loss(x, logits)
        assert set(terms) == {"perceptual"}
        code_x, code_y = model.dae.encoder(x), model.dae.encoder(torch.sigmoid(logits))
        if perceptual == "logits":
            code_x, code_y = model.dae.decoder(code_x), model.dae.decoder(code_y)
        else:
            assert code_x.shape == (4, 128)
        expected = (code_x - code_y).pow(2).sum() / 4
        assert terms["perceptual"].item() == pytest.approx(expected.item(), rel=1e-5)
    model = cls(dataclasses.replace(cls.Config(), pixel_weight=2.0), shape)
    terms = model.reconstruction_loss(x, logits)
    assert terms["pixel"].item() == pytest.approx(2.0 * bernoulli_nll(logits, x).item(), rel=1e-5)
    out = model.training_step(x, 0, torch.Generator().manual_seed(0))
    assert out["reconstruction"].item() == pytest.approx(out["perceptual"].item() + out["pixel"].item(), rel=1e-5)


def _dataset(path, n=48, shape=(32, 32, 3)):
    from envs.dataset import DatasetWriter

    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 2, (n, 1, 1, shape[2])) * 255 * np.ones((n, *shape))).astype(np.uint8)
    with DatasetWriter(path, n, shape, 1, {"env_id": "synthetic", "factor_names": ["colour"]}) as w:
        w.write(frames, np.zeros((n, 1), np.int64), np.zeros(n, np.int8))
    return frames


def test_darla_see_trains_resumes_and_reports(tmp_path, capsys):
    from darla.cli import main

    frames = _dataset(tmp_path / "frames.h5")
    out = tmp_path / "run"
    args = ["see", "--data", str(tmp_path / "frames.h5"), "--method", "vae", "--out", str(out), "--no-progress",
            "steps=4", "batch_size=8", "device=cpu", "threads=1", "checkpoint_every=2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "pixel MSE" in printed and "traversal.png" in printed
    enc = vision.load_encoder(out / "checkpoint.pt")
    assert enc.encode(frames[:2]).shape == (2, 32)
    assert checkpoint.read(out / "checkpoint.pt")["config"]["batch_size"] == 8
    # asking for more steps continues the same run
    assert main(args[:-5] + ["steps=6", "batch_size=8", "device=cpu", "threads=1", "checkpoint_every=2"]) == 0
    assert checkpoint.read(out / "checkpoint.pt")["step"] == 6
    # other hyperparameters in the same folder: a clear error, unless --force
    assert main(args[:-5] + ["steps=6", "batch_size=16", "device=cpu", "threads=1"]) == 1
    assert "batch_size: 8 → 16" in capsys.readouterr().err
    assert main(args[:-5] + ["--force", "steps=2", "batch_size=16", "device=cpu", "threads=1"]) == 0


@pytest.mark.parametrize("extra, message", [
    (["--method", "bvae"], "unknown vision method 'bvae'; known: ae, dae, vae, beta_vae, beta_vae_dae"),
    (["bta=1"], "unknown key 'bta'"),
])
def test_darla_see_bad_input(tmp_path, capsys, extra, message):
    from darla.cli import main

    _dataset(tmp_path / "frames.h5")
    assert main(["see", "--data", str(tmp_path / "frames.h5"), "--out", str(tmp_path / "o"), *extra]) == 1
    assert message in capsys.readouterr().err


def test_darla_see_rejects_frames_that_do_not_fit(tmp_path, capsys):
    from darla.cli import main

    _dataset(tmp_path / "odd.h5", shape=(24, 24, 3))
    assert main(["see", "--data", str(tmp_path / "odd.h5"), "--out", str(tmp_path / "o"), "--method", "ae"]) == 1
    assert "does not fit the networks" in capsys.readouterr().err


def test_darla_methods_lists_papers_and_hyperparameters(capsys):
    from darla.cli import main

    assert main(["methods"]) == 0
    text = capsys.readouterr().out
    for name in vision.methods.names():
        assert f"{name}: " in text
    assert "Higgins et al. 2017 (DARLA, ICML)" in text and "dae.steps" in text and "pixel_weight" in text
